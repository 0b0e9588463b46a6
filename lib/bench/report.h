// Report formatting for an HTTP load run: the human summary (with an ASCII latency histogram),
// the JSON document (schema in netbench(1)), and the per-second CSV timeline. Pure functions
// over a Summary; the caller writes the text where it belongs.
#pragma once

#include <string>
#include <vector>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "bench/histogram.h"
#include "bench/summary.h"
#include "bench/threshold.h"

namespace bench {

struct Checked {
  Threshold threshold;
  Verdict verdict;
};

// The percentiles every report shows.
inline constexpr double kPercentiles[] = {50, 75, 90, 95, 99, 99.9, 99.99};
// "p50", "p99.9", and the JSON key form "p99_9".
std::string percentile_label(double q);
std::string percentile_key(double q);

// Rows of an ASCII histogram: log-spaced latency ranges from min to max, a bar, share and
// cumulative share. rows <= 0 picks a sensible number. Empty string for an empty histogram.
std::string ascii_histogram(const Histogram& h, int rows = 0, int width = 40);

std::string format_text(const Summary& s, const std::vector<Checked>& checks);
boost::json::object to_json(const Summary& s, const std::vector<Checked>& checks);
std::string format_json(const Summary& s, const std::vector<Checked>& checks);
// second,requests,errors,bytes,rps,p50_ms,p90_ms,p99_ms,max_ms
std::string format_csv(const Summary& s);

// JSON text with numbers in their shortest plain form (1000, 0.25) — Boost 1.81 prints
// doubles as 1E3. One line, no trailing newline.
std::string json_text(const boost::json::value& v);

// Milliseconds rounded to 0.1 us, for JSON.
double ms(double ns);

}  // namespace bench
