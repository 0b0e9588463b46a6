// peerctl audit [list] [filters] [--follow]: the store's append-only audit log — every change
// peerctl, cactl and tunneld make and every access decision edged takes. --follow polls the
// store (every 200 ms) and prints new rows until SIGINT or SIGTERM.
#include <poll.h>
#include <signal.h>

#include <boost/json.hpp>

#include <csignal>

#include "control/audit.h"
#include "control/input.h"
#include "control/table.h"
#include "peerctl.h"

namespace peerctl {

namespace {

volatile std::sig_atomic_t g_stop = 0;

void on_signal(int) {
  g_stop = 1;
}

struct Opts {
  std::string since, until, actor, action, object;
  int64_t limit = -1;
  bool follow = false;
};

std::string line(const Ctx& c, const control::AuditRow& r) {
  if (c.prog.common().json) return json_line(control::to_json(r));
  return control::time_or(r.ts) + "  " + r.actor + "  " + r.action + "  " + r.object + "  " +
         r.detail + "\n";
}

int run(Ctx& c, const Opts& o) {
  control::AuditFilter f;
  std::time_t t = now();
  if (!o.since.empty()) {
    auto v = control::parse_time("--since", o.since, t);
    if (!v) return cli::fail(v.error());
    f.since = *v;
  }
  if (!o.until.empty()) {
    auto v = control::parse_time("--until", o.until, t);
    if (!v) return cli::fail(v.error());
    f.until = *v;
  }
  if (o.follow && f.until)
    return cli::fail({core::Errc::usage, "--follow and --until exclude each other"});
  if (o.limit < -1 || o.limit > 1000000)
    return cli::fail({core::Errc::data, "--limit: 0 (all) to 1000000"});
  f.actor = o.actor;
  f.action = o.action;
  f.object = o.object;
  // Listing: the newest 100 by default; following: the last 10 first, like tail -f.
  f.limit = o.limit >= 0 ? o.limit : o.follow ? 10 : 100;
  auto db = open_store(c, false);
  if (!db) return cli::fail(db.error());
  auto rows = control::query_audit(*db, f);
  if (!rows) return cli::fail(rows.error());
  if (!o.follow) {
    std::string out;
    control::Table tab({"TIME", "ACTOR", "ACTION", "OBJECT", "DETAIL"});
    for (const auto& r : *rows) {
      if (c.prog.common().json)
        out += line(c, r);
      else
        tab.add({control::time_or(r.ts), r.actor, r.action, r.object, r.detail});
    }
    return emit(c.prog.common().json ? out : tab.str());
  }

  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: the wait below wakes up
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);
  ::signal(SIGPIPE, SIG_IGN);
  int64_t last = 0;
  if (!rows->empty()) {
    last = rows->back().id;
  } else {
    // Start after the newest row even when the filters match nothing yet.
    control::AuditFilter newest;
    newest.limit = 1;
    auto n = control::query_audit(*db, newest);
    if (!n) return cli::fail(n.error());
    if (!n->empty()) last = n->back().id;
  }
  for (const auto& r : *rows)
    if (emit(line(c, r)) != 0) return 0;
  f.limit = 1000;
  while (!g_stop) {
    ::poll(nullptr, 0, 200);
    if (g_stop) break;
    f.after_id = last;
    auto more = control::query_audit(*db, f);
    if (!more) {
      if (more.error().code == core::Errc::tempfail) continue;  // store busy: next turn
      return cli::fail(more.error());
    }
    for (const auto& r : *more) {
      if (emit(line(c, r)) != 0) return 0;  // reader went away
      last = r.id;
    }
    // Rows the filter skipped still move the cursor.
    control::AuditFilter tail;
    tail.after_id = last;
    tail.limit = 1;
    if (auto n = control::query_audit(*db, tail); n && !n->empty()) last = n->back().id;
  }
  return 0;
}

void add_filters(CLI::App* s, Opts& o) {
  s->add_option("--since", o.since,
                "Rows from this time: a duration ago (15m), RFC 3339 or "
                "unix seconds")
      ->type_name("TIME");
  s->add_option("--until", o.until, "Rows before this time")->type_name("TIME");
  s->add_option("--actor", o.actor, "Only this actor (a trailing * matches a prefix)")
      ->type_name("ACTOR");
  s->add_option("--action", o.action, "Only this action, e.g. resource.add or access.*")
      ->type_name("ACTION");
  s->add_option("--object", o.object, "Only this object (a resource, user, serial, ...)")
      ->type_name("OBJECT");
  s->add_option("--limit", o.limit, "At most the newest N rows (default 100; 0: all)")
      ->type_name("N");
  s->add_flag("--follow,-f", o.follow, "Keep printing new rows until interrupted");
}

}  // namespace

void register_audit(Ctx& c, CLI::App& noun) {
  auto o = std::make_shared<Opts>();
  noun.require_subcommand(0, 1);
  add_filters(&noun, *o);
  c.prog.on(&noun, [&c, o]() -> int { return run(c, *o); });
  auto* s = c.prog.verb(noun, "list", "Query the audit log (the default verb)",
                        "peerctl audit [list] [--since TIME] [--until TIME] [--actor ACTOR] "
                        "[--action ACTION] [--object OBJECT] [--limit N] [--follow] [--json]");
  c.prog.on(s, [&c, o]() -> int { return run(c, *o); });
}

}  // namespace peerctl
