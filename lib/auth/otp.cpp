#include "auth/otp.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <ctime>

#include "auth/session.h"
#include "core/text.h"
#include "crypto/crypto.h"

namespace auth {

// --- emailed codes ---------------------------------------------------------------------------

std::string new_email_code() {
  static_assert(kCodeAlphabet.size() == 32, "32 symbols: 5 bits each, no modulo bias");
  uint8_t raw[kCodeLength];
  crypto::random_bytes(raw);
  std::string c;
  for (uint8_t b : raw) c += kCodeAlphabet[b & 31];
  crypto::wipe(raw, sizeof raw);
  return c;
}

std::string normalize_code(std::string_view typed) {
  std::string c;
  for (char ch : typed) {
    if (ch == ' ' || ch == '-' || ch == '\t') continue;
    c += static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    if (c.size() > 64) break;
  }
  return c;
}

std::string hash_email_code(std::string_view address, std::string_view code) {
  return crypto::hash_hex(std::string(address) + ":" + std::string(code));
}

EmailCode make_email_code(std::string_view address, std::string_view code, int64_t now) {
  return {std::string(address), hash_email_code(address, code), now + kCodeTtl, 0, false};
}

const char* code_check_name(CodeCheck c) {
  switch (c) {
    case CodeCheck::ok:
      return "ok";
    case CodeCheck::wrong:
      return "wrong";
    case CodeCheck::expired:
      return "expired";
    case CodeCheck::exhausted:
      return "exhausted";
    case CodeCheck::used:
      return "used";
  }
  return "?";
}

CodeCheck check_email_code(const EmailCode& c, std::string_view typed, int64_t now,
                           int max_attempts) {
  if (c.used) return CodeCheck::used;
  if (now >= c.expires_at) return CodeCheck::expired;
  if (c.attempts >= max_attempts) return CodeCheck::exhausted;
  auto h = hash_email_code(c.address, normalize_code(typed));
  return crypto::equal(h, c.code_hash) ? CodeCheck::ok : CodeCheck::wrong;
}

namespace {
bool atext(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) ||
         std::string_view("!#$%&'*+-/=?^_`{|}~").find(c) != std::string_view::npos;
}
bool valid_domain(std::string_view d) {
  if (d.empty() || d.size() > 253 || d.find('.') == std::string_view::npos) return false;
  for (auto& label : core::split(d, '.', false)) {
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-')
      return false;
    for (char c : label)
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-') return false;
  }
  return true;
}
}  // namespace

std::optional<std::string> normalize_email(std::string_view s) {
  if (s.empty() || s.size() > 254) return std::nullopt;
  auto at = s.rfind('@');
  if (at == std::string_view::npos || at == 0 || at > 64) return std::nullopt;
  auto local = s.substr(0, at), domain = s.substr(at + 1);
  if (local.front() == '.' || local.back() == '.' || local.find("..") != std::string_view::npos)
    return std::nullopt;
  for (char c : local)
    if (!atext(c) && c != '.') return std::nullopt;
  if (!valid_domain(domain)) return std::nullopt;
  return core::to_lower(s);
}

bool email_allowed(std::string_view address, std::span<const std::string> allow) {
  auto a = normalize_email(address);
  if (!a) return false;
  std::string_view domain = std::string_view(*a).substr(a->rfind('@') + 1);
  for (const auto& raw : allow) {
    auto e = core::to_lower(core::trim(raw));
    if (core::starts_with(e, "*@")) e = e.substr(1);
    if (!e.empty() && e[0] == '@') {
      if (e.substr(1) == domain) return true;
    } else if (e == *a) {
      return true;
    }
  }
  return false;
}

std::string rfc5322_date(int64_t t) {
  std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S +0000", &tm);
  return buf;
}

namespace {
// Printable text for a header or body: control characters (CR, LF, …) become spaces.
std::string sanitize(std::string_view s, size_t max = 200) {
  std::string o;
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    o += (u < 0x20 || u == 0x7f) ? ' ' : c;
    if (o.size() >= max) break;
  }
  return o;
}

bool plain_ascii(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u >= 0x20 && u < 0x7f;
  });
}

// "Subject: <text>" as one header, folded: plain when short ASCII, otherwise RFC 2047
// B-encoded words of at most 42 bytes each (never splitting a UTF-8 sequence), one per line.
std::string subject_header(std::string_view text) {
  std::string h = "Subject: ";
  if (plain_ascii(text) && h.size() + text.size() <= 78) return h + std::string(text) + "\n";
  size_t i = 0;
  bool first = true;
  while (i < text.size()) {
    size_t n = std::min<size_t>(42, text.size() - i);
    while (n > 1 && i + n < text.size() && (static_cast<unsigned char>(text[i + n]) & 0xC0) == 0x80)
      n--;
    h += first ? "" : "\n ";
    h += "=?UTF-8?B?" + core::base64(core::as_bytes(text.substr(i, n))) + "?=";
    first = false;
    i += n;
  }
  return h + "\n";
}

// "Name <addr>" or "addr"; the display name is plain ASCII without specials.
core::Result<std::string> mailbox(std::string_view s) {
  s = core::trim(s);
  auto lt = s.find('<');
  std::string_view name, addr = s;
  if (lt != std::string_view::npos) {
    if (s.back() != '>') return core::err(core::Errc::data, "bad mailbox \"" + sanitize(s) + "\"");
    name = core::trim(s.substr(0, lt));
    addr = s.substr(lt + 1, s.size() - lt - 2);
  }
  auto a = normalize_email(addr);
  if (!a) return core::err(core::Errc::data, "bad email address \"" + sanitize(addr) + "\"");
  for (char c : name)
    if (!plain_ascii(std::string_view(&c, 1)) ||
        std::string_view("\"<>()[]\\,;:@").find(c) != std::string_view::npos)
      return core::err(core::Errc::data, "bad display name \"" + sanitize(name) + "\"");
  return name.empty() ? *a : std::string(name) + " <" + *a + ">";
}
}  // namespace

core::Result<std::string> code_message(const CodeMail& m) {
  WARREN_TRY(from, mailbox(m.from));
  auto to = normalize_email(m.to);
  if (!to) return core::err(core::Errc::data, "bad email address \"" + sanitize(m.to) + "\"");
  if (!valid_domain(m.message_id_domain))
    return core::err(core::Errc::data, "bad message id domain");
  auto resource = sanitize(m.resource), host = sanitize(m.host);
  std::string code = normalize_code(m.code);
  if (code.size() != kCodeLength || code.find_first_not_of(kCodeAlphabet) != std::string::npos)
    return core::err(core::Errc::data, "bad code");
  std::string msg;
  msg += "From: " + from + "\n";
  msg += "To: " + *to + "\n";
  msg += subject_header("Your access code for " + resource);
  msg += "Date: " + rfc5322_date(m.now) + "\n";
  msg += "Message-ID: <" + crypto::random_token(16) + "@" + m.message_id_domain + ">\n";
  msg += "MIME-Version: 1.0\n";
  msg += "Content-Type: text/plain; charset=UTF-8\n";
  msg += "Content-Transfer-Encoding: 8bit\n";
  msg += "Auto-Submitted: auto-generated\n";
  msg += "\n";
  msg += "Your access code for " + resource + " (" + host + ") is:\n\n";
  msg += "    " + code.substr(0, 4) + "-" + code.substr(4) + "\n\n";
  msg += "It expires in 15 minutes and works once. If you did not ask for it, ignore this\n";
  msg += "message.\n";
  return msg;
}

// --- TOTP ------------------------------------------------------------------------------------

std::string base32(std::span<const uint8_t> b) {
  static const char* a = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  std::string o;
  uint32_t buf = 0;
  int bits = 0;
  for (uint8_t x : b) {
    buf = (buf << 8) | x;
    bits += 8;
    while (bits >= 5) {
      o += a[(buf >> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) o += a[(buf << (5 - bits)) & 31];
  return o;
}

std::optional<std::vector<uint8_t>> unbase32(std::string_view s) {
  std::vector<uint8_t> o;
  uint32_t buf = 0;
  int bits = 0;
  for (char c : s) {
    if (c == '=' || c == ' ' || c == '-') continue;
    int v;
    char u = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (u >= 'A' && u <= 'Z')
      v = u - 'A';
    else if (u >= '2' && u <= '7')
      v = u - '2' + 26;
    else
      return std::nullopt;
    buf = (buf << 5) | static_cast<uint32_t>(v);
    bits += 5;
    if (bits >= 8) {
      o.push_back(static_cast<uint8_t>(buf >> (bits - 8)));
      bits -= 8;
    }
  }
  return o;
}

std::string hotp(std::span<const uint8_t> secret, uint64_t counter, int digits) {
  digits = std::clamp(digits, 6, 8);
  uint8_t msg[8];
  for (int i = 7; i >= 0; i--, counter >>= 8) msg[i] = static_cast<uint8_t>(counter & 0xff);
  uint8_t mac[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  HMAC(EVP_sha1(), secret.data(), static_cast<int>(secret.size()), msg, sizeof msg, mac, &len);
  int off = mac[len - 1] & 0x0f;
  uint32_t bin = (static_cast<uint32_t>(mac[off] & 0x7f) << 24) |
                 (static_cast<uint32_t>(mac[off + 1]) << 16) |
                 (static_cast<uint32_t>(mac[off + 2]) << 8) | mac[off + 3];
  uint32_t mod = 1;
  for (int i = 0; i < digits; i++) mod *= 10;
  std::string s = std::to_string(bin % mod);
  return std::string(static_cast<size_t>(digits) - s.size(), '0') + s;
}

std::string totp(std::span<const uint8_t> secret, int64_t t, int digits, int step) {
  return hotp(secret, static_cast<uint64_t>(t < 0 ? 0 : t / step), digits);
}

std::optional<int64_t> verify_totp(std::span<const uint8_t> secret, std::string_view code,
                                   int64_t now, int64_t last_step, int digits, int step) {
  if (code.size() != static_cast<size_t>(digits) || secret.empty()) return std::nullopt;
  int64_t cur = now / step;
  std::optional<int64_t> hit;
  for (int64_t s = cur - 1; s <= cur + 1; s++) {  // every candidate, so timing is uniform
    if (s < 0) continue;
    if (crypto::equal(hotp(secret, static_cast<uint64_t>(s), digits), code) && !hit) hit = s;
  }
  if (hit && *hit <= last_step) return std::nullopt;
  return hit;
}

std::string otpauth_uri(std::string_view issuer, std::string_view account,
                        std::span<const uint8_t> secret) {
  return "otpauth://totp/" + url_encode(issuer) + ":" + url_encode(account) +
         "?secret=" + base32(secret) + "&issuer=" + url_encode(issuer) +
         "&algorithm=SHA1&digits=6&period=30";
}

}  // namespace auth
