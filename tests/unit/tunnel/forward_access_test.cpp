// The access decision of raw forwards (tunnel/access.h): address and country rules, the
// per-source rate and connection limits, all with an injected clock.
#include "../support.h"
#include "tunnel/access.h"

using namespace tunnel;

namespace {

auth::IpAddr ip(const char* s) {
  auto a = auth::parse_ip(s);
  REQUIRE(a);
  return *a;
}

ForwardAccess access(const char* allow, const char* deny, const char* allow_cc = "",
                     const char* deny_cc = "", int64_t max_conns = 0, int64_t rate = 0,
                     int64_t burst = 0) {
  auto a = make_forward_access(allow, deny, allow_cc, deny_cc, max_conns, rate, burst, false);
  REQUIRE(a);
  return *a;
}

}  // namespace

TEST_CASE("forward access parses its store columns and refuses bad ones", "[tunnel][forward]") {
  auto a =
      make_forward_access("10.0.0.0/8 2001:db8::/32", "10.1.0.0/16", "de,fr", "cn", 3, 5, 10, true);
  REQUIRE(a);
  CHECK(a->allow.size() == 2);
  CHECK(a->deny.size() == 1);
  CHECK(a->allow_country == std::vector<std::string>{"DE", "FR"});
  CHECK(a->deny_country == std::vector<std::string>{"CN"});
  CHECK(a->max_conns == 3);
  CHECK(a->rate == 5);
  CHECK(a->burst == 10);
  CHECK(a->tls);
  CHECK_FALSE(a->open());
  CHECK(make_forward_access("", "", "", "", 0, 0, 0, false)->open());

  auto bad = make_forward_access("10.0.0.1/8", "", "", "", 0, 0, 0, false);
  REQUIRE_FALSE(bad);
  CHECK(bad.error().code == core::Errc::data);
  CHECK(bad.error().message.find("host bits set") != std::string::npos);
  CHECK_FALSE(make_forward_access("", "nope", "", "", 0, 0, 0, false));
  CHECK_FALSE(make_forward_access("", "", "DEU", "", 0, 0, 0, false));
  CHECK_FALSE(make_forward_access("", "", "", "1A", 0, 0, 0, false));
  CHECK_FALSE(make_forward_access("", "", "", "", -1, 0, 0, false));
  CHECK_FALSE(make_forward_access("", "", "", "", 0, 2000000, 0, false));
  CHECK(check_country("de").value() == "DE");
}

TEST_CASE("deny wins over allow; allow lists refuse everyone else", "[tunnel][forward]") {
  auto none = access("", "");
  CHECK(check_address(none, ip("203.0.113.9"), "") == Refusal::none);

  auto a = access("10.0.0.0/8 2001:db8::/32", "10.66.0.0/16");
  CHECK(check_address(a, ip("10.1.2.3"), "") == Refusal::none);
  CHECK(check_address(a, ip("10.66.0.1"), "") == Refusal::denied);  // deny first
  CHECK(check_address(a, ip("192.0.2.1"), "") == Refusal::not_allowed);
  CHECK(check_address(a, ip("2001:db8::5"), "") == Refusal::none);
  CHECK(check_address(a, ip("2001:db9::5"), "") == Refusal::not_allowed);
  // An IPv4-mapped IPv6 source is its IPv4 address (as accept() reports it on a v6 socket).
  CHECK(check_address(a, ip("::ffff:10.66.1.1"), "") == Refusal::denied);
  CHECK(check_address(a, ip("::ffff:10.9.9.9"), "") == Refusal::none);

  auto d = access("", "127.0.0.2 192.0.2.0/24");
  CHECK(check_address(d, ip("127.0.0.1"), "") == Refusal::none);
  CHECK(check_address(d, ip("127.0.0.2"), "") == Refusal::denied);
  CHECK(check_address(d, ip("192.0.2.200"), "") == Refusal::denied);
}

TEST_CASE("country rules need a known country", "[tunnel][forward]") {
  auto allow = access("", "", "DE");
  CHECK(check_address(allow, ip("192.0.2.1"), "DE") == Refusal::none);
  CHECK(check_address(allow, ip("192.0.2.1"), "FR") == Refusal::not_allowed);
  CHECK(check_address(allow, ip("192.0.2.1"), "") == Refusal::not_allowed);  // fail closed

  auto deny = access("", "", "", "CN");
  CHECK(check_address(deny, ip("192.0.2.1"), "CN") == Refusal::denied);
  CHECK(check_address(deny, ip("192.0.2.1"), "") == Refusal::none);

  // An address allow or a country allow is enough; any deny refuses.
  auto both = access("10.0.0.0/8", "", "DE", "");
  CHECK(check_address(both, ip("10.0.0.1"), "") == Refusal::none);
  CHECK(check_address(both, ip("192.0.2.1"), "DE") == Refusal::none);
  CHECK(check_address(both, ip("192.0.2.1"), "US") == Refusal::not_allowed);
  auto deny_cc = access("10.0.0.0/8", "", "", "DE");
  CHECK(check_address(deny_cc, ip("10.0.0.1"), "DE") == Refusal::denied);
}

TEST_CASE("max_conns counts open connections per source address", "[tunnel][forward]") {
  auto a = access("", "", "", "", 2);
  SourceTable t;
  auto x = ip("10.0.0.1"), y = ip("10.0.0.2");
  CHECK(t.admit(a, x, "", 0) == Refusal::none);
  CHECK(t.admit(a, x, "", 0) == Refusal::none);
  CHECK(t.admit(a, x, "", 0) == Refusal::max_conns);
  CHECK(t.admit(a, y, "", 0) == Refusal::none);  // another source has its own count
  CHECK(t.conns(x) == 2);
  CHECK(t.open_total() == 3);
  t.release(x);
  CHECK(t.admit(a, x, "", 10) == Refusal::none);
  CHECK(t.admit(a, x, "", 10) == Refusal::max_conns);
  // A release of nothing counted changes nothing.
  t.release(ip("10.9.9.9"));
  CHECK(t.open_total() == 3);
  // Sources with open connections survive the sweep; idle ones go.
  t.release(y);
  t.sweep(a, 5000);
  CHECK(t.size() == 1);
  CHECK(t.conns(x) == 2);
}

TEST_CASE("the rate limit is a token bucket per source", "[tunnel][forward]") {
  auto a = access("", "", "", "", 0, 2, 3);  // 2/s, burst 3
  SourceTable t;
  auto x = ip("2001:db8::1"), y = ip("2001:db8::2");
  int64_t now = 1000000;
  CHECK(t.admit(a, x, "", now) == Refusal::none);
  CHECK(t.admit(a, x, "", now) == Refusal::none);
  CHECK(t.admit(a, x, "", now) == Refusal::none);
  CHECK(t.admit(a, x, "", now) == Refusal::rate);
  CHECK(t.admit(a, y, "", now) == Refusal::none);
  CHECK(t.admit(a, x, "", now + 499) == Refusal::rate);  // 0.998 tokens
  CHECK(t.admit(a, x, "", now + 500) == Refusal::none);  // one token after 500 ms
  CHECK(t.admit(a, x, "", now + 500) == Refusal::rate);
  // Refused attempts do not feed the bucket; waiting does, up to the burst.
  CHECK(t.admit(a, x, "", now + 10000) == Refusal::none);
  CHECK(t.admit(a, x, "", now + 10000) == Refusal::none);
  CHECK(t.admit(a, x, "", now + 10000) == Refusal::none);
  CHECK(t.admit(a, x, "", now + 10000) == Refusal::rate);
  // The clock going back does not lock a source out.
  CHECK(t.admit(a, x, "", now - 5000) == Refusal::none);

  // Burst 0 means the rate itself; a connection beyond max_conns still used a token.
  auto b = access("", "", "", "", 1, 1, 0);
  SourceCounters c;
  CHECK(admit(b, x, "", c, 0) == Refusal::none);
  CHECK(admit(b, x, "", c, 2000) == Refusal::max_conns);
  CHECK(admit(b, x, "", c, 2000) == Refusal::rate);
}

TEST_CASE("address refusals leave no per-source state behind", "[tunnel][forward]") {
  auto a = access("10.0.0.0/8", "", "", "", 1, 1);
  SourceTable t;
  for (int i = 0; i < 1000; ++i) {
    auth::IpAddr src = ip("192.0.2.0");
    src.b[2] = uint8_t(i >> 8);
    src.b[3] = uint8_t(i);
    CHECK(t.admit(a, src, "", i) == Refusal::not_allowed);
  }
  CHECK(t.size() == 0);
  CHECK(std::string(refusal_name(Refusal::max_conns)) == "max_conns");
  CHECK(std::string(refusal_name(Refusal::none)).empty());
}
