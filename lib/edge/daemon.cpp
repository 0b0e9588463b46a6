// edged's daemon: start-up (config, routes, certificates, listeners on every worker), the worker
// threads (accept loops and a 250 ms tick for deadlines, log flushing and pool sweeping), and
// the control thread: control socket, metrics listener, health checks, reloads (SIGHUP, store
// change, file change) and the SIGTERM drain.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/json.hpp>

#include <csignal>
#include <cstring>
#include <map>
#include <thread>

#include "core/fs.h"
#include "edge/detail/daemon.h"
#include "http/proxy.h"
#include "ipc/server.h"
#include "log/log.h"
#include "store/store.h"

namespace edge {

namespace detail {

using namespace std::chrono_literals;
using namespace asio::experimental::awaitable_operators;

const Snapshot& Worker::current() {
  uint64_t g = d.gen.load(std::memory_order_acquire);
  if (g != gen || !snap) {
    auto global = d.snap.load();
    // A per-worker control block, so per-request copies never share a cache line across
    // threads; it keeps the global snapshot alive.
    const Snapshot* raw = global.get();
    snap =
        std::shared_ptr<const Snapshot>(raw, [global](const Snapshot*) mutable { global.reset(); });
    gen = g;
  }
  return *snap;
}

void Worker::link(Conn* c) {
  c->next = conns;
  if (conns) conns->prev = c;
  conns = c;
  ++nconns;
}

void Worker::unlink(Conn* c) {
  if (c->prev) c->prev->next = c->next;
  if (c->next) c->next->prev = c->prev;
  if (conns == c) conns = c->next;
  --nconns;
}

void Worker::flush_log() {
  if (log_buf.empty()) return;
  int fd = d.log_fd.load(std::memory_order_relaxed);
  size_t off = 0;
  while (fd >= 0 && off < log_buf.size()) {
    ssize_t n = ::write(fd, log_buf.data() + off, log_buf.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    off += static_cast<size_t>(n);
  }
  log_buf.clear();
}

void Daemon::publish(std::shared_ptr<const Snapshot> s) {
  snap.store(std::move(s));
  gen.fetch_add(1, std::memory_order_release);
}

namespace {

auto logger() {
  static auto l = wlog::get("edge");
  return l;
}

std::string peer_text(const sockaddr_storage& ss) {
  char buf[INET6_ADDRSTRLEN] = "";
  if (ss.ss_family == AF_INET) {
    ::inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&ss)->sin_addr, buf, sizeof buf);
  } else if (ss.ss_family == AF_INET6) {
    const auto* s6 = reinterpret_cast<const sockaddr_in6*>(&ss);
    if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr))
      ::inet_ntop(AF_INET, reinterpret_cast<const char*>(&s6->sin6_addr) + 12, buf, sizeof buf);
    else
      ::inet_ntop(AF_INET6, &s6->sin6_addr, buf, sizeof buf);
  }
  return buf;
}

asio::awaitable<void> accept_loop(Worker& w, net::tcp::acceptor& acc, bool tls) {
  int lfd = acc.native_handle();
  error_code ig;
  acc.non_blocking(true, ig);
  for (;;) {
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    int fd = ::accept4(lfd, reinterpret_cast<sockaddr*>(&ss), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      int e = errno;
      if (e == EAGAIN || e == EWOULDBLOCK) {
        auto [ec] = co_await acc.async_wait(net::tcp::acceptor::wait_read, net::use_tuple);
        if (ec || !acc.is_open()) co_return;
        continue;
      }
      if (e == EINTR || e == ECONNABORTED) continue;
      if (!acc.is_open() || e == EBADF || e == EINVAL) co_return;
      logger()->warn("event=accept_failed error=\"{}\"", core::errno_text(e));
      asio::steady_timer t(w.ctx, 100ms);  // EMFILE and friends: back off a little
      co_await t.async_wait(net::use_tuple);
      continue;
    }
    const Snapshot& s = w.current();
    if (w.draining || w.d.open_connections.load(std::memory_order_relaxed) >=
                          static_cast<int64_t>(s.cfg->max_connections)) {
      ::close(fd);
      continue;
    }
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    asio::co_spawn(w.ctx, serve(w, fd, tls, peer_text(ss)), net::log_errors("connection"));
  }
}

asio::awaitable<void> tick(Worker& w) {
  asio::steady_timer t(w.ctx);
  w.tick_timer = &t;
  int64_t last_sweep = 0;
  for (;;) {
    t.expires_after(250ms);
    auto [ec] = co_await t.async_wait(net::use_tuple);
    if (ec || w.stopped) {
      w.tick_timer = nullptr;
      co_return;
    }
    int64_t now = mono_ms();
    for (Conn* c = w.conns; c; c = c->next) {
      if (!c->alarm.fired && now >= c->alarm.deadline) {
        c->expire();
      } else if (c->phase == Conn::Phase::idle && !c->parked && now - c->idle_since >= 1000) {
        c->parked = true;
        c->client.cancel();
      }
    }
    w.flush_log();
    if (now - last_sweep >= 1000) {
      w.pool.sweep(now, w.current().cfg->pool_idle);
      last_sweep = now;
    }
  }
}

// ---- building snapshots ----------------------------------------------------------------------

struct Sources {
  store::Db db;
  bool db_open = false;
  int64_t data_version = -1;
  struct stat routes_st {};
  bool routes_seen = false;
};

core::Result<std::shared_ptr<const RouteTable>> build_routes(const Config& cfg, TargetRegistry* reg,
                                                             Sources* src,
                                                             std::vector<std::string>& notes) {
  std::vector<RouteSpec> file;
  if (!cfg.routes_file.empty()) {
    auto r = load_routes_file(cfg.routes_file);
    if (!r) return core::err(core::Errc::config, r.error().message);
    file = std::move(*r);
  }
  std::vector<RouteSpec> stored;
  if (!cfg.store.empty()) {
    store::Db local;
    store::Db* db = nullptr;
    if (src && src->db_open) {
      db = &src->db;
    } else if (core::file_exists(cfg.store)) {
      store::OpenOptions oo;
      oo.create = false;
      auto o = store::Db::open(cfg.store, oo);
      if (!o) return core::err(core::Errc::unavailable, o.error().message);
      if (src) {
        src->db = std::move(*o);
        src->db_open = true;
        db = &src->db;
      } else {
        local = std::move(*o);
        db = &local;
      }
    }
    if (db) {
      auto r = load_routes_store(*db);
      if (!r) return core::err(core::Errc::unavailable, "store: " + r.error().message);
      stored = std::move(*r);
      if (src) {
        auto v = db->change_gen();
        if (v) src->data_version = *v;
      }
    }
  }
  auto merged = merge_routes(std::move(file), std::move(stored), notes);
  auto table = std::make_shared<RouteTable>();
  auto dup = table->build(std::move(merged), reg);
  notes.insert(notes.end(), dup.begin(), dup.end());
  table->add_conflicts(notes);
  return std::shared_ptr<const RouteTable>(std::move(table));
}

bool same_tls(const Config& a, const Config& b) {
  if (a.certs.size() != b.certs.size() || a.cert_dir != b.cert_dir ||
      a.session_tickets != b.session_tickets || a.tls13_only != b.tls13_only)
    return false;
  for (size_t i = 0; i < a.certs.size(); ++i)
    if (a.certs[i].cert != b.certs[i].cert || a.certs[i].key != b.certs[i].key) return false;
  return true;
}

core::Result<std::shared_ptr<tls::ServerContext>> make_server_tls(const Config& cfg,
                                                                  Daemon* d = nullptr) {
  tls::ServerOptions so;
  so.certs = cfg.certs;
  so.cert_dir = cfg.cert_dir;
  so.session_tickets = cfg.session_tickets;
  so.tls13_only = cfg.tls13_only;
  auto r = tls::ServerContext::create(so);
  if (!r) return core::err(core::Errc::config, r.error().message);
  if (d) {
    // Client certificates are asked for per host, as the current routes say (at SNI time).
    (*r)->set_client_auth([d](std::string_view sni) {
      tls::ClientAuth a;
      auto s = d->current();
      const Route* route = s->routes->mtls_route(sni);
      if (!route) return a;
      a.mode = route->spec.mtls == Mtls::required ? tls::ClientAuth::required
                                                  : tls::ClientAuth::optional;
      a.ca = route->spec.client_ca;
      a.crl = route->spec.client_crl;
      return a;
    });
  }
  return *r;
}

http::Limits req_limits(const Config& c) {
  http::Limits l;
  l.max_head = c.max_header_bytes;
  l.max_headers = c.max_headers;
  l.max_uri = c.max_uri;
  return l;
}

http::Limits resp_limits(const Config& c) {
  http::Limits l;
  l.max_head = c.max_response_header_bytes;
  l.max_headers = std::max<size_t>(c.max_headers, 200);
  l.max_uri = c.max_response_header_bytes;
  return l;
}

// ---- the control thread ----------------------------------------------------------------------

struct Checker {
  explicit Checker(const asio::any_io_executor& ex) : timer(ex) {}
  std::shared_ptr<TargetState> t;
  HealthSpec spec;
  std::string route;
  bool stop = false;
  asio::steady_timer timer;
};

class Control {
 public:
  Control(Daemon& d, Config cfg) : d_(d), cfg_path_(d.opt.config_path) { (void)cfg; }

  core::Result<void> initial(const Config& cfg);
  core::Result<void> reload(bool config_too, const std::string& why);
  void start();
  void begin_drain();
  boost::json::object status();
  asio::awaitable<void> metrics_server(net::tcp::acceptor acc);
  asio::awaitable<void> signals();
  std::unique_ptr<ipc::Server> ipc;

 private:
  void sync_health();
  asio::awaitable<void> health_loop(std::shared_ptr<Checker> ck);
  asio::awaitable<std::pair<bool, std::string>> check_once(Checker& ck);
  asio::awaitable<void> poll_loop();
  asio::awaitable<void> site_loop();
  asio::awaitable<std::string> ask_tunneld(const std::string& path, boost::json::object& reply);
  void apply_sites(const Snapshot& snap, const boost::json::object* status,
                   const std::string& error);
  asio::awaitable<void> metrics_conn(net::tcp::socket s);
  asio::awaitable<void> drain_loop();
  core::Result<void> open_log(const Config& cfg);

  Daemon& d_;
  std::string cfg_path_;
  Sources src_;
  std::map<TargetState*, std::shared_ptr<Checker>> checkers_;
  BufferPool bufs_;
  std::string log_path_;
  std::unique_ptr<Stream> tun_;         // kept open between polls of tunneld's status
  std::string tun_in_;                  // what it sent past the last reply line
  bool store_missing_ = false;          // the store path names no file (logged once)
  bool store_release_waiting_ = false;  // replaced, the old log not yet emptied (logged once)
};

// How often tunneld's status is asked while targets are behind sites, and how long it may take.
constexpr auto kSitePoll = 250ms;
constexpr auto kSitePollTimeout = 1s;
constexpr size_t kMaxStatusReply = 16 << 20;

core::Result<void> Control::open_log(const Config& cfg) {
  if (cfg.access_log.empty()) return {};
  int fd;
  if (cfg.access_log == "-") {
    fd = ::dup(1);
  } else {
    fd = ::open(cfg.access_log.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
  }
  if (fd < 0)
    return core::err(core::Errc::config,
                     "access_log " + cfg.access_log + ": " + core::errno_text(errno));
  int cur = d_.log_fd.load();
  if (cur >= 0) {
    ::dup2(fd, cur);  // swap the file under the same descriptor (workers never see a gap)
    ::close(fd);
  } else {
    d_.log_fd.store(fd);
  }
  log_path_ = cfg.access_log;
  return {};
}

core::Result<void> Control::initial(const Config& cfg) {
  auto snap = std::make_shared<Snapshot>();
  snap->cfg = std::make_shared<Config>(cfg);
  std::vector<std::string> notes;
  WARREN_TRY(routes, build_routes(cfg, &d_.registry, &src_, notes));
  snap->routes = routes;
  d_.conflicts = notes;
  if (!cfg.https_listen.empty()) {
    WARREN_TRY(t, make_server_tls(cfg, &d_));
    snap->tls = t;
  }
  tls::ClientOptions co;
  co.ca_file = cfg.upstream_ca;
  auto cc = tls::ClientContext::create(co);
  if (!cc) return core::err(core::Errc::config, cc.error().message);
  snap->tls_client = *cc;
  snap->req_limits = req_limits(cfg);
  snap->resp_limits = resp_limits(cfg);
  snap->https_port = cfg.redirect_port ? cfg.redirect_port : 443;
  WARREN_CHECK(open_log(cfg));
  if (!cfg.routes_file.empty())
    src_.routes_seen = ::stat(cfg.routes_file.c_str(), &src_.routes_st) == 0;
  d_.publish(snap);
  for (auto& c : notes) logger()->warn("event=route_conflict detail=\"{}\"", c);
  return {};
}

core::Result<void> Control::reload(bool config_too, const std::string& why) {
  auto cur = d_.current();
  auto snap = std::make_shared<Snapshot>(*cur);
  if (config_too) {
    auto c = load_config(cfg_path_, d_.opt.warren_dir);
    if (!c) {
      d_.last_reload_error = c.error().message;
      logger()->error("event=reload_failed why={} error=\"{}\"", why, c.error().message);
      return c.error();
    }
    if (c->http_listen != cur->cfg->http_listen || c->https_listen != cur->cfg->https_listen ||
        c->metrics_listen != cur->cfg->metrics_listen ||
        c->control_socket != cur->cfg->control_socket)
      logger()->warn("event=reload_note detail=\"listener changes take effect after a restart\"");
    // Listeners stay as they are.
    c->http_listen = cur->cfg->http_listen;
    c->https_listen = cur->cfg->https_listen;
    if (c->store != cur->cfg->store) src_ = Sources();
    snap->cfg = std::make_shared<Config>(std::move(*c));
  }
  const Config& cfg = *snap->cfg;
  std::vector<std::string> notes;
  auto routes = build_routes(cfg, &d_.registry, &src_, notes);
  if (!routes) {
    d_.last_reload_error = routes.error().message;
    logger()->error("event=reload_failed why={} error=\"{}\"", why, routes.error().message);
    return routes.error();
  }
  snap->routes = *routes;
  if (!cfg.https_listen.empty()) {
    if (!cur->tls || !same_tls(cfg, *cur->cfg)) {
      auto t = make_server_tls(cfg, &d_);
      if (!t) {
        d_.last_reload_error = t.error().message;
        logger()->error("event=reload_failed why={} error=\"{}\"", why, t.error().message);
        return t.error();
      }
      snap->tls = *t;
    } else if (auto r = cur->tls->reload_if_changed(); !r) {
      logger()->error("event=cert_reload_failed error=\"{}\"", r.error().message);
    }
  }
  if (config_too) {
    if (cfg.upstream_ca != cur->cfg->upstream_ca) {
      tls::ClientOptions co;
      co.ca_file = cfg.upstream_ca;
      auto cc = tls::ClientContext::create(co);
      if (!cc) {
        d_.last_reload_error = cc.error().message;
        return core::err(core::Errc::config, cc.error().message);
      }
      snap->tls_client = *cc;
    }
    if (d_.access) {
      if (auto a = d_.access->configure(cfg); !a) {
        d_.last_reload_error = a.error().message;
        logger()->error("event=reload_failed why={} error=\"{}\"", why, a.error().message);
        return a.error();
      }
    }
    snap->req_limits = req_limits(cfg);
    snap->resp_limits = resp_limits(cfg);
    snap->https_port = cfg.redirect_port ? cfg.redirect_port : 443;
    if (auto r = open_log(cfg); !r)
      logger()->error("event=access_log_failed error=\"{}\"", r.error().message);
  }
  if (!cfg.routes_file.empty())
    src_.routes_seen = ::stat(cfg.routes_file.c_str(), &src_.routes_st) == 0;
  d_.conflicts = notes;
  d_.publish(snap);
  d_.registry.prune();
  d_.reloads++;
  d_.last_reload_error.clear();
  sync_health();
  for (auto& c : notes) logger()->warn("event=route_conflict detail=\"{}\"", c);
  logger()->info("event=reloaded why={} routes={}", why, snap->routes->routes().size());
  return {};
}

void Control::sync_health() {
  auto snap = d_.current();
  std::map<TargetState*, std::shared_ptr<Checker>> next;
  for (auto& r : snap->routes->routes()) {
    for (auto& t : r->targets) {
      if (r->spec.health.interval.count() <= 0) continue;
      auto it = checkers_.find(t.get());
      if (it != checkers_.end() && it->second->spec.path == r->spec.health.path &&
          it->second->spec.interval == r->spec.health.interval) {
        it->second->spec = r->spec.health;
        next[t.get()] = it->second;
        checkers_.erase(it);
        continue;
      }
      auto ck = std::make_shared<Checker>(d_.ctl.get_executor());
      ck->t = t;
      ck->spec = r->spec.health;
      ck->route = r->spec.name;
      next[t.get()] = ck;
      asio::co_spawn(d_.ctl, health_loop(ck), net::log_errors("health"));
    }
  }
  for (auto& [t, ck] : checkers_) {
    ck->stop = true;
    ck->timer.cancel();
    if (!next.count(t)) ck->t->healthy = true;  // no active check any more
  }
  checkers_ = std::move(next);
}

asio::awaitable<std::pair<bool, std::string>> Control::check_once(Checker& ck) {
  auto snap = d_.current();
  auto ex = co_await asio::this_coro::executor;
  auto [u, cerr] = co_await connect_upstream(ex, bufs_, ck.t, *snap, nullptr);
  if (!u) co_return std::make_pair(false, cerr.what);
  if (ck.spec.path.empty()) co_return std::make_pair(true, std::string());
  std::string req = "GET " + ck.spec.path + " HTTP/1.1\r\nHost: " +
                    (ck.t->spec.sni.empty() ? ck.t->spec.address() : ck.t->spec.sni) +
                    "\r\nUser-Agent: edged-health\r\nConnection: close\r\n\r\n";
  if (auto ec = co_await u->s.write(req); ec)
    co_return std::make_pair(false, "health check write: " + ec.message());
  bufs_.get(u->in);
  http::HeadParser p;
  http::Head h;
  for (;;) {
    if (u->in.room() == 0) co_return std::make_pair(false, std::string("response head too large"));
    auto [ec, n] = co_await u->s.read_some(u->in.space(), u->in.room());
    if (ec) co_return std::make_pair(false, "health check read: " + ec.message());
    u->in.end += n;
    auto r = p.parse_response(u->in.view(), h);
    if (r.state == http::Parse::more) continue;
    if (r.state == http::Parse::bad)
      co_return std::make_pair(false, "health check: " + std::string(http::to_string(r.error)));
    bool ok = h.status >= ck.spec.expect_min && h.status <= ck.spec.expect_max;
    co_return std::make_pair(
        ok, ok ? std::string() : "health check status " + std::to_string(h.status));
  }
}

asio::awaitable<void> Control::health_loop(std::shared_ptr<Checker> ck) {
  while (!ck->stop) {
    if (!ck->t->site_up.load()) {
      // Its site is offline: nothing to check (apply_sites wakes us when it returns), and its
      // streaks stay as they were.
      ck->timer.expires_after(ck->spec.interval);
      co_await ck->timer.async_wait(net::use_tuple);
      continue;
    }
    asio::steady_timer limit(d_.ctl, ck->spec.timeout);
    auto res = co_await (check_once(*ck) || limit.async_wait(net::use_tuple));
    if (ck->stop) break;
    bool ok = false;
    std::string why = "health check timed out";
    if (res.index() == 0) std::tie(ok, why) = std::get<0>(res);
    TargetState& t = *ck->t;
    if (ok) {
      t.check_fail = 0;
      if (++t.check_ok >= ck->spec.rise && !t.healthy.load()) {
        t.healthy = true;
        logger()->info("event=target_up route={} target={}", ck->route, t.spec.str());
      }
    } else {
      t.check_ok = 0;
      {
        std::lock_guard lk(t.mu);
        t.last_error = why;
      }
      if (++t.check_fail >= ck->spec.fall && t.healthy.load()) {
        t.healthy = false;
        logger()->warn("event=target_down route={} target={} error=\"{}\"", ck->route, t.spec.str(),
                       why);
      }
    }
    ck->timer.expires_after(ck->spec.interval);
    co_await ck->timer.async_wait(net::use_tuple);
  }
}

asio::awaitable<void> Control::poll_loop() {
  asio::steady_timer t(d_.ctl);
  int64_t last_store = 0, last_files = 0;
  for (;;) {
    t.expires_after(100ms);
    auto [ec] = co_await t.async_wait(net::use_tuple);
    if (ec || d_.draining) co_return;
    auto snap = d_.current();
    const Config& cfg = *snap->cfg;
    int64_t now = mono_ms();
    bool changed = false;
    std::string why;
    if (cfg.store_poll.count() > 0 && now - last_store >= cfg.store_poll.count() &&
        !cfg.store.empty()) {
      last_store = now;
      if (src_.db_open && src_.db.replaced()) {
        // Another file was renamed over the store (a backup restored, a deployment), or the
        // store's -wal or -shm were removed: the open connections still read the old files.
        // Let go of them everywhere (the old log emptied first) and load what the path names.
        if (!core::file_exists(cfg.store)) {
          if (!store_missing_) {
            store_missing_ = true;
            logger()->error("event=store_missing path={} detail=\"serving the last state read\"",
                            cfg.store);
          }
        } else {
          if (d_.access) d_.access->store_replaced();  // no new transactions on the old file
          if (auto e = src_.db.release_replaced(); !e) {
            // A connection is still inside a read through the old log: again at the next poll.
            if (!store_release_waiting_)
              logger()->warn("event=store_replaced path={} detail=\"{}\"", cfg.store,
                             e.error().message);
            store_release_waiting_ = true;
          } else {
            logger()->warn("event=store_replaced path={}", cfg.store);
            src_.db = store::Db();
            src_.db_open = false;
            store_missing_ = store_release_waiting_ = false;
            changed = true;
            why = "store_replaced";
          }
        }
      } else if (src_.db_open) {
        auto v = src_.db.change_gen();
        if (v && *v != src_.data_version) {
          changed = true;
          why = "store";
        }
      } else if (core::file_exists(cfg.store)) {
        changed = true;  // the store appeared
        why = "store";
      }
    }
    if (cfg.file_poll.count() > 0 && now - last_files >= cfg.file_poll.count()) {
      last_files = now;
      if (!cfg.routes_file.empty()) {
        struct stat st {};
        bool seen = ::stat(cfg.routes_file.c_str(), &st) == 0;
        if (seen != src_.routes_seen || st.st_mtim.tv_sec != src_.routes_st.st_mtim.tv_sec ||
            st.st_mtim.tv_nsec != src_.routes_st.st_mtim.tv_nsec ||
            st.st_size != src_.routes_st.st_size) {
          changed = true;
          why = "routes_file";
          src_.routes_st = st;
          src_.routes_seen = seen;
        }
      }
      if (snap->tls) {
        auto r = snap->tls->reload_if_changed();
        if (!r)
          logger()->error("event=cert_reload_failed error=\"{}\"", r.error().message);
        else if (*r)
          logger()->info("event=certificates_reloaded names={}", snap->tls->names().size());
      }
    }
    if (changed) (void)reload(false, why);
  }
}

// ---- sites: targets follow tunneld's view of their site ----------------------------------------

// One `status` request on tunneld's control socket (the connection is kept for the next poll).
// "" and `reply` filled, or why not.
asio::awaitable<std::string> Control::ask_tunneld(const std::string& path,
                                                  boost::json::object& reply) {
  auto fail = [this](std::string why) {
    if (tun_) tun_->close();
    return why;
  };
  if (!tun_ || !tun_->is_open()) {
    tun_ = std::make_unique<Stream>(d_.ctl.get_executor());
    tun_in_.clear();
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    if (path.size() >= sizeof sa.sun_path) co_return fail(path + ": socket path too long");
    std::memcpy(sa.sun_path, path.c_str(), path.size() + 1);
    if (auto ec = co_await tun_->connect(&sa, sizeof sa, AF_UNIX); ec)
      co_return fail(path + ": " + ec.message());
  }
  if (auto ec = co_await tun_->write("{\"op\":\"status\"}\n"); ec)
    co_return fail(path + ": " + ec.message());
  size_t nl;
  while ((nl = tun_in_.find('\n')) == std::string::npos) {
    if (tun_in_.size() > kMaxStatusReply) co_return fail(path + ": status reply too long");
    char buf[16384];
    auto [ec, n] = co_await tun_->read_some(buf, sizeof buf);
    if (ec)
      co_return fail(path + ": " +
                     (ec == asio::error::eof ? std::string("connection closed") : ec.message()));
    tun_in_.append(buf, n);
  }
  error_code jec;
  auto v = boost::json::parse(std::string_view(tun_in_).substr(0, nl), jec);
  tun_in_.erase(0, nl + 1);
  if (jec || !v.is_object()) co_return fail(path + ": malformed status reply");
  auto* ok = v.as_object().if_contains("ok");
  if (!ok || !ok->is_bool() || !ok->as_bool()) {
    auto* e = v.as_object().if_contains("error");
    co_return fail(path +
                   ": status: " + (e && e->is_string() ? std::string(e->as_string()) : "refused"));
  }
  reply = std::move(v.as_object());
  co_return std::string();
}

// Marks every target of a site tunneld reports offline (or disabled) down at once, and up
// again as soon as it is online. A site tunneld does not list is left to `dial` (which says why
// it fails), and so is everything while tunneld does not answer: no target goes down for that.
void Control::apply_sites(const Snapshot& snap, const boost::json::object* status,
                          const std::string& error) {
  std::map<std::string, Daemon::SiteView> view;
  if (status) {
    if (!d_.tunneld_reachable && !d_.tunneld_error.empty())
      logger()->info("event=tunneld_reachable socket={}", snap.cfg->tunneld_socket);
    d_.tunneld_reachable = true;
    d_.tunneld_error.clear();
    if (auto* a = status->if_contains("sites"); a && a->is_array())
      for (auto& sv : a->as_array()) {
        if (!sv.is_object()) continue;
        const auto& so = sv.as_object();
        auto* n = so.if_contains("name");
        if (!n || !n->is_string()) continue;
        auto* on = so.if_contains("online");
        auto* en = so.if_contains("enabled");
        bool online = on && on->is_bool() && on->as_bool();
        bool enabled = !en || !en->is_bool() || en->as_bool();
        view[std::string(n->as_string())].state = !enabled ? "disabled"
                                                  : online ? "online"
                                                           : "offline";
      }
  } else {
    std::string e = "tunneld unreachable: " + error;
    if (d_.tunneld_reachable || d_.tunneld_error.empty())
      logger()->warn("event=tunneld_unreachable error=\"{}\"", error);
    d_.tunneld_reachable = false;
    d_.tunneld_error = std::move(e);
  }
  for (auto& r : snap.routes->routes()) {
    for (auto& t : r->targets) {
      const std::string& site = t->spec.site;
      if (site.empty()) continue;
      std::string reason;
      if (auto it = view.find(site); it != view.end()) {
        it->second.targets++;
        if (it->second.state != "online") reason = "site " + site + " " + it->second.state;
      }
      if (!reason.empty()) {
        {
          std::lock_guard lk(t->mu);
          t->site_reason = reason;
        }
        t->site_up = false;
      } else if (!t->site_up.load()) {
        t->site_up = true;
        // Its failures were the site's: it starts afresh, and an active check runs now.
        t->fails = 0;
        t->down_until = 0;
        if (auto ck = checkers_.find(t.get()); ck != checkers_.end()) ck->second->timer.cancel();
      }
    }
  }
  for (auto& [name, v] : view) {
    if (!v.targets) continue;
    auto old = d_.sites.find(name);
    std::string was = old == d_.sites.end() ? "online" : old->second.state;
    if (v.state != "online" && was == "online")
      logger()->warn("event=site_targets_down site={} state={} targets={}", name, v.state,
                     v.targets);
    else if (v.state == "online" && was != "online")
      logger()->info("event=site_targets_up site={} targets={}", name, v.targets);
  }
  std::erase_if(view, [](const auto& kv) { return kv.second.targets == 0; });
  d_.sites = std::move(view);
}

asio::awaitable<void> Control::site_loop() {
  asio::steady_timer t(d_.ctl);
  for (;;) {
    t.expires_after(kSitePoll);
    auto [ec] = co_await t.async_wait(net::use_tuple);
    if (ec || d_.draining) co_return;
    auto snap = d_.current();
    bool any = false;
    for (auto& r : snap->routes->routes())
      for (auto& tg : r->targets) any = any || !tg->spec.site.empty();
    if (!any) {  // nothing behind a site: tunneld is not asked
      if (d_.tunneld_polled) {
        d_.tunneld_polled = false;
        d_.sites.clear();
        tun_.reset();
      }
      continue;
    }
    d_.tunneld_polled = true;
    boost::json::object reply;
    asio::steady_timer limit(d_.ctl, kSitePollTimeout);
    auto res = co_await (ask_tunneld(snap->cfg->tunneld_socket, reply) ||
                         limit.async_wait(net::use_tuple));
    std::string err = res.index() == 0 ? std::get<0>(res) : "status timed out";
    if (res.index() != 0 && tun_) tun_->close();
    if (d_.draining) co_return;
    auto cur = d_.current();  // a reload may have come meanwhile
    apply_sites(*cur, err.empty() ? &reply : nullptr, err);
  }
}

asio::awaitable<void> Control::metrics_conn(net::tcp::socket s) {
  std::string buf(8192, '\0');
  size_t have = 0;
  http::HeadParser p;
  http::Head h;
  for (;;) {
    auto [ec, n] = co_await net::with_timeout(
        s.async_read_some(asio::buffer(buf.data() + have, buf.size() - have), net::use_tuple), 5s);
    if (ec) co_return;
    have += n;
    auto r = p.parse_request(std::string_view(buf.data(), have), h);
    if (r.state == http::Parse::more) {
      if (have == buf.size()) co_return;
      continue;
    }
    std::string out;
    if (r.state == http::Parse::bad) {
      http::write_error(http::status_for(r.error), http::to_string(r.error), false, out);
    } else if (h.path == "/metrics" || h.path.rfind("/metrics?", 0) == 0) {
      std::string body = render_metrics(d_);
      out = "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: " +
            std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n";
      if (h.method != http::Method::head) out += body;
    } else {
      http::write_error(404, "try /metrics", false, out);
    }
    co_await net::with_timeout(asio::async_write(s, asio::buffer(out), net::use_tuple), 5s);
    co_return;
  }
}

asio::awaitable<void> Control::metrics_server(net::tcp::acceptor acc) {
  for (;;) {
    auto [ec, s] = co_await acc.async_accept(net::use_tuple);
    if (ec) {
      if (!acc.is_open() || d_.draining) co_return;
      continue;
    }
    asio::co_spawn(d_.ctl, metrics_conn(std::move(s)), net::log_errors("metrics"));
  }
}

boost::json::object Control::status() {
  auto snap = d_.current();
  boost::json::object o;
  o["version"] = WARREN_VERSION;
  o["pid"] = static_cast<int64_t>(::getpid());
  o["threads"] = d_.workers.size();
  o["uptime_s"] = (mono_ms() - d_.started_at) / 1000;
  boost::json::array ls;
  for (auto& l : d_.listeners) {
    boost::json::object lo;
    lo["kind"] = l.kind;
    lo["address"] = net::HostPort(l.ep.address().to_string(), l.ep.port()).str();
    ls.push_back(std::move(lo));
  }
  o["listeners"] = std::move(ls);
  o["routes"] = snap->routes->routes().size();
  int64_t now = now_ms();
  int up = 0, down = 0;
  for (auto& r : snap->routes->routes())
    for (auto& t : r->targets) (t->up(now) ? up : down)++;
  o["targets_up"] = up;
  o["targets_down"] = down;
  o["connections"] = d_.open_connections.load();
  uint64_t requests = 0;
  for (auto& w : d_.workers)
    for (auto& c : w->m.status) requests += c.get();
  o["requests"] = requests;
  o["reloads"] = d_.reloads;
  o["draining"] = d_.draining.load();
  if (d_.access) o["access"] = d_.access->stats();
  o["config"] = snap->cfg->file;
  o["store"] = snap->cfg->store;
  o["routes_file"] = snap->cfg->routes_file;
  if (!d_.last_reload_error.empty()) o["last_reload_error"] = d_.last_reload_error;
  if (d_.tunneld_polled) {
    boost::json::object tj{{"socket", snap->cfg->tunneld_socket},
                           {"reachable", d_.tunneld_reachable}};
    if (!d_.tunneld_error.empty()) tj["error"] = d_.tunneld_error;
    boost::json::object sj;
    for (auto& [name, v] : d_.sites) sj[name] = v.state;
    tj["sites"] = std::move(sj);
    o["tunneld"] = std::move(tj);
  }
  boost::json::array certs;
  if (snap->tls)
    for (auto& n : snap->tls->names()) certs.push_back(boost::json::value(n));
  o["certificates"] = std::move(certs);
  boost::json::array cf;
  for (auto& c : d_.conflicts) cf.push_back(boost::json::value(c));
  o["conflicts"] = std::move(cf);
  return o;
}

void Control::start() {
  auto snap = d_.current();
  const Config& cfg = *snap->cfg;
  asio::co_spawn(d_.ctl, poll_loop(), net::log_errors("poll"));
  asio::co_spawn(d_.ctl, site_loop(), net::log_errors("sites"));
  sync_health();
  if (!cfg.control_socket.empty()) {
    ipc::ServerOptions so;
    so.path = cfg.control_socket;
    ipc = std::make_unique<ipc::Server>(d_.ctl.get_executor(), so);
    ipc->on("status", [this](ipc::Request&) { return ipc::ok(status()); });
    ipc->on("routes", [this](ipc::Request&) {
      auto s = d_.current();
      boost::json::array cf;
      for (auto& c : d_.conflicts) cf.push_back(boost::json::value(c));
      return ipc::ok({{"routes", s->routes->to_json(now_ms())}, {"conflicts", std::move(cf)}});
    });
    ipc->on("reload", [this](ipc::Request&) {
      auto r = reload(true, "control");
      if (!r) return ipc::fail(r.error());
      return ipc::ok({{"routes", d_.current()->routes->routes().size()}});
    });
    ipc->on("metrics", [this](ipc::Request&) { return ipc::ok({{"text", render_metrics(d_)}}); });
  }
}

asio::awaitable<void> Control::signals() {
  int sig = co_await net::wait_signals([this] { (void)reload(true, "SIGHUP"); });
  logger()->info("event=signal sig={}", sig);
  if (sig) begin_drain();
}

void Control::begin_drain() {
  if (d_.draining.exchange(true)) return;
  logger()->info("event=draining connections={}", d_.open_connections.load());
  if (ipc) ipc->stop();
  for (auto& ck : checkers_) {
    ck.second->stop = true;
    ck.second->timer.cancel();
  }
  for (auto& w : d_.workers) {
    asio::post(w->ctx, [wp = w.get()] {
      wp->draining = true;
      for (auto& a : wp->acceptors) {
        error_code ec;
        a.first->close(ec);
      }
      for (Conn* c = wp->conns; c; c = c->next)
        if (c->phase == Conn::Phase::idle || c->phase == Conn::Phase::handshake) c->expire();
      wp->pool.clear();
    });
  }
  asio::co_spawn(d_.ctl, drain_loop(), net::log_errors("drain"));
}

asio::awaitable<void> Control::drain_loop() {
  auto cfg = d_.current()->cfg;
  int64_t until = mono_ms() + cfg->drain.count();
  asio::steady_timer t(d_.ctl);
  while (d_.open_connections.load() > 0 && mono_ms() < until) {
    t.expires_after(50ms);
    co_await t.async_wait(net::use_tuple);
  }
  int64_t left = d_.open_connections.load();
  if (left > 0) {
    logger()->warn("event=drain_timeout closing={}", left);
    for (auto& w : d_.workers)
      asio::post(w->ctx, [wp = w.get()] {
        for (Conn* c = wp->conns; c; c = c->next) c->expire();
      });
    until = mono_ms() + 1000;
    while (d_.open_connections.load() > 0 && mono_ms() < until) {
      t.expires_after(20ms);
      co_await t.async_wait(net::use_tuple);
    }
  }
  for (auto& w : d_.workers) {
    asio::post(w->ctx, [wp = w.get()] { wp->flush_log(); });
    w->ctx.stop();
  }
  d_.ctl.stop();
}

}  // namespace

std::string render_metrics(Daemon& d) {
  auto snap = d.current();
  std::string o;
  auto sum = [&](auto field) {
    uint64_t v = 0;
    for (auto& w : d.workers) v += (w->m.*field).get();
    return v;
  };
  auto counter = [&](const char* name, const char* help, uint64_t v) {
    o.append("# HELP ").append(name).append(" ").append(help).append("\n# TYPE ");
    o.append(name).append(" counter\n").append(name).append(" ").append(std::to_string(v));
    o.append("\n");
  };
  auto label = [](const std::string& s) {
    std::string r;
    for (char c : s) {
      if (c == '\\' || c == '"') r.push_back('\\');
      if (c == '\n') {
        r.append("\\n");
        continue;
      }
      r.push_back(c);
    }
    return r;
  };
  o.append("# HELP edged_requests_total Responses sent, by status class.\n");
  o.append("# TYPE edged_requests_total counter\n");
  static const char* classes[] = {"aborted", "1xx", "2xx", "3xx", "4xx", "5xx"};
  for (int i = 0; i < 6; ++i) {
    uint64_t v = 0;
    for (auto& w : d.workers) v += w->m.status[i].get();
    o.append("edged_requests_total{code=\"").append(classes[i]).append("\"} ");
    o.append(std::to_string(v)).append("\n");
  }
  o.append(
      "# HELP edged_request_duration_seconds Time from the request head to the end of the "
      "response.\n");
  o.append("# TYPE edged_request_duration_seconds histogram\n");
  uint64_t cum = 0;
  for (size_t i = 0; i <= Metrics::kNumBuckets; ++i) {
    for (auto& w : d.workers) cum += w->m.latency[i].get();
    char le[32];
    if (i < Metrics::kNumBuckets)
      std::snprintf(le, sizeof le, "%g", Metrics::kBuckets[i]);
    else
      std::snprintf(le, sizeof le, "+Inf");
    o.append("edged_request_duration_seconds_bucket{le=\"").append(le).append("\"} ");
    o.append(std::to_string(cum)).append("\n");
  }
  char s[64];
  std::snprintf(s, sizeof s, "%.6f", static_cast<double>(sum(&Metrics::latency_sum_us)) / 1e6);
  o.append("edged_request_duration_seconds_sum ").append(s).append("\n");
  o.append("edged_request_duration_seconds_count ").append(std::to_string(cum)).append("\n");
  counter("edged_connections_total", "Client connections accepted.", sum(&Metrics::connections));
  o.append("# HELP edged_open_connections Client connections open now.\n");
  o.append("# TYPE edged_open_connections gauge\nedged_open_connections ");
  o.append(std::to_string(d.open_connections.load())).append("\n");
  counter("edged_tls_handshakes_total", "TLS handshakes completed.", sum(&Metrics::tls_handshakes));
  counter("edged_tls_handshake_failures_total", "TLS handshakes that failed.",
          sum(&Metrics::tls_failures));
  counter("edged_tls_resumed_total", "TLS handshakes that resumed a session.",
          sum(&Metrics::tls_resumed));
  counter("edged_upstream_connects_total", "New upstream connections.",
          sum(&Metrics::upstream_connects));
  counter("edged_upstream_reused_total", "Requests sent on a pooled upstream connection.",
          sum(&Metrics::upstream_reused));
  counter("edged_upstream_connect_errors_total", "Upstream connections that failed.",
          sum(&Metrics::upstream_connect_errors));
  counter("edged_upstream_timeouts_total", "Upstream connects or responses that timed out.",
          sum(&Metrics::upstream_timeouts));
  counter("edged_retries_total", "Requests retried on another target.", sum(&Metrics::retries));
  counter("edged_bad_requests_total", "Requests refused as malformed.",
          sum(&Metrics::bad_requests));
  counter("edged_websockets_total", "Upgraded connections tunnelled.", sum(&Metrics::websockets));
  counter("edged_received_bytes_total", "Bytes received from clients.", sum(&Metrics::bytes_in));
  counter("edged_sent_bytes_total", "Bytes sent to clients.", sum(&Metrics::bytes_out));
  counter("edged_reloads_total", "Successful reloads.", d.reloads);
  o.append("# HELP edged_routes Routes in the table.\n# TYPE edged_routes gauge\nedged_routes ");
  o.append(std::to_string(snap->routes->routes().size())).append("\n");
  int64_t now = now_ms();
  o.append(
      "# HELP edged_target_up Whether a target receives traffic (health checks and passive "
      "failures).\n");
  o.append("# TYPE edged_target_up gauge\n");
  std::string req, fail, act, down;
  for (auto& r : snap->routes->routes()) {
    for (auto& t : r->targets) {
      std::string lbl =
          "{route=\"" + label(r->spec.name) + "\",target=\"" + label(t->spec.str()) + "\"} ";
      o.append("edged_target_up").append(lbl).append(t->up(now) ? "1\n" : "0\n");
      const char* kind = nullptr;
      (void)t->down_reason(now, &kind);
      if (kind)
        down.append("edged_target_down{route=\"")
            .append(label(r->spec.name))
            .append("\",target=\"")
            .append(label(t->spec.str()))
            .append("\",reason=\"")
            .append(kind)
            .append("\"} 1\n");
      req.append("edged_target_requests_total")
          .append(lbl)
          .append(std::to_string(t->requests.load()))
          .append("\n");
      fail.append("edged_target_failures_total")
          .append(lbl)
          .append(std::to_string(t->failures.load()))
          .append("\n");
      act.append("edged_target_active_requests")
          .append(lbl)
          .append(std::to_string(t->active.load()))
          .append("\n");
    }
  }
  o.append("# HELP edged_target_requests_total Responses received from a target.\n");
  o.append("# TYPE edged_target_requests_total counter\n").append(req);
  o.append(
      "# HELP edged_target_failures_total Failed attempts (connect, timeout, bad response).\n");
  o.append("# TYPE edged_target_failures_total counter\n").append(fail);
  o.append("# HELP edged_target_active_requests Requests in flight to a target.\n");
  o.append("# TYPE edged_target_active_requests gauge\n").append(act);
  o.append(
      "# HELP edged_target_down Targets that receive no traffic, by why: site (tunneld reports "
      "its site offline or disabled), health_check, passive (recent failures).\n");
  o.append("# TYPE edged_target_down gauge\n").append(down);
  if (d.tunneld_polled) {
    o.append("# HELP edged_tunneld_up Whether tunneld answered the last status poll.\n");
    o.append("# TYPE edged_tunneld_up gauge\nedged_tunneld_up ");
    o.append(d.tunneld_reachable ? "1\n" : "0\n");
    o.append("# HELP edged_site_online Whether tunneld reports a site that targets use online.\n");
    o.append("# TYPE edged_site_online gauge\n");
    for (auto& [name, v] : d.sites)
      o.append("edged_site_online{site=\"")
          .append(label(name))
          .append(v.state == "online" ? "\"} 1\n" : "\"} 0\n");
  }
  return o;
}

}  // namespace detail

core::Result<Config> check_config(const std::string& path, const std::string& warren_dir) {
  WARREN_TRY(cfg, load_config(path, warren_dir));
  std::vector<std::string> notes;
  WARREN_TRY(routes, detail::build_routes(cfg, nullptr, nullptr, notes));
  (void)routes;
  if (!cfg.https_listen.empty()) WARREN_CHECK(detail::make_server_tls(cfg));
  {
    detail::Access access(cfg);
    WARREN_CHECK(access.configure(cfg));
  }
  if (!cfg.upstream_ca.empty()) {
    tls::ClientOptions co;
    co.ca_file = cfg.upstream_ca;
    auto cc = tls::ClientContext::create(co);
    if (!cc) return core::err(core::Errc::config, cc.error().message);
  }
  return cfg;
}

namespace {
// The ports clients reach edged on go to the store (meta edged.https_port, edged.http_port), so
// that the URLs peerctl prints (share links, site enrollment) carry them: [https]
// redirect_port when set (the public port behind a port forward), else the bound one.
void publish_ports(const Config& cfg, const detail::Daemon& d) {
  if (cfg.store.empty() || !core::file_exists(cfg.store)) return;
  uint16_t http = 0, https = cfg.redirect_port;
  for (auto& l : d.listeners) {
    if (l.kind == "http" && !http) http = l.ep.port();
    if (l.kind == "https" && !https) https = l.ep.port();
  }
  store::OpenOptions oo;
  oo.create = false;
  auto db = store::Db::open(cfg.store, oo);
  if (!db) return;
  auto st = db->prepare(
      "INSERT INTO meta(key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = ?2 "
      "WHERE value <> ?2");
  if (!st) return;
  for (auto [k, v] : {std::pair{"edged.http_port", http}, std::pair{"edged.https_port", https}}) {
    st->reset();
    st->bind(1, k).bind(2, v ? std::to_string(v) : std::string());
    if (auto r = st->run(); !r)
      wlog::get("edge")->warn("event=publish_ports_failed error=\"{}\"", r.error().message);
  }
}
}  // namespace

core::Result<int> run(const RunOptions& o) {
  using namespace detail;
  std::signal(SIGPIPE, SIG_IGN);
  WARREN_TRY(cfg, load_config(o.config_path, o.warren_dir));
  Daemon d;
  d.opt = o;
  d.started_at = mono_ms();
  unsigned threads = o.threads ? o.threads : cfg.threads;
  if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
  d.access = std::make_unique<Access>(cfg);
  WARREN_CHECK(d.access->configure(cfg));
  Control ctl(d, cfg);
  WARREN_CHECK(ctl.initial(cfg));

  for (unsigned i = 0; i < threads; ++i) d.workers.push_back(std::make_unique<Worker>(d, i));
  auto bind_all = [&](const std::vector<std::string>& addrs, bool tls) -> core::Result<void> {
    for (const auto& a : addrs) {
      WARREN_TRY(hp, net::parse_host_port(a));
      WARREN_TRY(ep, net::resolve_one(hp));
      net::ListenOptions lo;
      lo.reuse_port = true;
      for (auto& w : d.workers) {
        WARREN_TRY(acc, net::listen_tcp(w->ctx.get_executor(), ep, lo));
        if (ep.port() == 0) ep = acc.local_endpoint();  // the others share the chosen port
        w->acceptors.emplace_back(std::make_unique<net::tcp::acceptor>(std::move(acc)), tls);
      }
      d.listeners.push_back({tls ? "https" : "http", ep});
    }
    return {};
  };
  WARREN_CHECK(bind_all(cfg.http_listen, false));
  WARREN_CHECK(bind_all(cfg.https_listen, true));
  if (cfg.redirect_port == 0) {
    for (auto& l : d.listeners)
      if (l.kind == "https") {
        auto s = std::make_shared<Snapshot>(*d.current());
        s->https_port = l.ep.port();
        d.publish(s);
        break;
      }
  }
  std::optional<net::tcp::acceptor> metrics_acc;
  if (!cfg.metrics_listen.empty()) {
    WARREN_TRY(hp, net::parse_host_port(cfg.metrics_listen));
    WARREN_TRY(acc, net::listen_tcp(d.ctl.get_executor(), hp));
    metrics_acc.emplace(std::move(acc));
  }
  if (!cfg.control_socket.empty()) {
    auto slash = cfg.control_socket.rfind('/');
    if (slash != std::string::npos && slash > 0)
      WARREN_CHECK(core::ensure_dir(cfg.control_socket.substr(0, slash), 0700));
  }
  publish_ports(cfg, d);
  ctl.start();
  if (ctl.ipc) WARREN_CHECK(ctl.ipc->listen());

  if (o.on_listening) {
    for (auto& l : d.listeners)
      o.on_listening(l.kind + " " + net::HostPort(l.ep.address().to_string(), l.ep.port()).str());
    if (metrics_acc) {
      auto ep = metrics_acc->local_endpoint();
      o.on_listening("metrics " + net::HostPort(ep.address().to_string(), ep.port()).str());
    }
  }
  if (ctl.ipc) asio::co_spawn(d.ctl, ctl.ipc->run(), net::log_errors("ipc"));
  if (metrics_acc)
    asio::co_spawn(d.ctl, ctl.metrics_server(std::move(*metrics_acc)), net::log_errors("metrics"));
  asio::co_spawn(d.ctl, ctl.signals(), net::log_errors("signals"));

  for (auto& w : d.workers) {
    for (auto& [acc, tls] : w->acceptors)
      asio::co_spawn(w->ctx, accept_loop(*w, *acc, tls), net::log_errors("accept"));
    asio::co_spawn(w->ctx, tick(*w), net::log_errors("tick"));
  }
  logger()->info("event=started threads={} listeners={} routes={}", threads, d.listeners.size(),
                 d.current()->routes->routes().size());
  std::vector<std::thread> pool;
  for (auto& w : d.workers) {
    Worker* wp = w.get();
    pool.emplace_back([wp] {
      auto guard = asio::make_work_guard(wp->ctx);
      wp->ctx.run();
    });
  }
  d.ctl.run();
  for (auto& w : d.workers) w->ctx.stop();
  for (auto& t : pool) t.join();
  // Let every coroutine of every worker finish while the workers are intact.
  for (auto& w : d.workers) {
    Worker* wp = w.get();
    wp->stopped = true;
    wp->draining = true;
    for (auto& a : wp->acceptors) {
      error_code ec;
      a.first->close(ec);
    }
    for (Conn* c = wp->conns; c; c = c->next) c->expire();
    wp->pool.clear();
    if (wp->tick_timer) wp->tick_timer->cancel();
    wp->ctx.restart();
    wp->ctx.run_for(2s);
    wp->flush_log();
  }
  ctl.ipc.reset();
  logger()->info("event=stopped");
  return 0;
}

}  // namespace edge
