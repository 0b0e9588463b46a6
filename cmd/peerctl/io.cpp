// peerctl's terminal side: secrets from a file, stdin or the TTY; results to stdout and
// diagnostics to stderr with their exit codes. Single-threaded (reads stdin and /dev/tty).
#include <unistd.h>

#include "core/fs.h"
#include "peerctl.h"

namespace peerctl {

core::Result<std::string> read_secret(std::string_view field, const std::string& path,
                                      const std::string& prompt) {
  std::string s;
  if (!path.empty()) {
    auto r = cli::read_secret(path);
    if (!r) return std::move(r.error()).context(std::string(field));
    s = std::move(*r);
  } else if (::isatty(STDIN_FILENO)) {
    auto r = cli::prompt_secret(prompt, true);
    if (!r) return std::move(r.error()).context(std::string(field));
    s = std::move(*r);
  } else {
    return core::err(core::Errc::data,
                     std::string(field) + ": needs a secret (FILE, or - for stdin)");
  }
  if (s.empty()) return core::err(core::Errc::data, std::string(field) + ": the secret is empty");
  return s;
}

core::Result<void> one_stdin(const std::vector<std::pair<std::string, std::string>>& opts) {
  std::string first;
  for (const auto& [name, value] : opts) {
    if (value != "-") continue;
    if (!first.empty())
      return core::err(core::Errc::usage,
                       name + ": stdin is already read by " + first + "; use a file");
    first = name;
  }
  return {};
}

int done(const core::Result<void>& r) {
  return r ? 0 : cli::fail(r.error());
}

int emit(const std::string& out) {
  return done(core::write_stdout(out));
}

}  // namespace peerctl
