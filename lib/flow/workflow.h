// flow::Workflow — a loaded, validated workflow graph: nodes with their inferred types and
// decoded data, edges, the execution order (Thaiyyal's Kahn order: initial nodes sorted by id,
// later ones in edges-array order), loop bodies and the facts the runner schedules by. Built
// once by load_workflow(), then immutable and shared read-only by every thread of a run.
// No I/O here: the caller reads the file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "flow/expr.h"
#include "flow/value.h"

namespace flow {

// One data field of a node type, for validation at load and for `flowrun nodes`.
enum class FieldKind {
  number,   // JSON number
  integer,  // whole number
  string,
  boolean,
  any,            // any JSON value (null counts as absent)
  strings,        // array of strings
  object,         // JSON object
  cases,          // switch cases [{when, output_path, is_default}]
  context_values  // [{name, value, type}]
};

struct FieldSpec {
  std::string_view name;
  FieldKind kind;
  bool required = false;
  std::string_view def;  // default, as text for the reference ("" = none)
  std::string_view help;
};

enum class Group { input, operation, control, array, state, flow, resilience, io, context };

struct Call;
struct NodeError;

struct NodeType {
  std::string_view name;
  std::string_view data_name;  // Thaiyyal's Go type, for "expected NumberData, got <nil>"
  Group group;
  std::string_view summary;
  std::vector<FieldSpec> fields;
  bool blocking = false;      // sleeps or waits on I/O: runs on a worker thread
  bool writes_state = false;  // variables, accumulator, counter, cache, context
  bool loop = false;          // for_each / while_loop: may own a body
};

const std::vector<NodeType>& node_types();
const NodeType* find_node_type(std::string_view name);
std::string_view group_name(Group g);
std::string_view field_kind_name(FieldKind k);

struct Edge {
  std::string id;
  int src = -1, dst = -1;
  std::optional<std::string> handle;  // sourceHandle, or the deprecated "condition"
};

struct Node {
  std::string id;
  std::string type;  // explicit or inferred
  const NodeType* info = nullptr;
  Object data;
  std::vector<int> in;   // incoming edge indices, edges-array order
  std::vector<int> out;  // outgoing edge indices, edges-array order
  int pos = -1;          // position in its run's order (main order, or its loop's body order)
  int loop = -1;         // the loop node whose body this node is in (-1: the main run)
  std::vector<int> body_entries;  // loop nodes: nodes fed through a "body" edge
  std::vector<int> extra_deps;    // must finish before this node starts (inputs of its body)
  std::vector<int> dependents;    // nodes that list this one in extra_deps
  std::vector<int> catchers;      // retry/try_catch/timeout nodes whose first input is this node
  std::vector<Expr> exprs;        // parsed expressions (condition/expression/switch whens)
  bool reads_state = false;       // its expressions may read variables/context/node results
  bool reads_nodes = false;       // its expressions use node.<id>
  bool writes_state = false;      // it (or its body) changes shared state
  bool blocking = false;          // it (or its body / retried upstream) may block
  bool persistent = false;        // scope "persistent"
};

struct Workflow {
  std::string workflow_id;
  bool has_workflow_id = false;
  std::vector<Node> nodes;
  std::vector<Edge> edges;
  std::vector<int> order;                    // the main run, in execution order
  std::vector<std::vector<int>> body_order;  // per loop node: its body, in execution order
  size_t payload_bytes = 0;

  int find(std::string_view id) const;
  bool has_body(int loop) const { return !body_order[loop].empty(); }
};

struct LoadLimits {
  size_t max_payload_bytes = 1 << 20;
  size_t max_nodes = 1000;
  size_t max_edges = 10000;
};

// Parses and validates a payload. Every problem is Errc::data with a message naming the node and
// field: "failed to parse payload: failed to unmarshal data for node n1 (type number): missing
// required field: value", "duplicate node id \"a\" (nodes[0] and nodes[2])", "edge e2: unknown
// target node \"x\"", "workflow contains cycles (circular dependencies): a -> b -> a".
core::Result<Workflow> load_workflow(std::string_view json, const LoadLimits& limits);

// Graphviz dot of the graph (edges labelled with their handles, body edges dashed).
std::string to_dot(const Workflow& wf);

}  // namespace flow
