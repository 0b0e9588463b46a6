// model — the one model of a Warren installation: sites, raw forwards, HTTP resources with their
// targets, access settings and rules, roles and users, as plain values. Every surface works on
// it: peerctl's nouns load it, edit it and apply the difference; blueprints (lib/blueprint) are
// its TOML form; edged builds its routes and access policies from it. This folder holds the only
// SQL that reads and writes these tables: read() the state, diff() a wanted state against it
// into a Plan, apply() the Plan in one transaction with one audit row per change. diff() and
// validate() are pure; read() and apply() take the store (one thread at a time, like store::Db).
//
//   WARREN_TRY(have, model::read(db));
//   model::Installation want = have;
//   want.resources.at("app").lb = "least_conn";
//   WARREN_TRY(plan, model::diff(want, have));
//   WARREN_CHECK(model::apply(db, plan, actor, now));
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.h"

namespace store {
class Db;
}

namespace model {

// A secret as written: an argon2id hash, or the clear text read from a file (hashed when
// applied; an equal stored hash is verified, not replaced). Neither: unmanaged (kept as is).
// An empty hash clears the stored one.
struct Secret {
  std::optional<std::string> hash;
  std::optional<std::string> plain;
  bool managed() const { return hash || plain; }
};

// Where a resource sends requests: host:port directly, or through the tunnel to a site.
struct Target {
  bool tls = false;  // https upstream
  std::string site;  // "" direct
  std::string host;  // without brackets
  uint16_t port = 0;
  bool tls_verify = true;
  std::string tls_sni;
  bool enabled = true;
  int64_t weight = 1;  // 0..1000, 0 drains
  int64_t id = 0;      // store only (targets.id); kept across edits of the same target

  // The canonical text form: http://H:P, https://H:P, site://SITE/H:P, site+https://SITE/H:P
  // ([v6] bracketed). It is the target's identity in edged, blueprints and peerctl's output.
  std::string str() const;
  std::string address() const;  // "host:port" or "[v6]:port"
  // Equal as configured (the store id aside).
  bool same(const Target& o) const;
};

// Reads the canonical form and, as input only, "host:port", "[v6]:port", "site:host:port" and
// "site:[v6]:port" (peerctl's older spelling). Errc::data saying what is wrong.
core::Result<Target> parse_target(std::string_view s);

struct Rule {
  int64_t priority = 100;
  std::string action;  // ACCEPT | DROP | PASS
  std::string ips;     // space-separated, as stored
  std::string path;    // glob
  std::string methods;
  std::string countries;
  bool enabled = true;
  int64_t id = 0;  // store only
  bool same(const Rule& o) const {
    return priority == o.priority && action == o.action && ips == o.ips && path == o.path &&
           methods == o.methods && countries == o.countries && enabled == o.enabled;
  }
};

// The access settings of a resource (a resource_auth row and its lists).
struct Auth {
  bool is_public = false;
  std::vector<std::string> methods;  // sorted: basic email mtls password pin share-links users
  int64_t pin_digits = 6;
  int64_t session_ttl = 2592000;  // seconds
  int64_t rate_per_sec = 0;
  int64_t rate_burst = 0;
  std::vector<std::string> email_allow;  // sorted, lower-case ("a@b.c" or "@b.c")
  Secret password;
  Secret pin;
  bool has(std::string_view method) const;
};
// The method names, in the order peerctl lists them.
inline constexpr const char* kAuthMethods[] = {"users",       "password", "pin", "email",
                                               "share-links", "basic",    "mtls"};

struct Resource {
  std::string name;
  std::string host;
  std::string path = "/";
  bool enabled = true;
  bool tls = false;                  // served over HTTPS (share links and redirects)
  std::vector<std::string> headers;  // "Name: value" added to requests to the targets
  std::string lb = "round_robin";    // round_robin | least_conn
  bool sticky = false;
  bool redirect_https = false;
  int64_t hsts = 31536000;   // seconds (0: none)
  std::string mtls = "off";  // off | optional | required
  std::string client_ca;
  std::string client_crl;
  std::string host_header;  // "" the client's, "@target" the target's address, or a name
  std::string health_path;  // "" TCP connect check, else GET path
  int64_t health_interval_ms = 0;
  int64_t health_timeout_ms = 2000;
  int64_t health_rise = 2;
  int64_t health_fall = 3;
  std::vector<Target> targets;  // in store id order
  std::optional<Auth> auth;     // none: public (no resource_auth row)
  // Grants (resource_roles, resource_users), kept whether or not there are access settings:
  // the roles whose users may pass, and the users granted the resource directly.
  std::vector<std::string> roles;          // sorted
  std::vector<std::string> users;          // sorted emails
  std::vector<Rule> rules;                 // ordered by priority, then id
  int64_t id = 0;                          // store only
  int64_t created_at = 0, updated_at = 0;  // store only
};

struct Site {
  std::string name;
  std::optional<std::string> public_key;  // base64; none when declared: keep / generate
  bool enabled = true;
  int64_t created_at = 0, key_rotated_at = 0, enrolled_at = 0;  // store only (0: never)
};

// A raw TCP/UDP port on the edge relayed to a target at a site, with its access settings
// (checked by tunneld for every new connection or UDP flow).
struct Forward {
  std::string name;      // optional
  std::string protocol;  // tcp | udp
  uint16_t port = 0;
  std::string site;
  std::string target;  // host:port as the site reaches it
  bool enabled = true;
  std::vector<std::string> allow, deny;                      // IPs or CIDRs (canonical)
  std::vector<std::string> allow_countries, deny_countries;  // ISO 3166-1 alpha-2, upper-case
  int64_t max_conns = 0;  // per source address at once (0: no limit)
  int64_t conn_rate = 0;  // new connections per second per source address (0: no limit)
  int64_t conn_burst = 0;
  bool tls_client_cert = false;  // tcp: TLS with a client certificate from the CA
  int64_t created_at = 0;        // store only
  bool same(const Forward& o) const;
};

struct Role {
  std::string name;
  std::string description;
};

struct User {
  std::string email;
  std::string name;
  bool enabled = true;
  std::vector<std::string> roles;  // sorted
  Secret password;
  int64_t id = 0;         // store only
  bool has_totp = false;  // store only
};

// One installation's state, declared or current. A kind is managed only when has_* is set: a
// kind left out of a declaration is neither changed nor pruned.
struct Installation {
  bool has_sites = false, has_forwards = false, has_resources = false, has_roles = false,
       has_users = false;
  std::map<std::string, Site> sites;
  std::map<std::pair<std::string, uint16_t>, Forward> forwards;  // (protocol, port)
  std::map<std::string, Resource> resources;
  std::map<std::string, Role> roles;
  std::map<std::string, User> users;  // by email
};

// ---- the store -------------------------------------------------------------------------------

// The current state (every kind managed).
core::Result<Installation> read(store::Db& db);
// One HTTP resource with its targets, auth and rules. Errc::noinput "no resource NAME".
core::Result<Resource> read_resource(store::Db& db, std::string_view name);

// ---- checks ------------------------------------------------------------------------------------

// A problem found in a model, at a neutral path ("resources.app.auth.pin_digits",
// "resources.app.targets.1", "forwards.tcp.2222.allow") that each surface renders in its own
// words (peerctl: "--pin-digits"; a blueprint: "app.toml:12:5").
struct Problem {
  std::string path;
  std::string message;  // without the path: "'3': 4 to 12"
};
// Every value of every managed object, and the references between them (a target's or
// forward's site, an auth role or user, a user's role) as they stand within `m`. Empty: valid.
std::vector<Problem> validate(const Installation& m);
// The checks of one resource's own values (no references).
std::vector<Problem> validate_resource(const Resource& r, const std::string& path);
std::vector<Problem> validate_forward(const Forward& f, const std::string& path);

// ---- changes -----------------------------------------------------------------------------------

struct Change {
  char op = '+';  // + add, ~ change, - remove
  std::string kind;
  std::string name;
  std::vector<std::string> details;  // "host a -> b"
  std::string line() const;          // "~ resource app: host a -> b; lb x -> y"
};

// What apply would do: the change lines to print, and per kind the objects to write (looked up
// in `want`, with store ids and resolved secret hashes filled in) or remove (from `have`).
struct Plan {
  using FwdKey = std::pair<std::string, uint16_t>;
  struct ResourceOp {
    std::string name;
    bool row = false, targets = false, auth = false, grants = false;
    bool only_enabled = false;  // the row's only change is `enabled`
    std::vector<int64_t> rules_rm;
    std::vector<Rule> rules_add;
  };
  std::vector<Change> changes;
  Installation want;
  Installation have;
  std::vector<std::string> site_add, site_set, site_rm;
  std::vector<FwdKey> fwd_add, fwd_set, fwd_rm;
  std::set<FwdKey> fwd_toggle;        // of fwd_set: the only change is `enabled`
  std::map<FwdKey, FwdKey> fwd_from;  // of fwd_set: moved here from another key
  std::vector<std::string> role_add, role_set, role_rm;
  std::vector<std::string> user_add, user_set, user_rm;
  std::vector<ResourceOp> res_add, res_set;
  std::vector<std::string> res_rm;
  bool empty() const { return changes.empty(); }
  std::string text() const;  // one line per change, or "no changes\n"
};

struct DiffOptions {
  bool prune = true;  // remove objects of managed kinds that `want` lacks
};

// Diffs a wanted state against the store's. References must hold afterwards, else Errc::data
// naming the path. Targets equal to a stored one keep its id; a target that carries an id is
// changed in place.
core::Result<Plan> diff(const Installation& want, const Installation& have,
                        const DiffOptions& opt = {});
// Writes the plan in one transaction (nothing on error; nested in the caller's transaction if
// one is open), with one audit row per change, the one audit format of every writer: action
// resource.add|set|rm|enable|disable|auth (forwards too: they are resources to peerctl),
// target.add|set|rm, grant.add|rm and rule.add|rm (object: the resource), site.add|set|remove,
// role.add|set|rm, user.add|set|rm; the actor; detail {"via": via, …}.
core::Result<void> apply(store::Db& db, const Plan& plan, std::string_view actor, int64_t now,
                         std::string_view via = "apply");

}  // namespace model
