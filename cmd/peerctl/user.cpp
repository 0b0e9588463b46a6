// peerctl user add|list|show|passwd|rm|enable|disable|roles: Warren accounts (email +
// argon2id password, optional TOTP) for the login portal and HTTP Basic.
#include <unistd.h>
#include <boost/json.hpp>

#include <array>
#include <optional>
#include <tuple>

#include "auth/otp.h"
#include "control/access.h"
#include "control/input.h"
#include "control/json.h"
#include "control/table.h"
#include "core/text.h"
#include "crypto/crypto.h"
#include "peerctl.h"

namespace peerctl {

namespace {

core::Result<std::string> password_hash(const std::string& file) {
  WARREN_TRY(pw, read_secret("--password-file", file, "Password: "));
  auto h = crypto::hash_password(pw);
  crypto::wipe(pw.data(), pw.size());
  return h;
}

// A new TOTP secret (160 bits, base32) and its otpauth:// URI for `email`.
std::pair<std::string, std::string> new_totp(const std::string& email) {
  std::array<uint8_t, 20> secret{};
  crypto::random_bytes(secret);
  std::pair<std::string, std::string> out{
      auth::base32(secret), auth::otpauth_uri("Warren", core::to_lower(email), secret)};
  crypto::wipe(secret.data(), secret.size());
  return out;
}

void register_add(Ctx& c, CLI::App& noun) {
  struct Opts {
    control::User u;
    std::string password_file;
    bool totp = false, disabled = false;
  };
  auto o = std::make_shared<Opts>();
  auto* s = c.prog.verb(noun, "add", "Add a user (the TOTP URI is printed once)",
                        "peerctl user add EMAIL [--name NAME] [--password-file FILE] "
                        "[--role ROLE]... [--totp] [--disabled] [--json]");
  s->add_option("email", o->u.email, "Email address (the login name)")->required();
  s->add_option("--name", o->u.name, "Display name (Remote-Name)")->type_name("NAME");
  s->add_option("--password-file", o->password_file,
                "Read the password from FILE (- for stdin); without it: no password login")
      ->type_name("FILE");
  s->add_option("--role", o->u.roles, "Give the user ROLE (repeatable)")->type_name("ROLE");
  s->add_flag("--totp", o->totp, "Require a TOTP code; prints the otpauth:// URI once");
  s->add_flag("--disabled", o->disabled, "Add the account disabled");
  c.prog.on(s, [&c, o]() -> int {
    o->u.enabled = !o->disabled;
    std::string hash;
    if (!o->password_file.empty()) {
      auto h = password_hash(o->password_file);
      if (!h) return cli::fail(h.error());
      hash = *h;
    }
    std::string secret_b32, uri;
    if (o->totp) std::tie(secret_b32, uri) = new_totp(o->u.email);
    auto db = open_store(c, true);
    if (!db) return cli::fail(db.error());
    auto id = control::add_user(*db, o->u, hash, secret_b32, actor(), now());
    crypto::wipe(secret_b32.data(), secret_b32.size());
    if (!id) return cli::fail(id.error());
    if (c.prog.common().json) {
      auto u = control::find_user(*db, o->u.email);
      if (!u) return cli::fail(u.error());
      auto j = control::to_json(*u);
      if (o->totp) j["otpauth_uri"] = uri;
      return emit(json_line(j));
    }
    return o->totp ? emit(uri + "\n") : 0;
  });
}

void register_passwd(Ctx& c, CLI::App& noun) {
  struct Opts {
    std::string email, file;
  };
  auto o = std::make_shared<Opts>();
  auto* s = c.prog.verb(noun, "passwd",
                        "Set a user's password (from FILE, stdin, or prompted on a terminal)",
                        "peerctl user passwd EMAIL [--password-file FILE]");
  s->add_option("email", o->email, "User")->required();
  s->add_option("--password-file", o->file, "Read the password from FILE (- for stdin)")
      ->type_name("FILE");
  c.prog.on(s, [&c, o]() -> int {
    auto db = open_store(c, false);
    if (!db) return cli::fail(db.error());
    if (auto u = control::find_user(*db, o->email); !u) return cli::fail(u.error());
    // Without --password-file a pipe on stdin is read too (`… | peerctl user passwd EMAIL`).
    std::string file = o->file.empty() && !::isatty(0) ? "-" : o->file;
    auto h = password_hash(file);
    if (!h) return cli::fail(h.error());
    return done(control::set_user_password(*db, o->email, *h, actor(), now()));
  });
}

void register_set(Ctx& c, CLI::App& noun) {
  struct Opts {
    std::string email, name;
    bool totp = false, no_totp = false;
  };
  auto o = std::make_shared<Opts>();
  auto* s = c.prog.verb(noun, "set",
                        "Change a user's name or TOTP (--totp prints the new otpauth:// URI once)",
                        "peerctl user set EMAIL [--name NAME] [--totp | --no-totp] [--json]");
  s->add_option("email", o->email, "User")->required();
  auto* name = s->add_option("--name", o->name, "Display name (Remote-Name)")->type_name("NAME");
  auto* on = s->add_flag("--totp", o->totp, "Enrol a new TOTP secret; prints its URI once");
  auto* off = s->add_flag("--no-totp", o->no_totp, "Turn TOTP off");
  on->excludes(off);
  c.prog.on(s, [&c, o, name]() -> int {
    std::optional<std::string> new_name, secret;
    if (name->count()) new_name = o->name;
    std::string uri;
    if (o->totp) std::tie(secret, uri) = new_totp(o->email);
    if (o->no_totp) secret = std::string();
    auto db = open_store(c, false);
    if (!db) return cli::fail(db.error());
    auto r = control::update_user(*db, o->email, new_name, secret, actor(), now());
    if (secret) crypto::wipe(secret->data(), secret->size());
    if (!r) return cli::fail(r.error());
    if (!o->totp) return 0;
    if (c.prog.common().json)
      return emit(json_line({{"email", core::to_lower(o->email)}, {"otpauth_uri", uri}}));
    return emit(uri + "\n");
  });
}

void register_list(Ctx& c, CLI::App& noun) {
  auto* s = c.prog.verb(noun, "list", "List users", "peerctl user list [--json]");
  c.prog.on(s, [&c]() -> int {
    auto db = open_store(c, false);
    if (!db) return cli::fail(db.error());
    auto us = control::list_users(*db);
    if (!us) return cli::fail(us.error());
    std::string out;
    control::Table t({"EMAIL", "NAME", "ENABLED", "PASSWORD", "TOTP", "ROLES"});
    for (const auto& u : *us) {
      if (c.prog.common().json)
        out += json_line(control::to_json(u));
      else
        t.add({u.email, u.name.empty() ? "-" : u.name, u.enabled ? "yes" : "no",
               u.has_password ? "yes" : "no", u.totp ? "yes" : "no",
               u.roles.empty() ? "-" : control::join(u.roles)});
    }
    return emit(c.prog.common().json ? out : t.str());
  });
}

void register_show(Ctx& c, CLI::App& noun) {
  auto email = std::make_shared<std::string>();
  auto* s = c.prog.verb(noun, "show", "Show a user", "peerctl user show EMAIL [--json]");
  s->add_option("email", *email, "User")->required();
  c.prog.on(s, [&c, email]() -> int {
    auto db = open_store(c, false);
    if (!db) return cli::fail(db.error());
    auto u = control::find_user(*db, *email);
    if (!u) return cli::fail(u.error());
    if (c.prog.common().json) return emit(json_line(control::to_json(*u)));
    using control::kv_line;
    return emit(kv_line("email", u->email) + kv_line("name", u->name.empty() ? "-" : u->name) +
                kv_line("enabled", u->enabled ? "yes" : "no") +
                kv_line("password", u->has_password ? "set" : "none") +
                kv_line("totp", u->totp ? "yes" : "no") +
                kv_line("roles", u->roles.empty() ? "-" : control::join(u->roles, " ")) +
                kv_line("created", control::time_or(u->created_at)));
  });
}

void register_simple(Ctx& c, CLI::App& noun, const char* verb, const char* help,
                     core::Result<void> (*fn)(store::Db&, const std::string&)) {
  auto email = std::make_shared<std::string>();
  auto* s = c.prog.verb(noun, verb, help, std::string("peerctl user ") + verb + " EMAIL");
  if (std::string(verb) == "rm") s->alias("remove");
  s->add_option("email", *email, "User")->required();
  c.prog.on(s, [&c, email, fn]() -> int {
    auto db = open_store(c, false);
    if (!db) return cli::fail(db.error());
    return done(fn(*db, *email));
  });
}

void register_roles(Ctx& c, CLI::App& noun) {
  struct Opts {
    std::string email;
    std::vector<std::string> add, rm;
  };
  auto o = std::make_shared<Opts>();
  auto* s = c.prog.verb(noun, "roles", "List, add or remove a user's roles",
                        "peerctl user roles EMAIL [--add ROLE]... [--rm ROLE]... [--json]");
  s->add_option("email", o->email, "User")->required();
  s->add_option("--add", o->add, "Give the user ROLE (repeatable)")->type_name("ROLE");
  s->add_option("--rm", o->rm, "Take ROLE away (repeatable)")->type_name("ROLE");
  c.prog.on(s, [&c, o]() -> int {
    auto db = open_store(c, false);
    if (!db) return cli::fail(db.error());
    if (!o->add.empty() || !o->rm.empty()) {
      auto tx = store::Tx::begin(*db);
      if (!tx) return cli::fail(tx.error());
      for (const auto& r : o->add)
        if (auto a = control::set_user_role(*db, o->email, r, true, actor()); !a)
          return cli::fail(a.error());
      for (const auto& r : o->rm)
        if (auto a = control::set_user_role(*db, o->email, r, false, actor()); !a)
          return cli::fail(a.error());
      return done(tx->commit());
    }
    auto u = control::find_user(*db, o->email);
    if (!u) return cli::fail(u.error());
    std::string out;
    for (const auto& r : u->roles)
      out += c.prog.common().json ? json_line({{"email", u->email}, {"role", r}}) : r + "\n";
    return emit(out);
  });
}

}  // namespace

void register_user(Ctx& c, CLI::App& noun) {
  register_add(c, noun);
  register_list(c, noun);
  register_show(c, noun);
  register_set(c, noun);
  register_passwd(c, noun);
  register_simple(
      c, noun, "rm", "Remove a user (their sessions end)",
      [](store::Db& db, const std::string& e) { return control::remove_user(db, e, actor()); });
  register_simple(c, noun, "enable", "Let a user log in again",
                  [](store::Db& db, const std::string& e) {
                    return control::set_user_enabled(db, e, true, actor(), now());
                  });
  register_simple(c, noun, "disable", "Stop a user logging in (their sessions stop working)",
                  [](store::Db& db, const std::string& e) {
                    return control::set_user_enabled(db, e, false, actor(), now());
                  });
  register_roles(c, noun);
}

}  // namespace peerctl
