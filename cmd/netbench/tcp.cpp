// netbench tcp — bulk TCP throughput: a server, or a client with parallel streams.
#include <cstdio>
#include <memory>

#include "bench/report.h"
#include "bench/signals.h"
#include "bench/tcp.h"
#include "bench/units.h"
#include "core/fs.h"
#include "verbs.h"

namespace {

struct Args {
  bool server = false;
  std::string listen = "127.0.0.1:5201";
  std::string target;
  int streams = 1;
  std::string duration = "10s";
  bool reverse = false;
  std::string buffer;
};

core::Result<int> run(cli::Program& p, const Args& a) {
  const auto& stop = bench::install_stop_signals();
  size_t buffer = 0;
  if (!a.buffer.empty()) {
    WARREN_TRY(b, bench::parse_size(a.buffer));
    buffer = b;
  }
  if (a.server) {
    if (!a.target.empty())
      return core::Error(core::Errc::usage, "--server takes no HOST:PORT (use --listen)");
    bench::TcpServerOptions o;
    o.listen = a.listen;
    if (buffer) o.buffer = buffer;
    o.stop = &stop;
    if (p.app().get_subcommand("tcp")->count("--duration")) {
      WARREN_TRY(d, bench::parse_nanos(a.duration));
      o.duration_ns = d;
    }
    o.on_listening = announce_address;
    WARREN_CHECK(bench::tcp_serve(o));
    return 0;
  }
  if (a.target.empty())
    return core::Error(core::Errc::usage, "give HOST:PORT of a netbench tcp --server");
  bench::TcpClientOptions o;
  o.target = a.target;
  o.streams = a.streams;
  WARREN_TRY(d, bench::parse_nanos(a.duration));
  o.duration_ns = d;
  o.reverse = a.reverse;
  if (buffer) o.buffer = buffer;
  o.stop = &stop;
  bool json = p.common().json;
  if (!json) {
    std::printf("%s: %d stream%s, %s, %s\n", a.target.c_str(), a.streams, a.streams == 1 ? "" : "s",
                bench::format_nanos(static_cast<double>(d)).c_str(),
                a.reverse ? "server sends" : "client sends");
    std::fflush(stdout);
    o.on_interval = [](const bench::TcpInterval& i) {
      std::fputs(bench::format_tcp_interval(i).c_str(), stdout);
      std::fflush(stdout);
    };
  }
  WARREN_TRY(r, bench::tcp_client(o));
  if (json)
    WARREN_CHECK(core::write_stdout(bench::json_text(bench::tcp_to_json(r)) + "\n"));
  else
    WARREN_CHECK(core::write_stdout("- - -\n" + bench::format_tcp_text(r)));
  return 0;
}

}  // namespace

void register_tcp(cli::Program& p) {
  auto a = std::make_shared<Args>();
  CLI::App* sub = p.verb(p.app(), "tcp", "Bulk TCP throughput (server, or client with streams)",
                         "netbench tcp --server [OPTIONS]\nnetbench tcp [OPTIONS] HOST:PORT");
  sub->add_option("HOST:PORT", a->target, "Address of a netbench tcp --server");
  sub->add_flag("-s,--server", a->server, "Run the server side");
  sub->add_option("--listen", a->listen,
                  "Server: listen on HOST:PORT or unix:PATH; port 0 picks one (default "
                  "127.0.0.1:5201)")
      ->type_name("ADDR");
  sub->add_option("-P,--parallel", a->streams, "Client: parallel streams (default 1)")
      ->type_name("N");
  sub->add_option("-d,--duration", a->duration,
                  "Client: how long to send (default 10s); server: exit after DUR")
      ->type_name("DUR");
  sub->add_flag("-R,--reverse", a->reverse, "Client: the server sends, the client receives");
  sub->add_option("--buffer", a->buffer, "Bytes per read/write (client 128k, server 256k)")
      ->type_name("BYTES");
  p.on(sub, [&p, a] {
    auto r = run(p, *a);
    return r ? *r : cli::fail(r.error());
  });
}
