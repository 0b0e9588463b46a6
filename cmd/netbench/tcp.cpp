#include "verbs.h"
void register_tcp(cli::Program&) {}
