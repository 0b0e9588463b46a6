// peerctl session (being written).
#include "peerctl.h"

namespace peerctl {

void register_session(Ctx&, CLI::App&) {}

}  // namespace peerctl
