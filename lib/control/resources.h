// control resources — peerctl's nouns for what edged and tunneld serve: HTTP resources and raw
// TCP/UDP forwards (one `resource` noun, so this Resource is a flat view of a model::Resource or
// a model::Forward), their targets and their access settings. Every write goes through the one
// model (lib/model): read, edit, diff, apply in one transaction with the model's audit rows;
// every value is validated first (Errc::data naming the flag), missing objects are
// Errc::noinput, duplicates Errc::data naming the existing object. Blocking SQLite calls; one
// store::Db per thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "store/store.h"

namespace control {

struct Resource {
  int64_t id = 0;  // resources.id; 0 for a forward
  std::string name;
  std::string kind = "http";  // "http", "tcp" or "udp"
  // http
  std::string host;
  std::string path = "/";
  bool tls = false;  // served over HTTPS (share-link URLs use https://)
  bool redirect_https = false;
  int64_t hsts = 31536000;           // Strict-Transport-Security max-age on HTTPS answers (0: none)
  std::vector<std::string> headers;  // "Name: value", added to requests to the targets
  std::string mtls = "off";          // off | optional | required
  std::string client_ca;             // PEM bundle path (needed for mtls)
  std::string client_crl;
  std::string lb = "round_robin";  // round_robin | least_conn
  bool sticky = false;             // a cookie pins a client to a target
  std::string host_header;         // '' the client's Host, "@target" the target's address
  std::string health_path;         // '' TCP connect check, else HTTP GET path
  int64_t health_interval_ms = 0;
  int64_t health_timeout_ms = 2000;
  int64_t health_rise = 2;  // consecutive results that mark a target up / down
  int64_t health_fall = 3;
  // tcp/udp forwards
  uint16_t port = 0;  // public port on the edge
  std::string site;
  std::string to;  // host:port as the site reaches it
  // forward access (0070): checked by tunneld for every new connection or UDP flow
  std::vector<std::string> allow, deny;                      // IPs or CIDRs
  std::vector<std::string> allow_countries, deny_countries;  // ISO 3166-1 alpha-2
  int64_t max_conns = 0;  // per source address at once (0: no limit)
  int64_t conn_rate = 0;  // new connections per second per source address (0: no limit)
  int64_t conn_burst = 0;
  bool tls_client_cert = false;  // tcp: TLS with a client certificate from the CA
  bool enabled = true;
  int64_t created_at = 0;
  int64_t updated_at = 0;
};

// Checks every field of `r` (as given on the command line: "--host", "--path", …).
// Addresses and countries of a forward come back normalised (parse_cidr, upper-case).
core::Result<void> check_resource(const Resource& r);
// "Name: value" with a token name and no control characters; returned trimmed.
core::Result<std::string> check_header(std::string_view field, std::string_view v);

core::Result<std::vector<Resource>> list_resources(store::Db& db);
// HTTP resources first, then forwards by name. Errc::noinput "no resource NAME".
core::Result<Resource> find_resource(store::Db& db, std::string_view name);
// The id of an HTTP resource (forwards have no auth, targets or links: Errc::data).
core::Result<int64_t> http_resource_id(store::Db& db, std::string_view name);
core::Result<void> add_resource(store::Db& db, const Resource& r, std::string_view actor,
                                int64_t now);
// Replaces the resource called `name` with `r` (which may carry a new name; the kind stays).
core::Result<void> update_resource(store::Db& db, std::string_view name, const Resource& r,
                                   std::string_view actor, int64_t now);
core::Result<void> remove_resource(store::Db& db, std::string_view name, std::string_view actor);
core::Result<void> set_resource_enabled(store::Db& db, std::string_view name, bool enabled,
                                        std::string_view actor, int64_t now);

struct Target {
  int64_t id = 0;
  std::string resource;  // name
  std::string scheme = "http";
  std::string site;  // '' direct
  std::string host;
  uint16_t port = 0;
  int weight = 1;  // 0..1000 (0: drained)
  bool tls_verify = true;
  std::string sni;
  bool enabled = true;
  int64_t created_at = 0;
};
// "host:port", "[v6]:port", "site:host:port" or "site:[v6]:port" into t.site/host/port; the
// site must exist (Errc::noinput).
core::Result<void> parse_target(store::Db& db, std::string_view field, std::string_view spec,
                                Target& t);
std::string target_address(const Target& t);  // "site:host:port" or "host:port"
core::Result<std::vector<Target>> list_targets(store::Db& db, std::string_view resource);
core::Result<Target> find_target(store::Db& db, int64_t id);
core::Result<int64_t> add_target(store::Db& db, const Target& t, std::string_view actor,
                                 int64_t now);
core::Result<void> update_target(store::Db& db, const Target& t, std::string_view actor);
core::Result<void> remove_target(store::Db& db, int64_t id, std::string_view actor);

// Access settings of an HTTP resource (resource_auth and its lists).
struct Auth {
  bool configured = false;  // a resource_auth row exists
  bool is_public = true;
  bool users = false, password = false, pin = false, email = false, share_links = false,
       basic = false, mtls = false;
  int pin_digits = 6;
  std::string password_hash;  // argon2id; '' none
  std::string pin_hash;
  int64_t session_ttl = 30 * 86400;
  int64_t rate_per_sec = 0;
  int64_t rate_burst = 0;
  std::vector<std::string> email_allow;  // "a@b.c" or "@b.c"
  std::vector<std::string> roles;        // resource_roles
};
// The method names peerctl uses: users password pin email share-links basic mtls.
std::vector<std::string> auth_methods(const Auth& a);
// Turns the named method on (false for an unknown name).
bool set_auth_method(Auth& a, std::string_view method, bool on);
core::Result<Auth> load_auth(store::Db& db, int64_t resource_id);
// Checks consistency (a password method needs a password, roles exist, mtls needs a client CA,
// a protected resource needs a method) and replaces the settings in one transaction.
core::Result<void> save_auth(store::Db& db, std::string_view resource, const Auth& a,
                             std::string_view actor, int64_t now);
// "a@b.c" or "@b.c" (lower-cased).
core::Result<std::string> check_email_allow(std::string_view field, std::string_view v);

}  // namespace control
