// auth one-time codes — emailed codes (8 characters from an unambiguous alphabet, 15 minutes,
// a few attempts) with the allow list and the RFC 5322 message piped to `sendmail -t`, and
// TOTP (RFC 6238, HMAC-SHA1, 30 s steps, ±1 step) with base32 secrets and otpauth:// URIs.
// Pure functions; time is passed in; any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace auth {

// --- emailed codes ---------------------------------------------------------------------------

constexpr std::string_view kCodeAlphabet = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ";  // no 0 O 1 I
constexpr size_t kCodeLength = 8;
constexpr int64_t kCodeTtl = 15 * 60;
constexpr int kCodeAttempts = 5;

std::string new_email_code();
// What a person typed, made comparable: upper-cased, spaces and dashes removed, and the
// look-alikes folded (0->O is not done: O, 0, 1 and I are not in the alphabet and fail).
std::string normalize_code(std::string_view typed);
// Stored hash of a code for an address: BLAKE2b-256 hex of "<address>:<code>".
std::string hash_email_code(std::string_view address, std::string_view code);

struct EmailCode {
  std::string address;  // lower-case
  std::string code_hash;
  int64_t expires_at = 0;
  int attempts = 0;  // wrong attempts so far
  bool used = false;
};
EmailCode make_email_code(std::string_view address, std::string_view code, int64_t now);

enum class CodeCheck : uint8_t { ok, wrong, expired, exhausted, used };
const char* code_check_name(CodeCheck c);
// Checks a typed code (constant-time compare). The caller stores attempts + 1 on `wrong` and
// used = 1 on `ok`; `exhausted` once attempts reached kCodeAttempts (ask for a new code).
CodeCheck check_email_code(const EmailCode& c, std::string_view typed, int64_t now,
                           int max_attempts = kCodeAttempts);

// A plain address (local@domain, ASCII, no spaces, quotes, comments or control characters,
// at most 254 characters), returned lower-cased; nullopt otherwise.
std::optional<std::string> normalize_email(std::string_view s);
// Allow-list entries: "alice@example.com" (that address), "@example.com" or "*@example.com"
// (any address at exactly that domain). Case-insensitive.
bool email_allowed(std::string_view address, std::span<const std::string> allow);

struct CodeMail {
  std::string from;      // "Warren <warren@example.com>" or a bare address
  std::string to;        // validated with normalize_email
  std::string resource;  // shown in the subject and body (sanitised)
  std::string host;      // the resource's host, shown in the body (sanitised)
  std::string code;
  int64_t now = 0;
  std::string message_id_domain = "warren.invalid";
};
// The whole message for `sendmail -t` (LF line endings; sendmail converts): From, To,
// Subject (RFC 2047 encoded when not plain ASCII, folded under 78 columns), Date (RFC 5322),
// Message-ID, MIME headers, a text body. Errc::data when an address is not valid; user input
// never adds a header line.
core::Result<std::string> code_message(const CodeMail& m);

// RFC 5322 date: "Mon, 23 Nov 2026 03:00:00 +0000".
std::string rfc5322_date(int64_t t);

// --- TOTP ------------------------------------------------------------------------------------

// RFC 4648 base32 (upper-case, no padding on output; input case-insensitive, padding and
// spaces ignored).
std::string base32(std::span<const uint8_t> b);
std::optional<std::vector<uint8_t>> unbase32(std::string_view s);

// HOTP (RFC 4226) over HMAC-SHA1 with `digits` digits (6..8), zero-padded.
std::string hotp(std::span<const uint8_t> secret, uint64_t counter, int digits = 6);
// TOTP value at unix time t (RFC 6238; step 30 s, T0 = 0).
std::string totp(std::span<const uint8_t> secret, int64_t t, int digits = 6, int step = 30);
// Accepts the code for the step of `now` or one step either side. Returns the matched step,
// which the caller stores and refuses to accept again (step <= last_step: replay).
std::optional<int64_t> verify_totp(std::span<const uint8_t> secret, std::string_view code,
                                   int64_t now, int64_t last_step = -1, int digits = 6,
                                   int step = 30);
// otpauth://totp/<issuer>:<account>?secret=…&issuer=…&algorithm=SHA1&digits=6&period=30
std::string otpauth_uri(std::string_view issuer, std::string_view account,
                        std::span<const uint8_t> secret);

}  // namespace auth
