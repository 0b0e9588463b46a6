#include "cli/cli.h"

#include <fcntl.h>
#include <termios.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "core/fs.h"
#include "core/result.h"
#include "log/log.h"

#ifndef WARREN_VERSION
#define WARREN_VERSION "0.1.0"
#endif

namespace cli {

namespace {
std::string g_prog = "warren";
}

const std::string& prog() {
  return g_prog;
}

int fail(const core::Error& e) {
  std::fprintf(stderr, "%s: %s\n", g_prog.c_str(), e.message.c_str());
  int code = core::exit_code(e.code);
  return code == 0 ? 1 : code;
}

void warn(const std::string& message) {
  std::fprintf(stderr, "%s: warning: %s\n", g_prog.c_str(), message.c_str());
}

class Formatter : public CLI::Formatter {
 public:
  explicit Formatter(const Program* p) : p_(p) {}
  std::string make_usage(const CLI::App* app, std::string name) const override {
    auto it = p_->synopsis_.find(app);
    if (it == p_->synopsis_.end()) return CLI::Formatter::make_usage(app, name);
    std::string out = "Usage:\n";
    for (const auto& line : core_lines(it->second)) out += "  " + line + "\n";
    return out;
  }
  static std::vector<std::string> core_lines(const std::string& s) {
    std::vector<std::string> v;
    size_t i = 0;
    while (i < s.size()) {
      size_t j = s.find('\n', i);
      if (j == std::string::npos) j = s.size();
      if (j > i) v.push_back(s.substr(i, j - i));
      i = j + 1;
    }
    return v;
  }

 private:
  const Program* p_;
};

Program::Program(std::string name, std::string description, std::string synopsis)
    : name_(std::move(name)), app_(std::move(description), name_) {
  g_prog = name_;
  synopsis_[&app_] = std::move(synopsis);
  app_.formatter(std::make_shared<Formatter>(this));
  app_.set_version_flag("--version", std::string(name_) + " " + WARREN_VERSION);
  app_.add_option("--dir", common_.dir, "Installation directory (default $WARREN_DIR)")
      ->type_name("DIR");
  app_.add_flag("--json", common_.json, "Machine-readable JSON output");
  app_.add_flag("-q,--quiet", common_.quiet, "Less logging (repeatable)");
  app_.add_flag("-v,--verbose", common_.verbose, "More logging (repeatable)");
  app_.add_option("--color", common_.color, "Colour: auto, always, never")
      ->check(CLI::IsMember({"auto", "always", "never"}))
      ->type_name("WHEN");
  // A callback flag runs before subcommand requirements are checked (as --version does).
  app_.add_flag_callback(
          "--dump-cli",
          [this] {
            std::cout << dump_cli();
            throw CLI::Success();
          },
          "Print the command tree as JSON")
      ->group("");  // hidden
  app_.require_subcommand(0, 1);
  app_.fallthrough();
}

CLI::App* Program::verb(CLI::App& parent, const std::string& name, const std::string& description,
                        const std::string& synopsis) {
  CLI::App* sub = parent.add_subcommand(name, description);
  synopsis_[sub] = synopsis;
  sub->fallthrough();
  return sub;
}

void Program::on(CLI::App* sub, Action fn) {
  sub->callback([this, fn = std::move(fn)] { action_ = fn; });
}

std::string Program::warren_dir() const {
  if (!common_.dir.empty()) return common_.dir;
  if (const char* e = std::getenv("WARREN_DIR"); e && *e) return e;
  if (::geteuid() == 0) return "/var/lib/warren";
  const char* home = std::getenv("HOME");
  return std::string(home ? home : ".") + "/.local/share/warren";
}

bool Program::color() const {
  if (common_.color == "always") return true;
  if (common_.color == "never") return false;
  const char* nc = std::getenv("NO_COLOR");
  if (nc && *nc) return false;
  const char* term = std::getenv("TERM");
  if (term && std::string(term) == "dumb") return false;
  return ::isatty(1);
}

static boost::json::object dump_app(const CLI::App* app,
                                    const std::map<const CLI::App*, std::string>& syn) {
  boost::json::object o;
  o["name"] = app->get_name();
  o["description"] = app->get_description();
  if (auto it = syn.find(app); it != syn.end()) o["synopsis"] = it->second;
  boost::json::array opts, pos;
  for (const CLI::Option* opt : app->get_options()) {
    if (opt->get_group().empty() && opt->get_name() != "--help") {
      if (opt->get_lnames().empty() || opt->get_lnames()[0] != "dump-cli") continue;
    }
    boost::json::object jo;
    boost::json::array names;
    for (auto& s : opt->get_snames()) names.push_back(boost::json::value("-" + s));
    for (auto& l : opt->get_lnames()) names.push_back(boost::json::value("--" + l));
    if (opt->get_positional()) {
      jo["name"] = opt->get_name();
      jo["description"] = opt->get_description();
      pos.push_back(std::move(jo));
      continue;
    }
    jo["names"] = std::move(names);
    jo["description"] = opt->get_description();
    jo["takes_value"] = opt->get_items_expected_max() != 0 && opt->get_type_size() != 0;
    jo["repeatable"] = opt->get_items_expected_max() > 1 ||
                       opt->get_multi_option_policy() == CLI::MultiOptionPolicy::TakeAll;
    jo["value_name"] = opt->get_type_name();
    jo["hidden"] = opt->get_group().empty();
    opts.push_back(std::move(jo));
  }
  o["options"] = std::move(opts);
  o["positionals"] = std::move(pos);
  boost::json::array subs;
  for (const CLI::App* s : app->get_subcommands({})) subs.push_back(dump_app(s, syn));
  o["subcommands"] = std::move(subs);
  return o;
}

std::string Program::dump_cli() const {
  return boost::json::serialize(dump_app(&app_, synopsis_)) + "\n";
}

int Program::run(int argc, char** argv) {
  try {
    try {
      app_.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
      std::cout << app_.help();
      return 0;
    } catch (const CLI::CallForAllHelp& e) {
      std::cout << app_.help("", CLI::AppFormatMode::All);
      return 0;
    } catch (const CLI::CallForVersion& e) {
      std::cout << e.what() << "\n";
      return 0;
    } catch (const CLI::Success&) {
      return 0;
    } catch (const CLI::ParseError& e) {
      if (e.get_exit_code() == 0) return app_.exit(e);
      // A subcommand's --help arrives as CallForHelp from the subcommand; handled above.
      std::fprintf(stderr, "%s: %s\n", g_prog.c_str(), e.what());
      std::fprintf(stderr, "Try '%s --help' for more information.\n", g_prog.c_str());
      return core::exit_code(core::Errc::usage);
    }
    wlog::init(common_.verbose - common_.quiet, color() && ::isatty(2));
    if (!action_) {
      std::fputs(app_.help().c_str(), stderr);
      return core::exit_code(core::Errc::usage);
    }
    return action_();
  } catch (const core::ErrorException& e) {
    return fail(e.error);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: internal error: %s\n", g_prog.c_str(), e.what());
    return core::exit_code(core::Errc::internal);
  }
}

core::Result<std::string> read_secret(const std::string& path) {
  auto r = core::read_file(path, 1 << 16);
  if (!r) return r.error();
  std::string s = std::move(*r);
  size_t nl = s.find('\n');
  if (nl != std::string::npos) s.resize(nl);
  if (!s.empty() && s.back() == '\r') s.pop_back();
  return s;
}

core::Result<std::string> prompt_secret(const std::string& prompt, bool confirm) {
  int fd = ::open("/dev/tty", O_RDWR | O_CLOEXEC);
  if (fd < 0 || !::isatty(fd)) {
    if (fd >= 0) ::close(fd);
    return core::Error(core::Errc::noperm, "passphrase required (no terminal to prompt on)");
  }
  auto ask = [&](const std::string& p) -> std::string {
    (void)!::write(fd, p.data(), p.size());
    termios old{}, t{};
    ::tcgetattr(fd, &old);
    t = old;
    t.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    ::tcsetattr(fd, TCSAFLUSH, &t);
    std::string s;
    char c;
    while (::read(fd, &c, 1) == 1 && c != '\n') s.push_back(c);
    ::tcsetattr(fd, TCSAFLUSH, &old);
    (void)!::write(fd, "\n", 1);
    return s;
  };
  std::string a = ask(prompt);
  if (confirm && ask("Repeat: ") != a) {
    ::close(fd);
    return core::Error(core::Errc::usage, "passphrases do not match");
  }
  ::close(fd);
  return a;
}

}  // namespace cli
