// netbench serve — a fast HTTP/1.1 origin; prints the bound address on stdout.
#include <cstdio>
#include <memory>

#include "bench/server.h"
#include "bench/signals.h"
#include "bench/units.h"
#include "log/log.h"
#include "verbs.h"

namespace {

struct Args {
  std::string listen = "127.0.0.1:8080";
  int threads = 1;
  std::string reply;
  std::string size;
  bool echo = false;
  std::string delay;
  bool chunked = false;
  std::string chunk_size = "16k";
  int status = 200;
  std::vector<std::string> headers;
  bool close = false;
  std::string stall, stall_every = "1s";
  std::string duration;
};

core::Result<int> run(const Args& a, const CLI::App* sub) {
  bench::ServeOptions o;
  o.listen = a.listen;
  o.threads = a.threads;
  if (sub->count("--reply")) o.reply = a.reply;
  if (!a.size.empty()) {
    WARREN_TRY(n, bench::parse_size(a.size));
    o.size = static_cast<int64_t>(n);
  }
  o.echo = a.echo;
  if (!a.delay.empty()) {
    WARREN_TRY(d, bench::parse_nanos(a.delay));
    o.delay_ns = d;
  }
  o.chunked = a.chunked;
  WARREN_TRY(cs, bench::parse_size(a.chunk_size));
  o.chunk_size = cs;
  o.status = a.status;
  o.headers = a.headers;
  o.close = a.close;
  if (!a.stall.empty()) {
    WARREN_TRY(st, bench::parse_nanos(a.stall));
    WARREN_TRY(ev, bench::parse_nanos(a.stall_every));
    o.stall_ns = st;
    o.stall_every_ns = ev;
  }
  if (!a.duration.empty()) {
    WARREN_TRY(d, bench::parse_nanos(a.duration));
    o.duration_ns = d;
  }
  o.stop = &bench::install_stop_signals();
  o.on_listening = announce_address;
  WARREN_TRY(stats, bench::serve(o));
  wlog::get("bench")->debug("event=serve_done connections={} requests={} bad_requests={}",
                            stats.connections, stats.requests, stats.bad_requests);
  return 0;
}

}  // namespace

void register_serve(cli::Program& p) {
  auto a = std::make_shared<Args>();
  CLI::App* sub = p.verb(p.app(), "serve", "A fast HTTP/1.1 origin for benchmarks and tests",
                         "netbench serve [OPTIONS]");
  sub->add_option("--listen", a->listen,
                  "Listen on HOST:PORT, [V6]:PORT or unix:PATH; port 0 picks one (default "
                  "127.0.0.1:8080)")
      ->type_name("ADDR");
  sub->add_option("-t,--threads", a->threads, "Threads, each with its own listener (default 1)")
      ->type_name("N");
  sub->add_option("--reply", a->reply, "Reply body (default \"hello\\n\")")->type_name("TEXT");
  sub->add_option("--size", a->size, "Reply with a body of N bytes")->type_name("BYTES");
  sub->add_flag("--echo", a->echo, "Reply with the request body");
  sub->add_option("--delay", a->delay, "Answer every request after DUR (non-blocking)")
      ->type_name("DUR");
  sub->add_flag("--chunked", a->chunked, "Send the body with chunked transfer encoding");
  sub->add_option("--chunk-size", a->chunk_size, "Chunk size with --chunked (default 16k)")
      ->type_name("BYTES");
  sub->add_option("--status", a->status, "Reply status code (default 200)")->type_name("CODE");
  sub->add_option("-H,--header", a->headers, "Add a reply header (repeatable)")
      ->type_name("'NAME: VALUE'");
  sub->add_flag("--close", a->close, "Close the connection after every response");
  sub->add_option("--stall", a->stall,
                  "Pause the whole server for DUR once per --stall-every (tests latency tools)")
      ->type_name("DUR");
  sub->add_option("--stall-every", a->stall_every, "Period of --stall (default 1s)")
      ->type_name("DUR");
  sub->add_option("-d,--duration", a->duration,
                  "Exit after DUR (default: run until SIGINT/SIGTERM)")
      ->type_name("DUR");
  p.on(sub, [a, sub] {
    auto r = run(*a, sub);
    return r ? *r : cli::fail(r.error());
  });
}
