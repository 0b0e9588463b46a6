// history, show: runs recorded in the store.
#include <cstdio>

#include "core/fs.h"
#include "core/text.h"
#include "flow/history.h"
#include "flowrun.h"

namespace flowrun {

namespace {

flow::Value run_json(const flow::RunRecord& r, bool with_output) {
  flow::Object o;
  o["id"] = r.id;
  o["execution_id"] = r.execution_id;
  o["workflow_id"] = r.workflow_id;
  o["source"] = r.source;
  o["started"] = core::rfc3339(static_cast<std::time_t>(r.started_ms / 1000));
  o["duration_ms"] = r.duration_ms;
  o["status"] = r.status;
  o["exit_code"] = static_cast<int64_t>(r.exit_code);
  o["error"] = r.error;
  o["nodes"] = r.node_count;
  o["executions"] = r.executions;
  if (with_output) {
    auto v = r.final_output ? flow::parse_json(*r.final_output) : std::nullopt;
    o["final_output"] = v ? *v : flow::Value();
  }
  return o;
}

// Opens the store without creating it: no store means no runs.
core::Result<std::optional<store::Db>> existing_store(const Ctx& c) {
  if (!core::file_exists(store::db_path(c.prog.warren_dir()))) return std::optional<store::Db>();
  auto d = open_store(c, false);
  if (!d) return d.error();
  return std::optional<store::Db>(std::move(*d));
}

}  // namespace

void register_history(Ctx& c) {
  struct Opts {
    std::string workflow;
    int64_t limit = 20;
  };
  auto o = std::make_shared<Opts>();
  auto* s = c.prog.verb(c.prog.app(), "history", "List recorded runs, newest first",
                        "flowrun history [--workflow ID] [--limit N] [--json]");
  s->add_option("--workflow", o->workflow, "Only runs of this workflow_id")->type_name("ID");
  s->add_option("--limit", o->limit, "At most N runs (0 = all; default 20)")->type_name("N");
  c.prog.on(s, [&c, o]() -> int {
    auto db = existing_store(c);
    if (!db) return cli::fail(db.error());
    std::vector<flow::RunRecord> runs;
    if (*db) {
      auto r = flow::list_runs(**db, o->workflow, o->limit);
      if (!r) return cli::fail(r.error());
      runs = std::move(*r);
    }
    std::string out;
    if (c.prog.common().json) {
      for (auto& r : runs) out += json_line(run_json(r, false));
    } else {
      char buf[1024];
      std::snprintf(buf, sizeof buf, "%-5s %-16s %-20s %-8s %-20s %8s  %s\n", "ID", "EXECUTION",
                    "WORKFLOW", "STATUS", "STARTED", "DURATION", "ERROR");
      out += buf;
      for (auto& r : runs) {
        std::snprintf(buf, sizeof buf, "%-5lld %-16s %-20s %-8s %-20s %8s  %s\n",
                      static_cast<long long>(r.id), r.execution_id.substr(0, 16).c_str(),
                      (r.workflow_id.empty() ? "-" : r.workflow_id).c_str(), r.status.c_str(),
                      core::rfc3339(static_cast<std::time_t>(r.started_ms / 1000)).c_str(),
                      ms_text(r.duration_ms).c_str(), r.error.substr(0, 200).c_str());
        out += buf;
      }
    }
    std::fputs(out.c_str(), stdout);
    return 0;
  });
}

void register_show(Ctx& c) {
  auto key = std::make_shared<std::string>();
  auto* s = c.prog.verb(c.prog.app(), "show", "Show one recorded run", "flowrun show [--json] RUN");
  s->add_option("run", *key, "Run id, execution id, or a unique prefix of it")->required();
  c.prog.on(s, [&c, key]() -> int {
    auto db = existing_store(c);
    if (!db) return cli::fail(db.error());
    if (!*db) return cli::fail({core::Errc::noinput, "no such run: " + *key});
    auto r = flow::find_run(**db, *key);
    if (!r) return cli::fail(r.error());
    if (c.prog.common().json) {
      std::fputs(json_line(run_json(*r, true)).c_str(), stdout);
      return 0;
    }
    std::printf(
        "id:           %lld\nexecution:    %s\nworkflow:     %s\nsource:       %s\n"
        "started:      %s\nduration:     %s\nstatus:       %s\nexit code:    %d\n"
        "nodes:        %lld\nexecutions:   %lld\n",
        static_cast<long long>(r->id), r->execution_id.c_str(),
        (r->workflow_id.empty() ? "-" : r->workflow_id).c_str(), r->source.c_str(),
        core::rfc3339(static_cast<std::time_t>(r->started_ms / 1000)).c_str(),
        ms_text(r->duration_ms).c_str(), r->status.c_str(), r->exit_code,
        static_cast<long long>(r->node_count), static_cast<long long>(r->executions));
    if (!r->error.empty()) std::printf("error:        %s\n", r->error.c_str());
    if (r->final_output) std::printf("final output: %s\n", r->final_output->c_str());
    return 0;
  });
}

}  // namespace flowrun
