// The runner shared by both roles: workers, control socket, signals, reload and drain.
#include "tunnel/daemon.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <csignal>
#include <ctime>
#include <mutex>

#include "core/fs.h"
#include "log/log.h"
#include "net/net.h"
#include "tunnel/tunnel.h"

namespace tunnel {

using namespace std::chrono_literals;

int64_t unix_ms_now() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string rfc3339_ms(int64_t unix_ms) {
  if (unix_ms <= 0) return "";
  std::time_t t = std::time_t(unix_ms / 1000);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, int(unix_ms % 1000));
  return buf;
}

namespace {

std::string parent_dir(const std::string& p) {
  auto slash = p.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : p.substr(0, slash);
}

}  // namespace

// State of one run, shared by the control-socket handlers and the signal coroutine. Lives on
// run()'s stack until every worker has stopped. (Member coroutines, not lambdas: a coroutine
// lambda's captures die with the temporary closure.) A reload reads files and may wait for the
// store, so it runs on its own thread (reloader), never on worker 0, whose lanes, listeners and
// control socket go on meanwhile; reloads run one at a time in the order they were asked for.
struct Runner {
  std::shared_ptr<spdlog::logger> log = wlog::get("tunnel");
  Workers& w;
  Daemon& d;
  ipc::Server& srv;
  asio::thread_pool reloader{1};
  std::mutex mu;  // current (held briefly: worker 0 reads drain_timeout under it)
  std::shared_ptr<const Config> current;

  Runner(Workers& w_, Daemon& d_, ipc::Server& s_, std::shared_ptr<const Config> c)
      : w(w_), d(d_), srv(s_), current(std::move(c)) {}

  std::shared_ptr<const Config> config() {
    std::lock_guard lk(mu);
    return current;
  }

  // On the reloader thread. The file first: a bad one changes nothing. Then the daemon takes
  // the new configuration and re-reads the store; a store failure (locked: 75) leaves the new
  // configuration in use, and the store is read again on its next change or reload.
  core::Result<void> reload() {
    auto cur = config();
    if (cur->path == "-") {
      log->warn(
          "event=reload_partial key=config note=\"the configuration came from stdin and "
          "is not read again; the store is\"");
      if (auto r = d.reload(cur); !r) {
        log->error("event=reload_failed error=\"{}\" code={}", r.error().message,
                   core::exit_code(r.error().code));
        return r.error();
      }
      log->info("event=reloaded config=stdin");
      return {};
    }
    auto n = load_config(cur->path, cur->dir);
    if (n && n->role != cur->role)
      n = core::err(core::Errc::config, cur->path +
                                            ": the role ([edge] or [site]) cannot "
                                            "change on reload; restart tunneld");
    if (!n) {
      log->error("event=reload_failed error=\"{}\" code={} note=\"the old configuration stays\"",
                 n.error().message, core::exit_code(n.error().code));
      return n.error();
    }
    if (n->socket_path() != cur->socket_path())
      log->warn("event=reload_partial key=socket note=\"restart tunneld to move the socket\"");
    auto next = std::make_shared<const Config>(std::move(*n));
    auto r = d.reload(next);
    {
      std::lock_guard lk(mu);
      current = next;
    }
    if (!r) {
      log->error(
          "event=reload_failed error=\"{}\" code={} note=\"the new configuration is in "
          "use; the store was not read\"",
          r.error().message, core::exit_code(r.error().code));
      return r.error();
    }
    log->info("event=reloaded config={}", next->path);
    return {};
  }

  asio::awaitable<core::Result<void>> reload_here() { co_return reload(); }

  // The control socket's reload: runs on the reloader, the reply waits for it (worker 0 does not).
  asio::awaitable<boost::json::object> reload_op(ipc::Request&) {
    auto r = co_await asio::co_spawn(reloader, reload_here(), asio::use_awaitable);
    co_return r ? ipc::ok() : ipc::fail(r.error());
  }

  // SIGHUP: queued on the reloader; the outcome is in the log.
  void reload_later() {
    asio::post(reloader, [this] { (void)reload(); });
  }

  milliseconds drain_timeout() { return config()->drain_timeout; }

  asio::awaitable<void> second_signal() {
    std::function<void()> on_hup = [this] { reload_later(); };
    int sig = co_await net::wait_signals(std::move(on_hup));
    if (sig == 0) co_return;
    log->warn("event=drain_aborted note=\"second signal: stopping now\"");
    w.stop();
  }

  // Waits for INT/TERM (HUP reloads), then drains: no new streams, open ones get up to
  // drain_timeout, then every lane gets CLOSE (going away) and the workers stop.
  asio::awaitable<void> signals() {
    std::function<void()> on_hup = [this] { reload_later(); };
    int sig = co_await net::wait_signals(std::move(on_hup));
    if (sig == 0) co_return;
    auto ex = co_await asio::this_coro::executor;
    auto drain = drain_timeout();
    log->info("event=draining signal={} streams={} drain_timeout_ms={}",
              sig == SIGTERM ? "TERM" : "INT", d.open_streams(), drain.count());
    d.begin_drain();
    asio::co_spawn(ex, second_signal(), asio::detached);
    asio::steady_timer t(ex);
    auto deadline = std::chrono::steady_clock::now() + drain;
    while (d.open_streams() > 0 && std::chrono::steady_clock::now() < deadline) {
      t.expires_after(50ms);
      co_await t.async_wait(net::use_tuple);
    }
    if (size_t left = d.open_streams(); left > 0)
      log->warn("event=drain_timeout streams_closed={}", left);
    else
      log->info("event=drained");
    d.close_all();
    deadline = std::chrono::steady_clock::now() + 3s;
    while (d.lanes_alive() > 0 && std::chrono::steady_clock::now() < deadline) {
      t.expires_after(20ms);
      co_await t.async_wait(net::use_tuple);
    }
    srv.stop();
    w.stop();
  }
};

core::Result<void> run(const Config& c) {
  raise_fd_limit();
  std::signal(SIGPIPE, SIG_IGN);
  auto cfg = std::make_shared<const Config>(c);
  unsigned threads =
      cfg->threads ? cfg->threads : std::max(1u, std::thread::hardware_concurrency());
  Workers w(threads);
  std::unique_ptr<Daemon> d = cfg->role == Role::edge ? make_edge(w, cfg) : make_site(w, cfg);

  std::string sock_path = cfg->socket_path();
  WARREN_CHECK(core::ensure_dir(parent_dir(sock_path), 0700));
  ipc::ServerOptions so;
  so.path = sock_path;
  so.mode = cfg->socket_mode;
  ipc::Server srv(w.at(0).get_executor(), so);
  Runner run(w, *d, srv, cfg);

  srv.on("status", [&](ipc::Request&) { return d->status(); });
  srv.on("reload", [&](ipc::Request& r) { return run.reload_op(r); });
  WARREN_CHECK(d->start(srv));
  WARREN_CHECK(srv.listen());
  auto ex = w.at(0).get_executor();
  asio::co_spawn(ex, srv.run(), net::log_errors("control socket"));
  asio::co_spawn(ex, run.signals(), net::log_errors("signals"));
  w.run();
  srv.stop();
  run.reloader.join();  // a reload under way finishes (within the store's wait) before d goes
  run.log->info("event=stopped");
  return {};
}

}  // namespace tunnel
