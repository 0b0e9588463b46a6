// peerctl resource add|list|show|set|rm|enable|disable|auth: what edged serves (HTTP resources)
// and what tunneld forwards (raw TCP/UDP ports), and who may reach an HTTP resource.
#include <boost/json.hpp>
#include <tuple>

#include "config/config.h"
#include "control/input.h"
#include "control/json.h"
#include "control/resources.h"
#include "control/table.h"
#include "core/fs.h"
#include "core/text.h"
#include "crypto/crypto.h"
#include "model/check.h"
#include "peerctl.h"
#include "tunnel/access.h"

namespace peerctl {

namespace {

namespace bj = boost::json;

// The access options shared by `resource add` and `resource auth`.
struct AuthOpts {
  bool is_public = false;
  std::string methods;  // --auth LIST: the exact set
  std::string password_file, pin_file;
  int pin_digits = 0;
  std::vector<std::string> email_allow;
  bool clear_email_allow = false;
  bool share_links = false, basic = false, mtls = false, users = false;
  std::vector<std::string> roles;
  bool clear_roles = false;
  std::string session_ttl;
  std::string rate;
  int64_t burst = -1;

  bool any() const {
    return is_public || !methods.empty() || !password_file.empty() || !pin_file.empty() ||
           pin_digits || !email_allow.empty() || clear_email_allow || share_links || basic ||
           mtls || users || !roles.empty() || clear_roles || !session_ttl.empty() ||
           !rate.empty() || burst >= 0;
  }
};

void add_auth_options(CLI::App* s, AuthOpts& o) {
  s->add_flag("--public", o.is_public, "Anyone may reach it (no authentication)");
  s->add_option("--auth", o.methods,
                "Exactly these methods, comma-separated: users, password, pin, email, "
                "share-links, basic, mtls")
      ->type_name("METHOD,...");
  s->add_option("--password-file", o.password_file,
                "Set the resource password from FILE (- for stdin); enables the password method")
      ->type_name("FILE");
  s->add_option("--pin-file", o.pin_file, "Set the PIN from FILE (- for stdin); enables pin")
      ->type_name("FILE");
  s->add_option("--pin-digits", o.pin_digits, "PIN length, 4-12 (default 6)")->type_name("N");
  s->add_option("--email-allow", o.email_allow,
                "Allow one-time codes to ADDRESS or @DOMAIN (repeatable); enables email")
      ->type_name("ADDR");
  s->add_flag("--clear-email-allow", o.clear_email_allow, "Empty the email allow list first");
  s->add_flag("--share-links", o.share_links, "Enable share links");
  s->add_flag("--basic", o.basic, "Enable HTTP Basic (users and API keys)");
  s->add_flag("--mtls", o.mtls, "Enable client certificates (needs --client-ca)");
  s->add_flag("--users", o.users, "Enable Warren user logins");
  s->add_option("--role", o.roles, "Let users with ROLE in (repeatable); enables users")
      ->type_name("ROLE");
  s->add_flag("--clear-roles", o.clear_roles, "Empty the role list first");
  s->add_option("--session-ttl", o.session_ttl, "Session lifetime (default 30d)")->type_name("DUR");
  s->add_option("--rate", o.rate, "Requests per second per client IP (0: no limit)")
      ->type_name("N/s");
  s->add_option("--burst", o.burst, "Burst above --rate")->type_name("N");
}

// Applies the options to `a`, reading secrets and hashing them.
core::Result<void> apply_auth(const AuthOpts& o, control::Auth& a) {
  WARREN_CHECK(one_stdin({{"--password-file", o.password_file}, {"--pin-file", o.pin_file}}));
  bool method_opts = !o.methods.empty() || !o.password_file.empty() || !o.pin_file.empty() ||
                     !o.email_allow.empty() || o.share_links || o.basic || o.mtls || o.users ||
                     !o.roles.empty();
  if (o.is_public && method_opts)
    return core::err(core::Errc::usage, "--public excludes the method options");
  if (o.is_public) {  // methods and secrets go; the session and rate settings stay
    control::Auth fresh;
    fresh.configured = a.configured;
    fresh.session_ttl = a.session_ttl;
    fresh.rate_per_sec = a.rate_per_sec;
    fresh.rate_burst = a.rate_burst;
    a = fresh;
  }
  if (o.is_public)
    a.is_public = true;
  else if (method_opts)
    a.is_public = false;
  if (!o.methods.empty()) {
    for (const char* m : {"users", "password", "pin", "email", "share-links", "basic", "mtls"})
      control::set_auth_method(a, m, false);
    for (const auto& m : core::split(o.methods, ','))
      if (!control::set_auth_method(a, core::trim(m), true))
        return core::err(core::Errc::data,
                         "--auth: '" + m +
                             "': not a method (users, password, pin, email, share-links, "
                             "basic, mtls)");
  }
  if (o.share_links) a.share_links = true;
  if (o.basic) a.basic = true;
  if (o.mtls) a.mtls = true;
  if (o.users) a.users = true;
  if (o.pin_digits) a.pin_digits = o.pin_digits;
  if (o.clear_email_allow) a.email_allow.clear();
  for (const auto& e : o.email_allow) {
    WARREN_TRY(entry, control::check_email_allow("--email-allow", e));
    a.email_allow.push_back(entry);
    a.email = true;
  }
  if (o.clear_roles) a.roles.clear();
  for (const auto& r : o.roles) {
    WARREN_TRY(role, model::check_name("--role", r));
    if (std::find(a.roles.begin(), a.roles.end(), role) == a.roles.end()) a.roles.push_back(role);
    a.users = true;
  }
  if (!o.session_ttl.empty()) {
    WARREN_TRY(ttl, model::check_duration("--session-ttl", o.session_ttl));
    a.session_ttl = ttl;
  }
  if (!o.rate.empty()) {
    std::string_view r = o.rate;
    if (core::starts_with(std::string_view(r).substr(r.size() > 2 ? r.size() - 2 : 0), "/s"))
      r.remove_suffix(2);
    auto n = core::parse_uint(r);
    if (!n || *n > 1000000)
      return core::err(core::Errc::data, "--rate: '" + o.rate + "': not a rate (e.g. 10/s)");
    a.rate_per_sec = int64_t(*n);
    if (o.burst < 0 && a.rate_burst < a.rate_per_sec) a.rate_burst = a.rate_per_sec;
  }
  if (o.burst >= 0) a.rate_burst = o.burst;
  // Secrets: from a file or stdin, else a prompt on a terminal when the method needs one.
  if (!o.password_file.empty()) a.password = true;
  if (!o.pin_file.empty()) a.pin = true;
  if (a.password && (!o.password_file.empty() || a.password_hash.empty())) {
    WARREN_TRY(pw, read_secret("--password-file", o.password_file, "Resource password: "));
    auto h = crypto::hash_password(pw);
    crypto::wipe(pw.data(), pw.size());
    if (!h) return h.error();
    a.password_hash = *h;
  }
  if (a.pin && (!o.pin_file.empty() || a.pin_hash.empty())) {
    WARREN_TRY(pin, read_secret("--pin-file", o.pin_file, "PIN: "));
    bool digits = pin.size() == size_t(a.pin_digits) &&
                  pin.find_first_not_of("0123456789") == std::string::npos;
    if (!digits) {
      crypto::wipe(pin.data(), pin.size());
      return core::err(core::Errc::data,
                       "--pin-file: the PIN must be " + std::to_string(a.pin_digits) + " digits");
    }
    auto h = crypto::hash_password(pin);
    crypto::wipe(pin.data(), pin.size());
    if (!h) return h.error();
    a.pin_hash = *h;
  }
  return {};
}

std::string auth_summary(const control::Auth& a) {
  if (a.is_public) return "public";
  return control::join(control::auth_methods(a));
}

std::string auth_text(const control::Auth& a) {
  std::string out = control::kv_line("auth", auth_summary(a));
  if (a.rate_per_sec)
    out += control::kv_line(
        "rate", std::to_string(a.rate_per_sec) + "/s burst " + std::to_string(a.rate_burst));
  if (a.is_public) return out;
  if (a.password) out += control::kv_line("password", a.password_hash.empty() ? "unset" : "set");
  if (a.pin)
    out += control::kv_line("pin", (a.pin_hash.empty() ? std::string("unset, ") : "set, ") +
                                       std::to_string(a.pin_digits) + " digits");
  if (!a.email_allow.empty())
    out += control::kv_line("email allow", control::join(a.email_allow, " "));
  if (!a.roles.empty()) out += control::kv_line("roles", control::join(a.roles, " "));
  out += control::kv_line("session ttl", control::format_duration(a.session_ttl));
  return out;
}

struct Full {
  control::Resource r;
  std::vector<control::Target> targets;
  control::Auth auth;
};

core::Result<Full> load_full(store::Db& db, const control::Resource& r) {
  Full f{r, {}, {}};
  if (r.kind == "http") {
    WARREN_TRY(t, control::list_targets(db, r.name));
    f.targets = std::move(t);
    WARREN_TRY(a, control::load_auth(db, r.id));
    f.auth = std::move(a);
  }
  return f;
}

std::string front(const control::Resource& r) {
  if (r.kind != "http") return ":" + std::to_string(r.port);
  return std::string(r.tls ? "https://" : "http://") + r.host + r.path;
}

std::string backend(const Full& f) {
  if (f.r.kind != "http") return f.r.site + ":" + f.r.to;
  std::vector<std::string> t;
  for (const auto& x : f.targets) t.push_back(control::target_address(x));
  return t.empty() ? "-" : control::join(t);
}

// The access options of a raw TCP/UDP forward (add and set): tunneld checks them for every new
// connection (UDP: flow) before anything reaches the site.
struct ForwardOpts {
  std::vector<std::string> allow, deny, allow_countries, deny_countries;
  bool clear_allow = false, clear_deny = false;
  std::string max_conns, conn_rate, conn_burst;
  bool tls_client_cert = false, no_tls_client_cert = false;

  bool any() const {
    return !allow.empty() || !deny.empty() || !allow_countries.empty() || !deny_countries.empty() ||
           clear_allow || clear_deny || !max_conns.empty() || !conn_rate.empty() ||
           !conn_burst.empty() || tls_client_cert || no_tls_client_cert;
  }
};

void add_forward_options(CLI::App* s, ForwardOpts& o, bool set) {
  s->add_option("--allow", o.allow,
                "Forward: accept only sources in IP/CIDR (repeatable; any allow list admits)")
      ->type_name("IP/CIDR");
  s->add_option("--deny", o.deny, "Forward: refuse sources in IP/CIDR (repeatable; checked first)")
      ->type_name("IP/CIDR");
  s->add_option("--allow-country", o.allow_countries,
                "Forward: accept only sources in country CC (tunneld's geoip_db; repeatable)")
      ->type_name("CC");
  s->add_option("--deny-country", o.deny_countries,
                "Forward: refuse sources in country CC (tunneld's geoip_db; repeatable)")
      ->type_name("CC");
  s->add_option("--max-conns", o.max_conns,
                "Forward: connections (UDP: flows) open at once per source address (0: no limit)")
      ->type_name("N");
  s->add_option("--conn-rate", o.conn_rate,
                "Forward: new connections (UDP: flows) per second per source (0: no limit)")
      ->type_name("N/s");
  s->add_option("--conn-burst", o.conn_burst, "Forward: connections above --conn-rate at once")
      ->type_name("N");
  s->add_flag("--tls-client-cert", o.tls_client_cert,
              "TCP forward: wrap it in TLS that needs a client certificate from the CA");
  if (set) {
    s->add_flag("--clear-allow", o.clear_allow,
                "Empty the allow lists (addresses, countries) first");
    s->add_flag("--clear-deny", o.clear_deny, "Empty the deny lists (addresses, countries) first");
    s->add_flag("--no-tls-client-cert", o.no_tls_client_cert, "Stop wrapping a TCP forward in TLS");
  }
}

// A count option: "N" (or "N/s" for a rate) within 0..1000000.
core::Result<int64_t> count_option(const char* field, std::string_view v, bool rate) {
  std::string_view n = v;
  if (rate && n.size() > 2 && n.substr(n.size() - 2) == "/s") n.remove_suffix(2);
  auto x = core::parse_uint(n);
  if (!x || *x > 1000000)
    return core::err(core::Errc::data, std::string(field) + ": '" + std::string(v) + "': " +
                                           (rate ? "not a rate (e.g. 10/s" : "not a count (0") +
                                           (rate ? ", up to 1000000/s)" : " to 1000000)"));
  return int64_t(*x);
}

core::Result<void> apply_forward(const ForwardOpts& o, control::Resource& r) {
  if (!o.any()) return {};
  if (r.kind == "http")
    return core::err(core::Errc::usage,
                     "--allow, --deny, --max-conns, --conn-rate, --tls-client-cert, … are for "
                     "tcp/udp forwards (HTTP resources: peerctl rule, peerctl resource auth)");
  if (o.tls_client_cert && o.no_tls_client_cert)
    return core::err(core::Errc::usage,
                     "--tls-client-cert and --no-tls-client-cert exclude each other");
  if (o.tls_client_cert && r.kind != "tcp")
    return core::err(core::Errc::usage,
                     "--tls-client-cert: TLS is for tcp forwards, not " + r.kind);
  if (o.clear_allow) r.allow.clear(), r.allow_countries.clear();
  if (o.clear_deny) r.deny.clear(), r.deny_countries.clear();
  auto add_net = [](const char* field, const std::string& v,
                    std::vector<std::string>& to) -> core::Result<void> {
    auto c = auth::parse_cidr(v);
    if (!c) return core::err(core::Errc::data, std::string(field) + ": " + c.error().message);
    std::string text = auth::to_string(c->net);
    if ((c->net.v4 && c->bits != 32) || (!c->net.v4 && c->bits != 128))
      text += "/" + std::to_string(c->bits);
    if (std::find(to.begin(), to.end(), text) == to.end()) to.push_back(text);
    return {};
  };
  auto add_cc = [](const char* field, const std::string& v,
                   std::vector<std::string>& to) -> core::Result<void> {
    auto c = tunnel::check_country(v);
    if (!c) return core::err(core::Errc::data, std::string(field) + ": " + c.error().message);
    if (std::find(to.begin(), to.end(), *c) == to.end()) to.push_back(*c);
    return {};
  };
  for (const auto& v : o.allow) WARREN_CHECK(add_net("--allow", v, r.allow));
  for (const auto& v : o.deny) WARREN_CHECK(add_net("--deny", v, r.deny));
  for (const auto& v : o.allow_countries)
    WARREN_CHECK(add_cc("--allow-country", v, r.allow_countries));
  for (const auto& v : o.deny_countries)
    WARREN_CHECK(add_cc("--deny-country", v, r.deny_countries));
  if (!o.max_conns.empty()) {
    WARREN_TRY(n, count_option("--max-conns", o.max_conns, false));
    r.max_conns = n;
  }
  if (!o.conn_rate.empty()) {
    WARREN_TRY(n, count_option("--conn-rate", o.conn_rate, true));
    r.conn_rate = n;
  }
  if (!o.conn_burst.empty()) {
    WARREN_TRY(n, count_option("--conn-burst", o.conn_burst, false));
    r.conn_burst = n;
  }
  if (o.tls_client_cert) r.tls_client_cert = true;
  if (o.no_tls_client_cert) r.tls_client_cert = false;
  return {};
}

// "allow 2, deny 1, max-conns 4, rate 5/s, tls"; "-" without rules or limits.
std::string forward_access_summary(const control::Resource& r) {
  std::vector<std::string> p;
  if (size_t n = r.allow.size() + r.allow_countries.size())
    p.push_back("allow " + std::to_string(n));
  if (size_t n = r.deny.size() + r.deny_countries.size()) p.push_back("deny " + std::to_string(n));
  if (r.max_conns) p.push_back("max-conns " + std::to_string(r.max_conns));
  if (r.conn_rate) p.push_back("rate " + std::to_string(r.conn_rate) + "/s");
  if (r.tls_client_cert) p.push_back("tls");
  return p.empty() ? "-" : control::join(p, ", ");
}

// Options of add and set that describe the resource itself.
struct ShapeOpts {
  std::string host, path;
  std::vector<std::string> targets;
  bool tls = false, no_tls = false, redirect = false, no_redirect = false;
  std::vector<std::string> headers;
  bool clear_headers = false;
  std::string client_ca, client_crl, mtls_mode;
  std::string tcp, udp, port, site, to;
  std::string health_path, health_interval;
  std::string hsts;
  std::string lb, host_header, health_timeout, health_rise, health_fall;
  bool sticky = false, no_sticky = false;
};

void add_shape_options(CLI::App* s, ShapeOpts& o, bool set) {
  s->add_option("--host", o.host, "Hostname served: app.example.com, *.example.com or *")
      ->type_name("HOST");
  s->add_option("--path", o.path, "Path prefix (default /)")->type_name("PATH");
  s->add_flag("--tls", o.tls, "Served over HTTPS (share-link URLs use https://)");
  s->add_flag("--redirect-https", o.redirect, "Redirect plain HTTP requests to HTTPS");
  s->add_option("--hsts", o.hsts,
                "Strict-Transport-Security max-age on HTTPS answers (default 365d; 0: none)")
      ->type_name("DUR");
  s->add_option("--header", o.headers, "Add 'Name: value' to requests to the targets (repeatable)")
      ->type_name("'K: V'");
  s->add_option("--client-ca", o.client_ca, "PEM bundle of CAs for client certificates (mTLS)")
      ->type_name("FILE");
  s->add_option("--client-crl", o.client_crl, "PEM CRL for client certificates")->type_name("FILE");
  s->add_option("--mtls-mode", o.mtls_mode,
                "Ask for client certificates: off, optional, required (default optional with "
                "--client-ca)")
      ->type_name("MODE");
  s->add_option("--lb", o.lb, "Load balancing over the targets: round_robin or least_conn")
      ->type_name("POLICY");
  s->add_flag("--sticky", o.sticky, "Pin each client to one target (a cookie)");
  s->add_option("--host-header", o.host_header,
                "Host header sent to the targets: a name, @target (the target's address) or - "
                "(the client's, the default)")
      ->type_name("NAME");
  s->add_option("--health-timeout", o.health_timeout, "Active health check timeout (default 2s)")
      ->type_name("DUR");
  s->add_option("--health-rise", o.health_rise, "Passing checks that mark a target up (default 2)")
      ->type_name("N");
  s->add_option("--health-fall", o.health_fall,
                "Failing checks that mark a target down (default 3)")
      ->type_name("N");
  s->add_option("--site", o.site, "Site that reaches a forward's target")->type_name("SITE");
  s->add_option("--to", o.to, "A forward's target as the site reaches it")->type_name("HOST:PORT");
  if (set) {
    s->add_flag("--no-tls", o.no_tls, "Served over plain HTTP");
    s->add_flag("--no-redirect-https", o.no_redirect, "Stop redirecting to HTTPS");
    s->add_flag("--clear-headers", o.clear_headers, "Remove the added headers first");
    s->add_flag("--no-sticky", o.no_sticky, "Stop pinning clients to targets");
    s->add_option("--port", o.port, "A forward's public port on the edge")->type_name("PORT");
  } else {
    s->add_option("--target", o.targets,
                  "Where requests go: http://HOST:PORT, site://SITE/HOST:PORT (or HOST:PORT, "
                  "SITE:HOST:PORT) (repeatable)")
        ->type_name("TARGET");
    s->add_option("--tcp", o.tcp, "A raw TCP forward of this public port (with --site, --to)")
        ->type_name("PORT");
    s->add_option("--udp", o.udp, "A raw UDP forward of this public port (with --site, --to)")
        ->type_name("PORT");
  }
}

core::Result<void> apply_shape(const ShapeOpts& o, control::Resource& r) {
  if (o.tls && o.no_tls)
    return core::err(core::Errc::usage, "--tls and --no-tls exclude each other");
  bool http_opts = !o.host.empty() || !o.path.empty() || o.tls || o.no_tls || o.redirect ||
                   o.no_redirect || !o.headers.empty() || o.clear_headers || !o.client_ca.empty() ||
                   !o.client_crl.empty() || !o.mtls_mode.empty() || !o.targets.empty() ||
                   !o.hsts.empty() || !o.lb.empty() || o.sticky || o.no_sticky ||
                   !o.host_header.empty() || !o.health_timeout.empty() || !o.health_rise.empty() ||
                   !o.health_fall.empty();
  bool fwd_opts = !o.site.empty() || !o.to.empty() || !o.port.empty();
  if (r.kind == "http" && fwd_opts)
    return core::err(core::Errc::usage, "--site, --to and --port are for tcp/udp forwards");
  if (r.kind != "http" && http_opts)
    return core::err(core::Errc::usage, "resource " + r.name + " is a " + r.kind +
                                            " forward: --host, --path, --tls, … do not apply");
  if (!o.host.empty()) {
    WARREN_TRY(h, model::check_hostname("--host", o.host));
    r.host = h;
  }
  if (!o.path.empty()) r.path = o.path;
  if (o.tls) r.tls = true;
  if (o.no_tls) r.tls = false;
  if (o.redirect) r.redirect_https = true;
  if (o.no_redirect) r.redirect_https = false;
  if (!o.hsts.empty()) {
    if (o.hsts == "0" || o.hsts == "off") {
      r.hsts = 0;
    } else {
      WARREN_TRY(d, model::check_duration("--hsts", o.hsts));
      if (d > 2 * 365 * 86400)
        return core::err(core::Errc::data, "--hsts: '" + o.hsts + "': at most 2 years (730d)");
      r.hsts = d;
    }
  }
  if (o.sticky && o.no_sticky)
    return core::err(core::Errc::usage, "--sticky and --no-sticky exclude each other");
  if (!o.lb.empty()) r.lb = o.lb;
  if (o.sticky) r.sticky = true;
  if (o.no_sticky) r.sticky = false;
  if (!o.host_header.empty()) r.host_header = o.host_header == "-" ? "" : o.host_header;
  if (!o.health_timeout.empty()) {
    auto ms = config::parse_duration_ms(o.health_timeout);
    if (!ms)
      return core::err(core::Errc::data,
                       "--health-timeout: '" + o.health_timeout + "': not a duration (250ms, 2s)");
    r.health_timeout_ms = ms->count();
  }
  for (auto [flag, text, out] : {std::tuple{"--health-rise", &o.health_rise, &r.health_rise},
                                 std::tuple{"--health-fall", &o.health_fall, &r.health_fall}}) {
    if (text->empty()) continue;
    auto n = core::parse_uint(*text);
    if (!n) return core::err(core::Errc::data, std::string(flag) + ": '" + *text + "': 1 to 100");
    *out = static_cast<int64_t>(*n);
  }
  if (o.clear_headers) r.headers.clear();
  for (const auto& h : o.headers) {
    WARREN_TRY(v, control::check_header("--header", h));
    r.headers.push_back(v);
  }
  if (!o.client_ca.empty()) {
    if (!core::file_exists(o.client_ca))
      return core::err(core::Errc::noinput, "--client-ca: " + o.client_ca + ": no such file");
    r.client_ca = o.client_ca;
    if (r.mtls == "off") r.mtls = "optional";
  }
  if (!o.client_crl.empty()) {
    if (!core::file_exists(o.client_crl))
      return core::err(core::Errc::noinput, "--client-crl: " + o.client_crl + ": no such file");
    r.client_crl = o.client_crl;
  }
  if (!o.mtls_mode.empty()) r.mtls = o.mtls_mode;
  if (!o.port.empty()) {
    WARREN_TRY(p, model::check_port("--port", o.port));
    r.port = p;
  }
  if (!o.site.empty()) r.site = o.site;
  if (!o.to.empty()) r.to = o.to;
  return {};
}

void register_add(Ctx& c, CLI::App& noun) {
  struct Opts {
    std::string name;
    ShapeOpts shape;
    AuthOpts auth;
    ForwardOpts fwd;
    bool disabled = false;
  };
  auto o = std::make_shared<Opts>();
  auto* s = c.prog.verb(
      noun, "add", "Add an HTTP resource (host, path, targets, auth) or a raw TCP/UDP forward",
      "peerctl resource add NAME --host HOST [--path PATH] [--target TARGET]... [--tls] "
      "[--redirect-https] [--hsts DUR] [--header 'K: V']... [--lb POLICY] [--sticky] "
      "[--host-header NAME] [--health-timeout DUR] [--health-rise N] [--health-fall N] "
      "[--client-ca FILE] [--public | --auth METHOD,...] [AUTH OPTIONS] [--disabled]\n"
      "peerctl resource add NAME (--tcp PORT | --udp PORT) --site SITE --to HOST:PORT "
      "[--allow IP/CIDR]... [--deny IP/CIDR]... [--allow-country CC]... [--deny-country CC]... "
      "[--max-conns N] [--conn-rate N/s] [--conn-burst N] [--tls-client-cert] [--disabled]");
  s->add_option("name", o->name, "Resource name: 1-64 of [A-Za-z0-9._-]")->required();
  add_shape_options(s, o->shape, false);
  add_auth_options(s, o->auth);
  add_forward_options(s, o->fwd, false);
  s->add_flag("--disabled", o->disabled, "Add it disabled");
  c.prog.on(s, [&c, o]() -> int {
    control::Resource r;
    r.name = o->name;
    r.enabled = !o->disabled;
    const auto& sh = o->shape;
    if (!sh.tcp.empty() && !sh.udp.empty())
      return cli::fail({core::Errc::usage, "--tcp and --udp exclude each other"});
    if (!sh.tcp.empty() || !sh.udp.empty()) {
      r.kind = sh.tcp.empty() ? "udp" : "tcp";
      auto p = model::check_port("--" + r.kind, sh.tcp.empty() ? sh.udp : sh.tcp);
      if (!p) return cli::fail(p.error());
      r.port = *p;
      r.path.clear();
      if (sh.site.empty() || sh.to.empty())
        return cli::fail({core::Errc::usage, "--" + r.kind + " needs --site and --to"});
      if (o->auth.any()) return cli::fail({core::Errc::usage, "raw forwards have no auth options"});
    } else if (sh.host.empty()) {
      return cli::fail({core::Errc::usage, "--host (or --tcp/--udp) is required"});
    }
    if (auto a = apply_shape(sh, r); !a) return cli::fail(a.error());
    if (auto a = apply_forward(o->fwd, r); !a) return cli::fail(a.error());
    if (auto v = control::check_resource(r); !v) return cli::fail(v.error());
    std::vector<control::Target> targets;
    auto db = open_store(c, true);
    if (!db) return cli::fail(db.error());
    for (const auto& spec : sh.targets) {
      control::Target t;
      t.resource = r.name;
      if (auto p = control::parse_target(*db, "--target", spec, t); !p) return cli::fail(p.error());
      targets.push_back(t);
    }
    control::Auth auth;
    if (o->auth.any())
      if (auto a = apply_auth(o->auth, auth); !a) return cli::fail(a.error());
    auto tx = store::Tx::begin(*db);
    if (!tx) return cli::fail(tx.error());
    std::string who = actor();
    if (auto a = control::add_resource(*db, r, who, now()); !a) return cli::fail(a.error());
    for (const auto& t : targets)
      if (auto a = control::add_target(*db, t, who, now()); !a) return cli::fail(a.error());
    if (o->auth.any())
      if (auto a = control::save_auth(*db, r.name, auth, who, now()); !a)
        return cli::fail(a.error());
    return done(tx->commit());
  });
}

void register_set(Ctx& c, CLI::App& noun) {
  struct Opts {
    std::string name, rename;
    ShapeOpts shape;
    ForwardOpts fwd;
  };
  auto o = std::make_shared<Opts>();
  auto* s = c.prog.verb(noun, "set", "Change a resource (auth settings: resource auth)",
                        "peerctl resource set NAME [--rename NEW] [--host HOST] [--path PATH] "
                        "[--tls | --no-tls] [--redirect-https | --no-redirect-https] [--hsts DUR] "
                        "[--clear-headers] [--header 'K: V']... [--lb POLICY] "
                        "[--sticky | --no-sticky] [--host-header NAME] [--health-timeout DUR] "
                        "[--health-rise N] [--health-fall N] [--client-ca FILE] "
                        "[--client-crl FILE] [--mtls-mode MODE] [--port PORT] [--site SITE] "
                        "[--to HOST:PORT] [--clear-allow] [--allow IP/CIDR]... "
                        "[--allow-country CC]... [--clear-deny] [--deny IP/CIDR]... "
                        "[--deny-country CC]... [--max-conns N] [--conn-rate N/s] "
                        "[--conn-burst N] [--tls-client-cert | --no-tls-client-cert]");
  s->add_option("name", o->name, "Resource name")->required();
  s->add_option("--rename", o->rename, "New name")->type_name("NEW");
  add_shape_options(s, o->shape, true);
  add_forward_options(s, o->fwd, true);
  c.prog.on(s, [&c, o]() -> int {
    auto db = open_store(c, false);
    if (!db) return cli::fail(db.error());
    auto r = control::find_resource(*db, o->name);
    if (!r) return cli::fail(r.error());
    if (auto a = apply_shape(o->shape, *r); !a) return cli::fail(a.error());
    if (auto a = apply_forward(o->fwd, *r); !a) return cli::fail(a.error());
    if (!o->rename.empty()) r->name = o->rename;
    return done(control::update_resource(*db, o->name, *r, actor(), now()));
  });
}

void register_list(Ctx& c, CLI::App& noun) {
  auto* s =
      c.prog.verb(noun, "list", "List resources and forwards", "peerctl resource list [--json]");
  c.prog.on(s, [&c]() -> int {
    auto db = open_store(c, false);
    if (!db) return cli::fail(db.error());
    auto all = control::list_resources(*db);
    if (!all) return cli::fail(all.error());
    std::string out;
    control::Table t({"NAME", "TYPE", "ENABLED", "SERVES", "TARGETS", "AUTH"});
    for (const auto& r : *all) {
      auto f = load_full(*db, r);
      if (!f) return cli::fail(f.error());
      if (c.prog.common().json)
        out += json_line(control::to_json(f->r, f->targets, f->auth));
      else
        t.add({r.name, r.kind, r.enabled ? "yes" : "no", front(r), backend(*f),
               r.kind == "http" ? auth_summary(f->auth) : forward_access_summary(r)});
    }
    return emit(c.prog.common().json ? out : t.str());
  });
}

void register_show(Ctx& c, CLI::App& noun) {
  auto name = std::make_shared<std::string>();
  auto* s = c.prog.verb(noun, "show", "Show a resource, its targets and its auth settings",
                        "peerctl resource show NAME [--json]");
  s->add_option("name", *name, "Resource name")->required();
  c.prog.on(s, [&c, name]() -> int {
    auto db = open_store(c, false);
    if (!db) return cli::fail(db.error());
    auto r = control::find_resource(*db, *name);
    if (!r) return cli::fail(r.error());
    auto f = load_full(*db, *r);
    if (!f) return cli::fail(f.error());
    if (c.prog.common().json) return emit(json_line(control::to_json(f->r, f->targets, f->auth)));
    using control::kv_line;
    std::string out = kv_line("name", r->name) + kv_line("type", r->kind) +
                      kv_line("enabled", r->enabled ? "yes" : "no") + kv_line("serves", front(*r));
    if (r->kind == "http") {
      out += kv_line("redirect https", r->redirect_https ? "yes" : "no");
      out += kv_line("hsts", r->hsts ? control::format_duration(r->hsts) : std::string("off"));
      for (const auto& h : r->headers) out += kv_line("header", h);
      if (r->mtls != "off") out += kv_line("mtls", r->mtls + " (" + r->client_ca + ")");
      if (r->lb != "round_robin") out += kv_line("lb", r->lb);
      if (r->sticky) out += kv_line("sticky", "yes");
      if (!r->host_header.empty()) out += kv_line("host header", r->host_header);
      if (r->health_interval_ms)
        out += kv_line("health", (r->health_path.empty() ? std::string("tcp") : r->health_path) +
                                     " every " + std::to_string(r->health_interval_ms) +
                                     " ms, timeout " + std::to_string(r->health_timeout_ms) +
                                     " ms, rise " + std::to_string(r->health_rise) + ", fall " +
                                     std::to_string(r->health_fall));
      for (const auto& t : f->targets)
        out += kv_line("target " + std::to_string(t.id), control::target_address(t) + " weight " +
                                                             std::to_string(t.weight) +
                                                             (t.enabled ? "" : " (disabled)"));
      out += auth_text(f->auth);
    } else {
      out += kv_line("site", r->site) + kv_line("to", r->to);
      auto list = [](const std::vector<std::string>& v) { return control::join(v, " "); };
      if (!r->allow.empty()) out += kv_line("allow", list(r->allow));
      if (!r->allow_countries.empty()) out += kv_line("allow countries", list(r->allow_countries));
      if (!r->deny.empty()) out += kv_line("deny", list(r->deny));
      if (!r->deny_countries.empty()) out += kv_line("deny countries", list(r->deny_countries));
      if (r->max_conns) out += kv_line("max conns", std::to_string(r->max_conns) + " per source");
      if (r->conn_rate)
        out +=
            kv_line("conn rate", std::to_string(r->conn_rate) + "/s burst " +
                                     std::to_string(r->conn_burst ? r->conn_burst : r->conn_rate) +
                                     " per source");
      out += kv_line("tls", r->tls_client_cert ? "client certificate from the CA" : "no");
    }
    out += kv_line("created", control::time_or(r->created_at));
    return emit(out);
  });
}

void register_rm(Ctx& c, CLI::App& noun) {
  auto name = std::make_shared<std::string>();
  auto* s = c.prog.verb(noun, "rm", "Remove a resource with its targets, auth, links and rules",
                        "peerctl resource rm NAME");
  s->alias("remove");
  s->add_option("name", *name, "Resource name")->required();
  c.prog.on(s, [&c, name]() -> int {
    auto db = open_store(c, false);
    if (!db) return cli::fail(db.error());
    return done(control::remove_resource(*db, *name, actor()));
  });
}

void register_enable(Ctx& c, CLI::App& noun, bool enable) {
  auto name = std::make_shared<std::string>();
  auto* s =
      c.prog.verb(noun, enable ? "enable" : "disable",
                  enable ? "Serve a resource again" : "Stop serving a resource (kept)",
                  std::string("peerctl resource ") + (enable ? "enable" : "disable") + " NAME");
  s->add_option("name", *name, "Resource name")->required();
  c.prog.on(s, [&c, name, enable]() -> int {
    auto db = open_store(c, false);
    if (!db) return cli::fail(db.error());
    return done(control::set_resource_enabled(*db, *name, enable, actor(), now()));
  });
}

void register_auth(Ctx& c, CLI::App& noun) {
  struct Opts {
    std::string name;
    AuthOpts auth;
  };
  auto o = std::make_shared<Opts>();
  auto* s = c.prog.verb(noun, "auth",
                        "Show or change who may reach an HTTP resource (secrets from files or "
                        "stdin, or prompted on a terminal)",
                        "peerctl resource auth NAME [--json]\n"
                        "peerctl resource auth NAME [--public | --auth METHOD,...] "
                        "[--password-file FILE] [--pin-file FILE] [--pin-digits N] "
                        "[--clear-email-allow] [--email-allow ADDR]... [--share-links] [--basic] "
                        "[--mtls] [--users] [--clear-roles] [--role ROLE]... "
                        "[--session-ttl DUR] [--rate N/s] [--burst N]");
  s->add_option("name", o->name, "Resource name")->required();
  add_auth_options(s, o->auth);
  c.prog.on(s, [&c, o]() -> int {
    auto db = open_store(c, false);
    if (!db) return cli::fail(db.error());
    auto id = control::http_resource_id(*db, o->name);
    if (!id) return cli::fail(id.error());
    auto a = control::load_auth(*db, *id);
    if (!a) return cli::fail(a.error());
    if (!o->auth.any()) {
      if (c.prog.common().json) return emit(json_line(control::to_json(*a)));
      return emit(auth_text(*a));
    }
    if (auto r = apply_auth(o->auth, *a); !r) return cli::fail(r.error());
    return done(control::save_auth(*db, o->name, *a, actor(), now()));
  });
}

}  // namespace

void register_resource(Ctx& c, CLI::App& noun) {
  register_add(c, noun);
  register_list(c, noun);
  register_show(c, noun);
  register_set(c, noun);
  register_rm(c, noun);
  register_enable(c, noun, true);
  register_enable(c, noun, false);
  register_auth(c, noun);
}

}  // namespace peerctl
