#include "../support.h"

#include <algorithm>
#include <cmath>
#include <random>

#include "bench/histogram.h"

namespace {

// The sorted-array reference: the ceil(q/100*n)-th smallest sample.
uint64_t reference(const std::vector<uint64_t>& sorted, double q) {
  auto rank = static_cast<size_t>(std::ceil(q / 100.0 * static_cast<double>(sorted.size())));
  rank = std::clamp<size_t>(rank, 1, sorted.size());
  return sorted[rank - 1];
}

void check_against_reference(const std::vector<uint64_t>& samples, int bits) {
  bench::Histogram h(bits);
  for (uint64_t v : samples) h.record(v);
  std::vector<uint64_t> sorted = samples;
  std::sort(sorted.begin(), sorted.end());
  REQUIRE(h.count() == samples.size());
  REQUIRE(h.min() == sorted.front());
  REQUIRE(h.max() == sorted.back());
  for (double q : {0.0, 1.0, 10.0, 25.0, 50.0, 75.0, 90.0, 95.0, 99.0, 99.9, 99.99, 100.0}) {
    uint64_t want = reference(sorted, q);
    uint64_t got = h.percentile(q);
    double tol = static_cast<double>(want) * h.precision() + 1;
    INFO("q=" << q << " want=" << want << " got=" << got << " bits=" << bits);
    REQUIRE(got >= want);  // the bucket's highest equivalent value never under-reports
    REQUIRE(static_cast<double>(got - want) <= tol);
  }
}

}  // namespace

TEST_CASE("histogram percentiles match a sorted-array reference within its precision", "[bench]") {
  std::mt19937_64 rng(42);
  SECTION("log-normal latencies in nanoseconds") {
    std::lognormal_distribution<double> d(std::log(200'000.0), 1.0);
    std::vector<uint64_t> v;
    for (int i = 0; i < 200'000; ++i) v.push_back(static_cast<uint64_t>(d(rng)));
    check_against_reference(v, 11);
    check_against_reference(v, 6);
  }
  SECTION("uniform over a wide range, and small values that are exact") {
    std::uniform_int_distribution<uint64_t> d(0, 5'000'000'000ull);
    std::vector<uint64_t> v;
    for (int i = 0; i < 50'000; ++i) v.push_back(d(rng));
    for (uint64_t i = 0; i < 100; ++i) v.push_back(i);
    check_against_reference(v, 11);
  }
  SECTION("bimodal: a stall hides in the tail") {
    std::vector<uint64_t> v(9'900, 50'000);
    for (int i = 0; i < 100; ++i) v.push_back(100'000'000);
    check_against_reference(v, 11);
    bench::Histogram h;
    for (uint64_t x : v) h.record(x);
    REQUIRE(h.percentile(99) < 60'000);
    REQUIRE(h.percentile(99.5) >= 100'000'000);
  }
}

TEST_CASE("histogram merge equals recording everything in one", "[bench]") {
  bench::Histogram a, b, all;
  for (uint64_t i = 1; i < 100'000; i += 7) {
    (i % 2 ? a : b).record(i * 13);
    all.record(i * 13);
  }
  a.merge(b);
  REQUIRE(a.count() == all.count());
  REQUIRE(a.min() == all.min());
  REQUIRE(a.max() == all.max());
  REQUIRE(a.mean() == Approx(all.mean()));
  REQUIRE(a.stdev() == Approx(all.stdev()));
  for (double q : {50.0, 90.0, 99.0, 99.99}) REQUIRE(a.percentile(q) == all.percentile(q));
  bench::Histogram low(6);
  low.merge(all);  // different precision: re-recorded
  REQUIRE(low.count() == all.count());
  REQUIRE(low.max() == all.max());
  REQUIRE(
      std::abs(static_cast<double>(low.percentile(50)) - static_cast<double>(all.percentile(50))) <=
      static_cast<double>(all.percentile(50)) * (low.precision() + all.precision()));
}

TEST_CASE("histogram edge cases", "[bench]") {
  bench::Histogram h;
  REQUIRE(h.percentile(99) == 0);
  REQUIRE(h.mean() == 0);
  h.record(UINT64_MAX);  // clamped into the top bucket, max exact
  REQUIRE(h.max() == UINT64_MAX);
  REQUIRE(h.percentile(50) == UINT64_MAX);
  h.clear();
  h.record_n(1000, 3);
  REQUIRE(h.count() == 3);
  REQUIRE(h.stdev() == 0);
  REQUIRE(h.percentile(100) == 1000);
  REQUIRE(h.count_at_or_below(999) == 0);
  REQUIRE(h.count_at_or_below(1000) == 3);
  REQUIRE(h.precision() == Approx(1.0 / 1024));
}
