// bench::Threshold — a pass/fail condition on a run, parsed from text such as "p99<5ms",
// "p99.9<=20ms", "errors<0.1%", "errors<10", "rps>1000", "max<1s". check() evaluates it on a
// Summary; netbench exits 1 when any threshold is breached. Pure functions.
#pragma once

#include <string>
#include <string_view>

#include "bench/summary.h"
#include "core/result.h"

namespace bench {

struct Threshold {
  enum class Op { lt, le, gt, ge };
  std::string text;        // as given, for messages
  std::string metric;      // "p99.9", "min", "max", "mean", "stdev", "rps", "errors", "requests"
  double percentile = -1;  // for "pNN"
  Op op = Op::lt;
  double value = 0;      // latencies in ns; errors as a fraction when percent, else a count
  bool percent = false;  // "errors<0.1%"
};

// Errors: Errc::usage with "bad threshold "…": why".
core::Result<Threshold> parse_threshold(std::string_view text);

struct Verdict {
  bool ok = true;
  double actual = 0;  // same unit as Threshold::value
  std::string shown;  // the actual value for people: "7.12ms", "0.52%", "812 req/s"
};
Verdict check(const Threshold& t, const Summary& s);

}  // namespace bench
