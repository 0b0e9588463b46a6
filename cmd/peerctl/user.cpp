// peerctl user (being written).
#include "peerctl.h"

namespace peerctl {

void register_user(Ctx&, CLI::App&) {}

}  // namespace peerctl
