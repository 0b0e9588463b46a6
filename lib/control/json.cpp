// control json: see json.h.
#include "control/json.h"

#include <boost/json.hpp>

#include "control/input.h"

namespace control {

namespace bj = boost::json;

namespace {

bj::array strings(const std::vector<std::string>& v) {
  bj::array a;
  for (const auto& s : v) a.push_back(bj::value(s));
  return a;
}

bj::value time_or_null(int64_t t) {
  return t ? bj::value(time_or(t)) : bj::value(nullptr);
}

}  // namespace

bj::object to_json(const Target& t) {
  return bj::object{{"id", t.id},
                    {"resource", t.resource},
                    {"target", target_address(t)},
                    {"site", t.site.empty() ? bj::value(nullptr) : bj::value(t.site)},
                    {"host", t.host},
                    {"port", t.port},
                    {"scheme", t.scheme},
                    {"weight", t.weight},
                    {"tls_verify", t.tls_verify},
                    {"sni", t.sni},
                    {"enabled", t.enabled}};
}

bj::object to_json(const Auth& a) {
  return bj::object{{"public", a.is_public},
                    {"methods", strings(auth_methods(a))},
                    {"password_set", !a.password_hash.empty()},
                    {"pin_set", !a.pin_hash.empty()},
                    {"pin_digits", a.pin_digits},
                    {"email_allow", strings(a.email_allow)},
                    {"roles", strings(a.roles)},
                    {"session_ttl", a.session_ttl},
                    {"rate_per_sec", a.rate_per_sec},
                    {"rate_burst", a.rate_burst}};
}

bj::object to_json(const User& u) {
  return bj::object{{"email", u.email},
                    {"name", u.name},
                    {"password", u.has_password},
                    {"totp", u.totp},
                    {"enabled", u.enabled},
                    {"roles", strings(u.roles)},
                    {"created_at", time_or_null(u.created_at)}};
}

bj::object to_json(const Role& r) {
  return bj::object{{"name", r.name},
                    {"description", r.description},
                    {"users", r.users},
                    {"created_at", time_or_null(r.created_at)}};
}

bj::object to_json(const Grant& g) {
  return bj::object{{"resource", g.resource}, {g.kind, g.subject}};
}

bj::object to_json(const Link& l, int64_t now) {
  bool expired = l.expires_at && l.expires_at <= now;
  return bj::object{{"id", l.id},
                    {"resource", l.resource},
                    {"title", l.title},
                    {"path", l.path},
                    {"created_at", time_or_null(l.created_at)},
                    {"expires_at", time_or_null(l.expires_at)},
                    {"session_ttl", l.session_ttl ? bj::value(l.session_ttl) : bj::value(nullptr)},
                    {"state", l.revoked ? "revoked"
                              : expired ? "expired"
                                        : "active"},
                    {"sessions", l.sessions}};
}

bj::object to_json(const ApiKey& k, int64_t now) {
  bool expired = k.expires_at && k.expires_at <= now;
  return bj::object{{"id", k.id},
                    {"user", k.user.empty() ? bj::value(nullptr) : bj::value(k.user)},
                    {"resource", k.resource.empty() ? bj::value(nullptr) : bj::value(k.resource)},
                    {"scopes", strings(k.scopes)},
                    {"created_at", time_or_null(k.created_at)},
                    {"expires_at", time_or_null(k.expires_at)},
                    {"last_used", time_or_null(k.last_used)},
                    {"state", k.revoked         ? "revoked"
                              : expired         ? "expired"
                              : !k.user_enabled ? "user disabled"
                                                : "active"}};
}

bj::object to_json(const RuleRow& r) {
  return bj::object{{"id", r.id},
                    {"resource", r.resource},
                    {"priority", r.priority},
                    {"action", r.action},
                    {"ips", strings(r.ips)},
                    {"path", r.path_glob},
                    {"methods", strings(r.methods)},
                    {"countries", strings(r.countries)},
                    {"enabled", r.enabled}};
}

bj::object to_json(const SessionRow& s) {
  return bj::object{{"id", s.id},
                    {"resource", s.resource},
                    {"user", s.user.empty() ? bj::value(nullptr) : bj::value(s.user)},
                    {"method", s.method},
                    {"subject", s.subject},
                    {"created_at", time_or_null(s.created_at)},
                    {"last_seen", time_or_null(s.last_seen)},
                    {"expires_at", time_or_null(s.expires_at)}};
}

bj::object to_json(const Resource& r, const std::vector<Target>& targets, const Auth& auth) {
  bj::object o{{"name", r.name}, {"kind", r.kind}, {"enabled", r.enabled}};
  if (r.kind == "http") {
    o["host"] = r.host;
    o["path"] = r.path;
    o["tls"] = r.tls;
    o["redirect_https"] = r.redirect_https;
    o["hsts"] = r.hsts;
    o["headers"] = strings(r.headers);
    o["mtls"] = r.mtls;
    o["client_ca"] = r.client_ca;
    o["health_path"] = r.health_path;
    o["health_interval_ms"] = r.health_interval_ms;
    o["health_timeout_ms"] = r.health_timeout_ms;
    o["health_rise"] = r.health_rise;
    o["health_fall"] = r.health_fall;
    o["lb"] = r.lb;
    o["sticky"] = r.sticky;
    o["host_header"] = r.host_header;
    bj::array t;
    for (const auto& x : targets) t.push_back(to_json(x));
    o["targets"] = std::move(t);
    o["auth"] = to_json(auth);
  } else {
    o["port"] = r.port;
    o["site"] = r.site;
    o["to"] = r.to;
    o["access"] = bj::object{{"allow", strings(r.allow)},
                             {"deny", strings(r.deny)},
                             {"allow_countries", strings(r.allow_countries)},
                             {"deny_countries", strings(r.deny_countries)},
                             {"max_conns", r.max_conns},
                             {"conn_rate", r.conn_rate},
                             {"conn_burst", r.conn_burst},
                             {"tls_client_cert", r.tls_client_cert}};
  }
  o["created_at"] = time_or(r.created_at, "");
  return o;
}

}  // namespace control
