#include <set>

#include "../support.h"
#include "auth/otp.h"
#include "core/text.h"

using namespace auth;

namespace {
std::vector<uint8_t> bytes(std::string_view s) {
  return {s.begin(), s.end()};
}
}  // namespace

TEST_CASE("TOTP matches the RFC 6238 SHA-1 test vectors", "[auth]") {
  auto key = bytes("12345678901234567890");
  struct V {
    int64_t t;
    const char* code;
  };
  for (auto [t, code] :
       {V{59, "94287082"}, V{1111111109, "07081804"}, V{1111111111, "14050471"},
        V{1234567890, "89005924"}, V{2000000000, "69279037"}, V{20000000000, "65353130"}})
    REQUIRE(totp(key, t, 8) == code);
  // RFC 4226 appendix D HOTP values (6 digits).
  const char* hotps[] = {"755224", "287082", "359152", "969429", "338314",
                         "254676", "287922", "162583", "399871", "520489"};
  for (uint64_t i = 0; i < 10; i++) REQUIRE(hotp(key, i) == hotps[i]);
}

TEST_CASE("TOTP verification: ±1 step, no replay, wrong length refused", "[auth]") {
  auto key = bytes("12345678901234567890");
  const int64_t now = 1111111111;  // step 37037037
  auto code = totp(key, now);
  REQUIRE(verify_totp(key, code, now) == now / 30);
  REQUIRE(verify_totp(key, totp(key, now - 30), now) == now / 30 - 1);
  REQUIRE(verify_totp(key, totp(key, now + 30), now) == now / 30 + 1);
  REQUIRE_FALSE(verify_totp(key, totp(key, now - 60), now));
  REQUIRE_FALSE(verify_totp(key, totp(key, now + 60), now));
  REQUIRE_FALSE(verify_totp(key, code, now, now / 30));  // already used: replay
  REQUIRE_FALSE(verify_totp(key, code.substr(1), now));
  REQUIRE_FALSE(verify_totp(key, "", now));
  REQUIRE_FALSE(verify_totp({}, code, now));
}

TEST_CASE("base32 round-trips and otpauth URIs name the secret", "[auth]") {
  auto key = bytes("12345678901234567890");
  REQUIRE(base32(key) == "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
  REQUIRE(unbase32("gezd gnbv gy3t qojq gezd gnbv gy3t qojq") == key);
  REQUIRE(base32(bytes("f")) == "MY");  // RFC 4648 vectors, unpadded
  REQUIRE(base32(bytes("foobar")) == "MZXW6YTBOI");
  REQUIRE(unbase32("MZXW6YTBOI======") == bytes("foobar"));
  REQUIRE_FALSE(unbase32("MZXW1"));
  REQUIRE(otpauth_uri("Warren", "alice@example.com", key) ==
          "otpauth://totp/Warren:alice%40example.com?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
          "&issuer=Warren&algorithm=SHA1&digits=6&period=30");
}

TEST_CASE("email codes: 8 unambiguous characters, 15 minutes, limited attempts", "[auth]") {
  std::set<std::string> seen;
  for (int i = 0; i < 200; i++) {
    auto c = new_email_code();
    REQUIRE(c.size() == 8);
    REQUIRE(c.find_first_not_of(kCodeAlphabet) == std::string::npos);
    seen.insert(c);
  }
  REQUIRE(seen.size() == 200);
  const int64_t now = 1795399200;
  auto ec = make_email_code("bob@example.com", "ABCD2345", now);
  REQUIRE(ec.expires_at == now + 900);
  REQUIRE(ec.code_hash.size() == 64);
  REQUIRE(ec.code_hash.find("ABCD") == std::string::npos);
  REQUIRE(check_email_code(ec, "ABCD2345", now) == CodeCheck::ok);
  REQUIRE(check_email_code(ec, "abcd-2345", now + 899) == CodeCheck::ok);
  REQUIRE(check_email_code(ec, " abcd 2345 ", now) == CodeCheck::ok);
  REQUIRE(check_email_code(ec, "ABCD2346", now) == CodeCheck::wrong);
  REQUIRE(check_email_code(ec, "", now) == CodeCheck::wrong);
  REQUIRE(check_email_code(ec, "ABCD2345", now + 900) == CodeCheck::expired);
  // The same code for another address does not match (the hash binds the address).
  auto other = make_email_code("eve@example.com", "ABCD2345", now);
  REQUIRE(other.code_hash != ec.code_hash);
  ec.attempts = kCodeAttempts;
  REQUIRE(check_email_code(ec, "ABCD2345", now) == CodeCheck::exhausted);
  ec.attempts = 0;
  ec.used = true;
  REQUIRE(check_email_code(ec, "ABCD2345", now) == CodeCheck::used);
}

TEST_CASE("email addresses and the allow list", "[auth]") {
  REQUIRE(normalize_email("Bob.Smith+x@Example.COM") == "bob.smith+x@example.com");
  for (auto bad : {"", "bob", "@example.com", "bob@", "bob@localhost", "bob@@example.com",
                   "bob smith@example.com", "bob@exa mple.com", "bob@example.com\r\nBcc: x@y.z",
                   ".bob@example.com", "bo..b@example.com", "bob@-example.com", "\"b\"@example.com",
                   "bob@example..com", "bob@example.com>", "<bob@example.com>"})
    REQUIRE_FALSE(normalize_email(bad));
  std::vector<std::string> allow = {"alice@example.com", "@team.example.org", "*@corp.example"};
  REQUIRE(email_allowed("ALICE@example.com", allow));
  REQUIRE_FALSE(email_allowed("alice2@example.com", allow));
  REQUIRE(email_allowed("anyone@team.example.org", allow));
  REQUIRE_FALSE(email_allowed("anyone@evil.team.example.org", allow));  // exact domain only
  REQUIRE_FALSE(email_allowed("anyone@team.example.org.evil", allow));
  REQUIRE(email_allowed("x@corp.example", allow));
  REQUIRE_FALSE(email_allowed("x@corp.example\r\n", allow));
  REQUIRE_FALSE(email_allowed("alice@example.com", {}));
}

TEST_CASE("the code message is RFC 5322 text with no header injection", "[auth]") {
  CodeMail m{"Warren <warren@example.com>",
             "Bob@Example.com",
             "wiki",
             "wiki.example.com",
             "ABCD2345",
             1795399200};
  auto msg = code_message(m);
  REQUIRE(msg);
  auto head = msg->substr(0, msg->find("\n\n"));
  auto body = msg->substr(msg->find("\n\n") + 2);
  REQUIRE(head.rfind("From: Warren <warren@example.com>\nTo: bob@example.com\n"
                     "Subject: Your access code for wiki\nDate: Mon, 23 Nov 2026 02:00:00 +0000\n"
                     "Message-ID: <",
                     0) == 0);
  REQUIRE(head.find("\nContent-Type: text/plain; charset=UTF-8") != std::string::npos);
  REQUIRE(body.find("    ABCD-2345\n") != std::string::npos);
  REQUIRE(body.find("wiki.example.com") != std::string::npos);
  REQUIRE(msg->find('\r') == std::string::npos);

  // Injection attempts: a resource name with CR/LF stays inside the Subject line; addresses
  // with CR/LF or extra recipients are refused.
  m.resource = "wiki\r\nBcc: victim@example.com";
  msg = code_message(m);
  REQUIRE(msg);
  head = msg->substr(0, msg->find("\n\n"));
  for (auto& line : core::split(head, '\n')) {
    bool known = false;
    for (auto h : {"From: ", "To: ", "Subject: ", "Date: ", "Message-ID: ", "MIME-Version: ",
                   "Content-Type: ", "Content-Transfer-Encoding: ", "Auto-Submitted: ", " "})
      known = known || line.rfind(h, 0) == 0;
    REQUIRE(known);
    REQUIRE(line.size() <= 78);
  }
  REQUIRE(head.find("\nBcc:") == std::string::npos);
  m.resource = "wiki";
  for (auto to : {"bob@example.com\nBcc: x@example.com", "bob@example.com, eve@example.com",
                  "Bob <bob@example.com>"}) {
    m.to = to;
    auto r = code_message(m);
    REQUIRE_FALSE(r);
    REQUIRE(r.error().code == core::Errc::data);
  }
  m.to = "bob@example.com";
  m.from = "Evil\r\nBcc: x@y.com <w@example.com>";
  REQUIRE_FALSE(code_message(m));
  m.from = "warren@example.com";
  REQUIRE(code_message(m));

  // Non-ASCII or long subjects become folded RFC 2047 encoded words, each line under 78.
  m.resource = std::string("Ünïcødé wiki ") + std::string(100, 'x') + "€";
  msg = code_message(m);
  REQUIRE(msg);
  head = msg->substr(0, msg->find("\n\n"));
  auto s = head.find("Subject: =?UTF-8?B?");
  REQUIRE(s != std::string::npos);
  std::string decoded;
  for (auto& line : core::split(head.substr(s), '\n')) {
    REQUIRE(line.size() <= 78);
    if (line.rfind("Subject: ", 0) != 0 && line[0] != ' ') break;
    auto b = line.find("=?UTF-8?B?") + 10;
    auto raw = core::unbase64(line.substr(b, line.rfind("?=") - b));
    REQUIRE(raw);
    decoded.append(raw->begin(), raw->end());
  }
  REQUIRE(decoded == "Your access code for " + m.resource);
  REQUIRE(rfc5322_date(0) == "Thu, 01 Jan 1970 00:00:00 +0000");
}
