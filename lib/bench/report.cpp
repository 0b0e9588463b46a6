#include "bench/report.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>

#include <boost/json.hpp>

#include "bench/units.h"

namespace bench {

namespace json = boost::json;

double ms(double ns) {
  return std::round(ns / 100.0) / 1e4;
}

std::string percentile_label(double q) {
  std::string s = format_fixed(q, 2);
  while (s.back() == '0') s.pop_back();
  if (s.back() == '.') s.pop_back();
  return "p" + s;
}

std::string percentile_key(double q) {
  std::string s = percentile_label(q);
  std::replace(s.begin(), s.end(), '.', '_');
  return s;
}

std::string ascii_histogram(const Histogram& h, int rows, int width) {
  if (h.count() == 0) return "";
  double lo = static_cast<double>(std::max<uint64_t>(h.min(), 1));
  double hi = static_cast<double>(std::max<uint64_t>(h.max(), h.min() + 1));
  double span = std::log(hi / lo);
  if (rows <= 0) rows = std::clamp(static_cast<int>(span / std::log(1.25)) + 1, 1, 16);
  // Upper edges of the rows; the last row ends at max.
  std::vector<uint64_t> upper(rows), counts(rows);
  uint64_t below = 0;
  for (int i = 0; i < rows; ++i) {
    double e = lo * std::exp(span * (i + 1) / rows);
    upper[i] = i + 1 == rows ? h.max() : static_cast<uint64_t>(e);
    uint64_t at = i + 1 == rows ? h.count() : h.count_at_or_below(upper[i]);
    counts[i] = at >= below ? at - below : 0;
    below = std::max(below, at);
  }
  uint64_t peak = *std::max_element(counts.begin(), counts.end());
  std::string out;
  uint64_t cum = 0;
  double from = static_cast<double>(h.min());
  for (int i = 0; i < rows; ++i) {
    cum += counts[i];
    int bar = peak ? static_cast<int>(std::lround(static_cast<double>(counts[i]) * width /
                                                  static_cast<double>(peak)))
                   : 0;
    if (counts[i] && bar == 0) bar = 1;
    char line[256];
    std::snprintf(line, sizeof line, "  %8s - %-8s |%-*s| %6.2f%% %7.2f%%\n",
                  format_nanos(from).c_str(), format_nanos(static_cast<double>(upper[i])).c_str(),
                  width, std::string(static_cast<size_t>(bar), '#').c_str(),
                  100.0 * static_cast<double>(counts[i]) / static_cast<double>(h.count()),
                  100.0 * static_cast<double>(cum) / static_cast<double>(h.count()));
    out += line;
    from = static_cast<double>(upper[i]);
  }
  return out;
}

namespace {

std::string plural(int n, const char* one, const char* many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

}  // namespace

std::string format_text(const Summary& s, const std::vector<Checked>& checks) {
  std::string o;
  o += "Target     ";
  for (size_t i = 0; i < s.urls.size(); ++i) o += (i ? " " : "") + s.urls[i];
  o += "\nLoad       " + plural(s.threads, "thread", "threads") + ", " +
       plural(s.connections, "connection", "connections") + ", " +
       (s.open_loop ? "open loop at " + format_fixed(s.rate, 0) + " req/s" : "closed loop") + ", " +
       (s.keepalive ? "keep-alive" : "new connection per request");
  if (s.warmup_s > 0) o += ", " + format_fixed(s.warmup_s, 1) + "s warm-up";
  o += "\n\n";
  o += "Requests   " + format_count(s.requests) + " in " + format_fixed(s.duration_s, 2) +
       "s = " + format_rate(s.rps()) + " req/s, " +
       format_bytes(s.duration_s > 0 ? static_cast<double>(s.bytes_read) / s.duration_s : 0) +
       "/s read\n";
  const Histogram& h = s.latency;
  if (h.count()) {
    o += "Latency    mean " + format_nanos(h.mean()) + ", stdev " + format_nanos(h.stdev()) +
         ", min " + format_nanos(static_cast<double>(h.min())) + ", max " +
         format_nanos(static_cast<double>(h.max())) + "\n";
    o += "Percentile";
    for (double q : kPercentiles)
      o += " " + percentile_label(q) + " " + format_nanos(static_cast<double>(h.percentile(q)));
    o += "\n";
  } else {
    o += "Latency    no responses\n";
  }
  o += "Status    ";
  if (s.status.empty()) o += " none";
  for (const auto& [code, n] : s.status) o += " " + std::to_string(code) + ": " + format_count(n);
  o += "\nErrors    ";
  if (s.transport_errors() == 0 && s.bad_status() == 0) o += " none";
  for (int i = 0; i < kErrorKinds; ++i)
    if (s.errors[i])
      o += std::string(" ") + error_kind_name(static_cast<ErrorKind>(i)) + " " +
           format_count(s.errors[i]);
  if (s.bad_status()) o += " status " + format_count(s.bad_status());
  if (s.error_total()) o += " (" + format_fixed(s.error_rate() * 100, 2) + "%)";
  o += "\n";
  if (!s.first_error.empty()) o += "           first: " + s.first_error + "\n";
  if (s.open_loop) {
    double share =
        s.scheduled ? 100.0 * static_cast<double>(s.behind) / static_cast<double>(s.scheduled) : 0;
    o += "Schedule   " + format_count(s.behind) + " of " + format_count(s.scheduled) +
         " requests fell behind schedule (" + format_fixed(share, 2) + "%), max lag " +
         format_nanos(static_cast<double>(s.max_lag_ns)) + "\n";
  }
  if (s.tls_handshakes)
    o += "TLS        " + format_count(s.tls_handshakes) + " handshakes, " +
         format_count(s.tls_resumed) + " resumed\n";
  if (s.unfinished) o += "Unfinished " + format_count(s.unfinished) + " in flight at the end\n";
  o += "Client CPU " + format_fixed(s.cpu_percent(), 0) + "% of one core (user " +
       format_fixed(s.cpu_user_s, 2) + "s, sys " + format_fixed(s.cpu_sys_s, 2) + "s)\n";
  if (h.count()) o += "\nLatency histogram\n" + ascii_histogram(h);
  if (!checks.empty()) {
    o += "\nThresholds\n";
    for (const Checked& c : checks)
      o += std::string("  ") + (c.verdict.ok ? "ok      " : "BREACH  ") + c.threshold.text + "  (" +
           c.threshold.metric + " = " + c.verdict.shown + ")\n";
  }
  return o;
}

json::object to_json(const Summary& s, const std::vector<Checked>& checks) {
  json::object o;
  json::array urls;
  for (const auto& u : s.urls) urls.emplace_back(u);
  o["urls"] = std::move(urls);
  o["mode"] = s.open_loop ? "open" : "closed";
  o["rate"] = s.rate;
  o["threads"] = s.threads;
  o["connections"] = s.connections;
  o["keepalive"] = s.keepalive;
  o["warmup_s"] = s.warmup_s;
  o["duration_s"] = std::round(s.duration_s * 1e6) / 1e6;
  o["requests"] = s.requests;
  o["rps"] = std::round(s.rps() * 10) / 10;
  o["bytes_read"] = s.bytes_read;
  o["bytes_written"] = s.bytes_written;
  o["connects"] = s.connects;
  json::object tls;
  tls["handshakes"] = s.tls_handshakes;
  tls["resumed"] = s.tls_resumed;
  o["tls"] = std::move(tls);
  json::object lat;
  const Histogram& h = s.latency;
  lat["count"] = h.count();
  lat["min"] = ms(static_cast<double>(h.min()));
  lat["mean"] = ms(h.mean());
  lat["stdev"] = ms(h.stdev());
  lat["max"] = ms(static_cast<double>(h.max()));
  for (double q : kPercentiles) lat[percentile_key(q)] = ms(static_cast<double>(h.percentile(q)));
  lat["precision"] = h.precision();
  o["latency_ms"] = std::move(lat);
  json::object st;
  for (const auto& [code, n] : s.status) st[std::to_string(code)] = n;
  o["status"] = std::move(st);
  json::object err;
  err["total"] = s.error_total();
  for (int i = 0; i < kErrorKinds; ++i)
    err[error_kind_name(static_cast<ErrorKind>(i))] = s.errors[i];
  err["status"] = s.bad_status();
  err["rate"] = s.error_rate();
  if (!s.first_error.empty()) err["first"] = s.first_error;
  o["errors"] = std::move(err);
  if (s.open_loop) {
    json::object sch;
    sch["scheduled"] = s.scheduled;
    sch["behind"] = s.behind;
    sch["max_lag_ms"] = ms(static_cast<double>(s.max_lag_ns));
    o["schedule"] = std::move(sch);
  }
  o["unfinished"] = s.unfinished;
  json::object cpu;
  cpu["user_s"] = std::round(s.cpu_user_s * 1000) / 1000;
  cpu["sys_s"] = std::round(s.cpu_sys_s * 1000) / 1000;
  cpu["percent"] = std::round(s.cpu_percent() * 10) / 10;
  o["cpu"] = std::move(cpu);
  json::array hist;
  h.for_each([&](uint64_t lo, uint64_t hi, uint64_t n) {
    json::object b;
    b["from_ms"] = ms(static_cast<double>(lo));
    b["to_ms"] = ms(static_cast<double>(hi));
    b["count"] = n;
    hist.push_back(std::move(b));
  });
  o["histogram"] = std::move(hist);
  json::array th;
  bool all_ok = true;
  for (const Checked& c : checks) {
    json::object t;
    t["expr"] = c.threshold.text;
    t["ok"] = c.verdict.ok;
    t["actual"] = c.verdict.shown;
    th.push_back(std::move(t));
    all_ok = all_ok && c.verdict.ok;
  }
  o["thresholds"] = std::move(th);
  o["ok"] = all_ok;
  return o;
}

namespace {

void write_json(const json::value& v, std::string& out) {
  switch (v.kind()) {
    case json::kind::object: {
      out += '{';
      bool first = true;
      for (const auto& kv : v.get_object()) {
        if (!first) out += ',';
        first = false;
        out += json::serialize(json::string_view(kv.key()));
        out += ':';
        write_json(kv.value(), out);
      }
      out += '}';
      break;
    }
    case json::kind::array: {
      out += '[';
      bool first = true;
      for (const auto& e : v.get_array()) {
        if (!first) out += ',';
        first = false;
        write_json(e, out);
      }
      out += ']';
      break;
    }
    case json::kind::double_: {
      double d = v.get_double();
      if (!std::isfinite(d)) {
        out += "null";
        break;
      }
      char buf[64];
      auto r = std::to_chars(buf, buf + sizeof buf, d);
      out.append(buf, r.ptr);
      break;
    }
    default:
      out += json::serialize(v);
  }
}

}  // namespace

std::string json_text(const json::value& v) {
  std::string out;
  write_json(v, out);
  return out;
}

std::string format_json(const Summary& s, const std::vector<Checked>& checks) {
  return json_text(to_json(s, checks)) + "\n";
}

std::string format_csv(const Summary& s) {
  std::string o = "second,requests,errors,bytes,rps,p50_ms,p90_ms,p99_ms,max_ms\n";
  for (size_t i = 0; i < s.timeline.size(); ++i) {
    const Second& t = s.timeline[i];
    // The last second may be partial.
    double len = std::min(1.0, s.duration_s - static_cast<double>(i));
    if (len <= 0) break;
    auto p = [&](double q) {
      return format_fixed(ms(static_cast<double>(t.latency.percentile(q))), 3);
    };
    o += std::to_string(i + 1) + "," + std::to_string(t.requests) + "," + std::to_string(t.errors) +
         "," + std::to_string(t.bytes) + "," +
         format_fixed(static_cast<double>(t.requests) / len, 1) + "," + p(50) + "," + p(90) + "," +
         p(99) + "," + format_fixed(ms(static_cast<double>(t.latency.max())), 3) + "\n";
  }
  return o;
}

}  // namespace bench
