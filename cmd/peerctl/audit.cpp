// peerctl audit (being written).
#include "peerctl.h"

namespace peerctl {

void register_audit(Ctx&, CLI::App&) {}

}  // namespace peerctl
