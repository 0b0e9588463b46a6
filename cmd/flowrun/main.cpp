// flowrun — Warren's workflow runner: a table of verbs, one file each.
#include <csignal>

#include "flowrun.h"

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);  // exec and HTTP nodes write to pipes and sockets
  cli::Program p("flowrun", "Warren workflow runner: JSON workflow graphs for automation and cron",
                 "flowrun [--dir DIR] [--config FILE] [--json] [-q] [-v] COMMAND [ARGS]");
  flowrun::Ctx c{p, {}, std::string("flowrun/") + WARREN_VERSION};
  p.app()
      .add_option("--config", c.config_path, "Read FILE instead of $WARREN_DIR/flowrun.toml")
      ->type_name("FILE");
  p.app().require_subcommand(1);
  flowrun::register_run(c);
  flowrun::register_validate(c);
  flowrun::register_graph(c);
  flowrun::register_nodes(c);
  flowrun::register_history(c);
  flowrun::register_show(c);
  return p.run(argc, argv);
}
