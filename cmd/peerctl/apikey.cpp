// peerctl apikey (being written).
#include "peerctl.h"

namespace peerctl {

void register_apikey(Ctx&, CLI::App&) {}

}  // namespace peerctl
