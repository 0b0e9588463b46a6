#include "flow/workflow.h"

#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/value_stack.hpp>
#include <boost/unordered/unordered_flat_map.hpp>

#include <algorithm>
#include <deque>
#include <map>
#include <set>
#include <unordered_map>

namespace flow {

using core::Errc;
using core::Error;
using core::Result;

namespace {

Error bad(std::string m) {
  return Error(Errc::data, std::move(m));
}
Error payload_error(std::string m) {
  return bad("failed to parse payload: " + std::move(m));
}

std::string json_kind(const Value& v) {
  switch (v.kind()) {
    case boost::json::kind::null:
      return "null";
    case boost::json::kind::bool_:
      return "boolean";
    case boost::json::kind::string:
      return "string";
    case boost::json::kind::array:
      return "array";
    case boost::json::kind::object:
      return "object";
    default:
      return "number";
  }
}

// The payload is read with a SAX handler: node and edge wrappers go straight into plain structs
// and only each node's "data" becomes a JSON value, so a 100 000-node workflow costs no document
// tree. Values are classified as they arrive (string, number, object, ...) so that the checks in
// load_workflow report the same errors, in the same order, as over a document.
struct Slot {
  const char* kind = nullptr;  // nullptr: absent or null; else "string", "number", ...
  std::string str;             // the string
  bool set() const { return kind != nullptr; }
  bool is_str() const { return kind && std::string_view(kind) == "string"; }
  std::string what() const { return kind ? kind : ""; }
};

struct RawNode {
  const char* kind = "object";  // of the array element
  Slot id, type;
  const char* data_kind = nullptr;  // nullptr: absent or null
  Object data;
};

struct RawEdge {
  const char* kind = "object";
  Slot id, source, target, handle, condition;
};

struct Raw {
  const char* top_kind = "object";
  Slot workflow_id;
  Slot nodes_slot, edges_slot;  // kind only
  std::deque<RawNode> nodes;    // a deque: no moves while it grows
  std::deque<RawEdge> edges;
};

class Sax {
 public:
  static constexpr std::size_t max_object_size = std::size_t(-1);
  static constexpr std::size_t max_array_size = std::size_t(-1);
  static constexpr std::size_t max_key_size = std::size_t(-1);
  static constexpr std::size_t max_string_size = std::size_t(-1);
  using ec_t = boost::system::error_code;
  using sv = boost::json::string_view;

  Raw raw;

  bool on_document_begin(ec_t&) { return true; }
  bool on_document_end(ec_t&) { return true; }
  bool on_comment_part(sv, ec_t&) { return true; }
  bool on_comment(sv, ec_t&) { return true; }
  bool on_number_part(sv, ec_t&) { return true; }

  bool on_object_begin(ec_t&) { return begin(true); }
  bool on_array_begin(ec_t&) { return begin(false); }
  bool on_object_end(std::size_t n, ec_t&) { return end(true, n); }
  bool on_array_end(std::size_t n, ec_t&) { return end(false, n); }

  bool on_key_part(sv s, std::size_t, ec_t&) {
    if (capture_)
      vs_.push_chars(s);
    else if (!skip_)
      key_.append(s.data(), s.size());
    return true;
  }
  bool on_key(sv s, std::size_t, ec_t&) {
    if (capture_) {
      vs_.push_key(s);
    } else if (!skip_) {
      key_.append(s.data(), s.size());
      stack_.back().key = std::move(key_);
      key_.clear();
    }
    return true;
  }
  bool on_string_part(sv s, std::size_t, ec_t&) {
    if (capture_)
      vs_.push_chars(s);
    else if (!skip_)
      str_.append(s.data(), s.size());
    return true;
  }
  bool on_string(sv s, std::size_t, ec_t&) {
    if (capture_) {
      vs_.push_string(s);
    } else if (!skip_) {
      str_.append(s.data(), s.size());
      scalar("string", &str_);
      str_.clear();
    }
    return true;
  }
  bool on_int64(int64_t i, sv, ec_t&) { return number(static_cast<double>(i)); }
  bool on_uint64(uint64_t u, sv, ec_t&) { return number(static_cast<double>(u)); }
  bool on_double(double d, sv, ec_t&) { return number(d); }
  bool on_bool(bool b, ec_t&) {
    if (capture_)
      vs_.push_bool(b);
    else if (!skip_)
      scalar("boolean", nullptr);
    return true;
  }
  bool on_null(ec_t&) {
    if (capture_)
      vs_.push_null();
    else if (!skip_)
      scalar("null", nullptr);
    return true;
  }

 private:
  enum class Role : uint8_t { top, nodes, node, edges, edge, other };
  struct Frame {
    Role role;
    std::string key;
  };
  std::vector<Frame> stack_;
  int capture_ = 0;  // depth inside a node's data
  int skip_ = 0;     // depth inside a value nobody reads
  std::string key_, str_;
  boost::json::value_stack vs_;

  bool number(double d) {
    if (capture_)
      vs_.push_double(d);
    else if (!skip_)
      scalar("number", nullptr);
    return true;
  }

  // The slot the next value goes to (nullptr: ignore it).
  Slot* slot() {
    if (stack_.empty()) return nullptr;
    Frame& f = stack_.back();
    const std::string& k = f.key;
    switch (f.role) {
      case Role::top:
        if (k == "workflow_id") return &raw.workflow_id;
        if (k == "nodes") return &raw.nodes_slot;
        if (k == "edges") return &raw.edges_slot;
        return nullptr;
      case Role::node:
        if (k == "id") return &raw.nodes.back().id;
        if (k == "type") return &raw.nodes.back().type;
        return nullptr;
      case Role::edge: {
        RawEdge& e = raw.edges.back();
        if (k == "id") return &e.id;
        if (k == "source") return &e.source;
        if (k == "target") return &e.target;
        if (k == "sourceHandle") return &e.handle;
        if (k == "condition") return &e.condition;
        return nullptr;
      }
      default:
        return nullptr;
    }
  }

  void scalar(const char* kind, const std::string* s) {
    if (stack_.empty()) {
      raw.top_kind = kind;
      return;
    }
    Frame& f = stack_.back();
    if (f.role == Role::nodes) {
      raw.nodes.emplace_back().kind = kind;
      return;
    }
    if (f.role == Role::edges) {
      raw.edges.emplace_back().kind = kind;
      return;
    }
    bool null = std::string_view(kind) == "null";
    if (f.role == Role::node && f.key == "data") {
      raw.nodes.back().data_kind = null ? nullptr : kind;
      return;
    }
    if (Slot* sl = slot()) {
      sl->kind = null ? nullptr : kind;
      if (s) sl->str = *s;
    }
  }

  bool begin(bool object) {
    if (capture_) {
      capture_++;
      return true;
    }
    if (skip_) {
      skip_++;
      return true;
    }
    const char* kind = object ? "object" : "array";
    if (stack_.empty()) {
      if (object) {
        stack_.push_back({Role::top, {}});
      } else {
        raw.top_kind = kind;
        skip_ = 1;
      }
      return true;
    }
    Frame& f = stack_.back();
    switch (f.role) {
      case Role::top:
        if (!object && (f.key == "nodes" || f.key == "edges")) {
          bool nodes = f.key == "nodes";
          (nodes ? raw.nodes_slot : raw.edges_slot).kind = "array";
          if (nodes)
            raw.nodes.clear();
          else
            raw.edges.clear();
          stack_.push_back({nodes ? Role::nodes : Role::edges, {}});
          return true;
        }
        break;
      case Role::nodes:
        raw.nodes.emplace_back().kind = kind;
        if (object) {
          stack_.push_back({Role::node, {}});
          return true;
        }
        skip_ = 1;
        return true;
      case Role::edges:
        raw.edges.emplace_back().kind = kind;
        if (object) {
          stack_.push_back({Role::edge, {}});
          return true;
        }
        skip_ = 1;
        return true;
      case Role::node:
        if (f.key == "data") {
          raw.nodes.back().data_kind = kind;
          if (object) {
            vs_.reset(boost::json::storage_ptr());
            capture_ = 1;
            return true;
          }
        }
        break;
      default:
        break;
    }
    if (Slot* sl = slot()) sl->kind = kind;
    skip_ = 1;
    return true;
  }

  bool end(bool object, std::size_t n) {
    if (capture_) {
      if (object)
        vs_.push_object(n);
      else
        vs_.push_array(n);
      if (--capture_ == 0) {
        Value v = vs_.release();
        raw.nodes.back().data = std::move(v.get_object());
      }
      return true;
    }
    if (skip_) {
      skip_--;
      return true;
    }
    if (!stack_.empty()) stack_.pop_back();
    return true;
  }
};

// Parses the payload, reporting a syntax error with its line and column.
Result<Raw> parse_payload(std::string_view text) {
  boost::json::parse_options opt;
  opt.max_depth = 512;
  boost::json::basic_parser<Sax> p(opt);
  boost::system::error_code ec;
  size_t n = p.write_some(false, text.data(), text.size(), ec);
  if (!ec && n < text.size()) ec = boost::json::error::extra_data;
  if (ec) {
    size_t line = 1, col = 1;
    for (size_t i = 0; i < n && i < text.size(); i++) {
      if (text[i] == '\n') {
        line++;
        col = 1;
      } else {
        col++;
      }
    }
    return payload_error("invalid JSON at line " + std::to_string(line) + ", column " +
                         std::to_string(col) + ": " + ec.message());
  }
  return std::move(p.handler().raw);
}

// Type inference from data keys (Thaiyyal's order; first match wins).
std::string infer_type(const Object& d) {
  auto has = [&](const char* k) { return d.contains(k); };
  if (has("value")) return "number";
  if (has("text")) return "text_input";
  if (has("boolean_value")) return "boolean_input";
  if (has("date_value")) return "date_input";
  if (has("datetime_value")) return "datetime_input";
  if (has("mode")) return "visualization";
  if (has("op")) return "operation";
  if (has("text_op")) return "text_operation";
  if (has("url")) return "http";
  if (has("condition")) return has("true_path") ? "condition" : "filter";
  if (auto it = d.find("expression"); it != d.end()) {
    if (has("initial_value")) return "reduce";
    if (it->value().is_string() && !it->value().get_string().empty()) return "expression";
  }
  if (has("var_name") && has("var_op")) return "variable";
  if (has("field") || has("fields")) return "extract";
  if (has("transform_type")) return "transform";
  if (has("accum_op")) return "accumulator";
  if (has("counter_op")) return "counter";
  if (has("cases")) return "switch";
  if (has("join_strategy")) return "join";
  if (has("paths")) return "split";
  if (has("duration")) return "delay";
  if (has("cache_op") && has("cache_key")) return "cache";
  if (has("context_name") || has("context_values")) return "context_variable";
  if (has("max_attempts") || has("backoff_strategy")) return "retry";
  if (has("fallback_value") || has("continue_on_error")) return "try_catch";
  if (has("timeout") && has("timeout_action")) return "timeout";
  return "";
}

// Checks one field's JSON type. Returns an error text or "".
std::string check_field(const FieldSpec& f, const Value& v) {
  auto expect = [&](const char* what) {
    return "field \"" + std::string(f.name) + "\": expected " + what + ", got " + json_kind(v);
  };
  switch (f.kind) {
    case FieldKind::number:
      return is_number(v) ? "" : expect("number");
    case FieldKind::integer:
      if (!is_number(v)) return expect("integer");
      if (!as_integer(v))
        return "field \"" + std::string(f.name) + "\": expected integer, got " +
               go_float(as_number(v));
      return "";
    case FieldKind::string:
      return v.is_string() ? "" : expect("string");
    case FieldKind::boolean:
      return v.is_bool() ? "" : expect("boolean");
    case FieldKind::any:
      return "";
    case FieldKind::object:
      return v.is_object() ? "" : expect("object");
    case FieldKind::strings:
      if (!v.is_array()) return expect("array of strings");
      for (size_t i = 0; i < v.get_array().size(); i++)
        if (!v.get_array()[i].is_string())
          return "field \"" + std::string(f.name) + "[" + std::to_string(i) +
                 "]\": expected string, got " + json_kind(v.get_array()[i]);
      return "";
    case FieldKind::cases:
    case FieldKind::context_values: {
      if (!v.is_array()) return expect("array of objects");
      bool cases = f.kind == FieldKind::cases;
      for (size_t i = 0; i < v.get_array().size(); i++) {
        const Value& e = v.get_array()[i];
        std::string at = std::string(f.name) + "[" + std::to_string(i) + "]";
        if (!e.is_object()) return "field \"" + at + "\": expected object, got " + json_kind(e);
        for (auto& kv : e.get_object()) {
          std::string_view k = kv.key();
          const Value& x = kv.value();
          if (x.is_null()) continue;
          bool is_str = (cases && (k == "when" || k == "output_path")) ||
                        (!cases && (k == "name" || k == "type"));
          if (is_str && !x.is_string())
            return "field \"" + at + "." + std::string(k) + "\": expected string, got " +
                   json_kind(x);
          if (cases && k == "is_default" && !x.is_bool())
            return "field \"" + at + ".is_default\": expected boolean, got " + json_kind(x);
        }
      }
      return "";
    }
  }
  return "";
}

const Value* field(const Object& d, std::string_view k) {
  auto it = d.find(k);
  if (it == d.end() || it->value().is_null()) return nullptr;
  return &it->value();
}

// Thaiyyal's load-time rules beyond "required": switch cases, extract, range, context nodes.
std::string check_type_rules(const Node& n) {
  const Object& d = n.data;
  if (n.type == "switch") {
    const Value* c = field(d, "cases");
    if (!c || c->get_array().empty()) return "missing required field: cases";
    auto& cases = c->get_array();
    size_t defaults = 0, last = cases.size() - 1;
    for (size_t i = 0; i < cases.size(); i++) {
      auto& o = cases[i].get_object();
      const Value* def = field(o, "is_default");
      if (def && def->get_bool()) {
        defaults++;
        if (i != last)
          return "default case must be the last case in the array (found at index " +
                 std::to_string(i) + ", but last index is " + std::to_string(last) + ")";
      } else {
        const Value* p = field(o, "output_path");
        if (!p || p->get_string().empty())
          return "case at index " + std::to_string(i) +
                 " must have output_path (non-default cases require output_path)";
      }
    }
    if (defaults != 1)
      return "switch node must have exactly one default case (found " + std::to_string(defaults) +
             ")";
  } else if (n.type == "extract") {
    const Value* fs = field(d, "fields");
    if (!field(d, "field") && (!fs || fs->get_array().empty()))
      return "missing required field: field or fields";
  } else if (n.type == "range") {
    if (!field(d, "start") || !field(d, "end")) return "missing required field: start and end";
  } else if (n.type == "context_variable" || n.type == "context_constant") {
    const Value* cv = field(d, "context_values");
    if ((!cv || cv->get_array().empty()) && !field(d, "context_name"))
      return "missing required field: context_values or context_name";
  } else if (n.type == "http") {
    if (field(d, "http_client_uid") && !field(d, "http_client_uid")->get_string().empty())
      return "field \"http_client_uid\": named HTTP clients are not supported";
  } else if (n.type == "exec") {
    if (field(d, "command")->get_array().empty())
      return "field \"command\": needs at least the program";
  }
  const Value* scope = field(d, "scope");
  if (scope && n.info && !n.info->writes_state) scope = nullptr;
  if (scope && scope->is_string() && scope->get_string() == "persistent" &&
      !(n.type == "variable" || n.type == "counter" || n.type == "accumulator" ||
        n.type == "cache"))
    return "field \"scope\": persistent scope is for variable, counter, accumulator and cache";
  return "";
}

Result<void> decode_node(Node& n) {
  auto where = [&n] {
    return "failed to unmarshal data for node " + n.id + " (type " + n.type + "): ";
  };
  for (auto& f : n.info->fields) {
    const Value* v = field(n.data, f.name);
    if (!v) {
      // range reports its two required fields together (below), as Thaiyyal does.
      if (f.required && n.type != "range")
        return payload_error(where() + "missing required field: " + std::string(f.name));
      continue;
    }
    if (auto e = check_field(f, *v); !e.empty()) return payload_error(where() + e);
  }
  if (auto e = check_type_rules(n); !e.empty()) return payload_error(where() + e);
  // Expressions are parsed once, here: a syntax error is a load error.
  auto parse = [&](std::string_view fname, std::string_view text) -> Result<void> {
    auto e = Expr::parse(text);
    if (!e)
      return payload_error(where() + "field \"" + std::string(fname) + "\": " + e.error().message);
    n.reads_state |= e->reads_state();
    n.reads_nodes |= e->reads_nodes();
    n.exprs.push_back(std::move(*e));
    return {};
  };
  static const std::set<std::string_view> cond_types = {"condition", "filter", "find", "partition"};
  if (cond_types.count(n.type) || n.type == "expression" || n.type == "map" || n.type == "reduce") {
    const char* fname = n.type == "expression" || n.type == "map" || n.type == "reduce"
                            ? "expression"
                            : "condition";
    const Value* v = field(n.data, fname);
    if (v && !v->get_string().empty()) WARREN_CHECK(parse(fname, v->get_string()));
  } else if (n.type == "switch") {
    auto& cases = field(n.data, "cases")->get_array();
    for (size_t i = 0; i < cases.size(); i++) {
      const Value* w = field(cases[i].get_object(), "when");
      std::string_view text = w ? std::string_view(w->get_string()) : std::string_view("false");
      if (text.empty()) text = "false";
      WARREN_CHECK(parse("cases[" + std::to_string(i) + "].when", text));
    }
  }
  if (const Value* s = field(n.data, "scope");
      s && s->is_string() && s->get_string() == "persistent")
    n.persistent = true;
  return {};
}

// Kahn's algorithm over `members` (node indices): initial nodes with no incoming edge from a
// member, sorted by id; then nodes in the order they become ready, following each node's
// outgoing edges in edges-array order. extra: additional (from, to) dependencies.
std::vector<int> kahn(const Workflow& wf, const std::vector<char>& member,
                      const std::vector<std::pair<int, int>>& extra) {
  size_t n = wf.nodes.size();
  // Adjacency in one flat array (CSR), each node's successors in edges-array order.
  std::vector<int> indeg(n, 0), start(n + 1, 0), adj;
  auto each_arc = [&](auto&& f) {
    for (auto& e : wf.edges)
      if (member[e.src] && member[e.dst]) f(e.src, e.dst);
    for (auto& [a, b] : extra)
      if (member[a] && member[b]) f(a, b);
  };
  each_arc([&](int a, int b) {
    start[a + 1]++;
    indeg[b]++;
  });
  for (size_t i = 0; i < n; i++) start[i + 1] += start[i];
  adj.resize(static_cast<size_t>(start[n]));
  std::vector<int> fill(start.begin(), start.end() - 1);
  each_arc([&](int a, int b) { adj[fill[a]++] = b; });
  std::vector<int> order;
  order.reserve(n);
  for (size_t i = 0; i < n; i++)
    if (member[i] && indeg[i] == 0) order.push_back(static_cast<int>(i));
  std::sort(order.begin(), order.end(),
            [&](int a, int b) { return wf.nodes[a].id < wf.nodes[b].id; });
  for (size_t q = 0; q < order.size(); q++) {
    int x = order[q];
    for (int k = start[x]; k < start[x + 1]; k++)
      if (--indeg[adj[k]] == 0) order.push_back(adj[k]);
  }
  return order;
}

// A cycle among the nodes Kahn could not order, as "a -> b -> a".
std::string find_cycle(const Workflow& wf, const std::vector<char>& unordered,
                       const std::vector<std::pair<int, int>>& extra) {
  size_t n = wf.nodes.size();
  std::vector<std::vector<int>> adj(n);
  for (auto& e : wf.edges)
    if (unordered[e.src] && unordered[e.dst]) adj[e.src].push_back(e.dst);
  for (auto& [a, b] : extra)
    if (unordered[a] && unordered[b]) adj[a].push_back(b);
  int start = -1;
  for (size_t i = 0; i < n; i++)
    if (unordered[i]) {
      start = static_cast<int>(i);
      break;
    }
  if (start < 0) return "";
  // Every unordered node has an unordered predecessor; walk backwards-free: follow successors
  // that are themselves on a cycle path until a node repeats.
  std::vector<int> seen_at(n, -1), path;
  int cur = start;
  while (seen_at[cur] < 0) {
    seen_at[cur] = static_cast<int>(path.size());
    path.push_back(cur);
    int next = -1;
    for (int m : adj[cur]) {
      next = m;
      if (seen_at[m] >= 0) break;
    }
    if (next < 0) break;  // dead end (cannot happen for a node left by Kahn, but be safe)
    cur = next;
  }
  std::string out;
  if (seen_at[cur] < 0) return wf.nodes[start].id;
  for (size_t i = static_cast<size_t>(seen_at[cur]); i < path.size(); i++)
    out += wf.nodes[path[i]].id + " -> ";
  return out + wf.nodes[cur].id;
}

}  // namespace

int Workflow::find(std::string_view id) const {
  for (size_t i = 0; i < nodes.size(); i++)
    if (nodes[i].id == id) return static_cast<int>(i);
  return -1;
}

Result<Workflow> load_workflow(std::string_view json, const LoadLimits& limits) {
  if (json.size() > limits.max_payload_bytes)
    return bad("payload too large: " + std::to_string(json.size()) +
               " bytes (limit: " + std::to_string(limits.max_payload_bytes) + ")");
  WARREN_TRY(raw, parse_payload(json));
  if (std::string_view(raw.top_kind) != "object")
    return payload_error(std::string("expected a JSON object, got ") + raw.top_kind);
  Workflow wf;
  wf.payload_bytes = json.size();
  if (raw.workflow_id.set()) {
    if (!raw.workflow_id.is_str())
      return payload_error("\"workflow_id\": expected string, got " + raw.workflow_id.what());
    wf.workflow_id = raw.workflow_id.str;
    wf.has_workflow_id = !wf.workflow_id.empty();
  }
  if (raw.nodes_slot.set() && raw.nodes_slot.what() != "array")
    return payload_error("\"nodes\": expected array, got " + raw.nodes_slot.what());
  if (raw.edges_slot.set() && raw.edges_slot.what() != "array")
    return payload_error("\"edges\": expected array, got " + raw.edges_slot.what());
  size_t nn = raw.nodes.size(), ne = raw.edges.size();
  if (nn > limits.max_nodes)
    return bad("too many nodes: " + std::to_string(nn) +
               " (limit: " + std::to_string(limits.max_nodes) + ")");
  if (ne > limits.max_edges)
    return bad("too many edges: " + std::to_string(ne) +
               " (limit: " + std::to_string(limits.max_edges) + ")");

  boost::unordered_flat_map<std::string_view, int> index;  // views of wf.nodes[i].id
  index.reserve(nn * 2);
  wf.nodes.reserve(nn);
  for (size_t i = 0; i < nn; i++) {
    RawNode& r = raw.nodes.front();  // consumed in order: freed pages get reused
    auto at = [i] { return "nodes[" + std::to_string(i) + "]"; };
    if (std::string_view(r.kind) != "object")
      return payload_error(at() + ": expected object, got " + r.kind);
    Node n;
    if (!r.id.set()) return payload_error(at() + ": missing \"id\"");
    if (!r.id.is_str()) return payload_error(at() + ".id: expected string, got " + r.id.what());
    n.id = std::move(r.id.str);
    if (n.id.empty()) return payload_error(at() + ": empty \"id\"");
    if (auto it = index.find(n.id); it != index.end())
      return bad("duplicate node id \"" + n.id + "\" (nodes[" + std::to_string(it->second) +
                 "] and " + at() + ")");
    if (r.type.set()) {
      if (!r.type.is_str())
        return payload_error("node " + n.id + ": \"type\": expected string, got " + r.type.what());
      n.type = std::move(r.type.str);
    }
    bool has_data = r.data_kind != nullptr;
    if (has_data && std::string_view(r.data_kind) != "object")
      return payload_error("failed to unmarshal data for node " + n.id + " (type " + n.type +
                           "): \"data\": expected object, got " + r.data_kind);
    if (has_data) {
      n.data = std::move(r.data);
      if (n.type.empty()) n.type = infer_type(n.data);
    }
    n.info = find_node_type(n.type);
    if (!n.info) return bad("node " + n.id + ": no executor registered for type: " + n.type);
    if (!has_data)
      return bad("node " + n.id + " (type " + n.type + "): missing \"data\" (expected " +
                 std::string(n.info->data_name) + ", got <nil>)");
    WARREN_CHECK(decode_node(n));
    n.writes_state = n.info->writes_state;
    n.blocking = n.info->blocking;
    wf.nodes.push_back(std::move(n));
    index.emplace(wf.nodes.back().id, static_cast<int>(i));
    raw.nodes.pop_front();
  }

  wf.edges.reserve(ne);
  for (size_t i = 0; i < ne; i++) {
    RawEdge& r = raw.edges.front();
    auto at = [i] { return "edges[" + std::to_string(i) + "]"; };
    if (std::string_view(r.kind) != "object")
      return payload_error(at() + ": expected object, got " + r.kind);
    Edge e;
    if (r.id.set()) {
      if (!r.id.is_str()) return payload_error(at() + ".id: expected string, got " + r.id.what());
      e.id = std::move(r.id.str);
    }
    auto name = [&] { return e.id.empty() ? at() : "edge " + e.id; };
    for (const char* end : {"source", "target"}) {
      bool source = std::string_view(end) == "source";
      Slot& v = source ? r.source : r.target;
      if (!v.set()) return payload_error(name() + ": missing \"" + end + "\"");
      if (!v.is_str())
        return payload_error(name() + "." + end + ": expected string, got " + v.what());
      auto it = index.find(std::string_view(v.str));
      if (it == index.end()) return bad(name() + ": unknown " + end + " node \"" + v.str + "\"");
      (source ? e.src : e.dst) = it->second;
    }
    for (auto [h, slot] :
         {std::pair{"sourceHandle", &r.handle}, std::pair{"condition", &r.condition}}) {
      if (!slot->set()) continue;
      if (!slot->is_str())
        return payload_error(name() + "." + h + ": expected string, got " + slot->what());
      if (!e.handle) e.handle = std::move(slot->str);
    }
    wf.nodes[e.src].out.push_back(static_cast<int>(i));
    wf.nodes[e.dst].in.push_back(static_cast<int>(i));
    wf.edges.push_back(std::move(e));
    raw.edges.pop_front();
  }

  size_t n = wf.nodes.size();
  // Loop bodies: everything reachable through a loop node's "body" edges.
  std::vector<std::vector<char>> body(n);
  for (size_t l = 0; l < n; l++) {
    Node& L = wf.nodes[l];
    if (!L.info->loop) continue;
    std::vector<int> stack;
    for (int ei : L.out)
      if (wf.edges[ei].handle && *wf.edges[ei].handle == "body") {
        int d = wf.edges[ei].dst;
        if (std::find(L.body_entries.begin(), L.body_entries.end(), d) == L.body_entries.end())
          L.body_entries.push_back(d);
        stack.push_back(d);
      }
    if (stack.empty()) continue;
    body[l].assign(n, 0);
    while (!stack.empty()) {
      int x = stack.back();
      stack.pop_back();
      if (body[l][x]) continue;
      body[l][x] = 1;
      for (int ei : wf.nodes[x].out) stack.push_back(wf.edges[ei].dst);
    }
    if (body[l][l])
      return bad("workflow contains cycles (circular dependencies): the body of " + L.id +
                 " leads back to " + L.id);
  }
  // Innermost loop of every node; bodies must nest.
  std::vector<int> loops;
  for (size_t l = 0; l < n; l++)
    if (!body[l].empty()) loops.push_back(static_cast<int>(l));
  for (size_t x = 0; x < n && !loops.empty(); x++) {
    std::vector<int> ls;
    for (int l : loops)
      if (body[l][x]) ls.push_back(l);
    int inner = -1;
    for (int a : ls) {
      for (int b : ls)
        if (a != b && !body[a][b] && !body[b][a])
          return bad("node " + wf.nodes[x].id + " is in the bodies of both " + wf.nodes[a].id +
                     " and " + wf.nodes[b].id + " (bodies must nest)");
      if (inner < 0 || body[inner][a]) inner = a;
    }
    wf.nodes[x].loop = inner;
  }
  // Inputs of a body from outside it become dependencies of the loop at the source's level.
  std::vector<std::pair<int, int>> extra;
  auto level_of = [&](int x) { return wf.nodes[x].loop; };
  for (auto& e : wf.edges) {
    int s = e.src, d = e.dst;
    if (level_of(d) == level_of(s) || level_of(d) == s) continue;
    // Walk d's loop chain up to the level of s.
    int a = level_of(d);
    while (a >= 0 && level_of(a) != level_of(s) && a != s) a = level_of(a);
    if (a < 0 || a == s)
      return bad("edge " + (e.id.empty() ? wf.nodes[s].id + "->" + wf.nodes[d].id : e.id) +
                 ": node " + wf.nodes[d].id + " in the body of " + wf.nodes[level_of(d)].id +
                 " cannot take input from " + wf.nodes[s].id);
    extra.emplace_back(s, a);
    wf.nodes[a].extra_deps.push_back(s);
    wf.nodes[s].dependents.push_back(a);
  }
  // Cycles, over everything.
  {
    std::vector<char> all(n, 1);
    auto order = kahn(wf, all, extra);
    if (order.size() != n) {
      std::vector<char> left(n, 1);
      for (int x : order) left[x] = 0;
      return bad("workflow contains cycles (circular dependencies): " +
                 find_cycle(wf, left, extra));
    }
  }
  // The main order and each body's order.
  wf.body_order.assign(n, {});
  {
    std::vector<char> main(n, 0);
    for (size_t x = 0; x < n; x++) main[x] = wf.nodes[x].loop < 0;
    wf.order = kahn(wf, main, extra);
    for (size_t i = 0; i < wf.order.size(); i++) wf.nodes[wf.order[i]].pos = static_cast<int>(i);
  }
  for (int l : loops) {
    std::vector<char> mem(n, 0);
    for (size_t x = 0; x < n; x++) mem[x] = wf.nodes[x].loop == static_cast<int>(l);
    wf.body_order[l] = kahn(wf, mem, extra);
    for (size_t i = 0; i < wf.body_order[l].size(); i++)
      wf.nodes[wf.body_order[l][i]].pos = static_cast<int>(i);
  }
  // Catchers: resilience nodes whose first input is this node.
  for (size_t x = 0; x < n; x++) {
    Node& c = wf.nodes[x];
    if (c.in.empty()) continue;
    if (c.type != "retry" && c.type != "try_catch" && c.type != "timeout") continue;
    int up = wf.edges[c.in.front()].src;
    if (wf.nodes[up].loop != c.loop) continue;
    wf.nodes[up].catchers.push_back(static_cast<int>(x));
  }
  // Traits that flow upwards, innermost nodes first: a loop with a stateful or blocking body
  // is stateful or blocking; a retry node that re-runs its upstream behaves like it.
  std::vector<int> depth(n, 0), by_depth(n);
  for (size_t x = 0; x < n; x++)
    for (int l = wf.nodes[x].loop; l >= 0; l = wf.nodes[l].loop) depth[x]++;
  for (size_t x = 0; x < n; x++) by_depth[x] = static_cast<int>(x);
  std::stable_sort(by_depth.begin(), by_depth.end(),
                   [&](int a, int b) { return depth[a] > depth[b]; });
  for (int x : by_depth) {
    Node& node = wf.nodes[x];
    for (int c : node.catchers)
      if (wf.nodes[c].type == "retry") {
        wf.nodes[c].writes_state |= node.writes_state;
        wf.nodes[c].reads_state |= node.reads_state;
        wf.nodes[c].reads_nodes |= node.reads_nodes;
        wf.nodes[c].blocking |= node.blocking;
      }
    if (node.loop >= 0) {
      Node& L = wf.nodes[node.loop];
      L.writes_state |= node.writes_state;
      L.reads_state |= node.reads_state;
      L.reads_nodes |= node.reads_nodes;
      L.blocking |= node.blocking;
      L.persistent |= node.persistent;
    }
  }
  for (size_t l = 0; l < n; l++)
    if (!body[l].empty()) wf.nodes[l].blocking = true;  // runs its body on a worker
  return wf;
}

std::string to_dot(const Workflow& wf) {
  auto q = [](std::string_view s) {
    std::string o = "\"";
    for (char c : s) {
      if (c == '"' || c == '\\') o += '\\';
      if (c == '\n') {
        o += "\\n";
        continue;
      }
      o += c;
    }
    return o + "\"";
  };
  std::string out = "digraph " + q(wf.workflow_id.empty() ? "workflow" : wf.workflow_id) + " {\n";
  out += "  rankdir=LR;\n  node [shape=box, fontname=\"Helvetica\"];\n";
  for (auto& n : wf.nodes) {
    std::string label = n.id + "\\n" + n.type;
    auto it = n.data.find("label");
    if (it != n.data.end() && it->value().is_string())
      label = std::string(it->value().get_string()) + "\\n" + n.type;
    std::string shape;
    if (n.type == "condition" || n.type == "switch") shape = ", shape=diamond";
    if (n.info->loop) shape = ", shape=hexagon";
    std::string l;
    for (char c : label) {
      if (c == '"') l += '\\';
      l += c;
    }
    out += "  " + q(n.id) + " [label=\"" + l + "\"" + shape + "];\n";
  }
  for (auto& e : wf.edges) {
    out += "  " + q(wf.nodes[e.src].id) + " -> " + q(wf.nodes[e.dst].id);
    if (e.handle) {
      out += " [label=" + q(*e.handle);
      if (*e.handle == "body" && wf.nodes[e.src].info->loop) out += ", style=dashed";
      out += "]";
    }
    out += ";\n";
  }
  return out + "}\n";
}

}  // namespace flow
