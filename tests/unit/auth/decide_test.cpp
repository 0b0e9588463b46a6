#include <boost/json/parse.hpp>

#include <map>

#include "../support.h"
#include "auth/auth.h"
#include "auth/session.h"
#include "core/text.h"

using namespace auth;

namespace {
constexpr int64_t kNow = 1795399200;

// An in-memory store behind the Lookups callbacks, with a switch that makes it fail.
struct FakeStore {
  std::map<std::string, Session> sessions;
  std::map<std::string, ShareLink> links;
  std::map<std::string, std::pair<std::string, Identity>> basic_users;  // user -> (password, id)
  bool down = false;
  int failures = 0;
  std::vector<std::string> credentials;  // what each failure named
  int64_t rate_wait = 0, lock_wait = 0;
  int session_lookups = 0;

  Lookups lookups() {
    Lookups l;
    l.session = [this](std::string_view h) -> core::Result<std::optional<Session>> {
      session_lookups++;
      if (down) return core::err(core::Errc::unavailable, "store down");
      auto it = sessions.find(std::string(h));
      if (it == sessions.end()) return std::optional<Session>{};
      return std::optional<Session>{it->second};
    };
    l.share_link = [this](std::string_view id) -> core::Result<std::optional<ShareLink>> {
      if (down) return core::err(core::Errc::unavailable, "store down");
      auto it = links.find(std::string(id));
      if (it == links.end()) return std::optional<ShareLink>{};
      return std::optional<ShareLink>{it->second};
    };
    l.basic = [this](std::string_view u,
                     std::string_view p) -> core::Result<std::optional<Identity>> {
      if (down) return core::err(core::Errc::unavailable, "store down");
      auto it = basic_users.find(std::string(u));
      if (it == basic_users.end() || it->second.first != p) return std::optional<Identity>{};
      return std::optional<Identity>{it->second.second};
    };
    l.rate = [this](const IpAddr&, int64_t, int64_t) { return rate_wait; };
    l.locked = [this](const IpAddr&, int64_t, int64_t) { return lock_wait; };
    l.failed = [this](const IpAddr&, int64_t, std::string_view cred, int64_t) {
      failures++;
      credentials.emplace_back(cred);
      return int64_t{0};
    };
    return l;
  }
  // A session for the resource; returns the cookie token.
  std::string add_session(const Policy& p, std::string method, Identity id = {},
                          int64_t expires = kNow + 3600, int64_t ttl = 86400) {
    auto tok = new_token();
    Session s;
    s.token_hash = hash_token(tok);
    s.resource_id = p.resource_id;
    s.method = std::move(method);
    s.identity = std::move(id);
    s.created_at = kNow - 100;
    s.last_seen = kNow - 100;
    s.expires_at = expires;
    s.ttl = ttl;
    sessions[s.token_hash] = s;
    return tok;
  }
};

Policy policy() {
  Policy p;
  p.resource_id = 7;
  p.resource = "app";
  p.is_public = false;
  p.methods.password = true;
  p.methods.pin = true;
  p.methods.share_links = true;
  p.methods.basic = true;
  return p;
}

struct Req {
  std::string method = "GET", host = "app.example.com", target = "/page?x=1";
  std::string client = "198.51.100.20";
  std::string country;
  bool tls = true;
  bool cert = false;
  std::vector<std::pair<std::string, std::string>> headers;
  std::vector<Header> views;
  Request view() {
    views.clear();
    for (auto& [n, v] : headers) views.emplace_back(n, v);
    Request r;
    r.method = method;
    r.host = host;
    r.target = target;
    r.client = *parse_ip(client);
    r.country = country;
    r.tls = tls;
    r.client_cert_verified = cert;
    r.client_cert_subject = "CN=laptop";
    r.headers = views;
    return r;
  }
};

std::string b64(std::string_view s) {
  return core::base64(core::as_bytes(s));
}
}  // namespace

TEST_CASE("decide: no credentials -> portal redirect for browsers, 401 otherwise", "[auth]") {
  FakeStore st;
  auto p = policy();
  Req r;
  auto d = decide(r.view(), p, st.lookups(), kNow);
  REQUIRE(d.outcome == Outcome::redirect);
  REQUIRE(d.status == 302);
  REQUIRE(d.reason == "login_required");
  REQUIRE(d.location == "/.warren/auth/login?rd=%2Fpage%3Fx%3D1");
  REQUIRE(safe_return_url(*url_decode(d.location.substr(d.location.find('=') + 1)), r.host) ==
          "/page?x=1");
  r.method = "POST";
  d = decide(r.view(), p, st.lookups(), kNow);
  REQUIRE(d.outcome == Outcome::unauthorized);
  REQUIRE(d.status == 401);
  REQUIRE(d.www_authenticate == "Basic realm=\"app\", charset=\"UTF-8\"");
  // Basic only (an API resource): 401 with the challenge even for GET.
  p.methods = {};
  p.methods.basic = true;
  r.method = "GET";
  d = decide(r.view(), p, st.lookups(), kNow);
  REQUIRE(d.status == 401);
  REQUIRE(d.reason == "no_credentials");
  REQUIRE_FALSE(d.www_authenticate.empty());
  // Protected with no method at all: fail closed.
  p.methods = {};
  d = decide(r.view(), p, st.lookups(), kNow);
  REQUIRE(d.status == 403);
  REQUIRE(d.reason == "no_methods");
}

TEST_CASE("decide: rules come first (ACCEPT skips auth, DROP denies, PASS goes on)", "[auth]") {
  FakeStore st;
  auto p = policy();
  p.rules.push_back(*make_rule(1, 10, "ACCEPT", "", "/health", "", ""));
  p.rules.push_back(*make_rule(2, 20, "DROP", "203.0.113.0/24", "", "", ""));
  p.rules.push_back(*make_rule(3, 5, "PASS", "", "/health", "POST", ""));
  p.rules.push_back(*make_rule(4, 30, "DROP", "", "/**", "", "KP"));
  Req r;
  r.target = "/health";
  auto d = decide(r.view(), p, st.lookups(), kNow);
  REQUIRE(d.outcome == Outcome::allow);
  REQUIRE(d.reason == "rule_accept");
  REQUIRE(d.rule_id == 1);
  REQUIRE(d.identity.user.empty());
  r.target = "/./x/../health?probe";  // normalised before matching
  REQUIRE(decide(r.view(), p, st.lookups(), kNow).reason == "rule_accept");
  r.method = "POST";  // PASS (priority 5) stops rule evaluation: auth applies
  d = decide(r.view(), p, st.lookups(), kNow);
  REQUIRE(d.outcome == Outcome::unauthorized);
  REQUIRE(d.rule_id == 3);
  r = Req{};
  r.client = "203.0.113.9";
  d = decide(r.view(), p, st.lookups(), kNow);
  REQUIRE(d.outcome == Outcome::deny);
  REQUIRE(d.status == 403);
  REQUIRE(d.reason == "rule_drop");
  REQUIRE(d.rule_id == 2);
  // DROP also covers the portal and valid sessions.
  auto tok = st.add_session(p, "password");
  r.headers = {{"Cookie", "__Host-warren_session=" + tok}};
  REQUIRE(decide(r.view(), p, st.lookups(), kNow).reason == "rule_drop");
  r.target = "/.warren/auth/login";
  REQUIRE(decide(r.view(), p, st.lookups(), kNow).reason == "rule_drop");
  r = Req{};
  r.country = "KP";
  REQUIRE(decide(r.view(), p, st.lookups(), kNow).reason == "rule_drop");
  r.country = "";
  REQUIRE(decide(r.view(), p, st.lookups(), kNow).reason == "login_required");
  // A public resource still obeys DROP rules.
  p.is_public = true;
  r.client = "203.0.113.9";
  REQUIRE(decide(r.view(), p, st.lookups(), kNow).reason == "rule_drop");
  r.client = "198.51.100.1";
  REQUIRE(decide(r.view(), p, st.lookups(), kNow).reason == "public");
}

TEST_CASE("decide: bad paths are 400, portal paths are served, rate limit is 429", "[auth]") {
  FakeStore st;
  auto p = policy();
  Req r;
  r.target = "/a%2F..%2Fadmin";
  auto d = decide(r.view(), p, st.lookups(), kNow);
  REQUIRE(d.status == 400);
  REQUIRE(d.reason == "bad_path");
  r.target = "/.warren/auth/login?rd=%2F";
  d = decide(r.view(), p, st.lookups(), kNow);
  REQUIRE(d.outcome == Outcome::portal);
  REQUIRE(d.path == "/.warren/auth/login");
  r.target = "/.warren/authx";  // not under the prefix
  REQUIRE(decide(r.view(), p, st.lookups(), kNow).outcome == Outcome::redirect);
  st.rate_wait = 3;
  d = decide(r.view(), p, st.lookups(), kNow);
  REQUIRE(d.outcome == Outcome::rate_limited);
  REQUIRE(d.status == 429);
  REQUIRE(d.retry_after == 3);
}

TEST_CASE("decide: session cookies — valid, expired, revoked, foreign, tampered", "[auth]") {
  FakeStore st;
  auto p = policy();
  Identity alice{42, "alice@example.com", "alice@example.com", "Alice", {"dev"}};
  auto tok = st.add_session(p, "password", alice);
  Req r;
  r.headers = {{"cookie", "other=1; __Host-warren_session=" + tok}};
  auto d = decide(r.view(), p, st.lookups(), kNow);
  REQUIRE(d.outcome == Outcome::allow);
  REQUIRE(d.reason == "session");
  REQUIRE(d.method == "password");
  REQUIRE(d.identity.email == "alice@example.com");
  // 3600 s left, less than half of the 86400 s ttl: the session slides to now + ttl.
  REQUIRE(d.touch);
  REQUIRE(d.touch->expires_at == kNow + 86400);
  REQUIRE(d.touch->last_seen == kNow);

  // Without TLS the cookie name has no __Host- prefix, so the TLS cookie is not read.
  r.tls = false;
  REQUIRE(decide(r.view(), p, st.lookups(), kNow).reason == "login_required");
  r.tls = true;

  // Tampered: one character changed -> a different hash -> no session.
  std::string bad = tok;
  bad[10] = bad[10] == 'A' ? 'B' : 'A';
  r.headers = {{"Cookie", "__Host-warren_session=" + bad}};
  REQUIRE(decide(r.view(), p, st.lookups(), kNow).reason == "login_required");
  // Malformed values are not even looked up.
  st.session_lookups = 0;
  r.headers = {{"Cookie", "__Host-warren_session=' OR 1=1 --"}};
  REQUIRE(decide(r.view(), p, st.lookups(), kNow).reason == "login_required");
  REQUIRE(st.session_lookups == 0);

  r.headers = {{"Cookie", "__Host-warren_session=" + tok}};
  auto& row = st.sessions[hash_token(tok)];
  row.expires_at = kNow;  // expired (expiry is exclusive)
  REQUIRE(decide(r.view(), p, st.lookups(), kNow).reason == "login_required");
  row.expires_at = kNow + 10;
  row.revoked = true;
  REQUIRE(decide(r.view(), p, st.lookups(), kNow).reason == "login_required");
  row.revoked = false;
  row.resource_id = 8;  // another resource's session (foreign host)
  REQUIRE(decide(r.view(), p, st.lookups(), kNow).reason == "login_required");
  row.resource_id = 7;
  p.methods.password = false;  // method switched off since: its sessions stop working
  REQUIRE(decide(r.view(), p, st.lookups(), kNow).reason == "login_required");
  p.methods.password = true;
  REQUIRE(decide(r.view(), p, st.lookups(), kNow).reason == "session");

  // A planted second cookie does not hide the real one.
  r.headers = {{"Cookie", "__Host-warren_session=" + bad + "; __Host-warren_session=" + tok}};
  REQUIRE(decide(r.view(), p, st.lookups(), kNow).reason == "session");
  r.headers = {{"Cookie", "a=1"}, {"Cookie", "__Host-warren_session=" + tok}};
  REQUIRE(decide(r.view(), p, st.lookups(), kNow).reason == "session");

  // Store down: 503, never allow.
  st.down = true;
  d = decide(r.view(), p, st.lookups(), kNow);
  REQUIRE(d.outcome == Outcome::unavailable);
  REQUIRE(d.status == 503);
  REQUIRE(d.reason == "store_unavailable");
  REQUIRE(d.identity.user.empty());
}

TEST_CASE("decide: the cookie's hash comes from Lookups::token_hash when given", "[auth]") {
  FakeStore st;
  auto p = policy();
  auto tok = st.add_session(p, "password");
  Req r;
  r.headers = {{"Cookie", "__Host-warren_session=" + tok}};
  auto lk = st.lookups();
  int calls = 0;
  std::string memo;
  lk.token_hash = [&](std::string_view t) -> const std::string& {
    calls++;
    memo = hash_token(t);
    return memo;
  };
  REQUIRE(decide(r.view(), p, lk, kNow).reason == "session");
  REQUIRE(calls == 1);
  // A hook that answers wrongly finds no session: the hash is what is looked up.
  lk.token_hash = [&](std::string_view) -> const std::string& { return memo = "0"; };
  REQUIRE(decide(r.view(), p, lk, kNow).reason != "session");
}

TEST_CASE("decide: sliding expiry writes back only when needed", "[auth]") {
  FakeStore st;
  auto p = policy();
  auto tok = st.add_session(p, "pin", {}, kNow + 80000, 86400);
  auto& row = st.sessions[hash_token(tok)];
  row.last_seen = kNow - 10;
  Req r;
  r.headers = {{"Cookie", "__Host-warren_session=" + tok}};
  auto d = decide(r.view(), p, st.lookups(), kNow);
  REQUIRE(d.reason == "session");
  REQUIRE_FALSE(d.touch);  // more than half left and seen 10 s ago: no write
  row.last_seen = kNow - 60;
  d = decide(r.view(), p, st.lookups(), kNow);
  REQUIRE(d.touch);
  REQUIRE(d.touch->expires_at == kNow + 80000);  // last_seen only
  row.expires_at = kNow + 43199;
  row.last_seen = kNow;
  d = decide(r.view(), p, st.lookups(), kNow);
  REQUIRE(d.touch);
  REQUIRE(d.touch->expires_at == kNow + 86400);
  row.sliding = false;  // share-link sessions do not slide
  d = decide(r.view(), p, st.lookups(), kNow);
  REQUIRE_FALSE(d.touch);
}

TEST_CASE("decide: users sessions need an allowed role", "[auth]") {
  FakeStore st;
  auto p = policy();
  p.methods.users = true;
  p.allowed_roles = {"admin", "ops"};
  Identity bob{5, "bob", "bob@example.com", "Bob", {"dev"}};
  auto tok = st.add_session(p, "users", bob);
  Req r;
  r.headers = {{"Cookie", "__Host-warren_session=" + tok}};
  auto d = decide(r.view(), p, st.lookups(), kNow);
  REQUIRE(d.status == 403);
  REQUIRE(d.reason == "role_denied");
  st.sessions[hash_token(tok)].identity.granted = true;  // a direct grant is enough
  REQUIRE(decide(r.view(), p, st.lookups(), kNow).reason == "session");
  st.sessions[hash_token(tok)].identity.granted = false;
  st.sessions[hash_token(tok)].identity.roles = {"dev", "ops"};
  REQUIRE(decide(r.view(), p, st.lookups(), kNow).reason == "session");
  p.allowed_roles.clear();
  st.sessions[hash_token(tok)].identity.roles.clear();
  REQUIRE(decide(r.view(), p, st.lookups(), kNow).reason == "session");
}

TEST_CASE("decide: share links in the query set a cookie and strip the token", "[auth]") {
  FakeStore st;
  auto p = policy();
  auto t = new_share_token();
  ShareLink link{t.id, 7, hash_token(t.secret), "", 0, 0, false};
  st.links[t.id] = link;
  Req r;
  r.target = "/docs/a?x=1&warren_token=" + to_string(t) + "&y=2";
  auto d = decide(r.view(), p, st.lookups(), kNow);
  REQUIRE(d.outcome == Outcome::issue_session);
  REQUIRE(d.status == 302);
  REQUIRE(d.reason == "share_link_issued");
  REQUIRE(d.location == "/docs/a?x=1&y=2");
  REQUIRE(d.issue);
  REQUIRE(d.issue->row.resource_id == 7);
  REQUIRE(d.issue->row.method == "share_link");
  REQUIRE(d.issue->row.token_hash == hash_token(d.issue->token));
  REQUIRE(d.issue->row.expires_at == kNow + p.session_ttl);
  REQUIRE(d.issue->row.sliding);
  REQUIRE(d.issue->set_cookie.rfind("__Host-warren_session=" + d.issue->token + ";", 0) == 0);
  REQUIRE(d.identity.user == "share-link:" + t.id);

  // The cookie then works like any session (the caller stored the row).
  st.sessions[d.issue->row.token_hash] = d.issue->row;
  Req r2;
  r2.target = d.location;
  r2.headers = {{"Cookie", "__Host-warren_session=" + d.issue->token}};
  auto d2 = decide(r2.view(), p, st.lookups(), kNow + 5);
  REQUIRE(d2.reason == "session");
  REQUIRE(d2.method == "share_link");
  REQUIRE(d2.upstream_target.empty());
  // With a session, a token in the URL is not needed, but it is still kept from the upstream.
  r2.target = "/docs/a?warren_token=" + to_string(t) + "&k=v";
  d2 = decide(r2.view(), p, st.lookups(), kNow + 5);
  REQUIRE(d2.reason == "session");
  REQUIRE(d2.upstream_target == "/docs/a?k=v");
  r2.target = d.location;

  // An expiring link: the session ends with the link and does not slide.
  st.links[t.id].expires_at = kNow + 600;
  d = decide(r.view(), p, st.lookups(), kNow);
  REQUIRE(d.issue->row.expires_at == kNow + 600);
  REQUIRE_FALSE(d.issue->row.sliding);

  // Header pair: allowed directly, no cookie, no redirect.
  Req h;
  h.headers = {{"Warren-Token-Id", t.id}, {"warren-token", t.secret}};
  d = decide(h.view(), p, st.lookups(), kNow);
  REQUIRE(d.outcome == Outcome::allow);
  REQUIRE(d.reason == "share_link");
  REQUIRE_FALSE(d.issue);

  // Refused: expired, revoked, another resource, wrong secret, outside its path, unknown id,
  // malformed; each counts as a failed attempt.
  auto refused = [&](auto mutate, std::string target) {
    st.links[t.id] = link;
    mutate(st.links[t.id]);
    Req q;
    q.target = std::move(target);
    int before = st.failures;
    auto dd = decide(q.view(), p, st.lookups(), kNow);
    REQUIRE(st.failures == before + 1);
    return dd.reason;
  };
  auto tq = "/docs/a?warren_token=" + to_string(t);
  REQUIRE(refused([](ShareLink& l) { l.expires_at = kNow; }, tq) == "login_required");
  REQUIRE(refused([](ShareLink& l) { l.revoked = true; }, tq) == "login_required");
  REQUIRE(refused([](ShareLink& l) { l.resource_id = 8; }, tq) == "login_required");
  REQUIRE(refused([](ShareLink& l) { l.token_hash = hash_token(new_token()); }, tq) ==
          "login_required");
  REQUIRE(refused([](ShareLink& l) { l.path_prefix = "/docs/b"; }, tq) == "login_required");
  REQUIRE(refused([](ShareLink&) {}, "/?warren_token=zz." + t.secret) == "login_required");
  REQUIRE(refused([](ShareLink&) {}, "/?warren_token=garbage") == "login_required");
  // A path-restricted link: allowed below its prefix only, and so is its session.
  st.links[t.id] = link;
  st.links[t.id].path_prefix = "/docs";
  d = decide(r.view(), p, st.lookups(), kNow);
  REQUIRE(d.outcome == Outcome::issue_session);
  REQUIRE(d.issue->row.path_prefix == "/docs");
  REQUIRE(d.issue->row.share_link_id == t.id);
  st.sessions[d.issue->row.token_hash] = d.issue->row;
  r2.headers = {{"Cookie", "__Host-warren_session=" + d.issue->token}};
  r2.target = "/docs/other";
  REQUIRE(decide(r2.view(), p, st.lookups(), kNow).reason == "session");
  r2.target = "/docsx";
  REQUIRE(decide(r2.view(), p, st.lookups(), kNow).reason == "login_required");
  r2.target = "/docs/../admin";
  REQUIRE(decide(r2.view(), p, st.lookups(), kNow).reason == "login_required");
  // Locked out: 429 before any lookup; store down: 503.
  st.lock_wait = 30;
  d = decide(r.view(), p, st.lookups(), kNow);
  REQUIRE(d.status == 429);
  REQUIRE(d.reason == "locked_out");
  REQUIRE(d.retry_after == 30);
  st.lock_wait = 0;
  st.down = true;
  REQUIRE(decide(r.view(), p, st.lookups(), kNow).status == 503);
  // Share links switched off: the token is ignored.
  st.down = false;
  p.methods.share_links = false;
  REQUIRE(decide(r.view(), p, st.lookups(), kNow).reason == "login_required");
}

TEST_CASE("decide: HTTP Basic — good, wrong, malformed, locked, store down", "[auth]") {
  FakeStore st;
  auto p = policy();
  st.basic_users["ci"] = {"s3cret", Identity{0, "apikey:ci", "", "CI", {}}};
  Req r;
  r.method = "POST";
  r.headers = {{"Authorization", "Basic " + b64("ci:s3cret")}};
  auto d = decide(r.view(), p, st.lookups(), kNow);
  REQUIRE(d.outcome == Outcome::allow);
  REQUIRE(d.reason == "basic");
  REQUIRE(d.identity.user == "apikey:ci");
  REQUIRE(d.www_authenticate.empty());
  r.headers = {{"Authorization", "Basic " + b64("ci:wrong")}};
  d = decide(r.view(), p, st.lookups(), kNow);
  REQUIRE(d.status == 401);
  REQUIRE(d.reason == "bad_credentials");
  REQUIRE(st.failures == 1);
  REQUIRE(st.credentials.back() == "basic:ci");  // the failure names what was guessed
  REQUIRE_FALSE(d.www_authenticate.empty());
  r.headers = {{"Authorization", "Basic %%%"}};
  d = decide(r.view(), p, st.lookups(), kNow);
  REQUIRE(d.status == 400);
  REQUIRE(d.reason == "bad_basic");
  r.headers = {{"Authorization", "Bearer xyz"}};  // another scheme: not ours, no credentials
  REQUIRE(decide(r.view(), p, st.lookups(), kNow).reason == "no_credentials");
  r.headers = {{"Authorization", "Basic " + b64("ci:s3cret")}};
  st.lock_wait = 8;
  d = decide(r.view(), p, st.lookups(), kNow);
  REQUIRE(d.status == 429);
  REQUIRE(d.retry_after == 8);
  st.lock_wait = 0;
  st.down = true;
  REQUIRE(decide(r.view(), p, st.lookups(), kNow).status == 503);
  st.down = false;
  p.methods.basic = false;  // Basic not offered: the header is ignored
  REQUIRE(decide(r.view(), p, st.lookups(), kNow).status == 401);
  REQUIRE(decide(r.view(), p, st.lookups(), kNow).www_authenticate.empty());
}

TEST_CASE("decide: a new password or PIN, or an address leaving the allow list, ends sessions",
          "[auth]") {
  FakeStore st;
  auto p = policy();
  p.methods.email = true;
  p.email_allow = {"@corp.test", "guest@else.test"};
  p.password_tag = secret_tag("$argon2id$v=19$m=65536,t=2,p=1$salt1$hash1");
  p.pin_tag = secret_tag("$argon2id$v=19$m=65536,t=2,p=1$salt2$hash2");
  REQUIRE(p.password_tag.size() == 16);
  REQUIRE(p.password_tag != p.pin_tag);
  REQUIRE(secret_tag("").empty());
  auto open = [&](const std::string& method, Identity id = {}) {
    auto ns = new_session(p, id, method, true, kNow);
    st.sessions[ns.row.token_hash] = ns.row;
    return ns.token;
  };
  auto with = [&](const std::string& tok) {
    Req r;
    r.headers = {{"Cookie", "__Host-warren_session=" + tok}};
    return decide(r.view(), p, st.lookups(), kNow).reason;
  };
  auto pw = open("password"), pin = open("pin");
  auto alice = open("email", Identity{0, "alice@corp.test", "alice@corp.test", "", {}});
  auto guest = open("email", Identity{0, "guest@else.test", "guest@else.test", "", {}});
  for (auto* t : {&pw, &pin, &alice, &guest}) REQUIRE(with(*t) == "session");
  // The password changes (a new hash, even of the same password): its sessions end, the
  // PIN's stay.
  p.password_tag = secret_tag("$argon2id$v=19$m=65536,t=2,p=1$salt3$hash1");
  REQUIRE(with(pw) == "login_required");
  REQUIRE(with(pin) == "session");
  p.pin_tag.clear();  // the PIN removed
  REQUIRE(with(pin) == "login_required");
  // The domain leaves the allow list: alice's session ends, the listed guest's stays.
  p.email_allow = {"guest@else.test"};
  REQUIRE(with(alice) == "login_required");
  REQUIRE(with(guest) == "session");
  // A session row from before the tags (none) counts for no password.
  REQUIRE(with(st.add_session(p, "password")) == "login_required");
  REQUIRE(with(open("password")) == "session");
}

TEST_CASE("decide: a verified client certificate is enough when mtls is on", "[auth]") {
  FakeStore st;
  auto p = policy();
  Req r;
  r.cert = true;
  REQUIRE(decide(r.view(), p, st.lookups(), kNow).reason == "login_required");
  p.methods.mtls = true;
  auto d = decide(r.view(), p, st.lookups(), kNow);
  REQUIRE(d.reason == "mtls");
  REQUIRE(d.identity.user == "CN=laptop");
  r.cert = false;
  REQUIRE(decide(r.view(), p, st.lookups(), kNow).reason == "login_required");
}

TEST_CASE("audit lines are JSON with the reason", "[auth]") {
  FakeStore st;
  auto p = policy();
  Req r;
  r.client = "2001:db8::7";
  r.target = "/x\"y";
  auto req = r.view();
  auto d = decide(req, p, st.lookups(), kNow);
  auto j = boost::json::parse(audit_json(d, req, p, kNow)).as_object();
  REQUIRE(j["ts"].as_int64() == kNow);
  REQUIRE(j["outcome"].as_string() == "redirect");
  REQUIRE(j["reason"].as_string() == "login_required");
  REQUIRE(j["client"].as_string() == "2001:db8::7");
  REQUIRE(j["path"].as_string() == "/x%22y");
  REQUIRE(j["resource"].as_string() == "app");
}

TEST_CASE("new sessions carry a fresh token and the policy's lifetime", "[auth]") {
  auto p = policy();
  Identity id{1, "a", "a@x", "A", {}};
  auto s = new_session(p, id, "users", false, kNow);
  REQUIRE(token_syntax_ok(s.token));
  REQUIRE(s.row.token_hash == hash_token(s.token));
  REQUIRE(s.row.expires_at == kNow + p.session_ttl);
  REQUIRE(s.set_cookie == "warren_session=" + s.token + "; Path=/; Max-Age=" +
                              std::to_string(p.session_ttl) + "; HttpOnly; SameSite=Lax");
  REQUIRE(new_session(p, id, "users", false, kNow).token != s.token);
}
