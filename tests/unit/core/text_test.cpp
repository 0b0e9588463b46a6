#include "../support.h"

#include "core/text.h"

TEST_CASE("durations parse with units and reject junk", "[core]") {
  REQUIRE(*core::parse_duration("30") == 30);
  REQUIRE(*core::parse_duration("15m") == 900);
  REQUIRE(*core::parse_duration("2h") == 7200);
  REQUIRE(*core::parse_duration("90d") == 90 * 86400);
  REQUIRE_FALSE(core::parse_duration("abc"));
  REQUIRE_FALSE(core::parse_duration("-5m"));
  REQUIRE_FALSE(core::parse_duration(""));
  REQUIRE(core::parse_duration("x").error().code == core::Errc::usage);
}

TEST_CASE("rfc3339 round trip", "[core]") {
  REQUIRE(core::rfc3339(0) == "1970-01-01T00:00:00Z");
  REQUIRE(*core::parse_rfc3339("2026-11-23T02:00:00Z") == 1795399200);
  REQUIRE_FALSE(core::parse_rfc3339("2026-11-23"));
}

TEST_CASE("hex and base64url", "[core]") {
  std::vector<uint8_t> b{0xfb, 0xff, 0x00};
  REQUIRE(core::hex(b) == "fbff00");
  REQUIRE(*core::unhex("FBff00") == b);
  REQUIRE_FALSE(core::unhex("abc"));
  REQUIRE(core::base64url(b) == "-_8A");
  REQUIRE(*core::unbase64url("-_8A") == b);
  REQUIRE(core::base64(b) == "+/8A");
  REQUIRE(core::split("a,,b", ',').size() == 2);
  REQUIRE(core::split("a,,b", ',', false).size() == 3);
}
