// The HTTP node's client: a small HTTP/1.1 client over POSIX sockets and OpenSSL (verified TLS,
// SNI), one connection per request (Connection: close), redirects followed by hand so the SSRF
// guard sees every hop, names resolved once (getaddrinfo_a, cancellable) and the connection
// made to exactly the address that was checked — no second lookup, so no DNS rebinding.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/url.hpp>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>

#include "flow/io.h"

namespace flow {

// ---------------------------------------------------------------------------------------------
// SSRF guard

namespace {

struct Ip {
  bool v6 = false;
  uint8_t b[16] = {};
};

std::optional<Ip> parse_ip(const std::string& s) {
  Ip ip;
  if (::inet_pton(AF_INET, s.c_str(), ip.b) == 1) return ip;
  std::string t = s;
  if (auto pct = t.find('%'); pct != std::string::npos) t.resize(pct);  // zone id
  if (::inet_pton(AF_INET6, t.c_str(), ip.b) == 1) {
    ip.v6 = true;
    return ip;
  }
  return std::nullopt;
}

const char* kLocal = "localhost addresses are blocked (set allow_localhost=true to permit)";
const char* kPrivate = "private IP addresses are blocked (set allow_private_ips=true to permit)";
const char* kLinkLocal = "link-local addresses are blocked (set allow_link_local=true to permit)";
const char* kMetadata =
    "cloud metadata endpoints are blocked (set allow_cloud_metadata=true to permit)";
const char* kReserved = "reserved addresses are blocked";

std::string check_v4(const uint8_t* a, const HttpPolicy& p) {
  bool loop = a[0] == 127 || (a[0] == 0 && a[1] == 0 && a[2] == 0 && a[3] == 0);
  if (!p.allow_localhost && loop) return kLocal;
  bool priv = a[0] == 10 || (a[0] == 172 && a[1] >= 16 && a[1] <= 31) ||
              (a[0] == 192 && a[1] == 168) || (a[0] == 100 && a[1] >= 64 && a[1] <= 127);
  if (!p.allow_private_ips && priv) return kPrivate;
  bool ll = a[0] == 169 && a[1] == 254;
  if (!p.allow_link_local && ll) return kLinkLocal;
  if (!p.allow_cloud_metadata && a[0] == 169 && a[1] == 254 && a[2] == 169 && a[3] == 254)
    return kMetadata;
  // "This network" 0/8 (besides 0.0.0.0), multicast 224/4, reserved 240/4 and broadcast.
  if ((a[0] == 0 && !loop) || a[0] >= 224) return kReserved;
  return "";
}

std::string check_v6(const uint8_t* b, const HttpPolicy& p) {
  static const uint8_t zero[16] = {};
  bool all_zero_10 = std::memcmp(b, zero, 10) == 0;
  // IPv4 embedded: mapped ::ffff:a.b.c.d, compatible ::a.b.c.d, NAT64 64:ff9b::/96 and
  // 64:ff9b:1::/48, 6to4 2002::/16, Teredo 2001::/32 (client address inverted).
  if (all_zero_10 && b[10] == 0xff && b[11] == 0xff) return check_v4(b + 12, p);
  if (b[0] == 0 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b) {
    bool wkp = std::memcmp(b + 4, zero, 8) == 0;
    bool local = b[4] == 0 && b[5] == 1;
    if (wkp || local) return check_v4(b + 12, p);
  }
  if (b[0] == 0x20 && b[1] == 0x02) return check_v4(b + 2, p);
  if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0 && b[3] == 0) {
    uint8_t v4[4] = {static_cast<uint8_t>(~b[12]), static_cast<uint8_t>(~b[13]),
                     static_cast<uint8_t>(~b[14]), static_cast<uint8_t>(~b[15])};
    return check_v4(v4, p);
  }
  bool loop = std::memcmp(b, zero, 15) == 0 && (b[15] == 1 || b[15] == 0);  // ::1 and ::
  if (!p.allow_localhost && loop) return kLocal;
  if (all_zero_10 && b[10] == 0 && b[11] == 0 && !loop) return check_v4(b + 12, p);
  if (!p.allow_private_ips && (b[0] & 0xfe) == 0xfc) {
    // fd00:ec2::254 is the AWS metadata service: link-local rules do not cover it.
    static const uint8_t ec2[16] = {0xfd, 0, 0x0e, 0xc2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02, 0x54};
    if (std::memcmp(b, ec2, 16) != 0 || !p.allow_cloud_metadata) return kPrivate;
  }
  if (!p.allow_link_local && b[0] == 0xfe && (b[1] & 0xc0) == 0x80) return kLinkLocal;
  static const uint8_t ec2[16] = {0xfd, 0, 0x0e, 0xc2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02, 0x54};
  if (!p.allow_cloud_metadata && std::memcmp(b, ec2, 16) == 0) return kMetadata;
  if (b[0] == 0xff) return kReserved;  // multicast
  return "";
}

}  // namespace

std::string ssrf_check_ip(const std::string& text, const HttpPolicy& p) {
  auto ip = parse_ip(text);
  if (!ip) return "not an IP address";
  return ip->v6 ? check_v6(ip->b, p) : check_v4(ip->b, p);
}

std::string ssrf_check_name(const std::string& host, const HttpPolicy& p) {
  std::string h = host;
  for (char& c : h) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  while (!h.empty() && h.back() == '.') h.pop_back();  // "localhost." is localhost
  if (!p.allowed_domains.empty()) {
    bool ok = false;
    for (auto& d : p.allowed_domains) {
      std::string x = d;
      for (char& c : x) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      ok |= x == h;
    }
    if (!ok) return "domain not in allowlist: " + host;
  }
  if (!p.allow_localhost &&
      (h == "localhost" || (h.size() > 10 && h.compare(h.size() - 10, 10, ".localhost") == 0)))
    return "localhost addresses are blocked";
  if (!p.allow_cloud_metadata &&
      (h == "metadata.google.internal" || h == "metadata.azure.com" || h == "metadata"))
    return kMetadata;
  return "";
}

// ---------------------------------------------------------------------------------------------
// Transport

namespace {

NodeError net_error(std::string m) {
  return NodeError{"HTTP request failed: " + std::move(m), core::Errc::tempfail};
}

struct Target {
  std::string scheme, host, port_text, resource;  // resource: path?query
  uint16_t port = 0;
  bool host_is_ip = false;
};

NodeResult<Target> parse_url(const std::string& url) {
  auto r = boost::urls::parse_uri(url);
  if (!r) return fail("URL validation failed: invalid URL: " + r.error().message());
  Target t;
  t.scheme = std::string(r->scheme());
  for (char& c : t.scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (t.scheme != "http" && t.scheme != "https")
    return fail("URL validation failed: URL scheme not allowed: " + std::string(r->scheme()) +
                " (allowed: [http https])");
  auto ht = r->host_type();
  if (ht == boost::urls::host_type::ipv6) {
    t.host = r->host_ipv6_address().to_string();
    t.host_is_ip = true;
  } else if (ht == boost::urls::host_type::ipv4) {
    t.host = r->host_ipv4_address().to_string();
    t.host_is_ip = true;
  } else {
    t.host = std::string(r->host());
  }
  if (t.host.empty()) return fail("URL validation failed: URL missing hostname");
  if (r->has_userinfo()) return fail("URL validation failed: credentials in URLs are not allowed");
  t.port = r->has_port() ? r->port_number() : (t.scheme == "https" ? 443 : 80);
  if (r->has_port() && t.port == 0) return fail("URL validation failed: invalid port");
  t.port_text = std::to_string(t.port);
  t.resource = std::string(r->encoded_path());
  if (t.resource.empty()) t.resource = "/";
  if (r->has_query()) t.resource += "?" + std::string(r->encoded_query());
  return t;
}

// Resolves (honouring [http] resolve pins), then checks every address.
NodeResult<std::vector<std::string>> resolve_checked(const Target& t, const HttpPolicy& p,
                                                     const Stop& stop) {
  std::string fail_prefix = "URL validation failed: ";
  if (auto why = ssrf_check_name(t.host, p); !why.empty()) return fail(fail_prefix + why);
  std::vector<std::string> addrs;
  if (t.host_is_ip) {
    addrs.push_back(t.host);
  } else {
    for (auto& pin : p.resolve) {
      auto c = pin.rfind(':');
      auto first = pin.find(':');
      if (first == std::string::npos) continue;
      std::string name = pin.substr(0, first), addr = pin.substr(first + 1);
      (void)c;
      if (strcasecmp(name.c_str(), t.host.c_str()) == 0) addrs.push_back(addr);
    }
    if (addrs.empty()) {
      addrinfo hints{};
      hints.ai_family = AF_UNSPEC;
      hints.ai_socktype = SOCK_STREAM;
      gaicb req{};
      req.ar_name = t.host.c_str();
      req.ar_request = &hints;
      gaicb* list[1] = {&req};
      if (int rc = getaddrinfo_a(GAI_NOWAIT, list, 1, nullptr); rc != 0)
        return net_error("resolve " + t.host + ": " + gai_strerror(rc));
      int rc;
      while ((rc = gai_error(&req)) == EAI_INPROGRESS) {
        if (auto e = stop.check()) {
          gai_cancel(&req);
          while (gai_error(&req) == EAI_INPROGRESS) ::usleep(1000);
          if (req.ar_result) freeaddrinfo(req.ar_result);
          return *e;
        }
        timespec ts{0, 20'000'000};
        const gaicb* wait[1] = {&req};
        gai_suspend(wait, 1, &ts);
      }
      if (rc != 0) {
        NodeError e = fail(fail_prefix + "cannot resolve host " + t.host + ": " + gai_strerror(rc));
        if (rc == EAI_AGAIN) e.code = core::Errc::tempfail;
        return e;
      }
      for (addrinfo* a = req.ar_result; a; a = a->ai_next) {
        char buf[INET6_ADDRSTRLEN] = {};
        const void* src =
            a->ai_family == AF_INET
                ? static_cast<const void*>(&reinterpret_cast<sockaddr_in*>(a->ai_addr)->sin_addr)
                : static_cast<const void*>(&reinterpret_cast<sockaddr_in6*>(a->ai_addr)->sin6_addr);
        if (::inet_ntop(a->ai_family, src, buf, sizeof buf)) {
          std::string s = buf;
          if (std::find(addrs.begin(), addrs.end(), s) == addrs.end()) addrs.push_back(s);
        }
      }
      if (req.ar_result) freeaddrinfo(req.ar_result);
      if (addrs.empty())
        return fail(fail_prefix + "cannot resolve host " + t.host + ": no addresses");
    }
  }
  for (auto& a : addrs) {
    std::string why = ssrf_check_ip(a, p);
    if (why.empty()) continue;
    if (t.host_is_ip) return fail(fail_prefix + "IP validation failed for " + t.host + ": " + why);
    return fail(fail_prefix + "IP validation failed for " + t.host + " (" + a + "): " + why);
  }
  return addrs;
}

// Waits until fd is ready for `events` or the deadline/stop: "" when ready, else the error.
std::optional<NodeError> wait_fd(int fd, short events, int64_t until, const Stop& stop,
                                 const std::string& what) {
  for (;;) {
    if (auto e = stop.check()) return e;
    int64_t now = mono_ns();
    if (now >= until) return net_error(what + ": timeout");
    pollfd pf{fd, events, 0};
    int ms = static_cast<int>(std::min<int64_t>((until - now) / 1000000 + 1, 20));
    int rc = ::poll(&pf, 1, ms);
    if (rc > 0) return std::nullopt;
    if (rc < 0 && errno != EINTR) return net_error(what + ": " + std::strerror(errno));
  }
}

class Conn {
 public:
  ~Conn() {
    if (ssl_) SSL_free(ssl_);
    if (fd_ >= 0) ::close(fd_);
  }

  std::optional<NodeError> connect(const std::string& addr, uint16_t port, int64_t until,
                                   const Stop& stop) {
    sockaddr_storage ss{};
    socklen_t len;
    auto ip = parse_ip(addr);
    if (!ip) return net_error("bad address " + addr);
    if (ip->v6) {
      auto* s6 = reinterpret_cast<sockaddr_in6*>(&ss);
      s6->sin6_family = AF_INET6;
      s6->sin6_port = htons(port);
      std::memcpy(&s6->sin6_addr, ip->b, 16);
      len = sizeof *s6;
    } else {
      auto* s4 = reinterpret_cast<sockaddr_in*>(&ss);
      s4->sin_family = AF_INET;
      s4->sin_port = htons(port);
      std::memcpy(&s4->sin_addr, ip->b, 4);
      len = sizeof *s4;
    }
    fd_ = ::socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd_ < 0) return net_error(std::string("socket: ") + std::strerror(errno));
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    std::string where =
        "connect " + (ip->v6 ? "[" + addr + "]" : addr) + ":" + std::to_string(port);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&ss), len) < 0) {
      if (errno != EINPROGRESS) return net_error(where + ": " + std::strerror(errno));
      if (auto e = wait_fd(fd_, POLLOUT, until, stop, where)) return e;
      int err = 0;
      socklen_t el = sizeof err;
      ::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &el);
      if (err) return net_error(where + ": " + std::strerror(err));
    }
    return std::nullopt;
  }

  std::optional<NodeError> tls(SSL_CTX* ctx, const std::string& host, bool host_is_ip,
                               int64_t until, const Stop& stop) {
    ssl_ = SSL_new(ctx);
    SSL_set_fd(ssl_, fd_);
    if (!host_is_ip) SSL_set_tlsext_host_name(ssl_, host.c_str());
    X509_VERIFY_PARAM* vp = SSL_get0_param(ssl_);
    if (host_is_ip)
      X509_VERIFY_PARAM_set1_ip_asc(vp, host.c_str());
    else
      X509_VERIFY_PARAM_set1_host(vp, host.c_str(), 0);
    for (;;) {
      ERR_clear_error();
      int rc = SSL_connect(ssl_);
      if (rc == 1) return std::nullopt;
      int e = SSL_get_error(ssl_, rc);
      if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        if (auto w = wait_fd(fd_, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, until, stop,
                             "TLS handshake with " + host))
          return w;
        continue;
      }
      long vr = SSL_get_verify_result(ssl_);
      std::string why = vr != X509_V_OK ? std::string("certificate verify failed: ") +
                                              X509_verify_cert_error_string(vr)
                                        : ssl_error();
      return fail("HTTP request failed: TLS handshake with " + host + ": " + why);
    }
  }

  std::optional<NodeError> write_all(const std::string& data, int64_t until, const Stop& stop) {
    size_t off = 0;
    while (off < data.size()) {
      ssize_t n;
      short want = POLLOUT;
      if (ssl_) {
        ERR_clear_error();
        int rc = SSL_write(ssl_, data.data() + off, static_cast<int>(data.size() - off));
        if (rc > 0) {
          off += static_cast<size_t>(rc);
          continue;
        }
        int e = SSL_get_error(ssl_, rc);
        if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
          return net_error("write: " + ssl_error());
        want = e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
      } else {
        n = ::send(fd_, data.data() + off, data.size() - off, MSG_NOSIGNAL);
        if (n > 0) {
          off += static_cast<size_t>(n);
          continue;
        }
        if (n < 0 && errno != EAGAIN && errno != EINTR)
          return net_error(std::string("write: ") + std::strerror(errno));
      }
      if (auto w = wait_fd(fd_, want, until, stop, "write")) return w;
    }
    return std::nullopt;
  }

  // Reads some bytes: > 0 bytes, 0 on EOF, or an error.
  NodeResult<size_t> read_some(char* buf, size_t cap, int64_t until, const Stop& stop) {
    for (;;) {
      short want = POLLIN;
      if (ssl_) {
        ERR_clear_error();
        int rc = SSL_read(ssl_, buf, static_cast<int>(cap));
        if (rc > 0) return static_cast<size_t>(rc);
        int e = SSL_get_error(ssl_, rc);
        if (e == SSL_ERROR_ZERO_RETURN) return size_t{0};
        if (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) return size_t{0};  // close w/o notify
        if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
          return net_error("read: " + ssl_error());
        want = e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
      } else {
        ssize_t n = ::recv(fd_, buf, cap, 0);
        if (n >= 0) return static_cast<size_t>(n);
        if (errno != EAGAIN && errno != EINTR)
          return net_error(std::string("read: ") + std::strerror(errno));
      }
      if (auto w = wait_fd(fd_, want, until, stop, "read")) return *w;
    }
  }

 private:
  int fd_ = -1;
  SSL* ssl_ = nullptr;
  static std::string ssl_error() {
    unsigned long e = ERR_get_error();
    if (!e) return std::strerror(errno ? errno : EIO);
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    return buf;
  }
};

SSL_CTX* tls_context(const std::string& ca_file, std::string* err) {
  static std::mutex m;
  static std::map<std::string, SSL_CTX*> cache;  // lives for the process
  std::lock_guard<std::mutex> g(m);
  if (auto it = cache.find(ca_file); it != cache.end()) return it->second;
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_default_verify_paths(ctx);
  if (!ca_file.empty() && SSL_CTX_load_verify_locations(ctx, ca_file.c_str(), nullptr) != 1) {
    *err = "cannot load CA file " + ca_file;
    SSL_CTX_free(ctx);
    return nullptr;
  }
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  cache[ca_file] = ctx;
  return ctx;
}

struct Head {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string get(const char* n) const {
    for (auto& [k, v] : headers)
      if (k == n) return v;
    return "";
  }
};

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t"), e = s.find_last_not_of(" \t\r");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

// Parses a response head (up to the blank line).
NodeResult<Head> parse_head(const std::string& h) {
  Head out;
  size_t eol = h.find("\r\n");
  std::string line = h.substr(0, eol);
  if (line.compare(0, 7, "HTTP/1.") != 0 || line.size() < 12 || line[8] != ' ')
    return net_error("malformed status line");
  int st = 0;
  for (int i = 9; i < 12; i++) {
    if (line[i] < '0' || line[i] > '9') return net_error("malformed status line");
    st = st * 10 + (line[i] - '0');
  }
  out.status = st;
  size_t pos = eol + 2;
  while (pos < h.size()) {
    size_t e = h.find("\r\n", pos);
    if (e == std::string::npos) e = h.size();
    std::string l = h.substr(pos, e - pos);
    pos = e + 2;
    if (l.empty()) break;
    size_t c = l.find(':');
    if (c == std::string::npos || c == 0) return net_error("malformed header line");
    out.headers.emplace_back(lower(l.substr(0, c)), trim(l.substr(c + 1)));
  }
  return out;
}

struct Exchange {
  Head head;
  std::string body;
};

// Sends the request and reads one response (skipping 1xx).
NodeResult<Exchange> exchange(Conn& conn, const std::string& request, bool head_request,
                              size_t max_body, int64_t until, const Stop& stop) {
  if (auto e = conn.write_all(request, until, stop)) return *e;
  std::string buf;
  char tmp[16384];
  bool eof = false;
  auto fill = [&]() -> NodeResult<void> {
    auto n = conn.read_some(tmp, sizeof tmp, until, stop);
    if (!n) return n.error();
    if (*n == 0) eof = true;
    buf.append(tmp, *n);
    return {};
  };
  for (;;) {
    size_t end;
    while ((end = buf.find("\r\n\r\n")) == std::string::npos) {
      if (buf.size() > 65536) return net_error("response header too large");
      if (eof) return net_error("connection closed before the response header");
      if (auto r = fill(); !r) return r.error();
    }
    auto head = parse_head(buf.substr(0, end + 2));
    if (!head) return head.error();
    buf.erase(0, end + 4);
    if (head->status >= 100 && head->status < 200) continue;
    Exchange ex;
    ex.head = std::move(*head);
    auto too_large = [&] {
      return fail("response too large (exceeds " + std::to_string(max_body) + " bytes limit)");
    };
    int st = ex.head.status;
    if (head_request || st == 204 || st == 304) return ex;
    std::string te = lower(ex.head.get("transfer-encoding"));
    std::string cl = ex.head.get("content-length");
    if (te.find("chunked") != std::string::npos) {
      for (;;) {
        size_t le;
        while ((le = buf.find("\r\n")) == std::string::npos) {
          if (eof) return net_error("truncated chunked body");
          if (buf.size() > 4096) return net_error("malformed chunk size");
          if (auto r = fill(); !r) return r.error();
        }
        std::string sz = buf.substr(0, le);
        if (auto semi = sz.find(';'); semi != std::string::npos) sz.resize(semi);
        sz = trim(sz);
        if (sz.empty() || sz.size() > 15 ||
            sz.find_first_not_of("0123456789abcdefABCDEF") != std::string::npos)
          return net_error("malformed chunk size");
        size_t n = std::stoull(sz, nullptr, 16);
        buf.erase(0, le + 2);
        if (n == 0) return ex;  // trailers ignored
        if (ex.body.size() + n > max_body) return too_large();
        while (buf.size() < n + 2) {
          if (eof) return net_error("truncated chunked body");
          if (auto r = fill(); !r) return r.error();
        }
        ex.body.append(buf, 0, n);
        buf.erase(0, n + 2);
      }
    }
    if (!cl.empty()) {
      if (cl.find_first_not_of("0123456789") != std::string::npos || cl.size() > 18)
        return net_error("malformed Content-Length");
      size_t n = std::stoull(cl);
      if (n > max_body) return too_large();
      while (buf.size() < n) {
        if (eof) return net_error("connection closed before the end of the body");
        if (auto r = fill(); !r) return r.error();
      }
      ex.body = buf.substr(0, n);
      return ex;
    }
    for (;;) {  // until close
      if (buf.size() > max_body) return too_large();
      if (eof) break;
      if (auto r = fill(); !r) return r.error();
    }
    ex.body = std::move(buf);
    return ex;
  }
}

}  // namespace

NodeResult<HttpResponse> http_fetch(const HttpRequest& req, const HttpPolicy& p,
                                    const std::string& user_agent, const Stop& stop) {
  if (!p.enabled)
    return fail(
        "HTTP requests are not allowed (AllowHTTP=false). Enable AllowHTTP in config to make "
        "HTTP requests ([http] enabled = true in flowrun.toml)");
  int64_t until = mono_ns() + req.timeout_ns.value_or(p.timeout_ns);
  std::string url = req.url, method = req.method, body = req.body;
  bool keep_body = true;
  for (int hop = 0;; hop++) {
    auto t = parse_url(url);
    auto redirect_error = [&](NodeError e) {
      if (hop > 0) e.message = "HTTP request failed: redirect " + e.message;
      return e;
    };
    if (!t) return redirect_error(t.error());
    auto addrs = resolve_checked(*t, p, stop);
    if (!addrs) return redirect_error(addrs.error());
    // Connect to the first checked address that accepts.
    std::unique_ptr<Conn> conn;
    NodeError last;
    for (auto& a : *addrs) {
      auto c = std::make_unique<Conn>();
      int64_t cu = std::min(until, mono_ns() + p.connect_timeout_ns);
      if (auto e = c->connect(a, t->port, cu, stop)) {
        if (e->abort) return *e;
        last = *e;
        continue;
      }
      conn = std::move(c);
      break;
    }
    if (!conn) return last;
    if (t->scheme == "https") {
      std::string err;
      SSL_CTX* ctx = tls_context(p.ca_file, &err);
      if (!ctx) return fail("HTTP request failed: " + err);
      if (auto e = conn->tls(ctx, t->host, t->host_is_ip, until, stop)) return *e;
    }
    bool default_port =
        (t->scheme == "https" && t->port == 443) || (t->scheme == "http" && t->port == 80);
    std::string host_hdr = t->host.find(':') != std::string::npos ? "[" + t->host + "]" : t->host;
    if (!default_port) host_hdr += ":" + t->port_text;
    std::string r = method + " " + t->resource + " HTTP/1.1\r\nHost: " + host_hdr +
                    "\r\nUser-Agent: " + user_agent + "\r\nAccept: */*\r\nConnection: close\r\n";
    bool has_accept = false;
    for (auto& [k, v] : req.headers) {
      std::string lk = lower(k);
      if (lk == "host" || lk == "connection" || lk == "content-length" || lk == "transfer-encoding")
        continue;
      if (!keep_body && lk == "content-type") continue;
      has_accept |= lk == "accept";
      r += k + ": " + v + "\r\n";
    }
    (void)has_accept;
    if (keep_body && (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH"))
      r += "Content-Length: " + std::to_string(body.size()) + "\r\n";
    r += "\r\n";
    if (keep_body) r += body;
    auto ex = exchange(*conn, r, method == "HEAD", p.max_response_bytes, until, stop);
    if (!ex) return ex.error();
    int st = ex->head.status;
    std::string loc = ex->head.get("location");
    if ((st == 301 || st == 302 || st == 303 || st == 307 || st == 308) && !loc.empty()) {
      if (hop >= p.max_redirects)
        return fail("HTTP request failed: too many redirects (max " +
                    std::to_string(p.max_redirects) + ")");
      auto base = boost::urls::parse_uri(url);
      auto ref = boost::urls::parse_uri_reference(loc);
      if (!base || !ref) return fail("HTTP request failed: bad redirect location " + loc);
      boost::urls::url next;
      if (auto rr = boost::urls::resolve(*base, *ref, next); rr.has_error())
        return fail("HTTP request failed: bad redirect location " + loc);
      next.remove_fragment();
      url = std::string(next.buffer());
      if (st == 303 || ((st == 301 || st == 302) && method == "POST")) {
        if (method != "HEAD") method = "GET";
        keep_body = false;
      }
      continue;
    }
    HttpResponse out;
    out.status = st;
    out.content_type = ex->head.get("content-type");
    out.body = std::move(ex->body);
    out.final_url = url;
    return out;
  }
}

}  // namespace flow
