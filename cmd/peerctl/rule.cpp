// peerctl rule (being written).
#include "peerctl.h"

namespace peerctl {

void register_rule(Ctx&, CLI::App&) {}

}  // namespace peerctl
