// peerctl grant (being written).
#include "peerctl.h"

namespace peerctl {

void register_grant(Ctx&, CLI::App&) {}

}  // namespace peerctl
