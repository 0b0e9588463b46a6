#include "bench/summary.h"

namespace bench {

const char* error_kind_name(ErrorKind k) {
  switch (k) {
    case ErrorKind::connect:
      return "connect";
    case ErrorKind::tls:
      return "tls";
    case ErrorKind::timeout:
      return "timeout";
    case ErrorKind::reset:
      return "reset";
    case ErrorKind::closed:
      return "closed";
    case ErrorKind::bad_response:
      return "bad_response";
  }
  return "unknown";
}

uint64_t Summary::transport_errors() const {
  uint64_t n = 0;
  for (uint64_t e : errors) n += e;
  return n;
}

uint64_t Summary::bad_status() const {
  uint64_t n = 0;
  for (const auto& [code, count] : status)
    if (code < 200 || code > 399) n += count;
  return n;
}

double Summary::error_rate() const {
  double attempts = static_cast<double>(requests + transport_errors());
  return attempts > 0 ? static_cast<double>(error_total()) / attempts : 0.0;
}

double Summary::cpu_percent() const {
  return duration_s + warmup_s > 0 ? 100.0 * (cpu_user_s + cpu_sys_s) / (duration_s + warmup_s)
                                   : 0.0;
}

void Summary::merge(const Summary& p) {
  requests += p.requests;
  bytes_read += p.bytes_read;
  bytes_written += p.bytes_written;
  connects += p.connects;
  tls_handshakes += p.tls_handshakes;
  tls_resumed += p.tls_resumed;
  latency.merge(p.latency);
  for (const auto& [code, count] : p.status) status[code] += count;
  for (int i = 0; i < kErrorKinds; ++i) errors[i] += p.errors[i];
  if (first_error.empty()) first_error = p.first_error;
  behind += p.behind;
  scheduled += p.scheduled;
  max_lag_ns = std::max(max_lag_ns, p.max_lag_ns);
  unfinished += p.unfinished;
  if (timeline.size() < p.timeline.size()) timeline.resize(p.timeline.size());
  for (size_t i = 0; i < p.timeline.size(); ++i) {
    timeline[i].requests += p.timeline[i].requests;
    timeline[i].errors += p.timeline[i].errors;
    timeline[i].bytes += p.timeline[i].bytes;
    timeline[i].latency.merge(p.timeline[i].latency);
  }
}

}  // namespace bench
