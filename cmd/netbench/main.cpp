// netbench — load generator and benchmark harness: HTTP closed/open loop, origin server, bulk
// TCP throughput, side-by-side comparisons. One verb per file.
#include "cli/cli.h"
#include "verbs.h"

int main(int argc, char** argv) {
  cli::Program p("netbench", "Warren load generator and benchmark harness",
                 "netbench [OPTIONS] COMMAND");
  register_http(p);
  register_serve(p);
  register_tcp(p);
  register_compare(p);
  return p.run(argc, argv);
}
