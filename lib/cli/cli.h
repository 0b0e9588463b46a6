// cli::Program — the common spine of every Warren command: CLI11 app with the common flags
// (--dir/WARREN_DIR, --json, -q, -v, --version, --color, hidden --dump-cli), a SYNOPSIS per
// (sub)command used by --help and the man-page check, one-line diagnostics "prog: what: why",
// and the mapping from core::Error / CLI11 errors to the exit-code table. Single-threaded.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <map>
#include <string>

#include "core/result.h"

namespace cli {

struct Common {
  std::string dir;  // --dir, else $WARREN_DIR, else the default (see warren_dir())
  bool json = false;
  int verbose = 0;
  int quiet = 0;
  std::string color = "auto";  // auto|always|never
};

using Action = std::function<int()>;

class Program {
 public:
  Program(std::string name, std::string description, std::string synopsis);

  CLI::App& app() { return app_; }
  Common& common() { return common_; }
  const std::string& name() const { return name_; }

  // Adds a subcommand with its SYNOPSIS line(s); the callback stores `action` to run after parse.
  CLI::App* verb(CLI::App& parent, const std::string& name, const std::string& description,
                 const std::string& synopsis);
  void set_action(Action a) { action_ = std::move(a); }
  // For a subcommand: run `fn` when this subcommand is selected.
  void on(CLI::App* sub, Action fn);

  // Parses, runs the selected action, maps errors to exit codes. Catches everything.
  int run(int argc, char** argv);

  // The WARREN_DIR in effect: --dir, $WARREN_DIR, /var/lib/warren (root), ~/.local/share/warren.
  std::string warren_dir() const;
  bool color() const;

  // JSON description of the whole command tree (for completions and the man-page check).
  std::string dump_cli() const;

 private:
  std::string name_;
  CLI::App app_;
  Common common_;
  Action action_;
  std::map<const CLI::App*, std::string> synopsis_;
  friend class Formatter;
};

// Prints "prog: message" to stderr and returns the exit code of the error.
int fail(const core::Error& e);
// Prints "prog: message" (a warning, exit status unaffected).
void warn(const std::string& message);
const std::string& prog();

// Reads a secret: from FILE ("-" = stdin, first line, trailing newline stripped).
core::Result<std::string> read_secret(const std::string& path);
// Prompts on the controlling TTY without echo. Fails (Errc::noperm) when there is no TTY.
core::Result<std::string> prompt_secret(const std::string& prompt, bool confirm);

}  // namespace cli
