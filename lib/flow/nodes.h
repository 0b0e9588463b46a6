// Node executors: one function per node type, given the node, its inputs and a RunContext (the
// runner's services: state, expression scope, time, sleeping, I/O, loop bodies, upstream
// re-runs). Executors hold no state of their own and do no I/O except through the RunContext,
// so the graph semantics stay testable without sockets or clocks. The runner calls an executor
// on one thread at a time per node; stateful nodes are serialized by the runner.
#pragma once

#include <boost/system/result.hpp>

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "flow/expr.h"
#include "flow/workflow.h"

namespace flow {

struct NodeError {
  std::string message;
  core::Errc code = core::Errc::failure;  // failure (exit 1) or tempfail (exit 75)
  bool timed_out = false;                 // stopped by a deadline (timeout node, node limit)
  bool abort = false;  // a run limit or cancellation: loops and catchers do not absorb it
};
[[noreturn]] void throw_exception_from_error(const NodeError& e, const boost::source_location&);

template <class T>
using NodeResult = boost::system::result<T, NodeError>;

inline NodeError fail(std::string m) {
  return NodeError{std::move(m), core::Errc::failure, false};
}
inline NodeError transient(std::string m) {
  return NodeError{std::move(m), core::Errc::tempfail, false};
}

struct CacheEntry {
  Value value;
  int64_t expires_ns = 0;
};

// Execution state shared by the nodes of one run (one per run, as Thaiyyal's state manager),
// plus the persistent cells loaded from the store when the workflow uses scope "persistent".
struct State {
  Object variables;
  std::optional<Value> accumulator;
  double counter = 0;
  std::map<std::string, CacheEntry> cache;
  Object constants;     // context_constant
  Object context_vars;  // context_variable (overrides constants)

  // Persistent scope (saved at the end of a successful run).
  std::set<std::string> persistent_variables;  // names to save
  std::optional<Value> p_accumulator;
  std::optional<double> p_counter;
  std::map<std::string, CacheEntry> p_cache;
  std::set<std::string> p_cache_deleted;
  bool persistent_used = false;
};

// Limits the executors enforce themselves.
struct NodeLimits {
  size_t max_variables = 1000;
  size_t max_string_length = 1 << 20;
  size_t max_array_length = 10000;
  size_t max_depth = 32;
  size_t max_iterations = 1000;  // cap on for_each/while_loop max_iterations
};

struct HttpRequest {
  std::string method = "GET";
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::optional<int64_t> timeout_ns;
};
struct HttpResponse {
  int status = 0;
  std::string content_type;
  std::string body;
  std::string final_url;
};
struct ExecRequest {
  std::vector<std::string> argv;
  std::string stdin_data;
  std::optional<int64_t> timeout_ns;
};
struct ExecResponse {
  int exit_code = -1;
  int signal = 0;
  std::string out, err;
  bool truncated = false;
};

// Per-node memory that outlives one execution within a run (rate_limiter, throttle).
struct NodeMemory {
  std::deque<int64_t> requests;  // rate_limiter: request times (ns)
  std::optional<int64_t> last;   // throttle: last pass (ns)
};

class RunContext : public Scope {
 public:
  virtual State& state() = 0;
  virtual const NodeLimits& limits() const = 0;
  virtual NodeMemory& memory(int node) = 0;

  // Time and waiting. sleep fails when the run is cancelled or the node's deadline passes.
  virtual NodeResult<void> sleep_ns(int64_t ns) = 0;

  // I/O (policy checks — SSRF guard, enable switches, call limits — happen behind these).
  virtual NodeResult<HttpResponse> http(const HttpRequest& req) = 0;
  virtual NodeResult<ExecResponse> exec(const ExecRequest& req) = 0;
  virtual NodeResult<Value> socket(const std::string& name, const Object& request,
                                   int64_t timeout_ns) = 0;

  // Loops: runs the body of the loop node once with `value` fed to the body entries; returns the
  // body's result (its last terminal node in payload order that produced a result).
  virtual NodeResult<Value> run_body(const Value& value, size_t iteration) = 0;
  // Resilience: the failure of the upstream node (first input) when it failed, else nullptr.
  virtual const NodeError* upstream_failure() = 0;
  // Runs the upstream node again (retry); on success its result replaces the failure.
  virtual NodeResult<Value> rerun_upstream() = 0;
};

struct Call {
  const Workflow& wf;
  const Node& node;
  int index;  // node index
  std::vector<const Value*> inputs;
  RunContext& rc;

  const Value* in0() const { return inputs.empty() ? nullptr : inputs.front(); }
  const Value* data(std::string_view key) const {
    auto it = node.data.find(key);
    if (it == node.data.end() || it->value().is_null()) return nullptr;
    return &it->value();
  }
  std::string str(std::string_view key, std::string_view def = "") const {
    const Value* v = data(key);
    return v && v->is_string() ? std::string(v->get_string()) : std::string(def);
  }
  std::optional<std::string> opt_str(std::string_view key) const {
    const Value* v = data(key);
    if (v && v->is_string()) return std::string(v->get_string());
    return std::nullopt;
  }
  bool flag(std::string_view key, bool def) const {
    const Value* v = data(key);
    return v && v->is_bool() ? v->get_bool() : def;
  }
  // An expression evaluation environment for `input` over this run's scope.
  Env env(const Value* input) const {
    Env e;
    e.input = input;
    e.scope = &rc;
    return e;
  }
};

// {"k": v, ...} for executor results.
inline Value make_object(std::initializer_list<std::pair<std::string_view, Value>> kv) {
  Object o;
  for (auto& [k, v] : kv) o[k] = v;
  return o;
}

using Executor = NodeResult<Value> (*)(Call&);
Executor find_executor(std::string_view type);

// The check Thaiyyal applies to values stored in variables (string length, array length,
// nesting depth). Returns an error text or "".
std::string check_value_limits(const Value& v, const NodeLimits& lim);

}  // namespace flow
