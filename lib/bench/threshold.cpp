#include "bench/threshold.h"

#include "bench/units.h"

namespace bench {

namespace {

bool is_latency(const std::string& m) {
  return m == "min" || m == "max" || m == "mean" || m == "stdev" || m[0] == 'p';
}

}  // namespace

core::Result<Threshold> parse_threshold(std::string_view text) {
  Threshold t;
  t.text = std::string(text);
  auto bad = [&](const std::string& why) {
    return core::Error(core::Errc::usage, "bad threshold \"" + t.text + "\": " + why);
  };
  size_t pos = text.find_first_of("<>");
  if (pos == std::string_view::npos) return bad("expected METRIC<VALUE or METRIC>VALUE");
  std::string metric(text.substr(0, pos));
  bool eq = pos + 1 < text.size() && text[pos + 1] == '=';
  t.op = text[pos] == '<' ? (eq ? Threshold::Op::le : Threshold::Op::lt)
                          : (eq ? Threshold::Op::ge : Threshold::Op::gt);
  std::string_view value = text.substr(pos + (eq ? 2 : 1));
  while (!metric.empty() && metric.back() == ' ') metric.pop_back();
  while (!metric.empty() && metric.front() == ' ') metric.erase(0, 1);
  while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  while (!value.empty() && value.back() == ' ') value.remove_suffix(1);
  if (value.empty()) return bad("missing value");
  t.metric = metric;

  if (metric.size() > 1 && metric[0] == 'p' && metric != "p") {
    auto q = parse_number(metric.substr(1));
    if (!q || *q > 100 || metric.find_first_of("kM") != std::string::npos)
      return bad("percentile must be p0..p100, e.g. p99 or p99.9");
    t.percentile = *q;
  } else if (!(metric == "min" || metric == "max" || metric == "mean" || metric == "stdev" ||
               metric == "rps" || metric == "errors" || metric == "requests")) {
    return bad("unknown metric \"" + metric +
               "\" (use pNN, min, max, mean, stdev, rps, errors, requests)");
  }

  if (is_latency(metric)) {
    auto ns = parse_nanos_strict(value);
    if (!ns) return bad("latency needs a unit, e.g. 5ms, 250us, 1s");
    t.value = static_cast<double>(*ns);
  } else if (metric == "errors" && value.back() == '%') {
    auto v = parse_number(value.substr(0, value.size() - 1));
    if (!v || *v > 100) return bad("error rate must be 0%..100%");
    t.percent = true;
    t.value = *v / 100.0;
  } else {
    auto v = parse_number(value);
    if (!v) return bad("expected a number");
    t.value = *v;
  }
  return t;
}

Verdict check(const Threshold& t, const Summary& s) {
  Verdict v;
  const std::string& m = t.metric;
  if (t.percentile >= 0) {
    v.actual = static_cast<double>(s.latency.percentile(t.percentile));
  } else if (m == "min") {
    v.actual = static_cast<double>(s.latency.min());
  } else if (m == "max") {
    v.actual = static_cast<double>(s.latency.max());
  } else if (m == "mean") {
    v.actual = s.latency.mean();
  } else if (m == "stdev") {
    v.actual = s.latency.stdev();
  } else if (m == "rps") {
    v.actual = s.rps();
  } else if (m == "requests") {
    v.actual = static_cast<double>(s.requests);
  } else if (m == "errors") {
    v.actual = t.percent ? s.error_rate() : static_cast<double>(s.error_total());
  }
  if (is_latency(m)) {
    v.shown = format_nanos(v.actual);
  } else if (m == "rps") {
    v.shown = format_rate(v.actual) + " req/s";
  } else if (t.percent) {
    v.shown = format_fixed(v.actual * 100.0, 3) + "%";
  } else {
    v.shown = format_count(static_cast<uint64_t>(v.actual));
  }
  // A latency threshold on a run with no responses cannot be met.
  if (is_latency(m) && s.latency.count() == 0) {
    v.ok = false;
    v.shown = "no responses";
    return v;
  }
  switch (t.op) {
    case Threshold::Op::lt:
      v.ok = v.actual < t.value;
      break;
    case Threshold::Op::le:
      v.ok = v.actual <= t.value;
      break;
    case Threshold::Op::gt:
      v.ok = v.actual > t.value;
      break;
    case Threshold::Op::ge:
      v.ok = v.actual >= t.value;
      break;
  }
  return v;
}

}  // namespace bench
