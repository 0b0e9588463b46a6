// peerctl status: one screen of what runs — sites (online, last handshake, lanes, RTT, bytes)
// live from tunneld's control socket, resources and their targets' health live from edged's;
// from the store alone, with a note, when a daemon is not running.
#include <boost/json.hpp>

#include <cstdio>
#include <future>
#include <map>

#include "blueprint/blueprint.h"
#include "core/fs.h"
#include "core/text.h"
#include "ipc/client.h"
#include "model/model.h"
#include "peerctl.h"

namespace peerctl {

namespace {

namespace json = boost::json;

int64_t num(const json::object* o, const char* k, int64_t def = 0) {
  if (!o) return def;
  auto* v = o->if_contains(k);
  if (!v) return def;
  if (v->is_int64()) return v->as_int64();
  if (v->is_uint64()) return static_cast<int64_t>(v->as_uint64());
  if (v->is_double()) return static_cast<int64_t>(v->as_double());
  return def;
}

bool flag(const json::object* o, const char* k) {
  if (!o) return false;
  auto* v = o->if_contains(k);
  return v && v->is_bool() && v->as_bool();
}

std::string bytes(int64_t n) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = double(n);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  char b[32];
  if (u == 0)
    std::snprintf(b, sizeof b, "%lld B", static_cast<long long>(n));
  else
    std::snprintf(b, sizeof b, "%.1f %s", v, units[u]);
  return b;
}

// "12s ago", "5m ago", "3h ago", "2d ago"; "never".
std::string ago(int64_t then_s, int64_t now_s) {
  if (then_s <= 0) return "never";
  int64_t d = now_s - then_s;
  if (d < 0) d = 0;
  char b[32];
  if (d < 120)
    std::snprintf(b, sizeof b, "%llds ago", static_cast<long long>(d));
  else if (d < 7200)
    std::snprintf(b, sizeof b, "%lldm ago", static_cast<long long>(d / 60));
  else if (d < 172800)
    std::snprintf(b, sizeof b, "%lldh ago", static_cast<long long>(d / 3600));
  else
    std::snprintf(b, sizeof b, "%lldd ago", static_cast<long long>(d / 86400));
  return b;
}

std::optional<json::object> call(const Ctx& c, const char* daemon, const char* op) {
  std::string path = c.prog.warren_dir() + "/run/" + daemon + ".sock";
  if (!core::file_exists(path)) return std::nullopt;
  auto r = ipc::call(path, {{"op", op}}, 1000);
  if (!r) return std::nullopt;
  if (!flag(&*r, "ok")) return std::nullopt;
  return std::move(*r);
}

// A forward's live entry in tunneld's status, by protocol and port.
const json::object* live_forward(const std::optional<json::object>& tun, const std::string& proto,
                                 uint16_t port) {
  if (!tun) return nullptr;
  auto* a = tun->if_contains("forwards");
  if (!a || !a->is_array()) return nullptr;
  for (auto& v : a->as_array()) {
    if (!v.is_object()) continue;
    auto& o = v.as_object();
    auto* p = o.if_contains("protocol");
    if (p && p->is_string() && p->as_string() == proto && num(&o, "port") == port) return &o;
  }
  return nullptr;
}

// "refused 3 (denied 2, rate 1)"; "refused 0".
std::string refusals(const json::object* l) {
  std::string out = "refused " + std::to_string(num(l, "refused"));
  auto* by = l ? l->if_contains("refused_by") : nullptr;
  if (!by || !by->is_object() || by->as_object().empty()) return out;
  std::string parts;
  for (auto& [k, v] : by->as_object())
    if (v.is_number())
      parts += (parts.empty() ? "" : ", ") + std::string(k) + " " +
               std::to_string(v.to_number<int64_t>());
  return out + " (" + parts + ")";
}

struct SiteRow {
  std::string name;
  bool enabled = true;
  const json::object* live = nullptr;
};

}  // namespace

void register_status(Ctx& c, CLI::App& app) {
  auto* s = c.prog.verb(app, "status",
                        "One screen of live state: sites, lanes, handshakes, RTT, bytes; "
                        "resources and target health",
                        "peerctl status [--json]");
  c.prog.on(s, [&c]() -> int {
    // Both daemons are asked while the store is read: the answer takes the longest of the three.
    auto tun_f = std::async(std::launch::async, [&c] { return call(c, "tunneld", "status"); });
    auto edg_f = std::async(std::launch::async, [&c] { return call(c, "edged", "routes"); });
    auto db = open_store(c, false);
    auto model = db ? model::read(*db) : core::Result<model::Installation>(db.error());
    auto tun = tun_f.get();
    auto edg = edg_f.get();
    if (!model) return cli::fail(model.error());
    int64_t now_s = now();

    std::map<std::string, const json::object*> live_sites;
    if (tun)
      if (auto* a = tun->if_contains("sites"); a && a->is_array())
        for (auto& v : a->as_array())
          if (v.is_object())
            if (auto* n = v.as_object().if_contains("name"); n && n->is_string())
              live_sites[std::string(n->as_string())] = &v.as_object();
    std::map<std::string, const json::object*> live_routes;
    if (edg)
      if (auto* a = edg->if_contains("routes"); a && a->is_array())
        for (auto& v : a->as_array())
          if (v.is_object())
            if (auto* n = v.as_object().if_contains("name"); n && n->is_string())
              live_routes[std::string(n->as_string())] = &v.as_object();
    // A target's live entry within its route, by URL.
    auto live_target = [&](const std::string& route,
                           const std::string& url) -> const json::object* {
      auto it = live_routes.find(route);
      if (it == live_routes.end()) return nullptr;
      auto* ts = it->second->if_contains("targets");
      if (!ts || !ts->is_array()) return nullptr;
      for (auto& t : ts->as_array())
        if (t.is_object())
          if (auto* u = t.as_object().if_contains("target");
              u && u->is_string() && u->as_string() == url)
            return &t.as_object();
      return nullptr;
    };

    // A target at a site that tunneld reports offline cannot be reached, whatever edged says
    // (edged follows tunneld's sites, but polls them: it may lag by a fraction of a second).
    auto site_offline = [&](const model::Target& t) {
      if (t.site.empty() || !tun) return false;
      auto it = live_sites.find(t.site);
      return it == live_sites.end() || !flag(it->second, "online");
    };

    std::string out;
    if (c.prog.common().json) {
      json::object o;
      o["time"] = core::rfc3339(now_s);
      o["tunneld"] = json::object{{"running", bool(tun)}, {"source", tun ? "live" : "store"}};
      o["edged"] = json::object{{"running", bool(edg)}, {"source", edg ? "live" : "store"}};
      json::array sa;
      for (auto& [n, site] : model->sites) {
        auto it = live_sites.find(n);
        const json::object* l = it == live_sites.end() ? nullptr : it->second;
        json::object so{{"name", n}, {"enabled", site.enabled}};
        if (l) {
          so["online"] = flag(l, "online");
          so["lanes"] = num(l, "lanes");
          so["lanes_expected"] = num(l, "lanes_expected");
          int64_t hs = num(l, "last_handshake_unix_ms");
          so["last_handshake"] = hs > 0 ? json::value(core::rfc3339(hs / 1000)) : nullptr;
          so["rtt_ms"] = l->if_contains("rtt_ms") ? l->at("rtt_ms") : nullptr;
          so["bytes_rx"] = num(l, "bytes_in");
          so["bytes_tx"] = num(l, "bytes_out");
          so["streams"] = num(l, "streams");
        } else {
          so["online"] = tun ? json::value(false) : json::value(nullptr);
        }
        sa.push_back(std::move(so));
      }
      o["sites"] = std::move(sa);
      json::array ra;
      for (auto& [n, r] : model->resources) {
        json::object ro{{"name", n},
                        {"host", r.host},
                        {"path", r.path},
                        {"enabled", r.enabled},
                        {"protected", r.auth && !r.auth->is_public}};
        json::array ta;
        for (auto& t : r.targets) {
          std::string url = t.str();
          json::object to{{"target", url}, {"enabled", t.enabled}};
          auto* lt = live_target(n, url);
          // "reason": why the target takes no traffic, as edged says ("site homelab offline",
          // a health check's error, recent failures).
          if (site_offline(t)) {
            to["up"] = false;
            to["last_error"] = "site " + t.site + " is offline";
            to["reason"] = lt && lt->if_contains("reason")
                               ? lt->at("reason")
                               : json::value("site " + t.site + " offline");
          } else {
            to["up"] = lt ? json::value(flag(lt, "up")) : json::value(nullptr);
            if (lt && lt->if_contains("last_error")) to["last_error"] = lt->at("last_error");
            if (lt && lt->if_contains("reason")) to["reason"] = lt->at("reason");
          }
          ta.push_back(std::move(to));
        }
        ro["targets"] = std::move(ta);
        ra.push_back(std::move(ro));
      }
      o["resources"] = std::move(ra);
      json::array fa;
      for (auto& [k, f] : model->forwards) {
        json::object fo{
            {"name", f.name.empty() ? k.first + ":" + std::to_string(k.second) : f.name},
            {"protocol", k.first},
            {"port", k.second},
            {"site", f.site},
            {"to", f.target},
            {"enabled", f.enabled}};
        if (auto* l = live_forward(tun, k.first, k.second)) {
          fo["listening"] = flag(l, "listening");
          fo["accepted"] = num(l, "accepted");
          fo["refused"] = num(l, "refused");
          fo["refused_by"] = l->if_contains("refused_by") ? l->at("refused_by") : json::object{};
          fo["last_refused"] = l->if_contains("last_refused") ? l->at("last_refused") : nullptr;
        } else {
          fo["listening"] = tun ? json::value(false) : json::value(nullptr);
        }
        fa.push_back(std::move(fo));
      }
      o["forwards"] = std::move(fa);
      out = json_line(o);
    } else {
      out += tun ? "tunneld: running\n" : "tunneld: not running: sites from the store\n";
      out += edg ? "edged: running\n" : "edged: not running: resources from the store\n";
      size_t online = 0;
      for (auto& [n, l] : live_sites) online += flag(l, "online");
      out += "\nsites: " + std::to_string(model->sites.size()) + " (" +
             (tun ? std::to_string(online) + " online" : std::string("online unknown")) + ")\n";
      char buf[512];
      if (!model->sites.empty()) {
        std::snprintf(buf, sizeof buf, "  %-24s %-8s %-10s %-5s %-9s %-10s %s\n", "SITE", "STATE",
                      "HANDSHAKE", "LANES", "RTT", "RX", "TX");
        out += buf;
      }
      for (auto& [n, site] : model->sites) {
        auto it = live_sites.find(n);
        const json::object* l = it == live_sites.end() ? nullptr : it->second;
        std::string state = !site.enabled       ? "disabled"
                            : !tun              ? "-"
                            : flag(l, "online") ? "online"
                                                : "offline";
        std::string hs = "-", lanes = "-", rtt = "-", rx = "-", tx = "-";
        if (l) {
          hs = ago(num(l, "last_handshake_unix_ms") / 1000, now_s);
          lanes = std::to_string(num(l, "lanes")) + "/" + std::to_string(num(l, "lanes_expected"));
          if (auto* r = l->if_contains("rtt_ms"); r && r->is_number()) {
            std::snprintf(buf, sizeof buf, "%.2f ms", r->to_number<double>());
            rtt = buf;
          }
          rx = bytes(num(l, "bytes_in"));
          tx = bytes(num(l, "bytes_out"));
        }
        std::snprintf(buf, sizeof buf, "  %-24s %-8s %-10s %-5s %-9s %-10s %s\n", n.c_str(),
                      state.c_str(), hs.c_str(), lanes.c_str(), rtt.c_str(), rx.c_str(),
                      tx.c_str());
        out += buf;
      }
      out += "\nresources: " + std::to_string(model->resources.size()) + "\n";
      for (auto& [n, r] : model->resources) {
        std::string access = !r.auth || r.auth->is_public ? "public" : "protected";
        out += "  " + n + "  " + r.host + r.path + "  " + access + (r.enabled ? "" : "  disabled") +
               "\n";
        for (auto& t : r.targets) {
          std::string url = t.str();
          std::string health;
          if (!t.enabled)
            health = "disabled";
          else if (site_offline(t)) {
            auto* lt = live_target(n, url);
            auto* why = lt ? lt->if_contains("reason") : nullptr;
            health = "down (" +
                     (why && why->is_string() ? std::string(why->as_string())
                                              : "site " + t.site + " offline") +
                     ")";
          } else if (!edg)
            health = "-";
          else if (auto* lt = live_target(n, url)) {
            auto* why = lt->if_contains("reason");
            health = flag(lt, "up")            ? "up"
                     : why && why->is_string() ? "down (" + std::string(why->as_string()) + ")"
                                               : "down";
          } else
            health = "not served";
          out += "    -> " + url + "  " + health + "\n";
        }
      }
      if (!model->forwards.empty())
        out += "\nforwards: " + std::to_string(model->forwards.size()) + "\n";
      for (auto& [k, f] : model->forwards) {
        std::string key = k.first + ":" + std::to_string(k.second);
        std::string name = f.name.empty() ? key : f.name;
        auto* l = live_forward(tun, k.first, k.second);
        std::string state =
            !f.enabled ? "disabled"
            : !tun     ? "-"
            : !l       ? "not listening"
                       : "accepted " + std::to_string(num(l, "accepted")) + ", " + refusals(l);
        out += "  " + name + "  " + key + " -> " + f.site + ":" + f.target + "  " + state + "\n";
        if (auto* lr = l ? l->if_contains("last_refused") : nullptr; lr && lr->is_object()) {
          auto str = [&](const char* k) {
            auto* v = lr->as_object().if_contains(k);
            return v && v->is_string() ? std::string(v->as_string()) : std::string();
          };
          out += "    last refused: " + str("source") + " " + str("reason") + " " +
                 ago(num(&lr->as_object(), "unix_ms") / 1000, now_s) + "\n";
        }
      }
    }
    auto w = core::write_stdout(out);
    return w ? 0 : cli::fail(w.error());
  });
}

}  // namespace peerctl
