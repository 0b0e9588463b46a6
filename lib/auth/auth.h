// auth — the access decision edged makes for every request to a resource, in Badger's order:
// rate limit and lockout, rules (ACCEPT/DROP/PASS), the portal's own paths, public resources,
// the session cookie, a share-link token (query or header pair), HTTP Basic, an mTLS client
// certificate; otherwise a redirect to the portal or 401. decide() is pure: the caller passes
// a view of the request, the resource's policy, store lookups as callbacks (which may fail:
// the decision then fails closed with 503) and the time; it performs the returned actions.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "auth/rules.h"
#include "core/result.h"

namespace auth {

using Header = std::pair<std::string_view, std::string_view>;

// What decide() reads of a request. Views into the caller's buffers, valid during the call.
struct Request {
  std::string_view method;   // "GET"
  std::string_view host;     // Host header (or :authority) as sent, port included if sent
  std::string_view target;   // origin-form "/path?query"
  IpAddr client;             // the peer (or the trusted PROXY-protocol / header address)
  std::string_view country;  // ISO alpha-2 from a GeoIP database, "" when unknown
  bool tls = false;
  bool client_cert_verified = false;     // mTLS: the handshake verified a client certificate
  std::string_view client_cert_subject;  // its subject (or SAN email/DNS), for the identity
  std::span<const Header> headers;       // as received; names compared case-insensitively
};
// The first value of header `name` (case-insensitive), or nullopt.
std::optional<std::string_view> header(const Request& r, std::string_view name);

struct Methods {
  bool users = false;        // Warren users: email + password (+ TOTP), roles/grants
  bool password = false;     // the resource password
  bool pin = false;          // the resource PIN
  bool email = false;        // emailed one-time code to allow-listed addresses/domains
  bool share_links = false;  // share-link tokens
  bool basic = false;        // HTTP Basic (users and API keys) for machines
  bool mtls = false;         // a verified client certificate is enough
  bool portal() const { return users || password || pin || email; }
  bool any() const { return portal() || share_links || basic || mtls; }
};

// A resource's access settings (from resource_auth, rules, resource_roles, …), immutable and
// shared by every request to it.
struct Policy {
  int64_t resource_id = 0;
  std::string resource;  // name, for the audit and the realm
  bool is_public = true;
  Methods methods;
  int pin_digits = 6;
  std::vector<std::string> email_allow;    // "a@b.c" or "@b.c"
  std::vector<std::string> allowed_roles;  // for users; empty: any enabled user
  std::vector<Rule> rules;
  int64_t session_ttl = 30 * 86400;  // seconds; a session slides when less than half is left
  bool needs_country = false;        // some rule matches countries (edged looks the client up)
  int64_t rate_per_sec = 0;          // per-client token bucket (0: no limit) and its burst
  int64_t rate_burst = 0;
  std::string portal_path = "/.warren/auth";   // reserved prefix served by edged itself
  std::string cookie_base = "warren_session";  // cookie_name(cookie_base, tls)
  std::string share_param = "warren_token";    // query parameter "<id>.<secret>"
  std::string share_id_header = "Warren-Token-Id";
  std::string share_secret_header = "Warren-Token";
  // secret_tag of the current password and PIN hashes: sessions they opened carry the tag, so
  // a new password or PIN ends the old ones' sessions.
  std::string password_tag, pin_tag;
};

// A short, stable tag of a stored secret hash ("" for none). argon2id hashes carry a random
// salt, so every change of the secret (even to the same value) gives a new tag.
std::string secret_tag(std::string_view stored_hash);

// Who a request is, once allowed.
struct Identity {
  int64_t user_id = 0;  // 0: not a Warren user
  std::string user;     // user name / email / share-link id / API key id / cert subject
  std::string email;
  std::string name;
  std::vector<std::string> roles;
  bool granted = false;  // granted this resource directly (resource_users): roles not needed
};

// A session row as the store returns it (looked up by hash_token(cookie value)).
struct Session {
  std::string token_hash;
  int64_t resource_id = 0;
  std::string method;         // how it was created: users | password | pin | email | share_link
  std::string path_prefix;    // "" anywhere; else only paths below it (path-limited share link)
  std::string share_link_id;  // the share link that created it ("" none)
  std::string secret_tag;     // password/pin: Policy::password_tag/pin_tag when it was opened
  Identity identity;
  int64_t created_at = 0;
  int64_t last_seen = 0;
  int64_t expires_at = 0;
  int64_t ttl = 0;  // seconds added on sliding
  bool sliding = true;
  bool revoked = false;
};

struct ShareLink {
  std::string id;
  int64_t resource_id = 0;
  std::string token_hash;   // hash_token(secret)
  std::string path_prefix;  // "" anywhere
  int64_t expires_at = 0;   // 0: never
  int64_t session_ttl = 0;  // 0: the policy's
  bool revoked = false;
};

// Store access, all optional (a missing callback is a method that finds nothing). An error
// result means the store did not answer: the decision is 503, never an allow.
struct Lookups {
  // hash_token(cookie value), when given (a connection remembers the last one: a browser
  // sends the same cookie with every request on it).
  std::function<const std::string&(std::string_view token)> token_hash;
  std::function<core::Result<std::optional<Session>>(std::string_view token_hash)> session;
  std::function<core::Result<std::optional<ShareLink>>(std::string_view id)> share_link;
  // Checks Basic credentials (a user's password, or an API key id + secret for this resource)
  // and returns the identity; nullopt for wrong credentials. Argon2id runs here, so edged
  // calls decide() off its I/O threads when Basic is enabled.
  std::function<core::Result<std::optional<Identity>>(std::string_view user,
                                                      std::string_view password)>
      basic;
  // Rate limit and brute-force guards keyed by (client, resource); seconds to wait, 0 = go.
  // `now` is decide()'s (unix seconds); RateLimiter and Backoff count milliseconds, so the
  // callback passes its own millisecond clock (or now * 1000) and limit_key(client, id).
  std::function<int64_t(const IpAddr&, int64_t resource_id, int64_t now)> rate;
  std::function<int64_t(const IpAddr&, int64_t resource_id, int64_t now)> locked;
  // Records a failed check of `credential` ("password", "pin", "user:EMAIL", "email:ADDR",
  // "basic:USER", "link:ID"; see auth::Backoff); returns the wait it imposes (seconds).
  std::function<int64_t(const IpAddr&, int64_t resource_id, std::string_view credential,
                        int64_t now)>
      failed;
};

enum class Outcome : uint8_t {
  allow,          // proxy it (identity, headers)
  portal,         // a reserved portal path: edged serves the login pages itself
  issue_session,  // create `issue`, answer 302 to `location` with Set-Cookie (share links)
  redirect,       // 302 to `location` (the portal login page)
  unauthorized,   // 401 (+ WWW-Authenticate when Basic is offered)
  deny,           // 403
  bad_request,    // 400
  rate_limited,   // 429 + Retry-After
  unavailable,    // 503 (the store did not answer): fail closed
};
const char* outcome_name(Outcome o);

// A session to insert (token_hash is the key) and the cookie that carries its token.
struct NewSession {
  Session row;
  std::string token;       // goes only into the cookie, never into the store or logs
  std::string set_cookie;  // the Set-Cookie header value
};

// The sliding expiry update for an existing session (write it back asynchronously).
struct SessionTouch {
  std::string token_hash;
  int64_t last_seen = 0;
  int64_t expires_at = 0;
};

struct Decision {
  Outcome outcome = Outcome::deny;
  int status = 403;        // HTTP status to answer with (200 for allow/portal: proxy or serve)
  std::string reason;      // stable reason code for the audit (see decide.cpp's table)
  std::string method;      // the method that authenticated ("" when none)
  std::string credential;  // the credential presented with this request and checked, as
                           // Lookups::failed names it ("" when none: a session, a rule)
  int64_t rule_id = 0;     // the rule that decided (0: none)
  Identity identity;
  std::string location;          // redirect / issue_session
  std::string www_authenticate;  // unauthorized with Basic offered
  int64_t retry_after = 0;       // rate_limited (seconds)
  std::string path;              // normalised request path
  std::string upstream_target;   // when not empty: send this target upstream instead (the
                                 // share-link token parameter removed)
  std::optional<SessionTouch> touch;
  std::optional<NewSession> issue;
};

// The decision for one request at unix time `now` (seconds).
Decision decide(const Request& req, const Policy& policy, const Lookups& lookups, int64_t now);

// A new session for `identity` created by `method` on `policy`'s resource (after a portal login
// or a share link): random token, row, Set-Cookie. `ttl` 0 means policy.session_ttl.
NewSession new_session(const Policy& policy, const Identity& identity, std::string_view method,
                       bool tls, int64_t now, int64_t ttl = 0, bool sliding = true);

// The portal login URL for a request: "<portal_path>/login?rd=<url-encoded target>".
std::string portal_login_url(const Policy& policy, std::string_view target);

// One JSON object (no newline) for the audit log: ts, resource, outcome, status, reason,
// method, rule, client, country, host, method, path, user.
std::string audit_json(const Decision& d, const Request& req, const Policy& policy, int64_t now);

}  // namespace auth
