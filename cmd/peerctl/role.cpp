// peerctl role (being written).
#include "peerctl.h"

namespace peerctl {

void register_role(Ctx&, CLI::App&) {}

}  // namespace peerctl
