// bench::Scenario — a `netbench compare` scenario file (TOML): the load to apply, how many
// interleaved rounds, the baseline, and the named targets, each optionally started and stopped
// by netbench. Parsed with config::Reader, so mistakes come back as "file:line:col: why"
// (Errc::config). Plain data, no I/O beyond reading the file.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "bench/http_load.h"
#include "core/result.h"

namespace bench {

struct ScenarioTarget {
  std::string name;
  std::string url;    // may contain "{addr}": replaced by the first line `start` prints
  std::string start;  // shell command run before the first round (in the scenario's directory)
  std::string ready;  // HOST:PORT that must accept connections before measuring (default: URL's)
  int64_t ready_timeout_ns = 10'000'000'000;
  int64_t stop_timeout_ns = 5'000'000'000;
  // Per-target load settings (on top of [load]).
  std::string connect_to, unix_socket, sni;
  bool insecure = false;
  std::vector<std::string> headers;
};

struct Scenario {
  std::string path;  // as given
  std::string dir;   // its directory: start commands run here, relative body paths resolve here
  int rounds = 3;
  std::string baseline;  // a target name; default the first target
  int64_t pause_ns = 0;  // idle time between runs
  LoadOptions load;      // urls empty; everything else from [load]
  std::vector<ScenarioTarget> targets;

  // The load options for one target (URL substituted by the caller).
  LoadOptions load_for(const ScenarioTarget& t, const std::string& url) const;
};

core::Result<Scenario> load_scenario(const std::string& path);
core::Result<Scenario> parse_scenario(std::string_view text, const std::string& name,
                                      const std::string& dir);

}  // namespace bench
