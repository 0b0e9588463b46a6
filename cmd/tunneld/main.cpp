// tunneld — Warren's tunnel daemon. One role per configuration file: [edge] accepts sites and
// serves `dial` and raw forwards; [site] dials the edge and relays to local targets.
#include "cli/cli.h"
#include "tunnel/tunnel.h"

int main(int argc, char** argv) {
  cli::Program p("tunneld", "Warren tunnel daemon: the edge accepts sites, a site dials the edge",
                 "tunneld [--dir DIR] [--config FILE] [--check-config] [-q] [-v]");
  std::string config;
  bool check = false;
  p.app()
      .add_option("-c,--config", config, "Configuration file (default $WARREN_DIR/tunneld.toml)")
      ->type_name("FILE");
  p.app().add_flag("--check-config", check,
                   "Validate the configuration and exit: 0 if it is good, else 78");
  p.set_action([&]() -> int {
    std::string dir = p.warren_dir();
    std::string path = config.empty() ? dir + "/tunneld.toml" : config;
    auto cfg = tunnel::load_config(path, dir);
    if (!cfg) {
      core::Error e = cfg.error();
      if (check) e.code = core::Errc::config;  // --check-config answers 0 or 78
      return cli::fail(e);
    }
    if (check) return 0;
    auto r = tunnel::run(*cfg);
    return r ? 0 : cli::fail(r.error());
  });
  return p.run(argc, argv);
}
