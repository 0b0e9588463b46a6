#include "../support.h"

#include "bench/threshold.h"
#include "bench/units.h"

TEST_CASE("thresholds parse", "[bench]") {
  auto t = bench::parse_threshold("p99<5ms");
  REQUIRE(t);
  REQUIRE(t->metric == "p99");
  REQUIRE(t->percentile == 99);
  REQUIRE(t->op == bench::Threshold::Op::lt);
  REQUIRE(t->value == 5e6);
  t = bench::parse_threshold("p99.9 <= 250us");
  REQUIRE(t);
  REQUIRE(t->percentile == Approx(99.9));
  REQUIRE(t->op == bench::Threshold::Op::le);
  REQUIRE(t->value == 250e3);
  t = bench::parse_threshold("errors<0.1%");
  REQUIRE(t);
  REQUIRE(t->percent);
  REQUIRE(t->value == Approx(0.001));
  t = bench::parse_threshold("errors<10");
  REQUIRE(t);
  REQUIRE_FALSE(t->percent);
  t = bench::parse_threshold("rps>=1k");
  REQUIRE(t);
  REQUIRE(t->op == bench::Threshold::Op::ge);
  REQUIRE(t->value == 1000);
  REQUIRE(bench::parse_threshold("max<1s"));
  REQUIRE(bench::parse_threshold("mean<1.5ms"));
}

TEST_CASE("bad thresholds are usage errors that say why", "[bench]") {
  for (const char* bad : {"p99", "p99<", "p99<5", "p101<5ms", "latency<5ms", "rps>fast",
                          "errors<200%", "<5ms", "p99<5parsecs", "px<1ms"}) {
    INFO(bad);
    auto t = bench::parse_threshold(bad);
    REQUIRE_FALSE(t);
    REQUIRE(t.error().code == core::Errc::usage);
    REQUIRE(t.error().message.find("bad threshold") == 0);
  }
  REQUIRE(bench::parse_threshold("p99<5").error().message.find("needs a unit") !=
          std::string::npos);
}

TEST_CASE("thresholds check a summary", "[bench]") {
  bench::Summary s;
  s.duration_s = 2;
  for (int i = 0; i < 990; ++i) s.latency.record(1'000'000);  // 1 ms
  for (int i = 0; i < 10; ++i) s.latency.record(20'000'000);  // 20 ms
  s.requests = 1000;
  s.status[200] = 995;
  s.status[503] = 5;
  s.errors[static_cast<int>(bench::ErrorKind::timeout)] = 2;
  auto ok = [&](const char* text) { return bench::check(*bench::parse_threshold(text), s).ok; };
  REQUIRE(ok("p99<2ms"));
  REQUIRE_FALSE(ok("p99.9<2ms"));
  REQUIRE(ok("max<=20ms"));
  REQUIRE(ok("rps>499"));
  REQUIRE_FALSE(ok("rps>500"));
  REQUIRE(ok("errors<10"));  // 5 bad statuses + 2 timeouts
  REQUIRE_FALSE(ok("errors<7"));
  REQUIRE(ok("errors<1%"));  // 7 / 1002
  REQUIRE_FALSE(ok("errors<0.5%"));
  REQUIRE(ok("requests>=1000"));
  auto v = bench::check(*bench::parse_threshold("p99.9<2ms"), s);
  REQUIRE(v.shown == "20.0ms");
  bench::Summary empty;
  REQUIRE_FALSE(bench::check(*bench::parse_threshold("p99<1s"), empty).ok);
}

TEST_CASE("units parse and print", "[bench]") {
  REQUIRE(*bench::parse_nanos("250ms") == 250'000'000);
  REQUIRE(*bench::parse_nanos("1.5s") == 1'500'000'000);
  REQUIRE(*bench::parse_nanos("2") == 2'000'000'000);
  REQUIRE(*bench::parse_nanos("100us") == 100'000);
  REQUIRE(*bench::parse_nanos("1m") == 60'000'000'000);
  REQUIRE_FALSE(bench::parse_nanos("-1s"));
  REQUIRE_FALSE(bench::parse_nanos("1e3s"));
  REQUIRE_FALSE(bench::parse_nanos("fast"));
  REQUIRE_FALSE(bench::parse_nanos_strict("5"));
  REQUIRE(*bench::parse_size("16k") == 16384);
  REQUIRE(*bench::parse_size("1M") == 1048576);
  REQUIRE(*bench::parse_size("100") == 100);
  REQUIRE_FALSE(bench::parse_size("1.5"));
  REQUIRE_FALSE(bench::parse_size("12q"));
  REQUIRE(bench::format_nanos(710'000) == "710us");
  REQUIRE(bench::format_nanos(1'234'567) == "1.23ms");
  REQUIRE(bench::format_nanos(12'345'678) == "12.3ms");
  REQUIRE(bench::format_count(1234567) == "1,234,567");
  REQUIRE(bench::format_count(123) == "123");
  REQUIRE(bench::format_rate(81234.46) == "81,234.5");
  REQUIRE(bench::format_rate(0) == "0.0");
  REQUIRE(bench::format_bytes(9'870'000) == "9.87 MB");
}
