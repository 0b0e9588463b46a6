#include "cli/cli.h"
int main(int argc, char** argv) {
  cli::Program p("cactl", "Warren certificate authority", "cactl [OPTIONS] COMMAND");
  return p.run(argc, argv);
}
