// enroll: one-time enrollment tokens (store side) and the site's HTTPS POST (client side).
#include "enroll/enroll.h"

#include <netdb.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <boost/json.hpp>
#include <boost/url/parse.hpp>

#include <cstring>

#include "core/text.h"
#include "crypto/crypto.h"
#include "ipc/client.h"
#include "tls/tls.h"
#include "tunnel/render.h"
#include "tunnel/sites.h"

namespace enroll {

using core::Errc;

namespace {

std::string edge_meta_key(std::string_view site) {
  return "enroll.edge." + std::string(site);
}

}  // namespace

core::Result<std::string> issue_token(store::Db& db, std::string_view site, int64_t now,
                                      int64_t ttl_s) {
  std::string token = crypto::random_token(32);
  WARREN_TRY(q, db.prepare("UPDATE sites SET enroll_token_hash = ?1, enroll_expires_at = ?2 "
                           "WHERE name = ?3"));
  q.bind(1, crypto::hash_hex(token)).bind(2, now + ttl_s).bind(3, site);
  WARREN_CHECK(q.run());
  if (db.changes() != 1) return core::err(Errc::noinput, "no site " + std::string(site));
  return token;
}

core::Result<void> set_site_edge(store::Db& db, std::string_view site, std::string_view edge) {
  if (edge.empty()) {
    WARREN_TRY(q, db.prepare("DELETE FROM meta WHERE key = ?1"));
    q.bind(1, edge_meta_key(site));
    return q.run();
  }
  return tunnel::set_meta(db, edge_meta_key(site), edge);
}

core::Result<std::string> enroll_site(store::Db& db, std::string_view request_json, int64_t now) {
  boost::system::error_code ec;
  auto v = boost::json::parse(request_json, ec);
  if (ec || !v.is_object()) return core::err(Errc::data, "bad request: expected a JSON object");
  const auto& o = v.as_object();
  auto str = [&](const char* k) -> std::string {
    auto* x = o.if_contains(k);
    return x && x->is_string() ? std::string(x->as_string()) : std::string();
  };
  std::string token = str("token"), pub = str("public_key");
  if (token.empty() || token.size() > 256) return core::err(Errc::data, "bad request: no token");
  auto key = crypto::key_from_base64(pub);
  if (!key) return core::err(Errc::data, "bad request: public_key: expected 44 base64 characters");

  const auto refused = core::err(Errc::noperm, "unknown, used or expired enrollment token");
  std::string hash = crypto::hash_hex(token);
  WARREN_TRY(tx, store::Tx::begin(db));
  std::string site;
  {
    WARREN_TRY(q, db.prepare("SELECT name, enroll_expires_at FROM sites WHERE "
                             "enroll_token_hash = ?1"));
    q.bind(1, hash);
    WARREN_TRY(row, q.step());
    if (!row) return refused;
    site = q.col_text(0);
    if (q.col_null(1) || q.col_int(1) <= now) return refused;
  }
  {
    WARREN_TRY(q, db.prepare("SELECT name FROM sites WHERE public_key = ?1 AND name <> ?2"));
    q.bind(1, pub).bind(2, site);
    WARREN_TRY(row, q.step());
    if (row) return core::err(Errc::data, "that public key already belongs to another site");
  }
  WARREN_TRY(ek, tunnel::get_meta(db, tunnel::kMetaEdgeKey));
  if (!ek) return core::err(Errc::unavailable, "the edge has no key yet (start its tunneld)");
  WARREN_TRY(edge, tunnel::get_meta(db, edge_meta_key(site)));
  if (!edge) {
    WARREN_TRY(pe, tunnel::get_meta(db, tunnel::kMetaEdgeEndpoint));
    edge = pe;
  }
  if (!edge)
    return core::err(Errc::unavailable,
                     "the edge has no public address (set public_endpoint in its tunneld.toml)");
  {
    WARREN_TRY(q, db.prepare("UPDATE sites SET public_key = ?1, key_rotated_at = ?2, enrolled_at "
                             "= ?2, enroll_token_hash = NULL, enroll_expires_at = NULL WHERE "
                             "name = ?3 AND enroll_token_hash = ?4"));
    q.bind(1, pub).bind(2, now).bind(3, site).bind(4, hash);
    WARREN_CHECK(q.run());
    if (db.changes() != 1) return refused;
  }
  boost::json::object detail{{"public_key", crypto::fingerprint(*key)}};
  WARREN_CHECK(store::audit(db, "edged", "site.enroll", site, boost::json::serialize(detail)));
  WARREN_CHECK(tx.commit());

  tunnel::SiteFile f;
  f.comment = tunnel::site_config_title(site, "enrolled", now);
  f.name = site;
  f.edge = *edge;
  f.edge_public_key = *ek;
  std::string config = tunnel::render_site_config(f);
  boost::json::object reply{
      {"ok", true}, {"site", site}, {"edge", *edge}, {"edge_public_key", *ek}, {"config", config}};
  return boost::json::serialize(reply);
}

int http_status(const core::Error& e) {
  switch (e.code) {
    case Errc::data:
    case Errc::usage:
      return 400;
    case Errc::noperm:
      return 403;
    case Errc::unavailable:
    case Errc::tempfail:
      return 503;
    default:
      return 500;
  }
}

std::string error_json(const core::Error& e) {
  return boost::json::serialize(boost::json::object{{"ok", false}, {"error", e.message}});
}

// --- client ----------------------------------------------------------------------------------

namespace {

struct Url {
  bool tls = true;
  std::string host;
  std::string port;
};

core::Result<Url> parse_url(const std::string& s) {
  auto u = boost::urls::parse_uri(s);
  if (!u) return core::err(Errc::usage, "bad URL \"" + s + "\": expected https://HOST[:PORT]");
  Url out;
  std::string scheme(u->scheme());
  if (scheme == "http")
    out.tls = false;
  else if (scheme != "https")
    return core::err(Errc::usage, "bad URL \"" + s + "\": expected https://HOST[:PORT]");
  out.host = std::string(u->encoded_host());
  if (!out.host.empty() && out.host.front() == '[')
    out.host = out.host.substr(1, out.host.size() - 2);
  if (out.host.empty()) return core::err(Errc::usage, "bad URL \"" + s + "\": no host");
  out.port = u->has_port() ? std::string(u->port()) : (out.tls ? "443" : "80");
  if (!out.tls && out.host != "127.0.0.1" && out.host != "localhost" && out.host != "::1")
    return core::err(Errc::usage, "plain http:// only to a loopback address: use https://");
  return out;
}

core::Result<ipc::UniqueFd> dial(const Url& u, int timeout_ms) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (int rc = ::getaddrinfo(u.host.c_str(), u.port.c_str(), &hints, &res); rc != 0)
    return core::err(Errc::unavailable, u.host + ": " + ::gai_strerror(rc));
  std::string last = "no address";
  ipc::UniqueFd fd;
  for (addrinfo* a = res; a; a = a->ai_next) {
    ipc::UniqueFd s(::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol));
    if (!s) continue;
    timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    ::setsockopt(s.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(s.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (::connect(s.get(), a->ai_addr, a->ai_addrlen) == 0) {
      fd = std::move(s);
      break;
    }
    last = std::strerror(errno);
  }
  ::freeaddrinfo(res);
  if (!fd)
    return core::err(Errc::unavailable, "cannot connect to " + u.host + ":" + u.port + ": " + last);
  return fd;
}

core::Result<void> send_all(int fd, const char* p, size_t n) {
  while (n > 0) {
    ssize_t w = ::send(fd, p, n, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return core::err(Errc::unavailable, std::string("send: ") + std::strerror(errno));
    p += w;
    n -= size_t(w);
  }
  return {};
}

// Plain or TLS byte stream over a connected socket.
struct Conn {
  int fd;
  tls::Session* s = nullptr;

  core::Result<void> flush() {
    char buf[16384];
    while (s && s->output_pending()) {
      size_t n = s->take_output(buf, sizeof buf);
      WARREN_CHECK(send_all(fd, buf, n));
    }
    return {};
  }
  // Feeds the session from the socket; false at EOF.
  core::Result<bool> pull() {
    char buf[16384];
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) return true;
    if (n < 0)
      return core::err(errno == EAGAIN ? Errc::tempfail : Errc::unavailable,
                       std::string("receive: ") + std::strerror(errno));
    if (n == 0) {
      s->feed_eof();
      return false;
    }
    s->feed(buf, size_t(n));
    return true;
  }
  core::Result<void> handshake() {
    for (;;) {
      tls::Want w = s->handshake();
      WARREN_CHECK(flush());
      if (w == tls::Want::done) return {};
      if (w == tls::Want::read) {
        WARREN_TRY(more, pull());
        if (more) continue;
      }
      return core::err(Errc::noperm, "TLS: " + s->error());
    }
  }
  core::Result<void> write(const std::string& d) {
    if (!s) return send_all(fd, d.data(), d.size());
    size_t off = 0;
    while (off < d.size()) {
      tls::Io io = s->write(d.data() + off, d.size() - off);
      WARREN_CHECK(flush());
      if (io.want == tls::Want::done)
        off += size_t(io.n);
      else if (io.want != tls::Want::read)
        return core::err(Errc::unavailable, "TLS write: " + s->error());
      else
        WARREN_CHECK(pull());
    }
    return {};
  }
  core::Result<std::string> read_all(size_t max) {
    std::string out;
    char buf[16384];
    while (out.size() < max) {
      if (!s) {
        ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0)
          return core::err(Errc::tempfail, std::string("receive: ") + std::strerror(errno));
        if (n == 0) break;
        out.append(buf, size_t(n));
        continue;
      }
      tls::Io io = s->read(buf, sizeof buf);
      if (io.want == tls::Want::done && io.n > 0) {
        out.append(buf, size_t(io.n));
      } else if (io.want == tls::Want::read) {
        WARREN_CHECK(flush());
        WARREN_TRY(more, pull());
        (void)more;
      } else {
        break;  // closed (or an unclean close after the whole reply)
      }
    }
    return out;
  }
};

core::Result<std::string> dechunk(std::string_view b) {
  std::string out;
  for (;;) {
    size_t nl = b.find("\r\n");
    if (nl == std::string_view::npos) return core::err(Errc::data, "bad chunked reply");
    size_t n = std::strtoul(std::string(b.substr(0, nl)).c_str(), nullptr, 16);
    b.remove_prefix(nl + 2);
    if (n == 0) return out;
    if (b.size() < n + 2) return core::err(Errc::data, "truncated chunked reply");
    out.append(b.substr(0, n));
    b.remove_prefix(n + 2);
  }
}

}  // namespace

core::Result<std::string> post(const std::string& url, const std::string& body,
                               const std::string& ca_file, int timeout_ms) {
  WARREN_TRY(u, parse_url(url));
  std::shared_ptr<tls::ClientContext> ctx;
  tls::Session session;
  if (u.tls) {
    tls::ClientOptions co;
    co.ca_file = ca_file;
    WARREN_TRY(c, tls::ClientContext::create(co));
    ctx = c;
    session = tls::Session::client(*ctx, u.host, true);
  }
  WARREN_TRY(fd, dial(u, timeout_ms));
  Conn conn{fd.get(), u.tls ? &session : nullptr};
  if (u.tls) WARREN_CHECK(conn.handshake());
  std::string host = u.host.find(':') != std::string::npos ? "[" + u.host + "]" : u.host;
  std::string req = "POST " + std::string(kPath) + " HTTP/1.1\r\nHost: " + host + ":" + u.port +
                    "\r\nContent-Type: application/json\r\nAccept: application/json\r\n"
                    "Content-Length: " +
                    std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
  WARREN_CHECK(conn.write(req));
  WARREN_TRY(reply, conn.read_all(1u << 20));
  size_t end = reply.find("\r\n\r\n");
  if (end == std::string::npos || reply.compare(0, 9, "HTTP/1.1 ") != 0)
    return core::err(Errc::data, "not an HTTP reply from " + u.host);
  int status = std::atoi(reply.c_str() + 9);
  std::string head = core::to_lower(reply.substr(0, end));
  std::string payload = reply.substr(end + 4);
  if (head.find("\r\ntransfer-encoding: chunked") != std::string::npos) {
    WARREN_TRY(d, dechunk(payload));
    payload = std::move(d);
  }
  if (status == 200) return payload;
  std::string why = "HTTP " + std::to_string(status);
  boost::system::error_code ec;
  auto v = boost::json::parse(payload, ec);
  if (!ec && v.is_object())
    if (auto* e = v.as_object().if_contains("error"); e && e->is_string())
      why = std::string(e->as_string());
  Errc code = status == 403   ? Errc::noperm
              : status == 404 ? Errc::unavailable
              : status == 503 ? Errc::unavailable
              : status == 400 ? Errc::data
                              : Errc::failure;
  if (status == 404) why = "the edge does not serve enrollment (" + why + ")";
  return core::err(code, why);
}

}  // namespace enroll
