// flow values: Go-compatible JSON numbers, %v / %T text, durations, times.
#include "../support.h"

#include "flow/value.h"

using flow::Value;

TEST_CASE("to_json prints numbers as Go's encoding/json prints a float64") {
  auto j = [](double d) { return flow::to_json(Value(d)); };
  CHECK(j(15) == "15");
  CHECK(j(-2.5) == "-2.5");
  CHECK(j(0.1) == "0.1");
  CHECK(j(0.1 + 0.2) == "0.30000000000000004");
  CHECK(j(1e20) == "100000000000000000000");
  CHECK(j(1e21) == "1e+21");
  CHECK(j(1.5e21) == "1.5e+21");
  CHECK(j(0.000001) == "0.000001");
  CHECK(j(1e-7) == "1e-7");
  CHECK(j(123456789012345678.0) == "123456789012345680");
  CHECK(j(0) == "0");
  CHECK(flow::to_json(Value(std::nan(""))) == "null");
  CHECK(flow::to_json(Value(int64_t{3})) == "3");
}

TEST_CASE("to_json sorts object keys and escapes strings without HTML escaping") {
  auto v = flow::parse_json(R"({"b":1,"a":[true,null,"x<y"],"\u00e9":"\n\t\u0001"})");
  REQUIRE(v);
  CHECK(flow::to_json(*v) == "{\"a\":[true,null,\"x<y\"],\"b\":1,\"\xc3\xa9\":\"\\n\\t\\u0001\"}");
  CHECK(flow::to_json_pretty(*v) ==
        "{\n  \"a\": [\n    true,\n    null,\n    \"x<y\"\n  ],\n  \"b\": 1,\n  \"\xc3\xa9\": "
        "\"\\n\\t\\u0001\"\n}");
  CHECK(flow::to_json_pretty(flow::Object()) == "{}");
}

TEST_CASE("parse_json turns every number into a double") {
  auto v = flow::parse_json("[1, 18446744073709551615, -3, 2.5]");
  REQUIRE(v);
  for (auto& e : v->get_array()) CHECK(e.is_double());
  std::string err;
  CHECK_FALSE(flow::parse_json("{", &err));
  CHECK_FALSE(err.empty());
}

TEST_CASE("go_sprint and go_type give Go's %v and %T") {
  CHECK(flow::go_sprint(Value(1e6)) == "1e+06");
  CHECK(flow::go_sprint(Value(123456.0)) == "123456");
  CHECK(flow::go_sprint(Value(1234567.0)) == "1.234567e+06");
  CHECK(flow::go_sprint(Value(0.00001)) == "1e-05");
  CHECK(flow::go_sprint(Value(0.0001)) == "0.0001");
  CHECK(flow::go_sprint(Value(2.5)) == "2.5");
  CHECK(flow::go_sprint(Value()) == "<nil>");
  CHECK(flow::go_sprint(*flow::parse_json(R"({"b":[1,"x"],"a":true})")) == "map[a:true b:[1 x]]");
  CHECK(flow::go_type(Value(1.0)) == "float64");
  CHECK(flow::go_type(Value(int64_t{1})) == "int");
  CHECK(flow::go_type(Value()) == "<nil>");
  CHECK(flow::go_type(flow::Object()) == "map[string]interface {}");
  CHECK(flow::go_type(flow::Array()) == "[]interface {}");
}

TEST_CASE("Go durations: parse and print") {
  using flow::go_duration;
  using flow::parse_go_duration;
  CHECK(parse_go_duration("1h30m") == 5400'000'000'000LL);
  CHECK(parse_go_duration("1.5s") == 1'500'000'000LL);
  CHECK(parse_go_duration("250ms") == 250'000'000LL);
  CHECK(parse_go_duration("10us") == 10'000LL);
  CHECK(parse_go_duration("-2s") == -2'000'000'000LL);
  CHECK(parse_go_duration("0") == 0);
  CHECK_FALSE(parse_go_duration("5"));
  CHECK_FALSE(parse_go_duration("5 s"));
  CHECK_FALSE(parse_go_duration("s"));
  CHECK_FALSE(parse_go_duration("1d"));
  CHECK(flow::parse_flow_duration("25") == 25'000'000LL);  // plain milliseconds
  CHECK_FALSE(flow::parse_flow_duration("1.5"));
  CHECK(go_duration(0) == "0s");
  CHECK(go_duration(1'500'000'000LL) == "1.5s");
  CHECK(go_duration(300'000'000LL) == "300ms");
  CHECK(go_duration(90'000'000'000LL) == "1m30s");
  CHECK(go_duration(7200'000'000'000LL) == "2h0m0s");
  CHECK(go_duration(1500) == "1.5\xc2\xb5s");
  CHECK(go_duration(42) == "42ns");
  CHECK(go_duration(-1'000'000'000LL) == "-1s");
}

TEST_CASE("times: RFC 3339 in and out, UTC") {
  CHECK(flow::parse_time("2024-01-01T00:00:00Z") == 1704067200'000'000'000LL);
  CHECK(flow::parse_time("2024-01-01T02:00:00+02:00") == 1704067200'000'000'000LL);
  CHECK(flow::parse_time("2024-01-01") == 1704067200'000'000'000LL);
  CHECK(flow::parse_time("2024-01-01 00:00:01") == 1704067201'000'000'000LL);
  CHECK(flow::parse_time("2024-01-01T00:00:00.25Z") == 1704067200'250'000'000LL);
  CHECK_FALSE(flow::parse_time("2024-13-01"));
  CHECK_FALSE(flow::parse_time("yesterday"));
  CHECK(flow::rfc3339_utc(1500'000'000LL) == "1970-01-01T00:00:01.5Z");
  CHECK(flow::rfc3339_utc(0) == "1970-01-01T00:00:00Z");
}
