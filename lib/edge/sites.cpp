// Sites as tunneld sees them (edge/detail/sites.h): while some target is behind a site,
// tunneld's `status` is polled on its control socket and every target of a site it reports
// offline or disabled is marked down at once (and up again when the site returns).
#include <sys/socket.h>
#include <sys/un.h>

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/json.hpp>

#include <cstring>

#include "edge/detail/health.h"
#include "edge/detail/sites.h"
#include "log/log.h"

namespace edge::detail {

using namespace std::chrono_literals;
using namespace asio::experimental::awaitable_operators;

namespace {
// How often tunneld's status is asked while targets are behind sites, and how long it may take.
constexpr auto kSitePoll = 250ms;
constexpr auto kSitePollTimeout = 1s;
constexpr size_t kMaxStatusReply = 16 << 20;
}  // namespace

Sites::Sites(Daemon& d, Health& health) : d_(d), health_(health) {}
Sites::~Sites() = default;

// One `status` request on tunneld's control socket (the connection is kept for the next poll).
// "" and `reply` filled, or why not.
asio::awaitable<std::string> Sites::ask_tunneld(const std::string& path,
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
void Sites::apply(const Snapshot& snap, const boost::json::object* status,
                  const std::string& error) {
  std::map<std::string, Daemon::SiteView> view;
  if (status) {
    if (!d_.tunneld_reachable && !d_.tunneld_error.empty())
      wlog::get("edge")->info("event=tunneld_reachable socket={}", snap.cfg->tunneld_socket);
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
      wlog::get("edge")->warn("event=tunneld_unreachable error=\"{}\"", error);
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
        health_.wake(t.get());
      }
    }
  }
  for (auto& [name, v] : view) {
    if (!v.targets) continue;
    auto old = d_.sites.find(name);
    std::string was = old == d_.sites.end() ? "online" : old->second.state;
    if (v.state != "online" && was == "online")
      wlog::get("edge")->warn("event=site_targets_down site={} state={} targets={}", name, v.state,
                              v.targets);
    else if (v.state == "online" && was != "online")
      wlog::get("edge")->info("event=site_targets_up site={} targets={}", name, v.targets);
  }
  std::erase_if(view, [](const auto& kv) { return kv.second.targets == 0; });
  d_.sites = std::move(view);
}

asio::awaitable<void> Sites::loop() {
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
    apply(*cur, err.empty() ? &reply : nullptr, err);
  }
}

}  // namespace edge::detail
