// edge daemon — edged's entry points: validate a configuration (and the routes and certificates
// it names), and run the daemon: one io_context per thread with SO_REUSEPORT listeners, a
// control thread for the control socket, health checks, reloads and draining. No Asio here.
#pragma once

#include <functional>
#include <string>

#include "core/result.h"
#include "edge/config.h"

namespace edge {

struct RunOptions {
  std::string config_path;
  std::string warren_dir;
  unsigned threads = 0;  // 0: from the config (0 there: one per CPU)
  // Called once per listener after binding: "http 127.0.0.1:8080", "https …", "metrics …".
  std::function<void(const std::string&)> on_listening;
};

// Loads the config, the routes file, the store routes and the certificates, as a start would.
core::Result<Config> check_config(const std::string& path, const std::string& warren_dir);

// Runs until SIGINT/SIGTERM (then drains) and returns 0, or fails to start (config 78,
// unavailable 69, noperm 77).
core::Result<int> run(const RunOptions& o);

}  // namespace edge
