// edge routes — what edged serves: route specs (from the routes TOML file and the store),
// targets and their shared health state, and the immutable RouteTable that matches a request's
// Host and path (exact host, then *.wildcards from the most specific, then "*"; longest path
// prefix first). A RouteTable is built on the control thread and then only read, from any
// thread; TargetState is shared by every worker and every table (atomics only).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <boost/json/array.hpp>

#include "core/result.h"

namespace store {
class Db;
}
namespace auth {
struct Policy;
}
namespace model {
struct Resource;
struct Target;
}  // namespace model

namespace edge {

using Millis = std::chrono::milliseconds;

// Where a route sends requests: host:port directly, or through the local tunneld to a site.
struct TargetSpec {
  bool tls = false;  // https:// upstream
  std::string site;  // non-empty: reach host:port at this site through tunneld
  std::string host;
  uint16_t port = 0;
  bool tls_verify = true;  // verify the upstream certificate (and its name)
  std::string sni;         // name to send and verify; default host
  unsigned weight = 1;     // share of round-robin picks (0: drained, never picked)

  // "http://10.0.0.5:8080", "https://h:8443", "site://homelab/192.168.1.10:8080",
  // "site+https://homelab/h:8443". Canonical and stable: used as the target's identity.
  std::string str() const;
  std::string address() const;  // "host:port" ([v6]:port)
};

// Parses the forms str() prints, plus bare "host:port" (http): model::parse_target. Errors are
// Errc::data.
core::Result<TargetSpec> parse_target(std::string_view s);
TargetSpec target_spec(const model::Target& t);

enum class Lb : uint8_t { round_robin, least_conn };
enum class Mtls : uint8_t { off, optional, required };

struct HealthSpec {
  Millis interval{0};  // 0: no active check
  Millis timeout{2000};
  std::string path;  // "" -> TCP connect check; else GET path, healthy on expect_min..max
  int expect_min = 200;
  int expect_max = 399;
  int rise = 2;  // consecutive successes to mark a target up
  int fall = 3;  // consecutive failures to mark it down
};

struct RouteSpec {
  std::string name;
  std::string source = "file";  // "file" or "store"
  std::string host;             // "app.example.com", "*.example.com" or "*"
  std::string path = "/";       // prefix; "/api" matches /api, /api/x, /api?q, not /apix
  std::vector<TargetSpec> targets;
  Lb lb = Lb::round_robin;
  bool sticky = false;          // cookie edged_sticky pins a client to a target
  bool redirect_https = false;  // plain HTTP requests get a 308 to https://
  Mtls mtls = Mtls::off;
  std::string client_ca;    // PEM bundle verifying client certificates (mtls)
  std::string client_crl;   // PEM CRL checked with it (optional)
  std::string host_header;  // "" keep the client's Host; "@target" the target address
  int64_t hsts = 31536000;  // Strict-Transport-Security max-age on HTTPS answers (0: none)
  int passive_fail = 3;     // consecutive failed attempts that mark a target down
  Millis passive_cooldown{10000};
  HealthSpec health;
  // Access control (store routes): the resource's id and policy (null: public, no checks).
  // policy_error set: the policy could not be loaded and every request is answered 503.
  int64_t resource_id = 0;
  std::string request_headers;  // "Name: value\r\n" lines added to every upstream request
  std::shared_ptr<const auth::Policy> policy;
  std::string policy_error;
};

// Health and load of one target of one route, shared across threads and reloads.
struct TargetState {
  TargetSpec spec;
  std::string key;                              // route name + " " + spec.str()
  std::string cookie;                           // sticky cookie value (stable hash of key)
  std::atomic<bool> healthy{true};              // active checks (true when there are none)
  std::atomic<bool> site_up{true};              // tunneld: its site is online (true: unknown)
  std::atomic<int> active{0};                   // requests in flight (least_conn)
  std::atomic<int> fails{0};                    // consecutive passive failures
  std::atomic<int64_t> down_until{0};           // passive: ms since epoch (steady) until retried
  std::atomic<int> check_ok{0}, check_fail{0};  // active check streaks
  std::atomic<uint64_t> requests{0}, failures{0};
  std::string last_error;   // guarded by mu (health checker and reporters)
  std::string site_reason;  // guarded by mu: why site_up is false ("site homelab offline")
  std::mutex mu;

  bool up(int64_t now_ms) const {
    return healthy.load(std::memory_order_relaxed) && site_up.load(std::memory_order_relaxed) &&
           down_until.load(std::memory_order_relaxed) <= now_ms;
  }
  // Why the target is not up, "" when it is: its site first, then the active check, then
  // passive failures. `kind` (may be null) gets "site", "health_check" or "passive".
  std::string down_reason(int64_t now_ms, const char** kind = nullptr);
  // Passive outcome of one attempt (connect/response failure or success).
  void record(bool ok, int64_t now_ms, int fail_limit, Millis cooldown);
};

// A route's round-robin position: one per route, shared by every worker thread (as HAProxy's
// is) and kept across reloads while the route's targets stay the same, so weights hold for
// the route, not per thread or per table.
struct Cursor {
  std::atomic<uint32_t> next{0};
};

// Keeps TargetStates and round-robin cursors alive across reloads by key; thread-safe.
class TargetRegistry {
 public:
  std::shared_ptr<TargetState> get(const std::string& route, const TargetSpec& t);
  // The cursor of a route whose targets (and weights) `signature` names.
  std::shared_ptr<Cursor> cursor(const std::string& route, const std::string& signature);
  // Forget states and cursors no table uses any more.
  void prune();

 private:
  std::mutex mu_;
  std::unordered_map<std::string, std::shared_ptr<TargetState>> map_;
  std::unordered_map<std::string, std::shared_ptr<Cursor>> cursors_;
};

struct Route {
  RouteSpec spec;
  std::vector<std::shared_ptr<TargetState>> targets;
  // Round-robin order by weight (smooth weighted round robin: indices into targets, each
  // `weight` times, interleaved); empty when every weight is 1.
  std::vector<uint32_t> wheel;
  std::shared_ptr<Cursor> rr;  // never null

  // Picks a target that is up: the sticky one if `sticky_cookie` names one that is up, else
  // by the route's policy. `skip` (may be null) is a target already tried. Null when none.
  TargetState* pick(int64_t now_ms, std::string_view sticky_cookie, const TargetState* skip) const;
  bool any_up(int64_t now_ms) const;
};

class RouteTable {
 public:
  RouteTable() = default;
  RouteTable(const RouteTable&) = delete;
  RouteTable& operator=(const RouteTable&) = delete;

  // Builds the table. A spec with the same host and path as an earlier one is left out and
  // reported in the returned messages (the earlier one wins). `reg` may be null (fresh state).
  std::vector<std::string> build(std::vector<RouteSpec> specs, TargetRegistry* reg);

  // The route for a request. `host` may carry a port and any case; `path` is the request
  // target in origin-form ("" counts as "/").
  const Route* match(std::string_view host, std::string_view path) const;
  // Any route for this host (any path) that asks for client certificates, for SNI time.
  const Route* mtls_route(std::string_view host) const;

  const std::vector<std::unique_ptr<Route>>& routes() const { return routes_; }
  const std::vector<std::string>& conflicts() const { return conflicts_; }
  void add_conflicts(std::vector<std::string> more);

  // The effective table as JSON (for the control socket's "routes").
  boost::json::array to_json(int64_t now_ms) const;

 private:
  using List = std::vector<const Route*>;  // longest path first
  const List* find_host(std::string_view host, size_t& level) const;
  std::vector<std::unique_ptr<Route>> routes_;
  std::unordered_map<std::string, List> exact_;
  std::unordered_map<std::string, List> wildcard_;  // "*.example.com" -> key "example.com"
  List any_;
  std::vector<std::string> conflicts_;
};

// "Example.COM:443" -> "example.com"; "[::1]:80" -> "::1". Writes into `buf` (256 bytes);
// returns empty for an unusable host.
std::string_view normalize_host(std::string_view host, char* buf);

// The [[route]] tables of a routes file; errors name file:line:column (Errc::config).
core::Result<std::vector<RouteSpec>> load_routes_file(const std::string& path);
core::Result<std::vector<RouteSpec>> parse_routes(std::string_view toml, const std::string& name);
// What edged serves of a resource of the model, a pure conversion: the route with its enabled
// targets and its access policy (a policy that does not convert makes the route answer 503).
// None for a resource edged cannot route (a bad host or path).
std::optional<RouteSpec> route_spec(const model::Resource& r);
core::Result<auth::Policy> policy(const model::Resource& r);
// Enabled resources with their enabled targets from the store (model::read), in id order.
core::Result<std::vector<RouteSpec>> load_routes_store(store::Db& db);

// Merges file and store routes: a store route with the same host and path (or name) as a file
// route is dropped and reported (the file wins).
std::vector<RouteSpec> merge_routes(std::vector<RouteSpec> file, std::vector<RouteSpec> store,
                                    std::vector<std::string>& conflicts);

// Milliseconds on CLOCK_MONOTONIC_COARSE (for TargetState times; cheap to read).
int64_t now_ms();

}  // namespace edge
