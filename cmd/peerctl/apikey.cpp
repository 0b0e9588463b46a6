// peerctl apikey create|list|revoke: credentials for machines. `create` prints "ID:SECRET" once
// — HTTP Basic user ID, password SECRET (`curl -u ID:SECRET`); the store keeps a hash.
#include <boost/json.hpp>

#include "control/access.h"
#include "control/input.h"
#include "control/json.h"
#include "control/table.h"
#include "crypto/crypto.h"
#include "model/check.h"
#include "peerctl.h"

namespace peerctl {

namespace {

void register_create(Ctx& c, CLI::App& noun) {
  struct Opts {
    control::ApiKey k;
    std::string expires;
  };
  auto o = std::make_shared<Opts>();
  auto* s = c.prog.verb(noun, "create", "Create an API key and print ID:SECRET (once)",
                        "peerctl apikey create [--user EMAIL] [--resource RESOURCE] "
                        "[--scope SCOPE]... [--expires DUR] [--json]");
  s->add_option("--user", o->k.user, "Tie the key to a user")->type_name("EMAIL");
  s->add_option("--resource", o->k.resource, "Only for this resource (default: any)")
      ->type_name("RESOURCE");
  s->add_option("--scope", o->k.scopes, "A scope the key carries (repeatable)")->type_name("SCOPE");
  s->add_option("--expires", o->expires, "The key stops working after DUR (default never)")
      ->type_name("DUR");
  c.prog.on(s, [&c, o]() -> int {
    if (!o->expires.empty()) {
      auto d = model::check_duration("--expires", o->expires);
      if (!d) return cli::fail(d.error());
      o->k.expires_at = now() + *d;
    }
    auto db = open_store(c, false);
    if (!db) return cli::fail(db.error());
    auto n = control::create_apikey(*db, o->k, actor(), now());
    if (!n) return cli::fail(n.error());
    std::string out;
    if (c.prog.common().json) {
      auto j = control::to_json(n->key, now());
      j["secret"] = n->secret;
      out = json_line(j);
    } else {
      out = n->key.id + ":" + n->secret + "\n";
    }
    int rc = emit(out);
    crypto::wipe(n->secret.data(), n->secret.size());
    crypto::wipe(out.data(), out.size());
    return rc;
  });
}

void register_list(Ctx& c, CLI::App& noun) {
  auto* s = c.prog.verb(noun, "list", "List API keys (never their secrets)",
                        "peerctl apikey list [--json]");
  c.prog.on(s, [&c]() -> int {
    auto db = open_store(c, false);
    if (!db) return cli::fail(db.error());
    auto ks = control::list_apikeys(*db);
    if (!ks) return cli::fail(ks.error());
    std::string out;
    control::Table t({"ID", "STATE", "USER", "RESOURCE", "SCOPES", "EXPIRES", "LAST USED"});
    for (const auto& k : *ks) {
      auto j = control::to_json(k, now());
      if (c.prog.common().json)
        out += json_line(j);
      else
        t.add({k.id, std::string(j["state"].as_string()), k.user.empty() ? "-" : k.user,
               k.resource.empty() ? "*" : k.resource,
               k.scopes.empty() ? "-" : control::join(k.scopes),
               control::time_or(k.expires_at, "never"), control::time_or(k.last_used, "never")});
    }
    return emit(c.prog.common().json ? out : t.str());
  });
}

void register_revoke(Ctx& c, CLI::App& noun) {
  auto id = std::make_shared<std::string>();
  auto* s = c.prog.verb(noun, "revoke", "Revoke an API key", "peerctl apikey revoke ID");
  s->alias("rm");
  s->add_option("id", *id, "Key id (from apikey list)")->required();
  c.prog.on(s, [&c, id]() -> int {
    auto db = open_store(c, false);
    if (!db) return cli::fail(db.error());
    return done(control::revoke_apikey(*db, *id, actor()));
  });
}

}  // namespace

void register_apikey(Ctx& c, CLI::App& noun) {
  register_create(c, noun);
  register_list(c, noun);
  register_revoke(c, noun);
}

}  // namespace peerctl
