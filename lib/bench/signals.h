// Stop-on-signal for netbench's long-running verbs: SIGINT/SIGTERM set a flag that the load
// engine, the origin server and the TCP tester poll, so a run ends cleanly and still reports.
#pragma once

#include <atomic>

namespace bench {

// Installs the handlers (idempotent) and returns the flag they set.
const std::atomic<bool>& install_stop_signals();

}  // namespace bench
