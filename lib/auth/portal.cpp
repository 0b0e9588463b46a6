#include "auth/portal.h"

#include <algorithm>

#include "auth/session.h"
#include "core/text.h"
#include "crypto/crypto.h"

namespace auth {

core::Result<Form> parse_form(std::string_view body, size_t max_bytes, size_t max_fields) {
  auto bad = [](const std::string& why) { return core::err(core::Errc::data, "bad form: " + why); };
  if (body.size() > max_bytes) return bad("over " + std::to_string(max_bytes) + " bytes");
  Form f;
  size_t pos = 0;
  while (pos < body.size()) {
    size_t e = std::min(body.find('&', pos), body.size());
    auto kv = body.substr(pos, e - pos);
    pos = e + 1;
    if (kv.empty()) continue;
    if (f.size() >= max_fields) return bad("over " + std::to_string(max_fields) + " fields");
    auto eq = kv.find('=');
    auto k = url_decode(kv.substr(0, eq));
    auto v = url_decode(eq == std::string_view::npos ? std::string_view{} : kv.substr(eq + 1));
    if (!k || !v) return bad("bad percent-escape");
    if (k->empty()) return bad("empty field name");
    if (k->find('\0') != std::string::npos || v->find('\0') != std::string::npos)
      return bad("NUL byte");
    f.emplace_back(std::move(*k), std::move(*v));
  }
  return f;
}

std::optional<std::string_view> form_value(const Form& f, std::string_view key) {
  for (const auto& [k, v] : f)
    if (k == key) return std::string_view(v);
  return std::nullopt;
}

bool origin_ok(const Request& req) {
  if (auto site = header(req, "sec-fetch-site"))
    if (*site != "same-origin" && *site != "none") return false;
  auto origin = header(req, "origin");
  if (!origin) return true;
  std::string want = std::string(req.tls ? "https://" : "http://") + core::to_lower(req.host);
  return core::to_lower(*origin) == want;
}

bool pin_format_ok(std::string_view pin, int digits) {
  return digits > 0 && pin.size() == static_cast<size_t>(digits) &&
         std::all_of(pin.begin(), pin.end(), [](char c) { return c >= '0' && c <= '9'; });
}

namespace {
// A real argon2id hash of a random string, verified when there is nothing to verify against.
const std::string& dummy_hash() {
  static const std::string h = *crypto::hash_password(crypto::random_token(16));
  return h;
}
}  // namespace

bool verify_secret(std::string_view hash, std::string_view input) {
  if (hash.empty() || input.size() > 1024) {
    (void)crypto::verify_password(dummy_hash(), "x");
    return false;
  }
  return crypto::verify_password(hash, input);
}

namespace {
bool role_ok(const Policy& p, const UserRecord& u) {
  if (u.granted || p.allowed_roles.empty()) return true;
  return std::any_of(u.identity.roles.begin(), u.identity.roles.end(), [&](const std::string& r) {
    return std::find(p.allowed_roles.begin(), p.allowed_roles.end(), r) != p.allowed_roles.end();
  });
}
}  // namespace

Login portal_login(const Request& req, const Policy& policy, const Form& form,
                   const PortalSecrets& secrets, const PortalLookups& plk, const Lookups& lk,
                   int64_t now) {
  Login r;
  auto done = [&](Outcome o, int status, std::string reason, std::string message = {}) {
    r.outcome = o;
    r.status = status;
    r.reason = std::move(reason);
    r.message = std::move(message);
    return r;
  };
  const std::string kWrong = "That did not work. Check what you typed and try again.";
  auto method = form_value(form, "method").value_or("");
  r.method = method;
  r.location = safe_return_url(form_value(form, "rd").value_or("/"), req.host).value_or("/");
  const Methods& m = policy.methods;
  bool enabled = (method == "password" && m.password) || (method == "pin" && m.pin) ||
                 (method == "users" && m.users) || (method == "email" && m.email);
  if (policy.is_public || !enabled) return done(Outcome::bad_request, 400, "method_not_offered");
  if (int64_t wait = lk.locked ? lk.locked(req.client, policy.resource_id, now) : 0; wait > 0) {
    r.retry_after = wait;
    return done(Outcome::rate_limited, 429, "locked_out",
                "Too many attempts. Try again in " + std::to_string(wait) + " seconds.");
  }
  auto fail = [&](std::string reason) {
    if (lk.failed) lk.failed(req.client, policy.resource_id, r.credential, now);
    return done(Outcome::unauthorized, 401, std::move(reason), kWrong);
  };
  Identity who;
  r.credential = std::string(method);
  if (method == "password") {
    if (!verify_secret(secrets.password_hash, form_value(form, "password").value_or("")))
      return fail("bad_password");
    who.user = "password";
  } else if (method == "pin") {
    auto pin = form_value(form, "pin").value_or("");
    bool ok = pin_format_ok(pin, policy.pin_digits);
    // Same argon2id work for a malformed PIN as for a wrong one.
    if (!verify_secret(ok ? std::string_view(secrets.pin_hash) : std::string_view{}, pin) || !ok)
      return fail("bad_pin");
    who.user = "pin";
  } else if (method == "users") {
    auto email = normalize_email(form_value(form, "email").value_or(""));
    r.credential = "user:" + email.value_or("?");
    std::optional<UserRecord> u;
    if (email && plk.user) {
      auto res = plk.user(*email);
      if (!res) return done(Outcome::unavailable, 503, "store_unavailable");
      u = *res;
    }
    bool pw =
        verify_secret(u && u->enabled ? std::string_view(u->password_hash) : std::string_view{},
                      form_value(form, "password").value_or(""));
    if (!u || !u->enabled || !pw) return fail("bad_user_credentials");
    if (!u->totp_secret.empty()) {
      auto step = verify_totp(u->totp_secret, form_value(form, "totp").value_or(""), now,
                              u->totp_last_step);
      if (!step) return fail("bad_totp");
      r.totp_step = *step;
    }
    if (!role_ok(policy, *u))
      return done(Outcome::deny, 403, "role_denied", "Your account has no access to this site.");
    who = u->identity;
  } else {  // email
    auto email = normalize_email(form_value(form, "email").value_or(""));
    r.credential = "email:" + email.value_or("?");
    if (!email || !email_allowed(*email, policy.email_allow) || !plk.email_code)
      return fail("bad_email_code");
    auto res = plk.email_code(*email);
    if (!res) return done(Outcome::unavailable, 503, "store_unavailable");
    if (!*res) return fail("bad_email_code");
    auto c = check_email_code(**res, form_value(form, "code").value_or(""), now);
    if (c == CodeCheck::wrong) r.code_attempt_failed = true;
    if (c != CodeCheck::ok) return fail(std::string("email_code_") + code_check_name(c));
    r.code_used = true;
    who.user = *email;
    who.email = *email;
  }
  r.issue = new_session(policy, who, method, req.tls, now);
  return done(Outcome::issue_session, 303, "login_" + std::string(method));
}

Login code_reused(Login l) {
  l.outcome = Outcome::unauthorized;
  l.status = 401;
  l.reason = l.method == "email" ? "email_code_used" : "totp_reused";
  l.message = "That did not work. Check what you typed and try again.";
  l.issue.reset();
  l.location.clear();
  return l;
}

CodeRequest request_email_code(const Policy& policy, std::string_view address,
                               const std::string& from, std::string_view host, int64_t now) {
  CodeRequest r;
  auto email = normalize_email(address);
  if (!email) {
    r.reason = "bad_email";
    return r;
  }
  if (!policy.methods.email || !email_allowed(*email, policy.email_allow)) {
    r.reason = "email_not_allowed";
    return r;
  }
  auto code = new_email_code();
  CodeMail m{from, *email, policy.resource, std::string(host), code, now};
  auto msg = code_message(m);
  if (!msg) {
    r.reason = "bad_email";
    return r;
  }
  r.send = true;
  r.row = make_email_code(*email, code, now);
  r.message = std::move(*msg);
  r.reason = "email_sent";
  return r;
}

}  // namespace auth
