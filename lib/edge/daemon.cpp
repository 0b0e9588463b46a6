// edged's daemon: start-up (config, routes, certificates, listeners on every worker, the worker
// threads of worker.cpp) and the control thread: snapshots and reloads (SIGHUP, store change,
// file change), the control socket, sites as tunneld reports them, and the SIGTERM drain.
// Health checks live in health.cpp, the metrics listener and Prometheus text in metrics.cpp.
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
#include "edge/detail/health.h"
#include "edge/detail/sites.h"
#include "http/proxy.h"
#include "ipc/server.h"
#include "log/log.h"
#include "store/store.h"

namespace edge {

namespace detail {

using namespace std::chrono_literals;
using namespace asio::experimental::awaitable_operators;

void Daemon::publish(std::shared_ptr<const Snapshot> s) {
  snap.store(std::move(s));
  gen.fetch_add(1, std::memory_order_release);
}

namespace {

auto logger() {
  static auto l = wlog::get("edge");
  return l;
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

proto::ExchangeLimits exchange_limits(const Config& c) {
  proto::ExchangeLimits l;
  l.max_body = c.max_body;
  l.retries = c.retries;
  l.client_header = c.client_header.count();
  l.idle = c.idle.count();
  l.client_body = c.client_body.count();
  l.send = c.send.count();
  l.upstream_connect = c.upstream_connect.count();
  l.upstream_response = c.upstream_response.count();
  l.tunnel_idle = c.tunnel_idle.count();
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

class Control {
 public:
  Control(Daemon& d, Config cfg)
      : d_(d), cfg_path_(d.opt.config_path), health_(d), sites_(d, health_) {
    (void)cfg;
  }

  core::Result<void> initial(const Config& cfg);
  core::Result<void> reload(bool config_too, const std::string& why);
  void start();
  void begin_drain();
  boost::json::object status();
  asio::awaitable<void> signals();
  std::unique_ptr<ipc::Server> ipc;

 private:
  asio::awaitable<void> poll_loop();
  asio::awaitable<void> drain_loop();
  core::Result<void> open_log(const Config& cfg);

  Daemon& d_;
  std::string cfg_path_;
  Sources src_;
  Health health_;
  std::string log_path_;
  Sites sites_;
  bool store_missing_ = false;          // the store path names no file (logged once)
  bool store_release_waiting_ = false;  // replaced, the old log not yet emptied (logged once)
};

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
  snap->exchange = exchange_limits(cfg);
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
    snap->exchange = exchange_limits(cfg);
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
  health_.sync();
  for (auto& c : notes) logger()->warn("event=route_conflict detail=\"{}\"", c);
  logger()->info("event=reloaded why={} routes={}", why, snap->routes->routes().size());
  return {};
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
  asio::co_spawn(d_.ctl, sites_.loop(), net::log_errors("sites"));
  health_.sync();
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
  health_.stop();
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
    asio::co_spawn(d.ctl, serve_metrics(d, std::move(*metrics_acc)), net::log_errors("metrics"));
  asio::co_spawn(d.ctl, ctl.signals(), net::log_errors("signals"));

  for (auto& w : d.workers) {
    for (auto& [acc, tls] : w->acceptors)
      asio::co_spawn(w->ctx, accept_loop(*w, *acc, tls, &serve), net::log_errors("accept"));
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
