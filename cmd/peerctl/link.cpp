// peerctl link (being written).
#include "peerctl.h"

namespace peerctl {

void register_link(Ctx&, CLI::App&) {}

}  // namespace peerctl
