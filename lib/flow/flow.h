// flow — Warren's workflow runner (flowrun): loads Thaiyyal-format JSON workflow graphs and runs
// them. Independent nodes run concurrently (I/O nodes on worker threads, the rest inline on the
// scheduler thread) while every result equals a sequential run in the documented order: nodes
// that touch shared state wait for every earlier such node, the first failure in order wins.
//
//   WARREN_TRY(cfg, flow::load_config("flowrun.toml", {}));
//   WARREN_TRY(wf, flow::load_workflow(text, cfg.limits.load));
//   flow::RunResult r = flow::run_workflow(wf, cfg, {});
//   if (r.ok) puts(flow::to_json(r.final_output).c_str());
//
// run_workflow is safe to call from several threads at once for different runs.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "core/result.h"
#include "flow/io.h"
#include "flow/nodes.h"
#include "flow/value.h"
#include "flow/workflow.h"

namespace flow {

struct Limits {
  LoadLimits load;
  int64_t execution_ns = 5LL * 60 * 1'000'000'000;  // whole run
  int64_t node_ns = 30LL * 1'000'000'000;           // one node execution
  size_t max_node_executions = 10000;               // including loop bodies and retries
  size_t max_http_calls = 100;
  NodeLimits node;
  size_t max_concurrency = 16;  // worker threads per scheduler
};

struct Config {
  Limits limits;
  HttpPolicy http;
  ExecPolicy exec;
  SocketPolicy socket;
  std::string warren_dir;              // for socket nodes
  std::string user_agent = "flowrun";  // HTTP User-Agent
};

// Reads flowrun.toml over `base` (keys absent from the file keep base's values). Unknown keys and
// bad values: Errc::config "flowrun.toml:3:1: unknown key \"x\"". Missing file: Errc::noinput.
core::Result<Config> load_config(const std::string& path, Config base);

struct RunOptions {
  std::optional<Value> input;  // fed to the nodes without incoming edges
  State state;                 // initial state (persistent values loaded from the store)
};

struct RunResult {
  std::string execution_id;  // 16 hex digits
  std::string workflow_id;
  bool ok = false;
  core::Errc code = core::Errc::ok;  // failure (1) or tempfail (75) when !ok
  std::string error;  // "error executing node X: ..." or "workflow execution timeout: ..."
  Object node_results;
  Value final_output;
  int64_t started_ns = 0;  // unix time
  int64_t duration_ns = 0;
  size_t executions = 0;
  State state;  // final state (for persistent scope)
};

RunResult run_workflow(const Workflow& wf, const Config& cfg, RunOptions opt);

// {"execution_id":...,"workflow_id"?:...,"node_results":{...},"final_output":...,"errors"?:[...]}
// in Thaiyyal's field order (node_results empty and final_output null after a failure).
std::string result_json(const RunResult& r);

}  // namespace flow
