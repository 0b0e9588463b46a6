#include "verbs.h"
void register_compare(cli::Program&) {}
