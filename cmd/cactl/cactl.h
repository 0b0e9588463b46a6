// cactl's shared command context: the program, the passphrase sources, and opening the CA.
// Each verb lives in its own file and registers itself with register_<verb>(Ctx&).
#pragma once

#include <ctime>
#include <memory>
#include <optional>
#include <string>

#include <boost/json/object.hpp>

#include "cli/cli.h"
#include "pki/authority.h"
#include "store/store.h"

namespace cactl {

struct Ctx {
  cli::Program& prog;
  std::string passphrase_file;  // --passphrase-file (global)
};

// An opened CA: the store and the authority that refers to it.
struct Opened {
  std::unique_ptr<store::Db> db;
  std::unique_ptr<pki::Authority> ca;
};

// Current time; WARREN_FAKE_NOW (unix seconds or RFC 3339) overrides it for tests.
std::time_t now();
// The passphrase: --passphrase-file, $CACTL_PASSPHRASE_FILE, else a TTY prompt.
core::Result<std::string> passphrase(const Ctx& c, bool confirm);
core::Result<Opened> open_ca(const Ctx& c, bool unlock);
// Writes data to path ("-" = stdout); with `replace`, atomically replaces an existing file.
core::Result<void> write_out(const std::string& path, const std::string& data, unsigned mode,
                             bool replace);
std::string json_line(const boost::json::object& o);
boost::json::object cert_json(const pki::CertRecord& r, std::time_t t);

void register_init(Ctx& c);
void register_issue(Ctx& c);
void register_sign(Ctx& c);
void register_renew(Ctx& c);
void register_list(Ctx& c);
void register_show(Ctx& c);
void register_revoke(Ctx& c);
void register_crl(Ctx& c);
void register_verify(Ctx& c);
void register_export(Ctx& c);
void register_token(Ctx& c);

}  // namespace cactl
