// One register_* per verb (one file each); main.cpp calls them in order.
#pragma once

#include "cli/cli.h"

void register_http(cli::Program& p);
void register_serve(cli::Program& p);
void register_tcp(cli::Program& p);
void register_compare(cli::Program& p);
