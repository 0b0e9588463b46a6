// blueprint — Warren's declarative configuration (`peerctl apply` / `peerctl export`): a TOML
// blueprint of sites, raw forwards, resources with their targets, auth and rules, roles and
// users; parsed into a Model, the store read into the same Model, the two diffed into a Plan,
// and the Plan applied in one transaction. Parsing, diffing and rendering are pure; read() and
// apply() take the store. One thread at a time (like store::Db).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "store/store.h"

namespace blueprint {

// A secret as the blueprint gives it: an argon2id hash, or the clear text read from a file
// (hashed when written; an equal stored hash is verified, not replaced). Neither: unmanaged.
struct Secret {
  std::optional<std::string> hash;
  std::optional<std::string> plain;
  bool managed() const { return hash || plain; }
};

struct Target {
  bool tls = false;  // scheme https
  std::string site;  // "" direct
  std::string host;
  uint16_t port = 0;
  bool tls_verify = true;
  std::string tls_sni;
  bool enabled = true;
  int64_t weight = 1;  // 0..1000, 0 drains
  bool operator==(const Target&) const = default;
};
// edged's target syntax: http://H:P, https://H:P, site://SITE/H:P, site+https://SITE/H:P.
std::string target_url(const Target& t);

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

struct Auth {
  bool is_public = false;
  std::vector<std::string> methods;  // sorted: users password pin email share-links basic mtls
  int64_t pin_digits = 6;
  int64_t session_ttl = 2592000;  // seconds
  int64_t rate_per_sec = 0;
  int64_t rate_burst = 0;
  std::vector<std::string> email_allow;  // sorted, lower-case
  std::vector<std::string> roles;        // sorted
  std::vector<std::string> users;        // sorted emails
  Secret password;
  Secret pin;
};

struct Resource {
  std::string name;
  std::string host;
  std::string path = "/";
  bool enabled = true;
  bool tls = false;                  // served over HTTPS (share links and redirects)
  std::vector<std::string> headers;  // "Name: value" added to requests to the targets
  std::string lb = "round_robin";
  bool sticky = false;
  bool redirect_https = false;
  int64_t hsts = 31536000;  // seconds (0: none)
  std::string mtls = "off";
  std::string client_ca;
  std::string client_crl;
  std::string host_header;
  std::string health_path;
  int64_t health_interval_ms = 0;
  int64_t health_timeout_ms = 2000;
  int64_t health_rise = 2;
  int64_t health_fall = 3;
  std::vector<Target> targets;
  std::optional<Auth> auth;  // none: public (no resource_auth row)
  std::vector<Rule> rules;   // ordered by priority, then id
  int64_t id = 0;            // store only
};

struct Site {
  std::string name;
  std::optional<std::string> public_key;  // base64; none in a blueprint: leave / generate
  bool enabled = true;
};

struct Forward {
  std::string name;      // optional
  std::string protocol;  // tcp | udp
  uint16_t port = 0;
  std::string site;
  std::string target;
  bool enabled = true;
  bool operator==(const Forward&) const = default;
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
  int64_t id = 0;  // store only
};

// One installation's declared (or current) state. A kind is managed only when its table is in
// the blueprint (has_*); a kind left out is neither changed nor pruned.
struct Model {
  bool has_sites = false, has_forwards = false, has_resources = false, has_roles = false,
       has_users = false;
  std::map<std::string, Site> sites;
  std::map<std::pair<std::string, uint16_t>, Forward> forwards;  // (protocol, port)
  std::map<std::string, Resource> resources;
  std::map<std::string, Role> roles;
  std::map<std::string, User> users;  // by email
};

// Parses blueprint text. `name` appears in messages ("app.toml:12:5: resources.app.host: …");
// `base_dir` resolves relative *_file paths. Every problem is Errc::data.
core::Result<Model> parse(std::string_view toml, const std::string& name,
                          const std::string& base_dir);
// Reads the current state of the store (every kind managed).
core::Result<Model> read(store::Db& db);
// Renders a model as blueprint text (deterministic; parse(render(m)) == m for store models).
// Secrets (argon2id hashes) only with `secrets`; without, they stay unmanaged on re-apply.
std::string render(const Model& m, bool secrets = false);

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
    bool row = false, targets = false, auth = false;
    std::vector<int64_t> rules_rm;
    std::vector<Rule> rules_add;
  };
  std::vector<Change> changes;
  Model want;
  Model have;
  std::vector<std::string> site_add, site_set, site_rm;
  std::vector<FwdKey> fwd_add, fwd_set, fwd_rm;
  std::vector<std::string> role_add, role_set, role_rm;
  std::vector<std::string> user_add, user_set, user_rm;
  std::vector<ResourceOp> res_add, res_set;
  std::vector<std::string> res_rm;
  bool empty() const { return changes.empty(); }
  std::string text() const;  // one line per change, or "no changes\n"
};

struct Options {
  bool prune = true;  // remove objects of managed kinds that the blueprint lacks
};

// Diffs the blueprint against the store's state. References (a target's or forward's site, an
// auth role or user, a user's role) must exist afterwards, else Errc::data.
core::Result<Plan> diff(const Model& want, const Model& have, const Options& opt = {});
// Writes the plan in one transaction (nothing on error), with one audit row per change.
core::Result<void> apply(store::Db& db, const Plan& plan, std::string_view actor, int64_t now);

}  // namespace blueprint
