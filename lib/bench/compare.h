// bench::run_compare — `netbench compare`: starts the scenario's servers, runs the same load
// against every target interleaved (round 1: A B C, round 2: A B C, ...), stops the servers,
// and summarises each target by medians and spread with ratios to the baseline. The table and
// JSON formatting are pure functions over CompareResult.
#pragma once

#include <atomic>
#include <functional>
#include <string>
#include <vector>

#include <boost/json/object.hpp>

#include "bench/scenario.h"
#include "bench/summary.h"
#include "core/result.h"

namespace bench {

// The figures compare keeps from each run.
struct RunFigures {
  double rps = 0;
  double p50_ms = 0, p90_ms = 0, p99_ms = 0, p99_9_ms = 0, max_ms = 0;
  uint64_t requests = 0;
  uint64_t errors = 0;
  uint64_t behind = 0;
};
RunFigures figures_of(const Summary& s);

struct Stat {
  double median = 0, min = 0, max = 0;
  double spread_pct() const;  // half the range, as % of the median
};
Stat stat_of(std::vector<double> values);

struct TargetResult {
  std::string name;
  std::string url;
  std::vector<RunFigures> runs;
};

struct CompareResult {
  std::string scenario;
  int rounds = 0;
  std::string baseline;
  LoadOptions load;
  std::vector<TargetResult> targets;
};

// progress(line) gets one line per run ("round 1/3  direct  81,234 req/s  p99 0.91ms").
core::Result<CompareResult> run_compare(const Scenario& sc,
                                        const std::function<void(const std::string&)>& progress,
                                        const std::atomic<bool>* stop);

std::string format_compare_text(const CompareResult& r);
boost::json::object compare_to_json(const CompareResult& r);

}  // namespace bench
