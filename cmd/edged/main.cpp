// edged — Warren's edge router daemon: parse the command line, then hand over to lib/edge.
#include <cstdio>
#include <cstdlib>

#include "cli/cli.h"
#include "edge/edged.h"

int main(int argc, char** argv) {
  cli::Program p("edged", "Warren edge router: TLS termination, routing, load balancing",
                 "edged [--config FILE] [--threads N] [--dir DIR] [-q] [-v]\n"
                 "edged --check-config [--config FILE] [--dir DIR]");
  std::string config;
  unsigned threads = 0;
  bool check = false;
  p.app()
      .add_option("-c,--config", config, "Configuration file (default $WARREN_DIR/edged.toml)")
      ->type_name("FILE");
  p.app()
      .add_option("-t,--threads", threads,
                  "Worker threads, each with its own listeners (default: the config's, else one "
                  "per CPU)")
      ->type_name("N")
      ->check(CLI::Range(1u, 256u));
  p.app().add_flag("--check-config", check,
                   "Validate the configuration, routes and certificates, then exit (0 or 78)");
  p.set_action([&]() -> int {
    std::string dir = p.warren_dir();
    if (config.empty()) config = dir + "/edged.toml";
    if (check) {
      auto r = edge::check_config(config, dir);
      if (!r) return cli::fail(core::err(core::Errc::config, r.error().message));
      return 0;
    }
    edge::RunOptions o;
    o.config_path = config;
    o.warren_dir = dir;
    o.threads = threads;
    o.on_listening = [](const std::string& line) {
      std::printf("%s\n", line.c_str());
      std::fflush(stdout);
    };
    auto r = edge::run(o);
    if (!r) return cli::fail(r.error());
    return *r;
  });
  return p.run(argc, argv);
}
