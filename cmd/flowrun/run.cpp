// run: load, run, print the final output (or the whole result), record the run in the store.
#include <cstdio>

#include "config/config.h"
#include "core/fs.h"
#include "flow/history.h"
#include "flowrun.h"
#include "log/log.h"

namespace flowrun {

namespace {

struct Opts {
  std::string file;
  std::string input;
  std::string timeout;
  bool results = false;
  bool no_record = false;
};

const char* status_of(const flow::RunResult& r) {
  if (r.ok) return "ok";
  return r.code == core::Errc::tempfail ? "timeout" : "failed";
}

// Records the run; a store that cannot be opened or written only warns.
void record(const Ctx& c, store::Db* db, const flow::RunRecord& rec) {
  std::optional<store::Db> own;
  if (!db) {
    auto d = open_store(c, true);
    if (!d) {
      cli::warn("run not recorded: " + d.error().message);
      return;
    }
    own = std::move(*d);
    db = &*own;
  }
  if (auto r = flow::record_run(*db, rec); !r) cli::warn("run not recorded: " + r.error().message);
}

int run(Ctx& c, const Opts& o) {
  auto cfg = load_config(c);
  if (!cfg) return cli::fail(cfg.error());
  if (!o.timeout.empty()) {
    auto d = config::parse_duration_ms(o.timeout);
    if (!d || d->count() <= 0)
      return cli::fail({core::Errc::usage, "--timeout: bad duration \"" + o.timeout + "\""});
    cfg->limits.execution_ns = static_cast<int64_t>(d->count()) * 1'000'000;
  }
  flow::RunOptions opt;
  if (!o.input.empty()) {
    std::string text = o.input;
    if (text[0] == '@') {
      if (text == "@-" && o.file == "-")
        return cli::fail({core::Errc::usage, "--input @- and the workflow cannot both be stdin"});
      auto t = core::read_file(text.substr(1), 64u << 20);
      if (!t) return cli::fail(t.error().context("--input"));
      text = std::move(*t);
    }
    std::string err;
    auto v = flow::parse_json(text, &err);
    if (!v) return cli::fail({core::Errc::data, "--input: invalid JSON: " + err});
    opt.input = std::move(*v);
  }
  int64_t t0 = flow::wall_ns();
  auto wf = read_workflow(o.file, *cfg);
  if (!wf) {
    if (wf.error().code == core::Errc::data && !o.no_record) {
      flow::RunRecord rec;
      rec.execution_id = "invalid-" + std::to_string(t0);
      rec.source = o.file;
      rec.started_ms = t0 / 1000000;
      rec.status = "invalid";
      rec.exit_code = core::exit_code(core::Errc::data);
      rec.error = wf.error().message;
      record(c, nullptr, rec);
    }
    return cli::fail(wf.error());
  }
  // The persistent scope needs the store and a workflow_id.
  bool persistent = false;
  for (auto& n : wf->nodes) persistent |= n.persistent;
  std::optional<store::Db> db;
  if (persistent) {
    if (!wf->has_workflow_id)
      return cli::fail({core::Errc::data, o.file + ": scope \"persistent\" needs a workflow_id"});
    auto d = open_store(c, true);
    if (!d) return cli::fail(d.error().context("persistent state"));
    db = std::move(*d);
    if (auto r = flow::load_state(*db, wf->workflow_id, opt.state, flow::wall_ns()); !r)
      return cli::fail(r.error().context("persistent state"));
  }
  flow::RunResult res = flow::run_workflow(*wf, *cfg, std::move(opt));
  wlog::get("flow")->debug("event=run_done execution={} ok={} duration_us={} executions={}",
                           res.execution_id, res.ok, res.duration_ns / 1000, res.executions);
  int code = 0;
  std::string save_error;
  if (res.ok && persistent) {
    if (auto r = flow::save_state(*db, wf->workflow_id, res.state, flow::wall_ns()); !r) {
      save_error = "cannot save persistent state: " + r.error().message;
      code = core::exit_code(core::Errc::tempfail);
    }
  }
  if (!o.no_record) {
    flow::RunRecord rec;
    rec.execution_id = res.execution_id;
    rec.workflow_id = res.workflow_id;
    rec.source = o.file;
    rec.started_ms = res.started_ns / 1000000;
    rec.duration_ms = res.duration_ns / 1000000;
    rec.status = status_of(res);
    rec.exit_code = res.ok ? code : core::exit_code(res.code);
    rec.error = res.ok ? save_error : res.error;
    rec.node_count = static_cast<int64_t>(wf->nodes.size());
    rec.executions = static_cast<int64_t>(res.executions);
    if (res.ok) rec.final_output = flow::to_json(res.final_output);
    record(c, db ? &*db : nullptr, rec);
  }
  std::string out;
  if (o.results || c.prog.common().json)
    out = flow::result_json(res) + "\n";
  else if (res.ok)
    out = json_line(res.final_output);
  if (!out.empty())
    if (auto w = core::write_stdout(out); !w) return cli::fail(w.error());
  if (!res.ok) return cli::fail({res.code, res.error});
  if (!save_error.empty()) return cli::fail({core::Errc::tempfail, save_error});
  return 0;
}

}  // namespace

void register_run(Ctx& c) {
  auto o = std::make_shared<Opts>();
  auto* s = c.prog.verb(
      c.prog.app(), "run", "Run a workflow and print its final output as JSON",
      "flowrun run [--input JSON|@FILE] [--results] [--timeout DURATION] [--no-record] FILE|-");
  s->add_option("file", o->file, "Workflow file (- for stdin)")->required();
  s->add_option("--input", o->input,
                "JSON value (or @FILE) fed to the nodes that have no incoming edges")
      ->type_name("JSON|@FILE");
  s->add_flag("--results", o->results,
              "Print the whole result: execution_id, node_results, final_output, errors");
  s->add_option("--timeout", o->timeout, "Limit the whole run (\"30s\", \"5m\")")
      ->type_name("DURATION");
  s->add_flag("--no-record", o->no_record, "Do not record the run in the store");
  c.prog.on(s, [&c, o] { return run(c, *o); });
}

}  // namespace flowrun
