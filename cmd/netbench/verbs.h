// One register_* per verb (one file each); main.cpp calls them in order.
#pragma once

#include <cstdio>
#include <string>

#include "cli/cli.h"

void register_http(cli::Program& p);
void register_serve(cli::Program& p);
void register_tcp(cli::Program& p);
void register_compare(cli::Program& p);

// The "listening on" callback of serve and tcp --server: the bound address as the first line on
// stdout, flushed at once (scripts and tests read it to learn a port-0 address).
inline void announce_address(const std::string& addr) {
  std::printf("%s\n", addr.c_str());
  std::fflush(stdout);
}
