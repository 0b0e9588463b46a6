// flowrun's shared command context: the program, the config file, and the helpers every verb
// uses (config, reading a workflow, the store). Each verb lives in its own file and registers
// itself with register_<verb>(Ctx&).
#pragma once

#include <memory>
#include <string>

#include "cli/cli.h"
#include "flow/flow.h"
#include "store/store.h"

namespace flowrun {

struct Ctx {
  cli::Program& prog;
  std::string config_path;  // --config (global)
  std::string user_agent;
};

// flowrun.toml: --config FILE, else $WARREN_DIR/flowrun.toml when it exists, else defaults.
core::Result<flow::Config> load_config(const Ctx& c);
// Reads FILE ("-" = stdin) and loads the workflow; errors name the file ("x.json: ...").
core::Result<flow::Workflow> read_workflow(const std::string& path, const flow::Config& cfg);
// load_config + read_workflow, for verbs that only look at a workflow.
core::Result<flow::Workflow> load_file(const Ctx& c, const std::string& path);
// The store of WARREN_DIR (created when missing).
core::Result<store::Db> open_store(const Ctx& c, bool create);
std::string json_line(const flow::Value& v);
std::string ms_text(int64_t ms);  // "12ms", "1.5s"

void register_run(Ctx& c);
void register_validate(Ctx& c);
void register_graph(Ctx& c);
void register_nodes(Ctx& c);
void register_history(Ctx& c);
void register_show(Ctx& c);

}  // namespace flowrun
