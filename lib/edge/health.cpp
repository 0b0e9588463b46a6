// Active health checks (edge/detail/health.h): connect to the target as a request would, and
// when the route names a path, GET it and expect a status in the configured range.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>

#include "edge/detail/health.h"
#include "http/parser.h"
#include "log/log.h"

namespace edge::detail {

using namespace asio::experimental::awaitable_operators;

struct Checker {
  explicit Checker(const asio::any_io_executor& ex) : timer(ex) {}
  std::shared_ptr<TargetState> t;
  HealthSpec spec;
  std::string route;
  bool stop = false;
  asio::steady_timer timer;
};

void Health::stop() {
  for (auto& ck : checkers_) {
    ck.second->stop = true;
    ck.second->timer.cancel();
  }
}

void Health::wake(TargetState* t) {
  if (auto ck = checkers_.find(t); ck != checkers_.end()) ck->second->timer.cancel();
}

void Health::sync() {
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
      asio::co_spawn(d_.ctl, loop(ck), net::log_errors("health"));
    }
  }
  for (auto& [t, ck] : checkers_) {
    ck->stop = true;
    ck->timer.cancel();
    if (!next.count(t)) ck->t->healthy = true;  // no active check any more
  }
  checkers_ = std::move(next);
}

asio::awaitable<std::pair<bool, std::string>> Health::check_once(Checker& ck) {
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

asio::awaitable<void> Health::loop(std::shared_ptr<Checker> ck) {
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
        wlog::get("edge")->info("event=target_up route={} target={}", ck->route, t.spec.str());
      }
    } else {
      t.check_ok = 0;
      {
        std::lock_guard lk(t.mu);
        t.last_error = why;
      }
      if (++t.check_fail >= ck->spec.fall && t.healthy.load()) {
        t.healthy = false;
        wlog::get("edge")->warn("event=target_down route={} target={} error=\"{}\"", ck->route,
                                t.spec.str(), why);
      }
    }
    ck->timer.expires_after(ck->spec.interval);
    co_await ck->timer.async_wait(net::use_tuple);
  }
}

}  // namespace edge::detail
