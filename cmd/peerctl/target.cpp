// peerctl target (being written).
#include "peerctl.h"

namespace peerctl {

void register_target(Ctx&, CLI::App&) {}

}  // namespace peerctl
