// netbench http URL... — HTTP/1.1 load, closed or open loop; report, JSON, CSV, thresholds.
#include <memory>

#include "bench/http_load.h"
#include "bench/report.h"
#include "bench/signals.h"
#include "bench/units.h"
#include "core/fs.h"
#include "verbs.h"

namespace {

// Options bind straight into LoadOptions where the types match; the rest is parsed in run().
struct Args {
  bench::LoadOptions o;
  std::string duration;
  std::string warmup = "0";
  std::string rate;
  std::string body_file;
  bool no_keepalive = false;
  std::string timeout = "5s";
  std::string csv;
  std::vector<std::string> thresholds;
};

core::Result<int> run(cli::Program& p, const Args& a) {
  bench::LoadOptions o = a.o;
  if (!a.duration.empty()) {
    WARREN_TRY(d, bench::parse_nanos(a.duration));
    o.duration_ns = d;
  } else if (o.requests) {
    o.duration_ns = 0;
  }
  WARREN_TRY(w, bench::parse_nanos(a.warmup));
  o.warmup_ns = w;
  WARREN_TRY(t, bench::parse_nanos(a.timeout));
  o.timeout_ns = t;
  if (!a.rate.empty()) {
    WARREN_TRY(r, bench::parse_number(a.rate));
    if (r <= 0) return core::Error(core::Errc::usage, "--rate must be positive");
    o.rate = r;
  }
  if (!a.body_file.empty()) {
    auto body = core::read_file(a.body_file);
    if (!body) return std::move(body.error()).context("--body");
    o.body = std::move(*body);
  }
  o.keepalive = !a.no_keepalive;
  o.timeline = !a.csv.empty();
  std::vector<bench::Threshold> ths;
  for (const std::string& s : a.thresholds) {
    WARREN_TRY(th, bench::parse_threshold(s));
    ths.push_back(std::move(th));
  }
  if (a.csv == "-" && p.common().json)
    return core::Error(core::Errc::usage, "--csv - and --json both want stdout");
  o.stop = &bench::install_stop_signals();

  WARREN_TRY(s, bench::run_http(o));

  std::vector<bench::Checked> checks;
  for (const bench::Threshold& th : ths) checks.push_back({th, bench::check(th, s)});
  if (!a.csv.empty()) WARREN_CHECK(core::write_file_atomic(a.csv, bench::format_csv(s), 0644));
  if (p.common().json) {
    WARREN_CHECK(core::write_stdout(bench::format_json(s, checks)));
  } else if (a.csv == "-") {
    std::fputs(bench::format_text(s, checks).c_str(), stderr);
  } else {
    WARREN_CHECK(core::write_stdout(bench::format_text(s, checks)));
  }
  if (s.requests == 0 && s.transport_errors() > 0)
    return core::Error(core::Errc::unavailable, "no responses: " + s.first_error);
  int breached = 0;
  for (const bench::Checked& c : checks) {
    if (c.verdict.ok) continue;
    ++breached;
    std::fprintf(stderr, "%s: threshold breached: %s (%s = %s)\n", cli::prog().c_str(),
                 c.threshold.text.c_str(), c.threshold.metric.c_str(), c.verdict.shown.c_str());
  }
  return breached ? 1 : 0;
}

}  // namespace

void register_http(cli::Program& p) {
  auto a = std::make_shared<Args>();
  CLI::App* sub = p.verb(p.app(), "http", "HTTP/1.1 load: closed loop, or open loop with --rate",
                         "netbench http [OPTIONS] URL...");
  sub->add_option("URL", a->o.urls, "Target URLs (http:// or https://, same host and port)")
      ->required();
  sub->add_option("-c,--connections", a->o.connections, "Connections to keep open (default 10)")
      ->type_name("N");
  sub->add_option("-t,--threads", a->o.threads, "Threads, each with its own event loop (default 1)")
      ->type_name("N");
  sub->add_option("-d,--duration", a->duration, "Measured duration (default 10s)")
      ->type_name("DUR");
  sub->add_option("-n,--requests", a->o.requests, "Stop after N measured requests")->type_name("N");
  sub->add_option("--warmup", a->warmup, "Unmeasured warm-up before the measured window")
      ->type_name("DUR");
  sub->add_option("-R,--rate", a->rate, "Open loop: send R requests/s in total on a fixed schedule")
      ->type_name("R");
  sub->add_option("-m,--method", a->o.method, "Request method (default GET)")->type_name("METHOD");
  sub->add_option("-H,--header", a->o.headers, "Add a request header (repeatable)")
      ->type_name("'NAME: VALUE'");
  sub->add_option("--body", a->body_file, "Send the contents of FILE as the body (- = stdin)")
      ->type_name("FILE");
  sub->add_flag("--no-keepalive", a->no_keepalive,
                "New connection per request (Connection: close)");
  sub->add_option("--timeout", a->timeout, "Per-request timeout (default 5s)")->type_name("DUR");
  sub->add_option("--connect-to", a->o.connect_to, "Connect to HOST:PORT instead of the URL's")
      ->type_name("HOST:PORT");
  sub->add_option("--unix-socket", a->o.unix_socket, "Connect to a Unix socket instead")
      ->type_name("PATH");
  sub->add_option("--sni", a->o.sni, "TLS server name to send and verify (default: URL host)")
      ->type_name("NAME");
  sub->add_flag("-k,--insecure", a->o.insecure, "Do not verify the server certificate");
  sub->add_option("--cacert", a->o.cacert, "Verify the server with these CA certificates (PEM)")
      ->type_name("FILE");
  sub->add_option("--cert", a->o.cert, "Client certificate chain (PEM)")->type_name("FILE");
  sub->add_option("--key", a->o.key, "Client private key (PEM)")->type_name("FILE");
  sub->add_flag("--tls-resume", a->o.tls_resume,
                "Resume TLS sessions on new connections (with --no-keepalive)");
  sub->add_option("--csv", a->csv, "Write a per-second timeline as CSV to FILE (- = stdout)")
      ->type_name("FILE");
  sub->add_option("--threshold", a->thresholds,
                  "Fail (exit 1) unless EXPR holds, e.g. 'p99<5ms', 'errors<0.1%', 'rps>1000'")
      ->type_name("EXPR");
  p.on(sub, [&p, a] {
    auto r = run(p, *a);
    return r ? *r : cli::fail(r.error());
  });
}
