// auth portal — the logic behind the login form edged serves under Policy::portal_path:
// form parsing with limits, and one login step per method (resource password, PIN, Warren
// user with optional TOTP, emailed code request and check) that ends in a new session and a
// redirect to a same-host return URL. Pure: store reads are callbacks, time is passed in,
// argon2id runs inside (call these off the I/O threads). Any thread.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "auth/auth.h"
#include "auth/otp.h"
#include "core/result.h"

namespace auth {

using Form = std::vector<std::pair<std::string, std::string>>;
// application/x-www-form-urlencoded: Errc::data (answer 400) when over max_bytes or max_fields,
// badly escaped, or a key is empty. Values keep any bytes except NUL.
core::Result<Form> parse_form(std::string_view body, size_t max_bytes = 8192,
                              size_t max_fields = 32);
std::optional<std::string_view> form_value(const Form& f, std::string_view key);

// Cross-site form posts to the portal are refused (login CSRF): true when Origin is absent or
// equals this request's scheme://host, and Sec-Fetch-Site is absent, same-origin or none.
bool origin_ok(const Request& req);

// Exactly `digits` ASCII digits.
bool pin_format_ok(std::string_view pin, int digits);
// argon2id check of a typed secret (crypto::verify_password). An empty hash or an input over
// 1 KiB is false, after the same argon2id work (so timing does not tell them apart).
bool verify_secret(std::string_view hash, std::string_view input);

struct UserRecord {
  Identity identity;  // user_id, email as user, name, roles
  std::string password_hash;
  std::vector<uint8_t> totp_secret;  // empty: no TOTP
  int64_t totp_last_step = -1;
  bool enabled = true;
  bool granted = false;  // listed in resource_users for this resource (also in identity)
};

struct PortalSecrets {
  std::string password_hash;  // resource_auth.password_hash
  std::string pin_hash;       // resource_auth.pin_hash
};

struct PortalLookups {
  std::function<core::Result<std::optional<UserRecord>>(std::string_view email)> user;
  std::function<core::Result<std::optional<EmailCode>>(std::string_view address)> email_code;
};

struct Login {
  Outcome outcome = Outcome::unauthorized;  // issue_session, unauthorized (show the form
                                            // again with `message`), bad_request,
                                            // rate_limited, deny, unavailable
  int status = 401;
  std::string reason;   // audit reason code
  std::string message;  // for the form: never says which part was wrong
  std::string method;
  std::string credential;  // what was checked, as Lookups::failed names it
  std::optional<NewSession> issue;
  std::string location;  // the checked return URL (default "/")
  int64_t retry_after = 0;
  int64_t totp_step = -1;            // users: store as totp_last_step when >= 0
  bool code_attempt_failed = false;  // email: store attempts + 1
  bool code_used = false;            // email: store used = 1
};

// A login whose one-time code (TOTP step, emailed code) another login claimed first: refused
// like a wrong code, with no session.
Login code_reused(Login l);

// One POST to <portal_path>/login. Form fields: method (password | pin | users | email), rd
// (return URL), and per method: password; pin; email + password (+ totp); email + code.
// Lockout is checked before any secret and a failure recorded after a wrong one (lk.locked,
// lk.failed of decide()'s Lookups).
Login portal_login(const Request& req, const Policy& policy, const Form& form,
                   const PortalSecrets& secrets, const PortalLookups& plk, const Lookups& lk,
                   int64_t now);

// A POST to <portal_path>/email: when `address` is allowed for the resource, a new code, its
// row to store (replacing earlier ones for the address) and the message to pipe to sendmail.
// Always answers the same to the browser (no allow-list probing): the caller shows "if the
// address is allowed, a code is on its way" whatever `send` says.
struct CodeRequest {
  bool send = false;
  EmailCode row;
  std::string message;
  std::string reason;  // email_sent | email_not_allowed | bad_email
};
CodeRequest request_email_code(const Policy& policy, std::string_view address,
                               const std::string& from, std::string_view host, int64_t now);

}  // namespace auth
