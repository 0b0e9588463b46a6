// peerctl link create|list|revoke: share links — a URL whose token lets its holder into one
// resource (optionally below a path, until an expiry). The token is shown once; the store
// keeps its hash.
#include <boost/json.hpp>

#include "control/access.h"
#include "control/input.h"
#include "control/json.h"
#include "control/resources.h"
#include "control/table.h"
#include "core/text.h"
#include "crypto/crypto.h"
#include "model/check.h"
#include "peerctl.h"

namespace peerctl {

namespace {

// The host a link URL names: the resource's, or --host for a wildcard resource.
core::Result<std::string> link_host(const control::Resource& r, const std::string& given) {
  if (given.empty()) {
    if (r.host.find('*') != std::string::npos)
      return core::err(core::Errc::usage, "resource " + r.name + " serves " + r.host +
                                              ": give --host NAME for the link's URL");
    return r.host;
  }
  WARREN_TRY(h, model::check_hostname("--host", given));
  bool ok = r.host == "*" || h == r.host ||
            (core::starts_with(r.host, "*.") && h.size() > r.host.size() - 1 &&
             h.compare(h.size() - (r.host.size() - 1), r.host.size() - 1, r.host.substr(1)) == 0 &&
             h.find('*') == std::string::npos);
  if (!ok)
    return core::err(core::Errc::data,
                     "--host: '" + h + "': resource " + r.name + " serves " + r.host);
  return h;
}

void register_create(Ctx& c, CLI::App& noun) {
  struct Opts {
    std::string resource, expires, path, title, session_ttl, host;
  };
  auto o = std::make_shared<Opts>();
  auto* s = c.prog.verb(noun, "create", "Create a share link and print its URL (once)",
                        "peerctl link create RESOURCE [--expires DUR] [--path PATH] "
                        "[--title TEXT] [--session-ttl DUR] [--host HOST] [--json]");
  s->add_option("resource", o->resource, "Resource name")->required();
  s->add_option("--expires", o->expires, "The link stops working after DUR (default never)")
      ->type_name("DUR");
  s->add_option("--path", o->path, "Only below this path prefix (the URL opens it)")
      ->type_name("PATH");
  s->add_option("--title", o->title, "A note shown in link list")->type_name("TEXT");
  s->add_option("--session-ttl", o->session_ttl,
                "Sessions from this link last DUR and do not slide (default: the resource's)")
      ->type_name("DUR");
  s->add_option("--host", o->host, "Hostname for the URL when the resource has a wildcard host")
      ->type_name("HOST");
  c.prog.on(s, [&c, o]() -> int {
    control::Link l;
    l.resource = o->resource;
    l.title = o->title;
    l.path = o->path;
    if (!o->expires.empty()) {
      auto d = model::check_duration("--expires", o->expires);
      if (!d) return cli::fail(d.error());
      l.expires_at = now() + *d;
    }
    if (!o->session_ttl.empty()) {
      auto d = model::check_duration("--session-ttl", o->session_ttl);
      if (!d) return cli::fail(d.error());
      l.session_ttl = *d;
    }
    auto db = open_store(c, false);
    if (!db) return cli::fail(db.error());
    auto r = control::find_resource(*db, o->resource);
    if (!r) return cli::fail(r.error());
    auto host = link_host(*r, o->host);
    if (!host) return cli::fail(host.error());
    if (r->kind == "http") {
      auto a = control::load_auth(*db, r->id);
      if (!a) return cli::fail(a.error());
      if (a->is_public || !a->share_links)
        cli::warn("resource " + r->name +
                  " does not accept share links yet (peerctl resource "
                  "auth " +
                  r->name + " --share-links)");
    }
    auto n = control::create_link(*db, l, actor(), now());
    if (!n) return cli::fail(n.error());
    std::string url = std::string(r->tls ? "https://" : "http://") + *host +
                      edged_port_suffix(*db, r->tls) + (l.path.empty() ? r->path : l.path) +
                      "?warren_token=" + n->token;
    std::string out;
    if (c.prog.common().json) {
      auto j = control::to_json(n->link, now());
      j["url"] = url;
      j["token"] = n->token;
      out = json_line(j);
    } else {
      out = url + "\n";
    }
    int rc = emit(out);
    crypto::wipe(n->token.data(), n->token.size());
    crypto::wipe(url.data(), url.size());
    crypto::wipe(out.data(), out.size());
    return rc;
  });
}

void register_list(Ctx& c, CLI::App& noun) {
  auto res = std::make_shared<std::string>();
  auto* s = c.prog.verb(noun, "list", "List share links (of one resource, or all)",
                        "peerctl link list [RESOURCE] [--json]");
  s->add_option("resource", *res, "Resource name");
  c.prog.on(s, [&c, res]() -> int {
    auto db = open_store(c, false);
    if (!db) return cli::fail(db.error());
    auto ls = control::list_links(*db, *res, now());
    if (!ls) return cli::fail(ls.error());
    std::string out;
    control::Table t({"ID", "RESOURCE", "STATE", "EXPIRES", "PATH", "SESSIONS", "TITLE"});
    for (const auto& l : *ls) {
      auto j = control::to_json(l, now());
      if (c.prog.common().json)
        out += json_line(j);
      else
        t.add({l.id, l.resource, std::string(j["state"].as_string()),
               control::time_or(l.expires_at, "never"), l.path.empty() ? "-" : l.path,
               std::to_string(l.sessions), l.title.empty() ? "-" : l.title});
    }
    return emit(c.prog.common().json ? out : t.str());
  });
}

void register_revoke(Ctx& c, CLI::App& noun) {
  auto id = std::make_shared<std::string>();
  auto* s = c.prog.verb(noun, "revoke", "Revoke a share link and end the sessions it created",
                        "peerctl link revoke ID");
  s->alias("rm");
  s->add_option("id", *id, "Link id (from link list)")->required();
  c.prog.on(s, [&c, id]() -> int {
    auto db = open_store(c, false);
    if (!db) return cli::fail(db.error());
    auto n = control::revoke_link(*db, *id, actor());
    if (!n) return cli::fail(n.error());
    return 0;
  });
}

}  // namespace

void register_link(Ctx& c, CLI::App& noun) {
  register_create(c, noun);
  register_list(c, noun);
  register_revoke(c, noun);
}

}  // namespace peerctl
