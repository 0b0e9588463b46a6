// The access decision. Reason codes (Decision::reason, stable, in the audit):
//   bad_path, rate_limited, rule_drop, rule_accept, portal, public, no_methods, session,
//   role_denied, share_link, share_link_issued, locked_out, bad_basic, bad_credentials, basic,
//   mtls, login_required, no_credentials, store_unavailable.
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>

#include "auth/auth.h"
#include "auth/otp.h"
#include "auth/session.h"
#include "core/text.h"
#include "crypto/crypto.h"

namespace auth {

namespace {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           // ASCII only (header names): no locale lookup per character
           auto lo = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; };
           return lo(x) == lo(y);
         });
}

bool under(std::string_view path, std::string_view prefix) {
  if (prefix.empty() || prefix == "/") return true;
  if (!core::starts_with(path, prefix)) return false;
  return path.size() == prefix.size() || prefix.back() == '/' || path[prefix.size()] == '/';
}

bool method_enabled(const Methods& m, std::string_view method) {
  if (method == "users") return m.users;
  if (method == "password") return m.password;
  if (method == "pin") return m.pin;
  if (method == "email") return m.email;
  if (method == "share_link") return m.share_links;
  return false;
}

// Whether the secret that opened a session still stands: the same password or PIN (by tag),
// an address the email allow list still lets in.
bool still_valid(const Policy& p, const Session& s) {
  if (s.method == "password") return s.secret_tag == p.password_tag;
  if (s.method == "pin") return s.secret_tag == p.pin_tag;
  if (s.method == "email") return email_allowed(s.identity.user, p.email_allow);
  return true;
}

bool role_ok(const Policy& p, const Identity& id) {
  if (id.granted || p.allowed_roles.empty()) return true;
  return std::any_of(id.roles.begin(), id.roles.end(), [&](const std::string& r) {
    return std::find(p.allowed_roles.begin(), p.allowed_roles.end(), r) != p.allowed_roles.end();
  });
}

Decision make(Outcome o, int status, std::string reason) {
  Decision d;
  d.outcome = o;
  d.status = status;
  d.reason = std::move(reason);
  return d;
}

Decision unavailable(Decision d) {
  d.outcome = Outcome::unavailable;
  d.status = 503;
  d.reason = "store_unavailable";
  d.identity = {};
  d.method.clear();
  d.touch.reset();
  d.issue.reset();
  return d;
}

int64_t call(const std::function<int64_t(const IpAddr&, int64_t, int64_t)>& f, const IpAddr& ip,
             int64_t res, int64_t now) {
  return f ? f(ip, res, now) : 0;
}

}  // namespace

std::optional<std::string_view> header(const Request& r, std::string_view name) {
  for (const auto& [n, v] : r.headers)
    if (iequals(n, name)) return v;
  return std::nullopt;
}

const char* outcome_name(Outcome o) {
  switch (o) {
    case Outcome::allow:
      return "allow";
    case Outcome::portal:
      return "portal";
    case Outcome::issue_session:
      return "issue_session";
    case Outcome::redirect:
      return "redirect";
    case Outcome::unauthorized:
      return "unauthorized";
    case Outcome::deny:
      return "deny";
    case Outcome::bad_request:
      return "bad_request";
    case Outcome::rate_limited:
      return "rate_limited";
    case Outcome::unavailable:
      return "unavailable";
  }
  return "?";
}

std::string portal_login_url(const Policy& policy, std::string_view target) {
  return policy.portal_path + "/login?rd=" + url_encode(target);
}

std::string secret_tag(std::string_view stored_hash) {
  if (stored_hash.empty()) return {};
  return crypto::hash_hex(stored_hash).substr(0, 16);
}

NewSession new_session(const Policy& policy, const Identity& identity, std::string_view method,
                       bool tls, int64_t now, int64_t ttl, bool sliding) {
  NewSession s;
  if (method == "password") s.row.secret_tag = policy.password_tag;
  if (method == "pin") s.row.secret_tag = policy.pin_tag;
  s.token = new_token();
  s.row.token_hash = hash_token(s.token);
  s.row.resource_id = policy.resource_id;
  s.row.method = method;
  s.row.identity = identity;
  s.row.created_at = s.row.last_seen = now;
  s.row.ttl = ttl > 0 ? ttl : policy.session_ttl;
  s.row.expires_at = now + s.row.ttl;
  s.row.sliding = sliding;
  s.set_cookie = set_cookie(cookie_name(policy.cookie_base, tls), s.token, s.row.ttl, tls);
  return s;
}

Decision decide(const Request& req, const Policy& policy, const Lookups& lk, int64_t now) {
  const int64_t rid = policy.resource_id;
  auto path = normalize_path(req.target);
  if (!path) return make(Outcome::bad_request, 400, "bad_path");
  Decision d;
  d.path = *path;
  // The share token never reaches the upstream, whatever the outcome.
  if (query_param(req.target, policy.share_param))
    d.upstream_target = strip_query_param(req.target, policy.share_param);
  auto finish = [&](Outcome o, int status, std::string reason) {
    d.outcome = o;
    d.status = status;
    d.reason = std::move(reason);
    return d;
  };

  if (int64_t wait = call(lk.rate, req.client, rid, now); wait > 0) {
    d.retry_after = wait;
    return finish(Outcome::rate_limited, 429, "rate_limited");
  }

  // 1. Rules.
  RuleInput ri{req.client, d.path, req.method, req.country};
  if (auto hit = evaluate_rules(policy.rules, ri)) {
    d.rule_id = hit->rule_id;
    if (hit->action == Action::drop) return finish(Outcome::deny, 403, "rule_drop");
    if (hit->action == Action::accept) return finish(Outcome::allow, 200, "rule_accept");
  }
  if (policy.is_public) return finish(Outcome::allow, 200, "public");
  if (under(d.path, policy.portal_path) && policy.portal_path.size() > 1)
    return finish(Outcome::portal, 200, "portal");
  if (!policy.methods.any()) return finish(Outcome::deny, 403, "no_methods");

  // 2. Session cookie (every copy of it, across Cookie headers, at most 4 looked up).
  const std::string cname = cookie_name(policy.cookie_base, req.tls);
  int looked = 0;
  bool role_denied = false;
  for (const auto& [n, v] : req.headers) {
    if (!iequals(n, "cookie")) continue;
    for (auto value : cookie_values(v, cname)) {
      if (!token_syntax_ok(value) || !lk.session || looked >= 4) continue;
      looked++;
      std::string own;
      const std::string& th = lk.token_hash ? lk.token_hash(value) : (own = hash_token(value));
      auto s = lk.session(th);
      if (!s) return unavailable(d);
      if (!*s) continue;
      const Session& ss = **s;
      if (ss.revoked || ss.expires_at <= now || ss.resource_id != rid ||
          !crypto::equal(ss.token_hash, th) || !method_enabled(policy.methods, ss.method) ||
          !under(d.path, ss.path_prefix) || !still_valid(policy, ss))
        continue;
      if (ss.method == "users" && !role_ok(policy, ss.identity)) {
        role_denied = true;
        continue;
      }
      d.method = ss.method;
      d.identity = ss.identity;
      bool slide = ss.sliding && ss.expires_at - now < ss.ttl / 2;
      if (slide || now - ss.last_seen >= 60)
        d.touch = SessionTouch{ss.token_hash, now, slide ? now + ss.ttl : ss.expires_at};
      return finish(Outcome::allow, 200, "session");
    }
  }
  if (role_denied) return finish(Outcome::deny, 403, "role_denied");

  // 3. Share-link token: query parameter (then a redirect that sets the cookie and drops the
  // token from the URL) or the header pair (machines: allowed as is, no cookie).
  if (policy.methods.share_links) {
    std::optional<std::string> qtok = query_param(req.target, policy.share_param);
    auto hid = header(req, policy.share_id_header);
    auto hsec = header(req, policy.share_secret_header);
    std::optional<ShareToken> tok;
    bool offered = qtok || (hid && hsec);
    if (qtok)
      tok = parse_share_token(*qtok);
    else if (hid && hsec)
      tok = parse_share_token(std::string(*hid) + "." + std::string(*hsec));
    if (offered) {
      if (int64_t wait = call(lk.locked, req.client, rid, now); wait > 0) {
        d.retry_after = wait;
        return finish(Outcome::rate_limited, 429, "locked_out");
      }
      std::optional<ShareLink> link;
      if (tok && lk.share_link) {
        auto r = lk.share_link(tok->id);
        if (!r) return unavailable(d);
        link = *r;
      }
      d.credential = "link:" + (tok ? tok->id : std::string("?"));
      bool ok = link && tok && !link->revoked && link->resource_id == rid &&
                (link->expires_at == 0 || link->expires_at > now) &&
                crypto::equal(hash_token(tok->secret), link->token_hash) &&
                under(d.path, link->path_prefix);
      if (ok) {
        d.method = "share_link";
        d.identity.user = "share-link:" + link->id;
        d.identity.name = "share link";
        if (!qtok) return finish(Outcome::allow, 200, "share_link");
        int64_t ttl = link->session_ttl > 0 ? link->session_ttl : policy.session_ttl;
        if (link->expires_at) ttl = std::min(ttl, link->expires_at - now);
        auto ns = new_session(policy, d.identity, "share_link", req.tls, now, ttl,
                              link->session_ttl == 0 && link->expires_at == 0);
        ns.row.path_prefix = link->path_prefix;
        ns.row.share_link_id = link->id;
        d.issue = std::move(ns);
        // Never scheme-relative or off-host, whatever the target looked like.
        d.location = safe_return_url(strip_query_param(req.target, policy.share_param), req.host)
                         .value_or("/");
        return finish(Outcome::issue_session, 302, "share_link_issued");
      }
      if (lk.failed) lk.failed(req.client, rid, d.credential, now);
      d.credential.clear();
    }
  }

  // 4. HTTP Basic.
  if (policy.methods.basic) {
    if (auto h = header(req, "authorization")) {
      auto creds = parse_basic(*h);
      if (!creds) return finish(Outcome::bad_request, 400, "bad_basic");
      if (*creds) {
        d.www_authenticate = basic_challenge(policy.resource);
        if (int64_t wait = call(lk.locked, req.client, rid, now); wait > 0) {
          d.retry_after = wait;
          return finish(Outcome::rate_limited, 429, "locked_out");
        }
        d.credential = "basic:" + (*creds)->user;
        std::optional<Identity> who;
        if (lk.basic) {
          auto r = lk.basic((*creds)->user, (*creds)->password);
          if (!r) return unavailable(d);
          who = *r;
        }
        if (!who) {
          if (lk.failed) lk.failed(req.client, rid, d.credential, now);
          return finish(Outcome::unauthorized, 401, "bad_credentials");
        }
        if (who->user_id != 0 && !role_ok(policy, *who))
          return finish(Outcome::deny, 403, "role_denied");
        d.www_authenticate.clear();
        d.method = "basic";
        d.identity = std::move(*who);
        return finish(Outcome::allow, 200, "basic");
      }
    }
  }

  // 5. mTLS client certificate.
  if (policy.methods.mtls && req.client_cert_verified) {
    d.method = "mtls";
    d.identity.user = std::string(req.client_cert_subject);
    return finish(Outcome::allow, 200, "mtls");
  }

  // 6. Nothing presented: browsers go to the portal, the rest get 401.
  if (policy.methods.portal() && (req.method == "GET" || req.method == "HEAD")) {
    d.location = portal_login_url(policy, req.target);
    return finish(Outcome::redirect, 302, "login_required");
  }
  if (policy.methods.basic) d.www_authenticate = basic_challenge(policy.resource);
  return finish(Outcome::unauthorized, 401, "no_credentials");
}

std::string audit_json(const Decision& d, const Request& req, const Policy& policy, int64_t now) {
  boost::json::object o;
  o["ts"] = now;
  o["resource"] = policy.resource;
  o["resource_id"] = policy.resource_id;
  o["outcome"] = outcome_name(d.outcome);
  o["status"] = d.status;
  o["reason"] = d.reason;
  if (!d.method.empty()) o["method"] = d.method;
  if (d.rule_id) o["rule"] = d.rule_id;
  o["client"] = to_string(req.client);
  if (!req.country.empty()) o["country"] = req.country;
  o["host"] = req.host;
  o["http_method"] = req.method;
  o["path"] = d.path;
  if (!d.identity.user.empty()) o["user"] = d.identity.user;
  if (d.identity.user_id) o["user_id"] = d.identity.user_id;
  return boost::json::serialize(o);
}

}  // namespace auth
