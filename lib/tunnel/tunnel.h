// tunnel — tunneld, the Warren site tunnel daemon: the edge role (accepts site lanes, serves
// `dial` and raw forwards) and the site role (dials the edge, relays streams to local targets).
// This header is the whole public surface cmd/tunneld needs; no Asio here.
#pragma once

#include <string>

#include "core/result.h"
#include "tunnel/config.h"

namespace tunnel {

// Runs the daemon described by cfg in the foreground until SIGINT/SIGTERM (graceful drain,
// then exit). SIGHUP and the control socket's "reload" re-read cfg.path and the store.
// Errors before it starts serving: listen/socket failures (Errc::unavailable, noperm),
// store or key problems.
core::Result<void> run(const Config& cfg);

}  // namespace tunnel
