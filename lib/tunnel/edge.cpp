#include "tunnel/edge.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/local/connect_pair.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/json.hpp>

#include <algorithm>
#include <array>

#include "core/fs.h"
#include "core/text.h"
#include "geoip/geoip.h"
#include "log/log.h"
#include "net/net.h"
#include "tls/tls.h"
#include "tunnel/access.h"

namespace tunnel {

using namespace std::chrono_literals;
using asio::ip::tcp;
using asio::ip::udp;
using proto::Clock;

namespace {

std::shared_ptr<spdlog::logger> logger() {
  static auto l = wlog::get("tunnel");
  return l;
}

std::string endpoint_str(const tcp::endpoint& ep) {
  return net::HostPort(ep.address().to_string(), ep.port()).str();
}

// A dial waits for the site to connect the target (OPEN_ACK) or to say why not (RST), so that
// edged answers 502 with the cause at once rather than relaying a stream that closes.
// The session resets an open the site does not answer within its open_timeout (10 s); this is
// only a safety net behind it.
constexpr auto kDialTimeout = std::chrono::seconds(30);

struct OpenWait {
  explicit OpenWait(asio::any_io_executor ex) : signal(ex, asio::steady_timer::time_point::max()) {}
  asio::steady_timer signal;  // on the dial's executor; cancelled when the result is in
  std::optional<core::Result<void>> result;
};

asio::awaitable<int64_t> open_on_lane(std::shared_ptr<Lane> lane, std::string target,
                                      std::shared_ptr<OpenWait> wait) {
  auto id = lane->open_stream(target, [wait](core::Result<void> r) {
    asio::post(wait->signal.get_executor(), [wait, r = std::move(r)]() mutable {
      wait->result = std::move(r);
      wait->signal.cancel();
    });
  });
  co_return id ? int64_t(*id) : -1;
}

// The dial connection after its {"ok":true} line: the socket moves to the lane's thread.
asio::awaitable<void> hand_to_lane(std::shared_ptr<Lane> lane, uint32_t id, ipc::Stream s) {
  boost::system::error_code ec;
  int fd = s.socket.release(ec);
  if (ec) co_return;
  asio::post(lane->executor(),
             [lane, id, fd, p = std::move(s.pending)] { lane->attach(id, fd, p); });
  co_return;
}

}  // namespace

// --- forwards ------------------------------------------------------------------------------------

namespace {

auth::IpAddr ip_of(const asio::ip::address& a) {
  auth::IpAddr ip;
  if (a.is_v4()) {
    auto b = a.to_v4().to_bytes();
    std::copy(b.begin(), b.end(), ip.b.begin());
    return ip;
  }
  auto v6 = a.to_v6();
  if (v6.is_v4_mapped()) return ip_of(asio::ip::make_address_v4(asio::ip::v4_mapped, v6));
  auto b = v6.to_bytes();
  std::copy(b.begin(), b.end(), ip.b.begin());
  ip.v4 = false;
  return ip;
}

template <class Endpoint>
std::string source_str(const Endpoint& ep) {
  return net::HostPort(ep.address().to_string(), ep.port()).str();
}

int64_t steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

struct Edge::Forward : std::enable_shared_from_this<Edge::Forward> {
  ForwardRecord rec;  // worker 0 only
  std::string key;    // "tcp:8080"
  std::optional<tcp::acceptor> tcp_acc;
  std::optional<udp::socket> udp_sock;
  std::shared_ptr<tls::ServerContext> tls;  // TLS forwards
  // Access (tunnel/access.h): admissions on worker 0, releases from any thread.
  std::mutex gate_mu;
  SourceTable sources;                   // gate_mu
  std::string last_source, last_reason;  // the last refusal; gate_mu
  int64_t last_refused_ms = 0;           // gate_mu
  std::atomic<uint64_t> accepted{0};
  std::array<std::atomic<uint64_t>, kRefusals> refused{};
  int64_t udp_log_ms = 0;  // UDP refusals are logged at most once a second (worker 0)
  uint64_t udp_quiet = 0;  // refusals not logged since

  // One counted connection or flow of a source; released when the last holder lets go.
  struct Admission {
    std::weak_ptr<Forward> f;
    auth::IpAddr src;
    Admission() = default;
    Admission(const Admission&) = delete;
    Admission& operator=(const Admission&) = delete;
    ~Admission() {
      if (auto p = f.lock()) {
        std::lock_guard lk(p->gate_mu);
        p->sources.release(src);
      }
    }
  };

  // A UDP flow: one client address. `id` is touched on the lane's thread only.
  struct Flow {
    std::weak_ptr<Lane> lane;
    uint32_t id = 0;
    Clock::time_point last = Clock::now();
    std::shared_ptr<Admission> admission;
  };

  // What the audit lines of one connection name (copied on worker 0: rec changes there).
  struct Conn {
    std::string label, site, target, source;
  };
  Conn conn(std::string source) const {
    std::string label = rec.name.empty() || rec.name == key ? key : key + " name=" + rec.name;
    return {std::move(label), rec.site, rec.target, std::move(source)};
  }

  // The access decision for a new connection or flow from `src` (worker 0). On accept,
  // `adm` holds the count when there are limits to keep.
  Refusal admit(const auth::IpAddr& src, const geoip::Db* geo, std::string& country,
                std::shared_ptr<Admission>& adm) {
    const ForwardAccess& a = rec.access;
    if (a.open()) return Refusal::none;
    if (a.has_country_rules() && geo) country = geo->country(src);
    Refusal r;
    {
      std::lock_guard lk(gate_mu);
      r = sources.admit(a, src, country, steady_ms());
    }
    if (r == Refusal::none && (a.max_conns || a.rate)) {
      adm = std::make_shared<Admission>();
      adm->f = weak_from_this();
      adm->src = src;
    } else if (r == Refusal::none) {
      std::lock_guard lk(gate_mu);  // counted by admit(): nothing to keep, release now
      sources.release(src);
    }
    return r;
  }

  // The audit line of a refusal, and the counters `peerctl status` shows (any thread).
  void refuse(const Conn& c, Refusal r, std::string_view country, std::string_view error = {},
              bool udp = false) {
    ++refused[size_t(r)];
    {
      std::lock_guard lk(gate_mu);
      last_source = c.source;
      last_reason = refusal_name(r);
      last_refused_ms = unix_ms_now();
    }
    if (udp) {  // worker 0
      int64_t now = steady_ms();
      if (now - udp_log_ms < 1000) {
        ++udp_quiet;
        return;
      }
      udp_log_ms = now;
    }
    std::string extra;
    if (!country.empty()) extra += " country=" + std::string(country);
    if (!error.empty()) extra += " error=\"" + std::string(error) + "\"";
    if (udp && udp_quiet) extra += " not_logged=" + std::to_string(udp_quiet);
    if (udp) udp_quiet = 0;
    logger()->info("event=forward_refused forward={} source={} reason={}{}", c.label, c.source,
                   refusal_name(r), extra);
  }

  void accept(const Conn& c, std::string_view country, std::string_view client = {}) {
    ++accepted;
    std::string extra;
    if (!country.empty()) extra += " country=" + std::string(country);
    if (!client.empty()) extra += " client=\"" + std::string(client) + "\"";
    logger()->info("event=forward_accepted forward={} source={} site={} target={}{}", c.label,
                   c.source, c.site, c.target, extra);
  }

  std::map<udp::endpoint, std::shared_ptr<Flow>> flows;
  std::optional<asio::steady_timer> sweep;
  bool closed = false;

  void close() {
    closed = true;
    boost::system::error_code ec;
    if (tcp_acc) tcp_acc->close(ec);
    if (udp_sock) udp_sock->close(ec);
    if (sweep) sweep->cancel();
    flows.clear();
  }
};

namespace {

using Forward = Edge::Forward;
using unix_stream = asio::local::stream_protocol;

// Writes the TLS records waiting in `s` to the client; false when the socket failed.
asio::awaitable<bool> flush_tls(tcp::socket& sock, tls::Session& s, std::vector<char>& buf) {
  while (s.output_pending() > 0) {
    size_t n = s.take_output(buf.data(), buf.size());
    auto [ec, w] = co_await asio::async_write(sock, asio::buffer(buf.data(), n), net::use_tuple);
    if (ec) co_return false;
  }
  co_return true;
}

asio::awaitable<bool> write_all(unix_stream::socket& sock, const char* p, size_t n) {
  auto [ec, w] = co_await asio::async_write(sock, asio::buffer(p, n), net::use_tuple);
  co_return !ec;
}

// A connection of a TLS forward, admitted already: the handshake (a client certificate from
// the CA is required: the context asks for it), then a stream to the site whose local end is
// one side of a socket pair, and the plaintext pumped between the TLS session and the other.
asio::awaitable<void> tls_forward_conn(std::shared_ptr<Forward> f, Forward::Conn c,
                                       std::string country, int fd, tcp protocol,
                                       std::shared_ptr<Lane> lane,
                                       std::shared_ptr<Forward::Admission> adm,
                                       std::shared_ptr<tls::ServerContext> ctx,
                                       std::chrono::milliseconds hs_timeout) {
  using namespace asio::experimental::awaitable_operators;
  auto ex = co_await asio::this_coro::executor;
  tcp::socket sock(ex);
  boost::system::error_code ec;
  sock.assign(protocol, fd, ec);
  if (ec) {
    ::close(fd);
    co_return;
  }
  tls::Session s = tls::Session::server(*ctx);
  std::vector<char> nbuf(64 * 1024), pbuf(64 * 1024), obuf(64 * 1024);
  auto deadline = std::chrono::steady_clock::now() + hs_timeout;
  for (;;) {
    tls::Want w = s.handshake();
    if (!co_await flush_tls(sock, s, obuf)) w = tls::Want::error;
    if (w == tls::Want::done) break;
    std::string why = s.error();
    if (w == tls::Want::read) {
      auto left = deadline - std::chrono::steady_clock::now();
      if (left > std::chrono::steady_clock::duration::zero()) {
        auto [rec, n] = co_await net::with_timeout(
            sock.async_read_some(asio::buffer(nbuf), net::use_tuple), left);
        if (!rec) {
          s.feed(nbuf.data(), n);
          continue;
        }
        if (rec == asio::error::eof) {
          s.feed_eof();
          continue;
        }
        why = rec == asio::error::timed_out ? "TLS handshake timed out" : rec.message();
      } else {
        why = "TLS handshake timed out";
      }
    }
    f->refuse(c, Refusal::client_cert, country, why.empty() ? "TLS handshake failed" : why);
    co_return;
  }
  if (!s.client_verified()) {
    f->refuse(c, Refusal::client_cert, country, "no client certificate");
    co_return;
  }
  unix_stream::socket a(ex), b(ex);
  asio::local::connect_pair(a, b, ec);
  int bfd = ec ? -1 : b.release(ec);
  if (ec || bfd < 0) {
    logger()->error("event=forward_failed forward={} error=\"socketpair: {}\"", c.label,
                    ec.message());
    co_return;
  }
  f->accept(c, country, s.client_subject());
  asio::post(lane->executor(), [lane, bfd, target = c.target, adm] {
    auto id = lane->open_stream(target);
    if (!id) {
      ::close(bfd);
      return;
    }
    lane->attach(*id, bfd, {}, adm);
  });
  bool net_open = true, plain_open = true;  // client -> site, site -> client
  for (;;) {
    bool failed = false;
    for (;;) {  // what the client sent, decrypted, to the site
      auto io = s.read(pbuf.data(), pbuf.size());
      if (io.want == tls::Want::done) {
        if (!co_await write_all(a, pbuf.data(), size_t(io.n))) failed = true;
        if (failed) break;
        continue;
      }
      if (io.want == tls::Want::closed && net_open) {
        a.shutdown(unix_stream::socket::shutdown_send, ec);
        net_open = false;
      }
      failed = io.want == tls::Want::error;
      break;
    }
    if (failed || !co_await flush_tls(sock, s, obuf)) break;
    if (!net_open && !plain_open) break;
    size_t which = net_open ? 0 : 1;
    if (net_open && plain_open) {
      auto r = co_await (sock.async_wait(tcp::socket::wait_read, net::use_tuple) ||
                         a.async_wait(unix_stream::socket::wait_read, net::use_tuple));
      which = r.index();
    }
    if (which == 0) {
      auto [rec, n] = co_await sock.async_read_some(asio::buffer(nbuf), net::use_tuple);
      if (rec == asio::error::eof)
        s.feed_eof();
      else if (rec)
        break;  // reset: the site's stream goes with the socket pair
      else
        s.feed(nbuf.data(), n);
    } else {
      auto [rec, n] = co_await a.async_read_some(asio::buffer(pbuf), net::use_tuple);
      if (rec) {  // the site's end finished
        s.shutdown();
        (void)co_await flush_tls(sock, s, obuf);
        sock.shutdown(tcp::socket::shutdown_send, ec);
        plain_open = false;
        continue;
      }
      for (size_t off = 0; off < n && !failed;) {
        auto io = s.write(pbuf.data() + off, n - off);
        if (io.want != tls::Want::done) failed = true;
        off += size_t(io.n);
      }
      if (failed) break;
    }
  }
  sock.close(ec);
  a.close(ec);
}

}  // namespace

Edge::Edge(Workers& w, std::shared_ptr<const Config> cfg) : w_(w), cfg_(std::move(cfg)) {}

Edge::~Edge() {
  {
    std::lock_guard lk(store_mu_);
    store_stop_ = true;
  }
  store_cv_.notify_all();
  if (store_thread_.joinable()) store_thread_.join();
}

std::shared_ptr<const Config> Edge::config() {
  std::lock_guard lk(cfg_mu_);
  return cfg_;
}

core::Result<void> Edge::load_geo(const Config& cfg) {
  std::string path = cfg.resolve(cfg.edge.geoip_db);
  auto cur = geo();
  if (path.empty() || (cur && cur->path() == path)) {
    if (path.empty()) {
      std::lock_guard lk(cfg_mu_);
      geo_.reset();
    }
    return {};
  }
  auto g = geoip::Db::open(path);
  if (!g) return core::err(core::Errc::config, "geoip_db: " + g.error().message);
  std::lock_guard lk(cfg_mu_);
  geo_ = std::move(*g);
  return {};
}

std::shared_ptr<const geoip::Db> Edge::geo() {
  std::lock_guard lk(cfg_mu_);
  return geo_;
}

core::Result<std::shared_ptr<tls::ServerContext>> Edge::forward_tls() {
  auto cfg = config();
  const auto& e = cfg->edge;
  if (e.forward_tls_cert.empty())
    return core::err(core::Errc::config,
                     "a TLS forward needs forward_tls_cert and forward_tls_key in [edge]");
  tls::ClientAuth ca{tls::ClientAuth::required, cfg->resolve(e.forward_client_ca),
                     cfg->resolve(e.forward_client_crl)};
  std::string key = cfg->resolve(e.forward_tls_cert) + "\n" + cfg->resolve(e.forward_tls_key) +
                    "\n" + ca.ca + "\n" + ca.crl;
  if (fwd_tls_ && key == fwd_tls_key_) {
    if (auto r = fwd_tls_->reload_if_changed(); !r)
      logger()->warn("event=forward_tls_reload_failed error=\"{}\"", r.error().message);
    return fwd_tls_;
  }
  if (!core::file_exists(ca.ca))
    return core::err(core::Errc::noinput,
                     "forward_client_ca: " + ca.ca + ": no such file (cactl init makes it)");
  if (!ca.crl.empty() && !core::file_exists(ca.crl))
    return core::err(core::Errc::noinput, "forward_client_crl: " + ca.crl + ": no such file");
  tls::ServerOptions o;
  o.certs.push_back({cfg->resolve(e.forward_tls_cert), cfg->resolve(e.forward_tls_key)});
  o.session_tickets = false;
  WARREN_TRY(ctx, tls::ServerContext::create(o));
  ctx->set_client_auth([ca](std::string_view) { return ca; });
  fwd_tls_ = ctx;
  fwd_tls_key_ = key;
  return ctx;
}

// --- start -----------------------------------------------------------------------------------

core::Result<void> Edge::start(ipc::Server& control) {
  auto cfg = config();
  WARREN_TRY(kp, load_key_file(cfg->resolve(cfg->edge.private_key_file), true));
  key_ = kp;
  crypto::wipe(kp.priv.data(), kp.priv.size());
  WARREN_CHECK(load_geo(*cfg));
  WARREN_TRY(db, store::open_dir(cfg->dir));
  db_.emplace(std::move(db));
  WARREN_CHECK(set_meta(*db_, kMetaEdgeKey, crypto::key_to_base64(key_.pub)));
  if (!cfg->edge.public_endpoint.empty())
    WARREN_CHECK(set_meta(*db_, kMetaEdgeEndpoint, cfg->edge.public_endpoint));
  WARREN_CHECK(load_store(*db_));

  auto hp = net::parse_host_port(cfg->edge.listen);
  if (!hp) return core::err(core::Errc::config, "listen: " + hp.error().message);
  WARREN_TRY(acc, net::listen_tcp(w_.at(0).get_executor(), *hp));
  boost::system::error_code ec;
  listen_addr_ = endpoint_str(acc.local_endpoint(ec));
  acceptor_.emplace(std::move(acc));

  control.on("dial", [this](ipc::Request& r) { return dial(r); });
  asio::co_spawn(w_.at(0), accept_loop(), net::log_errors("edge accept"));
  store_thread_ = std::thread([this] { store_loop(); });
  std::lock_guard lk(mu_);
  logger()->info("event=listening role=edge listen={} public_key={} sites={} workers={}",
                 listen_addr_, crypto::key_to_base64(key_.pub), sites_.size(), w_.size());
  return {};
}

asio::awaitable<void> Edge::accept_loop() {
  for (;;) {
    auto [ec, sock] = co_await acceptor_->async_accept(net::use_tuple);
    if (draining_ || ec == asio::error::operation_aborted || ec == asio::error::bad_descriptor)
      co_return;
    if (ec) {  // EMFILE and friends: back off instead of spinning
      logger()->warn("event=accept_failed error=\"{}\"", ec.message());
      asio::steady_timer t(co_await asio::this_coro::executor, 50ms);
      co_await t.async_wait(net::use_tuple);
      continue;
    }
    auto peer = sock.remote_endpoint(ec);
    std::string src = ec ? std::string("?") : peer.address().to_string();
    if (const char* why = admit_handshake(src)) {
      int64_t now = unix_ms_now(), last = refused_log_ms_.load();
      if (now - last > 1000 && refused_log_ms_.compare_exchange_strong(last, now))
        logger()->warn("event=lane_refused reason={} source={} handshaking={} limit={}", why, src,
                       handshaking_.load(), config()->edge.max_handshakes);
      continue;  // sock closes here
    }
    auto protocol = sock.local_endpoint(ec).protocol();
    int fd = sock.release(ec);
    if (ec) {
      handshake_over(src, false);
      continue;
    }
    auto& ctx = w_.next();
    asio::post(ctx, [this, &ctx, fd, protocol, src] { new_lane(ctx, fd, protocol, src); });
  }
}

// Handshake slots (accept loop): at most max_handshakes_per_source from one address, and the
// last handshake_reserve of max_handshakes only for addresses that completed a handshake
// before, so a flood of half-open handshakes cannot lock known sites out. Null: admitted.
const char* Edge::admit_handshake(const std::string& src) {
  auto cfg = config();
  std::lock_guard lk(hs_src_mu_);
  int total = handshaking_.load();
  uint32_t max = cfg->edge.max_handshakes;
  uint32_t open = max > cfg->edge.handshake_reserve ? max - cfg->edge.handshake_reserve : 0;
  auto& mine = hs_by_source_[src];
  if (mine >= int(cfg->edge.max_handshakes_per_source)) return "too_many_from_source";
  if (total >= int(max)) return "too_many_handshakes";
  if (total >= int(open) && !known_sources_.count(src)) return "reserved_for_known_sources";
  ++mine;
  ++handshaking_;
  return nullptr;
}

void Edge::handshake_over(const std::string& src, bool ok) {
  std::lock_guard lk(hs_src_mu_);
  --handshaking_;
  if (auto it = hs_by_source_.find(src); it != hs_by_source_.end() && --it->second <= 0)
    hs_by_source_.erase(it);
  if (ok) {
    if (known_sources_.size() >= 4096) known_sources_.clear();  // bounded; relearned at once
    known_sources_.insert(src);
  }
}

void Edge::new_lane(asio::io_context& ctx, int fd, tcp protocol, const std::string& src) {
  tcp::socket s(ctx);
  boost::system::error_code ec;
  s.assign(protocol, fd, ec);
  if (ec) {
    ::close(fd);
    handshake_over(src, false);
    return;
  }
  auto cfg = config();
  proto::ResponderConfig rc;
  rc.static_priv = key_.priv;
  rc.suites = cfg->edge.suites;
  rc.settings = session_settings(*cfg);
  rc.settings.keepalive = cfg->edge.keepalive;
  rc.settings.idle_timeout = cfg->edge.idle_timeout;
  rc.settings.handshake_timeout = cfg->edge.handshake_timeout;
  // Under a flood (half the slots taken), half-open handshakes get a second at most.
  if (handshaking_.load() * 2 >= int(cfg->edge.max_handshakes))
    rc.settings.handshake_timeout = std::min<proto::Duration>(rc.settings.handshake_timeout, 1s);
  rc.replay = &replay_;
  rc.lookup = [this](const crypto::Key& k) -> std::optional<proto::PeerEntry> {
    std::lock_guard lk(mu_);
    auto it = by_key_.find(k);
    if (it == by_key_.end()) return std::nullopt;
    auto site = sites_.find(it->second);
    if (site == sites_.end() || !site->second.rec.enabled) return std::nullopt;
    return proto::PeerEntry{};
  };
  // Lanes of one group share a session id; a new group gets a new one.
  rc.accept = [this](const crypto::Key& k, const proto::Hello& h) -> std::optional<uint64_t> {
    std::lock_guard lk(mu_);
    auto it = by_key_.find(k);
    if (it == by_key_.end()) return std::nullopt;
    SiteEntry& s = sites_[it->second];
    if (s.group != 0 && s.group == h.lane_group) return s.session_id;
    if (s.pending_group != h.lane_group || s.pending_sid == 0) {
      s.pending_group = h.lane_group;
      s.pending_sid = ++next_sid_;
    }
    return s.pending_sid;
  };
  auto sess = proto::Session::responder(std::move(rc), Clock::now());
  if (!sess) {
    logger()->error("event=lane_failed error=\"{}\"", sess.error().message);
    handshake_over(src, false);
    return;
  }
  auto lane = std::make_shared<Lane>(ctx, std::move(s), std::move(*sess), *this,
                                     "L" + std::to_string(++next_lane_), &hs_mu_);
  lane->source = src;
  lane->udp_idle = cfg->edge.udp_idle_timeout;
  lane->options = lane_options(*cfg);
  logger()->debug("event=lane_accepted lane={} peer={}", lane->name(), lane->peer());
  lane->start();
}

// --- lane hooks (lane threads) ----------------------------------------------------------------

void Edge::lane_open(Lane& lane) {
  handshake_over(lane.source, true);
  // A lane of another group while the live group has lanes: either the site restarted (its old
  // lanes are dead and cannot answer) or a second process runs with the same key (they answer).
  // Ask a live lane; a duel keeps the established process and sends the newcomer away.
  const auto& hello = lane.session().hello();
  std::shared_ptr<Lane> live;
  {
    std::lock_guard lk(mu_);
    auto k = by_key_.find(lane.session().remote_static());
    auto it = k == by_key_.end() ? sites_.end() : sites_.find(k->second);
    if (it != sites_.end() && it->second.group != 0 && it->second.group != hello.lane_group &&
        !it->second.lanes.empty() && !draining_) {
      live = it->second.lanes.front();
      lane.site = it->second.rec.name;  // not among the site's lanes until admitted
    }
  }
  if (!live) {
    admit(lane);
    return;
  }
  int64_t srtt = live->stats().srtt_us.load();
  auto wait = std::max<proto::Duration>(std::chrono::seconds(1),
                                        std::chrono::microseconds(std::max<int64_t>(srtt, 0) * 4));
  asio::post(live->executor(), [this, live, wait, self = lane.shared_from_this()] {
    live->probe(wait, [this, live, self](bool alive) {
      asio::post(self->executor(), [this, live, self, alive] {
        if (self->done()) return;
        if (!alive) {
          admit(*self);
          return;
        }
        {
          std::lock_guard lk(mu_);
          if (auto it = sites_.find(self->site); it != sites_.end()) ++it->second.duels;
        }
        logger()->error(
            "event=site_duel site={} lane={} peer={} live_peer={} reason=\"another process with "
            "this site's key is connected: keeping the established one, refusing this one\"",
            self->site, self->name(), self->peer(), live->peer());
        self->close(proto::CloseCode::duplicate,
                    "another process with this site's key is connected");
      });
    });
  });
}

void Edge::admit(Lane& lane) {
  const auto& sess = lane.session();
  const auto& hello = sess.hello();
  std::vector<std::shared_ptr<Lane>> replaced;
  bool came_online = false, takeover = false;
  uint64_t sid = sess.welcome().session_id;
  {
    std::lock_guard lk(mu_);
    auto k = by_key_.find(sess.remote_static());
    auto it = k == by_key_.end() ? sites_.end() : sites_.find(k->second);
    if (it == sites_.end() || !it->second.rec.enabled || draining_) {
      lane.site = "(refused)";
    } else {
      SiteEntry& s = it->second;
      lane.site = s.rec.name;
      lane.group = hello.lane_group;
      lane.index = hello.lane_index;
      if (s.group != hello.lane_group) {
        takeover = s.group != 0 && !s.lanes.empty();
        replaced = std::move(s.lanes);
        s.lanes.clear();
        s.group = hello.lane_group;
        s.session_id = sid;
      } else {
        auto same = std::find_if(s.lanes.begin(), s.lanes.end(),
                                 [&](const auto& l) { return l->index == lane.index; });
        if (same != s.lanes.end()) {
          replaced.push_back(*same);
          s.lanes.erase(same);
        }
      }
      came_online = s.lanes.empty() && replaced.empty();
      if (!s.seen.insert(lane.index).second) ++s.reconnects;
      ++s.handshakes;
      s.lanes_expected = hello.lane_count;
      s.last_handshake_ms = unix_ms_now();
      s.lanes.push_back(lane.shared_from_this());
    }
  }
  if (lane.site == "(refused)") {
    logger()->warn("event=lane_refused lane={} peer={} reason=\"site removed or disabled\"",
                   lane.name(), lane.peer());
    lane.close(proto::CloseCode::going_away, "site removed or disabled");
    return;
  }
  for (auto& old : replaced)
    asio::post(old->executor(), [old] {
      old->close(proto::CloseCode::replaced, "a newer connection of the site took over");
    });
  logger()->info("event=lane_up site={} lane={} index={}/{} session={} peer={} suite={}{}",
                 lane.site, lane.name(), hello.lane_index, hello.lane_count, sid, lane.peer(),
                 suite_name(sess.suite()), takeover ? " takeover=true" : "");
  if (came_online) logger()->info("event=site_online site={}", lane.site);
}

void Edge::lane_stream(Lane& lane, uint32_t id, proto::StreamKind, std::string_view target) {
  logger()->warn(
      "event=stream_refused site={} lane={} target=\"{}\" reason=\"the edge opens no "
      "streams for sites\"",
      lane.site, lane.name(), target);
  lane.refuse(id, proto::ResetCode::refused, "the edge does not accept streams");
}

void Edge::lane_closed(Lane& lane, const std::string& reason) {
  if (lane.site.empty()) {  // never got through the handshake
    handshake_over(lane.source, false);
    logger()->warn("event=handshake_failed lane={} peer={} reason=\"{}\"", lane.name(), lane.peer(),
                   reason);
    return;
  }
  bool went_offline = false;
  {
    std::lock_guard lk(mu_);
    auto it = sites_.find(lane.site);
    if (it != sites_.end()) {
      SiteEntry& s = it->second;
      auto me = std::find_if(s.lanes.begin(), s.lanes.end(),
                             [&](const auto& l) { return l.get() == &lane; });
      if (me != s.lanes.end()) {
        s.lanes.erase(me);
        went_offline = s.lanes.empty();
        if (went_offline) s.offline_since_ms = unix_ms_now();
      }
      s.closed_in += lane.stats().bytes_in;
      s.closed_out += lane.stats().bytes_out;
    }
  }
  logger()->info("event=lane_down site={} lane={} index={} reason=\"{}\"", lane.site, lane.name(),
                 lane.index, reason);
  if (went_offline) logger()->warn("event=site_offline site={}", lane.site);
}

// --- dial ------------------------------------------------------------------------------------

core::Result<std::shared_ptr<Lane>> Edge::pick_lane(const std::string& site) {
  std::lock_guard lk(mu_);
  auto it = sites_.find(site);
  if (it == sites_.end()) return core::err(core::Errc::noinput, "no site " + site);
  if (!it->second.rec.enabled)
    return core::err(core::Errc::unavailable, "site " + site + " is disabled");
  // The lane with the shortest queues: our sealed bytes waiting (256 KiB steps), its recent
  // traffic (4 MiB/s steps: a bulk transfer toward us queues at the site and in the kernels,
  // where we cannot see it, and a lost packet holds up the whole lane), the last RTT sample
  // (5 ms steps), then the fewest streams.
  std::shared_ptr<Lane> best;
  auto key = [](const Lane& l) {
    const auto& st = l.stats();
    return std::make_tuple(st.queued.load(std::memory_order_relaxed) >> 18,
                           st.rate.load(std::memory_order_relaxed) >> 22,
                           std::max<int64_t>(st.rtt_us.load(std::memory_order_relaxed), 0) / 5000,
                           st.streams.load(std::memory_order_relaxed));
  };
  for (const auto& l : it->second.lanes) {
    if (!l->stats().open) continue;
    if (!best || key(*l) < key(*best)) best = l;
  }
  if (!best) return core::err(core::Errc::unavailable, "site " + site + " is offline");
  return best;
}

asio::awaitable<boost::json::object> Edge::dial(ipc::Request& req) {
  const auto& b = req.body();
  auto* sv = b.if_contains("site");
  auto* tv = b.if_contains("target");
  if (!sv || !sv->is_string() || !tv || !tv->is_string())
    co_return ipc::fail(
        core::err(core::Errc::usage, "dial: need \"site\" and \"target\" (host:port) strings"));
  std::string site(sv->as_string()), target(tv->as_string());
  if (!proto::valid_target(target))
    co_return ipc::fail(core::err(core::Errc::data, "dial: bad target \"" + target.substr(0, 100) +
                                                        "\": expected host:port"));
  if (draining_) co_return ipc::fail(core::err(core::Errc::tempfail, "tunneld is shutting down"));
  auto lane = pick_lane(site);
  if (!lane) {
    logger()->debug("event=dial_failed site={} target={} error=\"{}\"", site, target,
                    lane.error().message);
    co_return ipc::fail(lane.error());
  }
  auto l = *lane;
  auto wait = std::make_shared<OpenWait>(co_await asio::this_coro::executor);
  int64_t id =
      co_await asio::co_spawn(l->executor(), open_on_lane(l, target, wait), asio::use_awaitable);
  if (id < 0)
    co_return ipc::fail(core::err(core::Errc::unavailable, "site " + site + " is offline"));
  if (!wait->result) {  // the completion is posted to this executor: it cannot be missed
    wait->signal.expires_after(kDialTimeout);
    co_await wait->signal.async_wait(net::use_tuple);
  }
  if (!wait->result) {
    asio::post(l->executor(),
               [l, id] { l->refuse(uint32_t(id), proto::ResetCode::cancel, "dial timed out"); });
    logger()->info("event=dial_failed site={} target={} error=\"timed out\"", site, target);
    co_return ipc::fail(
        core::err(core::Errc::tempfail, "site " + site + ": no answer for " + target + " within " +
                                            std::to_string(kDialTimeout.count()) + " s"));
  }
  if (!*wait->result) {
    logger()->info("event=dial_failed site={} target={} error=\"{}\"", site, target,
                   wait->result->error().message);
    co_return ipc::fail(wait->result->error());
  }
  req.take_over([l, id](ipc::Stream s) { return hand_to_lane(l, uint32_t(id), std::move(s)); });
  logger()->debug("event=dial site={} target={} lane={} stream={}", site, target, l->name(), id);
  co_return ipc::ok();
}

// --- status ----------------------------------------------------------------------------------

boost::json::object Edge::status() {
  boost::json::array sites;
  size_t online = 0;
  {
    std::lock_guard lk(mu_);
    for (const auto& [name, s] : sites_) {
      uint64_t in = s.closed_in, out = s.closed_out, streams = 0, queued = 0, extra = 0, grows = 0;
      int64_t rtt = -1;
      size_t up = 0;
      for (const auto& l : s.lanes) {
        const auto& st = l->stats();
        in += st.bytes_in;
        out += st.bytes_out;
        streams += st.streams;
        up += st.open;
        queued += st.queued;
        extra += st.window_extra;
        grows += st.window_grows;
        int64_t r = st.rtt_us;
        if (r >= 0 && (rtt < 0 || r < rtt)) rtt = r;
      }
      online += up > 0;
      boost::json::object o{{"name", name},
                            {"public_key", crypto::key_to_base64(s.rec.public_key)},
                            {"enabled", s.rec.enabled},
                            {"online", up > 0},
                            {"lanes", up},
                            {"lanes_expected", s.lanes_expected},
                            {"session_id", s.session_id},
                            {"last_handshake", rfc3339_ms(s.last_handshake_ms)},
                            {"last_handshake_unix_ms", s.last_handshake_ms},
                            {"bytes_in", in},
                            {"bytes_out", out},
                            {"streams", streams},
                            {"reconnects", s.reconnects},
                            {"handshakes", s.handshakes},
                            {"duels", s.duels},
                            {"queued_bytes", queued},
                            {"window_extra_bytes", extra},
                            {"window_grows", grows}};
      if (rtt >= 0)
        o["rtt_ms"] = double(rtt) / 1000.0;
      else
        o["rtt_ms"] = nullptr;
      sites.push_back(std::move(o));
    }
  }
  boost::json::array fwds;
  for (const auto& [key, f] : fwds_) {  // status runs on worker 0, like the forwards
    boost::json::object o{{"protocol", f->rec.protocol},
                          {"port", f->rec.listen_port},
                          {"site", f->rec.site},
                          {"target", f->rec.target},
                          {"listening", !f->closed}};
    if (f->rec.protocol == "udp") o["flows"] = f->flows.size();
    if (!f->rec.name.empty()) o["name"] = f->rec.name;
    o["tls"] = f->rec.access.tls;
    o["accepted"] = f->accepted.load();
    boost::json::object by;
    uint64_t refused = 0;
    for (size_t i = 1; i < kRefusals; ++i) {
      uint64_t n = f->refused[i].load();
      refused += n;
      if (n) by[refusal_name(Refusal(i))] = n;
    }
    o["refused"] = refused;
    o["refused_by"] = std::move(by);
    {
      std::lock_guard lk(f->gate_mu);
      o["sources_open"] = f->sources.open_total();
      if (f->last_refused_ms) {
        o["last_refused"] = boost::json::object{{"source", f->last_source},
                                                {"reason", f->last_reason},
                                                {"time", rfc3339_ms(f->last_refused_ms)},
                                                {"unix_ms", f->last_refused_ms}};
      }
    }
    fwds.push_back(std::move(o));
  }
  return ipc::ok({{"role", "edge"},
                  {"listen", listen_addr_},
                  {"public_key", crypto::key_to_base64(key_.pub)},
                  {"draining", draining_.load()},
                  {"sites_online", online},
                  {"handshaking", handshaking_.load()},
                  {"sites", std::move(sites)},
                  {"forwards", std::move(fwds)}});
}

// --- drain -----------------------------------------------------------------------------------

void Edge::begin_drain() {
  draining_ = true;
  asio::post(w_.at(0), [this] {
    boost::system::error_code ec;
    if (acceptor_) acceptor_->close(ec);
    for (auto& [k, f] : fwds_) f->close();
  });
}

size_t Edge::open_streams() {
  std::lock_guard lk(mu_);
  size_t n = 0;
  for (const auto& [name, s] : sites_)
    for (const auto& l : s.lanes) n += l->stats().streams;
  return n;
}

void Edge::close_all() {
  std::vector<std::shared_ptr<Lane>> all;
  {
    std::lock_guard lk(mu_);
    for (const auto& [name, s] : sites_) all.insert(all.end(), s.lanes.begin(), s.lanes.end());
  }
  for (auto& l : all)
    asio::post(l->executor(),
               [l] { l->close(proto::CloseCode::going_away, "edge shutting down"); });
}

size_t Edge::lanes_alive() {
  std::lock_guard lk(mu_);
  size_t n = 0;
  for (const auto& [name, s] : sites_) n += s.lanes.size();
  return n;
}

// --- reload and the store ------------------------------------------------------------------

core::Result<void> Edge::reload(std::shared_ptr<const Config> cfg) {
  auto old = config();
  if (cfg->edge.listen != old->edge.listen)
    logger()->warn("event=reload_partial key=listen note=\"restart tunneld to listen elsewhere\"");
  if (cfg->edge.private_key_file != old->edge.private_key_file)
    logger()->warn(
        "event=reload_partial key=private_key_file note=\"restart tunneld to change "
        "the edge key\"");
  if (auto g = load_geo(*cfg); !g)
    logger()->warn("event=reload_partial key=geoip_db error=\"{}\" note=\"keeping the last one\"",
                   g.error().message);
  {
    std::lock_guard lk(cfg_mu_);
    cfg_ = cfg;
  }
  bool tls_changed = cfg->edge.forward_tls_cert != old->edge.forward_tls_cert ||
                     cfg->edge.forward_tls_key != old->edge.forward_tls_key ||
                     cfg->edge.forward_client_ca != old->edge.forward_client_ca ||
                     cfg->edge.forward_client_crl != old->edge.forward_client_crl;
  if (cfg->edge.forward_bind != old->edge.forward_bind || tls_changed)
    asio::post(w_.at(0), [this] {
      std::vector<ForwardRecord> list;
      for (auto& [k, f] : fwds_) list.push_back(f->rec);
      apply_forwards(std::move(list), true);
    });
  return request_store_reload();
}

namespace {

// The store thread never waits long for the store: its connection's busy timeout is short, and
// a pass that finds the store locked is tried again (every kStoreRetry while a reload waits for
// it, else at the next poll). Another process's write transaction does not block reads (WAL);
// only publishing the edge's key and endpoint writes, and only when the store holds others.
constexpr auto kStoreWait = 5s;  // a reload waits this long for a locked store, then 75
constexpr auto kStoreRetry = 100ms;
constexpr int kStoreBusyMs = 100;

core::Result<void> publish_meta(store::Db& db, std::string_view key, std::string_view endpoint) {
  for (auto [k, v] : {std::pair{kMetaEdgeKey, key}, std::pair{kMetaEdgeEndpoint, endpoint}}) {
    if (v.empty()) continue;
    WARREN_TRY(cur, get_meta(db, k));
    if (!cur || *cur != v) WARREN_CHECK(set_meta(db, k, v));
  }
  return {};
}

}  // namespace

core::Result<void> Edge::request_store_reload() {
  std::unique_lock lk(store_mu_);
  uint64_t want = ++store_req_;
  store_cv_.notify_all();
  bool done =
      store_cv_.wait_for(lk, kStoreWait, [&] { return store_done_ >= want || store_stop_; });
  if (!done || store_done_ < want)
    return core::err(core::Errc::tempfail,
                     (store_error_ ? store_error_->message : "store: no answer") +
                         " (the store is read again once it is free)");
  if (store_error_) return *store_error_;
  return {};
}

// The only user of db_ after start. A pass: reopen when another file was renamed over the store,
// load sites and forwards when the change counter moved or a reload asked, publish the key and
// endpoint after a reload or a reopen. What failed is tried again; a reload that finds the store
// locked stays pending (its requester waits up to kStoreWait) until a pass succeeds.
void Edge::store_loop() {
  (void)db_->exec("PRAGMA busy_timeout = " + std::to_string(kStoreBusyMs));
  const std::string path = db_->path();
  int64_t gen = -1;  // change_gen of the last load
  if (auto g = db_->change_gen()) gen = *g;
  bool load = false, publish = false, missing = false, replaced = false;
  auto pass = [&](const Config& cfg) -> core::Result<void> {
    if (db_ && db_->replaced()) {
      if (!core::file_exists(path)) {  // removed: keep reading the open file until one is back
        if (!missing)
          logger()->warn("event=store_missing path={} note=\"keeping the open file\"", path);
        missing = true;
      } else {
        if (!replaced) logger()->warn("event=store_replaced path={} note=\"reopening\"", path);
        replaced = true;
        WARREN_CHECK(db_->release_replaced());
        db_.reset();
      }
    }
    if (!db_) {
      store::OpenOptions o;
      o.create = false;
      o.busy_timeout_ms = kStoreBusyMs;
      WARREN_TRY(db, store::open_dir(cfg.dir, o));
      db_.emplace(std::move(db));
      missing = replaced = false;
      load = publish = true;
      logger()->info("event=store_reopened path={}", path);
    }
    WARREN_TRY(g, db_->change_gen());
    if (load || g != gen) {
      WARREN_CHECK(load_store(*db_));
      gen = g;
      load = false;
    }
    if (publish) {
      WARREN_CHECK(publish_meta(*db_, crypto::key_to_base64(key_.pub), cfg.edge.public_endpoint));
      publish = false;
    }
    return {};
  };
  uint64_t tried = 0;  // the last reload request a pass started for
  std::string last_err;
  std::unique_lock lk(store_mu_);
  while (!store_stop_) {
    auto cfg = config();
    bool waiting = store_done_ != store_req_;
    store_cv_.wait_for(lk, waiting ? kStoreRetry : cfg->edge.store_poll,
                       [&] { return store_stop_ || store_req_ != tried; });
    if (store_stop_) break;
    uint64_t req = store_req_;
    if (req != tried) load = publish = true;
    tried = req;
    lk.unlock();
    auto r = pass(*config());
    std::string err = r ? "" : r.error().message;
    if (!err.empty() && err != last_err)
      logger()->warn("event=store_failed error=\"{}\" note=\"keeping the last sites\"", err);
    last_err = err;
    lk.lock();
    if (!r && r.error().code == core::Errc::tempfail && store_done_ != req) {
      store_error_ = r.error();  // locked: the reload stays pending and is tried again
      continue;
    }
    store_done_ = req;
    store_error_.reset();
    if (!r) store_error_ = r.error();
    store_cv_.notify_all();
  }
}

core::Result<void> Edge::load_store(store::Db& db) {
  WARREN_TRY(sites, list_sites(db));
  WARREN_TRY(fwds, list_forwards(db));
  logger()->debug("event=store_loaded sites={} forwards={}", sites.size(), fwds.size());
  apply_sites(std::move(sites));
  asio::post(w_.at(0),
             [this, f = std::move(fwds)]() mutable { apply_forwards(std::move(f), false); });
  return {};
}

void Edge::apply_sites(std::vector<SiteRecord> list) {
  std::vector<std::shared_ptr<Lane>> to_close;
  std::vector<crypto::Key> forget;
  {
    std::lock_guard lk(mu_);
    std::map<std::string, SiteRecord> want;
    for (auto& s : list) want.emplace(s.name, std::move(s));
    for (auto it = sites_.begin(); it != sites_.end();) {
      auto w = want.find(it->first);
      SiteEntry& e = it->second;
      bool gone = w == want.end();
      bool rekeyed = !gone && w->second.public_key != e.rec.public_key;
      bool disabled = !gone && !w->second.enabled && e.rec.enabled;
      if (gone || rekeyed || disabled) {
        to_close.insert(to_close.end(), e.lanes.begin(), e.lanes.end());
        e.lanes.clear();
        e.group = e.pending_group = 0;
        if (gone || rekeyed) forget.push_back(e.rec.public_key);
        logger()->info("event=site_{} site={}",
                       gone      ? "removed"
                       : rekeyed ? "rekeyed"
                                 : "disabled",
                       it->first);
      }
      if (gone) {
        it = sites_.erase(it);
        continue;
      }
      e.rec = w->second;
      want.erase(w);
      ++it;
    }
    for (auto& [name, rec] : want) {
      sites_[name].rec = rec;
      logger()->info("event=site_added site={}", name);
    }
    by_key_.clear();
    for (const auto& [name, e] : sites_) by_key_[e.rec.public_key] = name;
  }
  for (auto& l : to_close)
    asio::post(l->executor(), [l] {
      l->close(proto::CloseCode::going_away, "site removed, disabled or re-keyed");
    });
  if (!forget.empty()) {
    std::lock_guard lk(hs_mu_);
    for (const auto& k : forget) replay_.forget(k);
  }
}

void Edge::apply_forwards(std::vector<ForwardRecord> list, bool rebind) {
  auto cfg = config();
  std::map<std::string, ForwardRecord> want;
  if (!draining_)
    for (auto& f : list)
      if (f.enabled && f.listen_port != 0)
        want.emplace(f.protocol + ":" + std::to_string(f.listen_port), std::move(f));
  for (auto it = fwds_.begin(); it != fwds_.end();) {
    auto w = want.find(it->first);
    // A forward whose access settings turned bad, or that gains or loses TLS, starts again.
    if (w == want.end() || rebind || !w->second.access_error.empty() ||
        w->second.access.tls != it->second->rec.access.tls) {
      it->second->close();
      if (w == want.end()) logger()->info("event=forward_down forward={}", it->first);
      it = fwds_.erase(it);
      continue;
    }
    it->second->rec = w->second;  // site or target may have changed: used by new connections
    want.erase(w);
    ++it;
  }
  auto ex = w_.at(0).get_executor();
  for (auto& [key, rec] : want) {
    auto f = std::make_shared<Forward>();
    f->rec = rec;
    f->key = key;
    // Fail closed: a forward whose access settings cannot be honoured does not listen.
    std::string why = rec.access_error;
    if (why.empty() && rec.access.tls && rec.protocol != "tcp")
      why = "tls_client_cert is for tcp forwards";
    if (why.empty() && rec.access.tls) {
      if (auto t = forward_tls(); !t)
        why = t.error().message;
      else
        f->tls = *t;
    }
    if (!why.empty()) {
      logger()->error("event=forward_failed forward={} error=\"{}\"", key, why);
      continue;
    }
    if (rec.access.has_country_rules() && !geo())
      logger()->warn(
          "event=forward_no_geoip forward={} note=\"country rules need [edge] geoip_db: no "
          "source has a known country\"",
          key);
    net::HostPort hp(cfg->edge.forward_bind, rec.listen_port);
    auto ep = net::resolve_one(hp);
    if (!ep) {
      logger()->error("event=forward_failed forward={} error=\"{}\"", key, ep.error().message);
      continue;
    }
    if (rec.protocol == "tcp") {
      auto acc = net::listen_tcp(ex, *ep);
      if (!acc) {
        logger()->error("event=forward_failed forward={} error=\"{}\"", key, acc.error().message);
        continue;
      }
      f->tcp_acc.emplace(std::move(*acc));
      asio::co_spawn(ex, tcp_forward_loop(f), net::log_errors("tcp forward"));
    } else {
      udp::socket sock(ex);
      boost::system::error_code ec;
      udp::endpoint uep(ep->address(), ep->port());
      sock.open(uep.protocol(), ec);
      if (!ec) sock.set_option(asio::socket_base::reuse_address(true), ec);
      if (!ec) sock.bind(uep, ec);
      if (ec) {
        logger()->error("event=forward_failed forward={} error=\"listen {}: {}\"", key, hp.str(),
                        ec.message());
        continue;
      }
      sock.non_blocking(true, ec);
      f->udp_sock.emplace(std::move(sock));
      f->sweep.emplace(ex);
      asio::co_spawn(ex, udp_forward_loop(f), net::log_errors("udp forward"));
      asio::co_spawn(ex, udp_sweep_loop(f), net::log_errors("udp forward sweep"));
    }
    logger()->info("event=forward_up forward={} bind={} site={} target={} access={}{}", key,
                   hp.str(), rec.site, rec.target, rec.access.open() ? "open" : "rules",
                   rec.access.tls ? " tls=client_cert" : "");
    fwds_[key] = f;
  }
}

asio::awaitable<void> Edge::tcp_forward_loop(std::shared_ptr<Forward> f) {
  for (;;) {
    auto [ec, sock] = co_await f->tcp_acc->async_accept(net::use_tuple);
    if (f->closed || ec == asio::error::operation_aborted || ec == asio::error::bad_descriptor)
      co_return;
    if (ec) {
      asio::steady_timer t(co_await asio::this_coro::executor, 50ms);
      co_await t.async_wait(net::use_tuple);
      continue;
    }
    auto peer = sock.remote_endpoint(ec);
    if (ec) continue;
    // The access decision first: a refused client reaches neither the site nor the target.
    auto c = f->conn(source_str(peer));
    std::string country;
    std::shared_ptr<Forward::Admission> adm;
    auto g = f->rec.access.has_country_rules() ? geo() : nullptr;
    if (Refusal r = f->admit(ip_of(peer.address()), g.get(), country, adm); r != Refusal::none) {
      f->refuse(c, r, country);
      continue;  // the client sees the connection close
    }
    auto lane = pick_lane(f->rec.site);
    if (!lane) {
      f->refuse(c, Refusal::site_offline, country, lane.error().message);
      continue;
    }
    sock.set_option(tcp::no_delay(true), ec);
    auto protocol = peer.protocol();
    int fd = sock.release(ec);
    if (ec) continue;
    auto l = *lane;
    if (f->rec.access.tls) {
      if (!f->tls) {
        ::close(fd);
        continue;
      }
      asio::co_spawn(w_.next(),
                     tls_forward_conn(f, std::move(c), std::move(country), fd, protocol, l, adm,
                                      f->tls, config()->edge.handshake_timeout),
                     net::log_errors("tls forward"));
      continue;
    }
    f->accept(c, country);
    asio::post(l->executor(), [l, fd, target = f->rec.target, adm] {
      auto id = l->open_stream(target);
      if (!id) {
        ::close(fd);
        return;
      }
      l->attach(*id, fd, {}, adm);
    });
  }
}

// Datagrams from one client address form a flow on one lane; replies come back through the
// forward's socket. A flow whose lane died moves to a live lane with its next datagram.
asio::awaitable<void> Edge::udp_forward_loop(std::shared_ptr<Forward> f) {
  std::vector<uint8_t> buf(proto::kMaxDatagram);
  auto ex = w_.at(0).get_executor();
  std::weak_ptr<Forward> wf = f;
  for (;;) {
    udp::endpoint from;
    auto [ec, n] =
        co_await f->udp_sock->async_receive_from(asio::buffer(buf), from, net::use_tuple);
    if (f->closed || ec == asio::error::operation_aborted || ec == asio::error::bad_descriptor)
      co_return;
    if (ec) continue;  // e.g. ICMP errors from an earlier reply
    auto known = f->flows.find(from);
    std::shared_ptr<Forward::Admission> adm;
    std::string country;
    std::optional<Forward::Conn> c;
    if (known == f->flows.end()) {  // a new flow: the access decision (dropped when refused)
      c = f->conn(source_str(from));
      auto g = f->rec.access.has_country_rules() ? geo() : nullptr;
      if (Refusal r = f->admit(ip_of(from.address()), g.get(), country, adm); r != Refusal::none) {
        f->refuse(*c, r, country, {}, true);
        continue;
      }
    }
    auto& flow = f->flows[from];
    std::shared_ptr<Lane> lane = flow ? flow->lane.lock() : nullptr;
    if (!lane || !lane->stats().open) {
      auto picked = pick_lane(f->rec.site);
      if (!picked) {
        if (!c) c = f->conn(source_str(from));
        f->refuse(*c, Refusal::site_offline, country, picked.error().message, true);
        f->flows.erase(from);
        continue;  // dropped: the site is offline
      }
      if (flow) adm = std::move(flow->admission);  // the same flow on a new lane
      flow = std::make_shared<Forward::Flow>();
      flow->lane = *picked;
      flow->admission = std::move(adm);
      lane = *picked;
      if (c) f->accept(*c, country);
    }
    flow->last = Clock::now();
    DgramSink sink = [wf, from, ex](std::span<const uint8_t> d) {
      asio::post(ex, [wf, from, data = std::vector<uint8_t>(d.begin(), d.end())] {
        auto f = wf.lock();
        if (!f || f->closed) return;
        boost::system::error_code ec;
        f->udp_sock->send_to(asio::buffer(data), from, 0, ec);  // non-blocking: or dropped
        if (auto it = f->flows.find(from); it != f->flows.end()) it->second->last = Clock::now();
      });
    };
    asio::post(lane->executor(), [lane, flow, target = f->rec.target, sink = std::move(sink),
                                  data = std::vector<uint8_t>(buf.begin(), buf.begin() + n)] {
      if (flow->id != 0 && lane->send_dgram(flow->id, data)) return;
      auto id = lane->open_flow(target, sink);
      if (!id) return;
      flow->id = *id;
      lane->send_dgram(*id, data);
    });
  }
}

asio::awaitable<void> Edge::udp_sweep_loop(std::shared_ptr<Forward> f) {
  for (;;) {
    f->sweep->expires_after(1s);
    auto [ec] = co_await f->sweep->async_wait(net::use_tuple);
    if (ec || f->closed) co_return;
    auto idle = config()->edge.udp_idle_timeout;
    auto now = Clock::now();
    for (auto it = f->flows.begin(); it != f->flows.end();) {
      if (now - it->second->last < idle) {
        ++it;
        continue;
      }
      if (auto lane = it->second->lane.lock())
        asio::post(lane->executor(), [lane, flow = it->second] {
          if (flow->id != 0) lane->refuse(flow->id, proto::ResetCode::cancel, "idle");
        });
      it = f->flows.erase(it);
    }
  }
}

}  // namespace tunnel

namespace tunnel {
std::unique_ptr<Daemon> make_edge(Workers& w, std::shared_ptr<const Config> cfg) {
  return std::make_unique<Edge>(w, std::move(cfg));
}
}  // namespace tunnel
