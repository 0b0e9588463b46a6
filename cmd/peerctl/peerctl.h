// peerctl's shared command context and its table of nouns. Each noun lives in its own file and
// registers its verbs with register_<noun>(Ctx&, CLI::App& noun) (cmd/peerctl/site.cpp, …).
#pragma once

#include <boost/json/object.hpp>

#include <ctime>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cli/cli.h"
#include "store/store.h"

namespace peerctl {

struct Ctx {
  cli::Program& prog;
};

// One `peerctl NOUN VERB …` family.
struct Noun {
  const char* name;
  const char* description;
  void (*add)(Ctx& c, CLI::App& noun);
};

// Current time; WARREN_FAKE_NOW (unix seconds or RFC 3339) overrides it for tests.
std::time_t now();
// The store of the installation (--dir / WARREN_DIR); `create` makes it when missing.
core::Result<store::Db> open_store(const Ctx& c, bool create);
// "peerctl:<user>" for the audit log.
std::string actor();
std::string json_line(const boost::json::object& o);
// ":PORT" of the port edged published for HTTPS (or HTTP) clients when it is not the default
// one, else "" (edged writes meta edged.https_port / edged.http_port when it starts).
std::string edged_port_suffix(store::Db& db, bool tls);
// A daemon's status reply from its control socket ($WARREN_DIR/run/NAME.sock), or nothing when
// the daemon is not running (a short timeout: listings never hang on a stuck daemon).
std::optional<boost::json::object> daemon_status(const Ctx& c, const std::string& daemon);

// The terminal side of the nouns (cmd/peerctl/io.cpp). A secret for `field`: from `path`
// ("-" = stdin, first line) when given, else prompted on the terminal (twice, to confirm) when
// stdin is a TTY, else Errc::data "FIELD: needs a secret (FILE, or - for stdin)". Empty secrets
// are refused. Secrets never come from argv.
core::Result<std::string> read_secret(std::string_view field, const std::string& path,
                                      const std::string& prompt);
// More than one option reading stdin ("-") in one command is a usage error.
core::Result<void> one_stdin(const std::vector<std::pair<std::string, std::string>>& opts);
// 0, or the error printed as "peerctl: …" and its exit code.
int done(const core::Result<void>& r);
// Writes `out` to stdout: 0, or the write error's exit code.
int emit(const std::string& out);

void register_site(Ctx& c, CLI::App& noun);
// `site enroll` (cmd/peerctl/enroll.cpp) and the lines `site add` prints about it.
void register_site_enroll(Ctx& c, CLI::App& noun);
std::string enroll_hint(const std::string& edge_endpoint, const std::string& https_port,
                        const std::string& token, int64_t expires_at);
// Resources, targets and access (cmd/peerctl/resource.cpp, target.cpp, user.cpp, role.cpp,
// grant.cpp, link.cpp, apikey.cpp, rule.cpp, session.cpp, audit.cpp).
void register_resource(Ctx& c, CLI::App& noun);
void register_target(Ctx& c, CLI::App& noun);
void register_user(Ctx& c, CLI::App& noun);
void register_role(Ctx& c, CLI::App& noun);
void register_grant(Ctx& c, CLI::App& noun);
void register_link(Ctx& c, CLI::App& noun);
void register_apikey(Ctx& c, CLI::App& noun);
void register_rule(Ctx& c, CLI::App& noun);
void register_session(Ctx& c, CLI::App& noun);
void register_audit(Ctx& c, CLI::App& noun);

// Verbs without a noun (cmd/peerctl/status.cpp, dump.cpp, blueprint.cpp, enroll.cpp), registered
// on the program itself: status, dump, apply, export and the hidden __complete.
void register_status(Ctx& c, CLI::App& app);
void register_dump(Ctx& c, CLI::App& app);
void register_apply(Ctx& c, CLI::App& app);
void register_export(Ctx& c, CLI::App& app);
void register_complete(Ctx& c, CLI::App& app);

}  // namespace peerctl
