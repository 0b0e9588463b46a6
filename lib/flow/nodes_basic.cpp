// Executors: inputs, operations, expression/condition/switch, flow (parallel, join, split),
// state (variable, extract, transform, accumulator, counter, cache, context). Messages follow
// the Thaiyyal engine's wording.
#include <algorithm>
#include <boost/json/serialize.hpp>
#include <cmath>
#include <stdexcept>

#include "core/text.h"

#include "flow/nodes.h"
#include "flow/text.h"

namespace flow {

[[noreturn]] void throw_exception_from_error(const NodeError& e, const boost::source_location&) {
  throw std::runtime_error(e.message);
}

namespace {

constexpr auto obj = make_object;

NodeResult<Value> exec_number(Call& c) {
  return *c.data("value");
}
NodeResult<Value> exec_text_input(Call& c) {
  return *c.data("text");
}
NodeResult<Value> exec_boolean_input(Call& c) {
  return *c.data("boolean_value");
}
NodeResult<Value> exec_date_input(Call& c) {
  return *c.data("date_value");
}
NodeResult<Value> exec_datetime_input(Call& c) {
  return *c.data("datetime_value");
}

NodeResult<Value> exec_visualization(Call& c) {
  if (c.inputs.empty()) return fail("visualization needs at least 1 input");
  return *c.in0();
}

NodeResult<Value> exec_renderer(Call& c) {
  if (c.inputs.empty()) return Value();
  return *c.in0();
}

NodeResult<Value> exec_operation(Call& c) {
  if (c.inputs.size() < 2)
    return fail("operation needs 2 inputs, got " + std::to_string(c.inputs.size()));
  if (!is_number(*c.inputs[0]) || !is_number(*c.inputs[1]))
    return fail("operation inputs must be numbers");
  double l = as_number(*c.inputs[0]), r = as_number(*c.inputs[1]);
  std::string op = c.str("op");
  if (op == "add") return Value(l + r);
  if (op == "subtract") return Value(l - r);
  if (op == "multiply") return Value(l * r);
  if (op == "divide") {
    if (r == 0) return fail("division by zero");
    return Value(l / r);
  }
  return fail("unknown operation: " + op);
}

NodeResult<Value> exec_text_operation(Call& c) {
  if (c.inputs.empty()) return fail("text operation needs at least 1 input");
  std::string op = c.str("text_op");
  if (op == "concat") {
    std::string out, sep = c.str("separator");
    for (size_t i = 0; i < c.inputs.size(); i++) {
      if (!c.inputs[i]->is_string())
        return fail("concat operation input " + std::to_string(i) + " must be text/string");
      if (i) out += sep;
      out += c.inputs[i]->get_string();
    }
    return Value(boost::json::string(out));
  }
  if (op == "repeat") {
    if (!c.in0()->is_string()) return fail("repeat operation input must be text/string");
    const Value* n = c.data("repeat_n");
    if (!n) return fail("repeat operation requires repeat_n field");
    int64_t k = *as_integer(*n);
    if (k < 0) return fail("repeat_n must be non-negative, got " + std::to_string(k));
    std::string_view s = c.in0()->get_string();
    if (!s.empty() && static_cast<uint64_t>(k) > c.rc.limits().max_string_length / s.size())
      return fail("repeat result too long: more than " +
                  std::to_string(c.rc.limits().max_string_length) + " bytes");
    std::string out;
    out.reserve(s.size() * static_cast<size_t>(k));
    for (int64_t i = 0; i < k; i++) out += s;
    return Value(boost::json::string(out));
  }
  if (!c.in0()->is_string()) return fail("text operation input must be text/string");
  std::string_view s = c.in0()->get_string();
  std::string out;
  if (op == "uppercase")
    out = text::upper(s);
  else if (op == "lowercase")
    out = text::lower(s);
  else if (op == "titlecase")
    out = text::title(s);
  else if (op == "camelcase")
    out = text::camel(s);
  else if (op == "inversecase")
    out = text::inverse(s);
  else
    return fail("unknown text operation: " + op);
  return Value(boost::json::string(out));
}

NodeResult<Value> exec_expression(Call& c) {
  if (c.inputs.empty()) return fail("expression node needs at least 1 input");
  const Value* input = c.in0();
  if (c.node.exprs.empty())
    return obj({{"result", *input}, {"warning", "no expression specified"}});
  const Expr& e = c.node.exprs[0];
  Env env = c.env(input);
  auto v = e.value(env);
  if (v) return std::move(*v);
  auto b = e.test(env);
  if (!b) return fail("expression evaluation failed: " + v.error().message);
  return Value(*b);
}

NodeResult<Value> exec_condition(Call& c) {
  if (c.inputs.empty()) return fail("condition node needs at least 1 input");
  const Value* input = c.in0();
  std::string cond = c.str("condition");
  bool met = false;
  if (!c.node.exprs.empty()) {
    auto r = c.node.exprs[0].test(c.env(input));
    met = r ? *r : simple_condition(cond, *input);
  }
  return obj({{"value", *input},
              {"condition_met", met},
              {"condition", boost::json::string(cond)},
              {"path", met ? "true" : "false"},
              {"true_path", met},
              {"false_path", !met}});
}

NodeResult<Value> exec_switch(Call& c) {
  if (c.inputs.empty()) return fail("switch node requires at least one input");
  const Value* input = c.in0();
  auto& cases = c.data("cases")->get_array();
  Env env = c.env(input);
  for (size_t i = 0; i < cases.size(); i++) {
    auto& cs = cases[i].get_object();
    auto get = [&](const char* k) -> const Value* {
      auto it = cs.find(k);
      return it == cs.end() || it->value().is_null() ? nullptr : &it->value();
    };
    const Value* def = get("is_default");
    const Value* path = get("output_path");
    if (def && def->get_bool()) {
      std::string p =
          path && !path->get_string().empty() ? std::string(path->get_string()) : "default";
      return obj({{"value", *input},
                  {"matched", false},
                  {"case", "default"},
                  {"output_path", boost::json::string(p)},
                  {"case_index", static_cast<int64_t>(i)}});
    }
    auto m = c.node.exprs[i].test(env);
    if (!m || !*m) continue;
    const Value* when = get("when");
    return obj({{"value", *input},
                {"matched", true},
                {"case", when ? *when : Value(boost::json::string(""))},
                {"output_path", path ? *path : Value("matched")},
                {"case_index", static_cast<int64_t>(i)}});
  }
  return fail("switch node reached end without matching any case or default (validation error)");
}

Array inputs_array(const Call& c) {
  Array a;
  for (auto* v : c.inputs) a.push_back(*v);
  return a;
}

NodeResult<Value> exec_parallel(Call& c) {
  if (c.inputs.empty()) return fail("parallel node requires at least one input");
  const Value* mc = c.data("max_concurrency");
  int64_t conc = mc ? *as_integer(*mc) : 10;
  return obj({{"results", inputs_array(c)},
              {"count", static_cast<int64_t>(c.inputs.size())},
              {"concurrency", conc}});
}

NodeResult<Value> exec_join(Call& c) {
  std::string s = c.str("join_strategy", "all");
  auto n = static_cast<int64_t>(c.inputs.size());
  if (s == "all") {
    if (c.inputs.empty()) return fail("join node with 'all' strategy requires at least one input");
    return obj({{"strategy", "all"}, {"values", inputs_array(c)}, {"count", n}});
  }
  if (s == "any") {
    if (c.inputs.empty()) return fail("join node with 'any' strategy has no inputs");
    return obj({{"strategy", "any"}, {"value", *c.in0()}, {"count", n}});
  }
  if (s == "first") {
    if (c.inputs.empty()) return fail("join node with 'first' strategy has no inputs");
    return obj({{"strategy", "first"}, {"value", *c.in0()}});
  }
  return fail("unsupported join strategy: " + s + " (use all, any, or first)");
}

NodeResult<Value> exec_split(Call& c) {
  if (c.inputs.empty()) return fail("split node requires at least one input");
  const Value* paths = c.data("paths");
  Object outputs;
  for (auto& p : paths->get_array()) outputs[p.get_string()] = *c.in0();
  return obj({{"value", *c.in0()}, {"paths", *paths}, {"outputs", std::move(outputs)}});
}

NodeResult<Value> exec_extract(Call& c) {
  if (c.inputs.empty()) return fail("extract node requires input");
  const Value* in = c.in0();
  if (!in->is_object()) return fail("extract node requires object input, got " + go_type(*in));
  auto& o = in->get_object();
  if (auto f = c.opt_str("field")) {
    auto it = o.find(*f);
    if (it == o.end()) return fail("field '" + *f + "' not found in input object");
    return obj({{"field", boost::json::string(*f)}, {"value", it->value()}});
  }
  Object out;
  if (const Value* fs = c.data("fields"))
    for (auto& f : fs->get_array())
      if (auto it = o.find(f.get_string()); it != o.end()) out[f.get_string()] = it->value();
  return Value(std::move(out));
}

std::vector<const boost::json::key_value_pair*> sorted_kv(const Object& o) {
  std::vector<const boost::json::key_value_pair*> v;
  for (auto& kv : o) v.push_back(&kv);
  std::sort(v.begin(), v.end(), [](auto* a, auto* b) {
    return std::string_view(a->key()) < std::string_view(b->key());
  });
  return v;
}

NodeResult<Value> exec_transform(Call& c) {
  std::string t = c.str("transform_type");
  if (c.inputs.empty()) return fail("transform node requires input");
  const Value* in = c.in0();
  if (t == "to_array") return Value(inputs_array(c));
  if (t == "to_object") {
    if (!in->is_array()) return fail("to_object requires array input, got " + go_type(*in));
    auto& a = in->get_array();
    Object out;
    for (size_t i = 0; i + 1 < a.size(); i += 2) {
      if (!a[i].is_string())
        return fail("to_object requires string keys at index " + std::to_string(i));
      out[a[i].get_string()] = a[i + 1];
    }
    return Value(std::move(out));
  }
  if (t == "flatten") {
    if (!in->is_array()) return fail("flatten requires array input, got " + go_type(*in));
    Array out;
    std::vector<std::pair<const Array*, size_t>> st{{&in->get_array(), 0}};
    while (!st.empty()) {
      auto& [arr, i] = st.back();
      if (i >= arr->size()) {
        st.pop_back();
        continue;
      }
      const Value& e = (*arr)[i++];
      if (e.is_array() && st.size() < 1024)
        st.emplace_back(&e.get_array(), 0);
      else
        out.push_back(e);
    }
    if (out.empty()) return Value();  // Go's nil slice
    return Value(std::move(out));
  }
  if (t == "keys" || t == "values") {
    if (!in->is_object()) return fail(t + " transform requires object input, got " + go_type(*in));
    Array out;
    for (auto* kv : sorted_kv(in->get_object()))
      out.push_back(t == "keys" ? Value(kv->key()) : kv->value());
    return Value(std::move(out));
  }
  return fail("unsupported transform type: " + t);
}

NodeResult<Value> exec_variable(Call& c) {
  std::string name = c.str("var_name"), op = c.str("var_op");
  State& st = c.rc.state();
  if (op == "set") {
    if (c.inputs.empty()) return fail("variable set operation requires input value");
    const Value& v = *c.in0();
    if (auto e = check_value_limits(v, c.rc.limits()); !e.empty())
      return fail("variable validation failed: " + e);
    if (!st.variables.contains(name) && st.variables.size() >= c.rc.limits().max_variables)
      return fail("maximum variables exceeded: " + std::to_string(st.variables.size()) +
                  " (limit: " + std::to_string(c.rc.limits().max_variables) + ")");
    st.variables[name] = v;
    if (c.node.persistent) {
      st.persistent_variables.insert(name);
      st.persistent_used = true;
    }
    return obj({{"var_name", boost::json::string(name)}, {"operation", "set"}, {"value", v}});
  }
  if (op == "get") {
    auto it = st.variables.find(name);
    if (it == st.variables.end()) return fail("variable '" + name + "' not found");
    return obj(
        {{"var_name", boost::json::string(name)}, {"operation", "get"}, {"value", it->value()}});
  }
  return fail("unsupported variable operation: " + op + " (use 'get' or 'set')");
}

NodeResult<Value> exec_accumulator(Call& c) {
  std::string op = c.str("accum_op");
  State& st = c.rc.state();
  std::optional<Value>& cell = c.node.persistent ? st.p_accumulator : st.accumulator;
  if (c.node.persistent) st.persistent_used = true;
  if (!cell || cell->is_null()) {
    if (const Value* iv = c.data("initial_value"))
      cell = *iv;
    else if (op == "sum" || op == "count")
      cell = Value(0.0);
    else if (op == "product")
      cell = Value(1.0);
    else if (op == "concat")
      cell = Value(boost::json::string());
    else if (op == "array")
      cell = Value(Array());
    else
      cell = Value();
  }
  Value cur = *cell;
  if (c.inputs.empty()) return obj({{"operation", boost::json::string(op)}, {"value", cur}});
  const Value& in = *c.in0();
  Value next;
  if (op == "sum" || op == "product" || op == "count") {
    if (!is_number(cur)) return fail("accumulator value is not a number");
    if (op == "count") {
      next = as_number(cur) + 1;
    } else {
      if (!is_number(in))
        return fail(op + " accumulator requires numeric input, got " + go_type(in));
      next = op == "sum" ? as_number(cur) + as_number(in) : as_number(cur) * as_number(in);
    }
  } else if (op == "concat") {
    if (!cur.is_string()) return fail("accumulator value is not a string");
    if (!in.is_string())
      return fail("concat accumulator requires string input, got " + go_type(in));
    next = boost::json::string(std::string(cur.get_string()) + std::string(in.get_string()));
  } else if (op == "array") {
    if (!cur.is_array()) return fail("accumulator value is not an array");
    Array a = cur.get_array();
    a.push_back(in);
    next = std::move(a);
  } else {
    return fail("unsupported accumulator operation: " + op);
  }
  cell = next;
  return obj({{"operation", boost::json::string(op)}, {"value", next}});
}

NodeResult<Value> exec_counter(Call& c) {
  std::string op = c.str("counter_op");
  State& st = c.rc.state();
  double* cell = &st.counter;
  if (c.node.persistent) {
    if (!st.p_counter) st.p_counter = 0.0;
    cell = &*st.p_counter;
    st.persistent_used = true;
  }
  const Value* iv = c.data("initial_value");
  if (iv && is_number(*iv)) *cell = as_number(*iv);
  double delta = c.data("delta") ? as_number(*c.data("delta")) : 1.0;
  if (op == "increment")
    *cell += delta;
  else if (op == "decrement")
    *cell -= delta;
  else if (op == "reset")
    *cell = iv && is_number(*iv) ? as_number(*iv) : 0.0;
  else if (op != "get")
    return fail("unsupported counter operation: " + op +
                " (use increment, decrement, reset, or get)");
  return obj({{"operation", boost::json::string(op)}, {"value", *cell}});
}

NodeResult<Value> exec_cache(Call& c) {
  std::string op = c.str("cache_op"), key = c.str("cache_key");
  State& st = c.rc.state();
  auto& cache = c.node.persistent ? st.p_cache : st.cache;
  if (c.node.persistent) st.persistent_used = true;
  if (op == "set") {
    if (c.inputs.empty()) return fail("cache set operation requires an input value");
    auto ttl_s = c.opt_str("ttl");
    int64_t ttl = 5LL * 60 * 1000000000;
    if (ttl_s) {
      auto d = parse_flow_duration(*ttl_s);
      if (!d)
        return fail("invalid TTL format: invalid duration format: " + *ttl_s +
                    " (use formats like '5s', '10m', '1h')");
      ttl = *d;
    }
    cache[key] = CacheEntry{*c.in0(), c.rc.now_ns() + ttl};
    if (c.node.persistent) st.p_cache_deleted.erase(key);
    return obj({{"operation", "set"},
                {"key", boost::json::string(key)},
                {"value", *c.in0()},
                {"ttl", ttl_s ? Value(boost::json::string(*ttl_s)) : Value()}});
  }
  if (op == "get") {
    auto it = cache.find(key);
    if (it == cache.end() || c.rc.now_ns() > it->second.expires_ns)
      return obj({{"operation", "get"},
                  {"key", boost::json::string(key)},
                  {"found", false},
                  {"value", nullptr}});
    return obj({{"operation", "get"},
                {"key", boost::json::string(key)},
                {"found", true},
                {"value", it->second.value}});
  }
  if (op == "delete") {
    cache.erase(key);
    if (c.node.persistent) st.p_cache_deleted.insert(key);
    return obj({{"operation", "delete"}, {"key", boost::json::string(key)}, {"deleted", true}});
  }
  return fail("unsupported cache operation: " + op + " (use get, set, or delete)");
}

// Thaiyyal's typed context values.
NodeResult<Value> convert_typed(const Value& v, const std::string& type) {
  auto quote = [](const std::string& s) {
    return boost::json::serialize(Value(boost::json::string(s)));
  };
  if (type == "string") return Value(boost::json::string(go_sprint(v)));
  if (type == "number") {
    if (is_number(v)) return Value(as_number(v));
    if (v.is_string()) {
      std::string s(v.get_string());
      if (auto d = parse_go_float(s)) return Value(*d);
      return fail("cannot convert " + quote(s) + " to number: strconv.ParseFloat: parsing " +
                  quote(s) + ": invalid syntax");
    }
    return fail("cannot convert type " + go_type(v) + " to number");
  }
  if (type == "boolean") {
    if (v.is_bool()) return v;
    if (v.is_string()) {
      std::string s(v.get_string());
      if (s == "1" || s == "t" || s == "T" || s == "TRUE" || s == "true" || s == "True")
        return Value(true);
      if (s == "0" || s == "f" || s == "F" || s == "FALSE" || s == "false" || s == "False")
        return Value(false);
      return fail("cannot convert " + quote(s) + " to boolean: strconv.ParseBool: parsing " +
                  quote(s) + ": invalid syntax");
    }
    if (is_number(v)) return Value(as_number(v) != 0);
    return fail("cannot convert type " + go_type(v) + " to boolean");
  }
  if (type == "time_string") {
    std::string s = v.is_string() ? std::string(v.get_string()) : go_sprint(v);
    if (!parse_time(s) || s.size() < 20)
      return fail("invalid time string " + quote(s) + ": not an RFC 3339 date and time");
    return Value(boost::json::string(s));
  }
  if (type == "epoch_second" || type == "epoch_ms") {
    bool ms = type == "epoch_ms";
    int64_t n;
    if (is_number(v)) {
      n = static_cast<int64_t>(std::clamp(as_number(v), -9e15, 9e15));
    } else if (v.is_string()) {
      std::string s(v.get_string());
      auto d = core::parse_uint(s[0] == '-' || s[0] == '+' ? s.substr(1) : s);
      if (s.empty() || !d)
        return fail("cannot convert " + quote(s) + " to epoch " +
                    (ms ? "milliseconds" : "seconds") + ": strconv.ParseInt: parsing " + quote(s) +
                    ": invalid syntax");
      n = static_cast<int64_t>(*d) * (s[0] == '-' ? -1 : 1);
    } else {
      return fail("cannot convert type " + go_type(v) + " to epoch " +
                  (ms ? "milliseconds" : "seconds"));
    }
    return Value(boost::json::string(rfc3339_utc(ms ? n * 1000000 : n * 1000000000)));
  }
  if (type == "null") return Value();
  return fail("unsupported type " + quote(type));
}

NodeResult<Value> exec_context(Call& c, bool constant) {
  State& st = c.rc.state();
  Object& target = constant ? st.constants : st.context_vars;
  const char* kind = constant ? "context_constant" : "context_variable";
  const Value* values = c.data("context_values");
  if (values && !values->get_array().empty()) {
    Object result;
    for (auto& e : values->get_array()) {
      auto& o = e.get_object();
      auto s = [&](const char* k) {
        auto it = o.find(k);
        return it != o.end() && it->value().is_string() ? std::string(it->value().get_string())
                                                        : std::string();
      };
      std::string name = s("name"), type = s("type");
      auto vit = o.find("value");
      Value raw = vit == o.end() ? Value() : vit->value();
      auto conv = convert_typed(raw, type);
      if (!conv)
        return fail(std::string(kind) + " node: error converting " + name + " (" + type +
                    "): " + conv.error().message);
      target[name] = *conv;
      result[name] = *conv;
    }
    if (constant) return obj({{"type", "const"}, {"constants", std::move(result)}});
    return obj({{"type", "variable"}, {"variables", std::move(result)}});
  }
  std::string name = c.str("context_name");
  const Value* v = c.data("context_value");
  if (!v) return fail(std::string(kind) + " node missing context_value");
  target[name] = *v;
  return obj({{"type", constant ? "const" : "variable"},
              {"name", boost::json::string(name)},
              {"value", *v}});
}

NodeResult<Value> exec_context_variable(Call& c) {
  return exec_context(c, false);
}
NodeResult<Value> exec_context_constant(Call& c) {
  return exec_context(c, true);
}

}  // namespace

std::string check_value_limits(const Value& v, const NodeLimits& lim) {
  struct Item {
    const Value* v;
    size_t depth;
  };
  std::vector<Item> st{{&v, 1}};
  size_t maxd = 0;
  while (!st.empty()) {
    auto [x, d] = st.back();
    st.pop_back();
    if (x->is_string() && x->get_string().size() > lim.max_string_length)
      return "string too long: " + std::to_string(x->get_string().size()) +
             " bytes (limit: " + std::to_string(lim.max_string_length) + ")";
    if (x->is_array()) {
      if (x->get_array().size() > lim.max_array_length)
        return "array too large: " + std::to_string(x->get_array().size()) +
               " elements (limit: " + std::to_string(lim.max_array_length) + ")";
      for (auto& e : x->get_array()) st.push_back({&e, d + 1});
      maxd = std::max(maxd, d);
    } else if (x->is_object()) {
      for (auto& kv : x->get_object()) st.push_back({&kv.value(), d + 1});
      maxd = std::max(maxd, d);
    } else {
      maxd = std::max(maxd, d);
    }
    if (maxd > lim.max_depth)
      return "value too deeply nested: " + std::to_string(maxd) +
             " levels (limit: " + std::to_string(lim.max_depth) + ")";
  }
  return "";
}

// Defined in nodes_array.cpp / nodes_io.cpp / formats.cpp.
NodeResult<Value> exec_filter(Call&);
NodeResult<Value> exec_map(Call&);
NodeResult<Value> exec_reduce(Call&);
NodeResult<Value> exec_slice(Call&);
NodeResult<Value> exec_sort(Call&);
NodeResult<Value> exec_find(Call&);
NodeResult<Value> exec_flat_map(Call&);
NodeResult<Value> exec_group_by(Call&);
NodeResult<Value> exec_unique(Call&);
NodeResult<Value> exec_chunk(Call&);
NodeResult<Value> exec_reverse(Call&);
NodeResult<Value> exec_partition(Call&);
NodeResult<Value> exec_zip(Call&);
NodeResult<Value> exec_sample(Call&);
NodeResult<Value> exec_range(Call&);
NodeResult<Value> exec_compact(Call&);
NodeResult<Value> exec_transpose(Call&);
NodeResult<Value> exec_for_each(Call&);
NodeResult<Value> exec_while_loop(Call&);
NodeResult<Value> exec_parse(Call&);
NodeResult<Value> exec_format(Call&);
NodeResult<Value> exec_delay(Call&);
NodeResult<Value> exec_retry(Call&);
NodeResult<Value> exec_try_catch(Call&);
NodeResult<Value> exec_timeout(Call&);
NodeResult<Value> exec_rate_limiter(Call&);
NodeResult<Value> exec_throttle(Call&);
NodeResult<Value> exec_schema_validator(Call&);
NodeResult<Value> exec_http(Call&);
NodeResult<Value> exec_exec(Call&);
NodeResult<Value> exec_socket(Call&);

Executor find_executor(std::string_view type) {
  static const std::pair<std::string_view, Executor> table[] = {
      {"number", exec_number},
      {"text_input", exec_text_input},
      {"boolean_input", exec_boolean_input},
      {"date_input", exec_date_input},
      {"datetime_input", exec_datetime_input},
      {"visualization", exec_visualization},
      {"renderer", exec_renderer},
      {"operation", exec_operation},
      {"text_operation", exec_text_operation},
      {"http", exec_http},
      {"expression", exec_expression},
      {"condition", exec_condition},
      {"for_each", exec_for_each},
      {"while_loop", exec_while_loop},
      {"filter", exec_filter},
      {"map", exec_map},
      {"reduce", exec_reduce},
      {"slice", exec_slice},
      {"sort", exec_sort},
      {"find", exec_find},
      {"flat_map", exec_flat_map},
      {"group_by", exec_group_by},
      {"unique", exec_unique},
      {"chunk", exec_chunk},
      {"reverse", exec_reverse},
      {"partition", exec_partition},
      {"zip", exec_zip},
      {"sample", exec_sample},
      {"range", exec_range},
      {"compact", exec_compact},
      {"transpose", exec_transpose},
      {"variable", exec_variable},
      {"extract", exec_extract},
      {"transform", exec_transform},
      {"accumulator", exec_accumulator},
      {"counter", exec_counter},
      {"parse", exec_parse},
      {"format", exec_format},
      {"switch", exec_switch},
      {"parallel", exec_parallel},
      {"join", exec_join},
      {"split", exec_split},
      {"delay", exec_delay},
      {"cache", exec_cache},
      {"retry", exec_retry},
      {"try_catch", exec_try_catch},
      {"timeout", exec_timeout},
      {"rate_limiter", exec_rate_limiter},
      {"throttle", exec_throttle},
      {"schema_validator", exec_schema_validator},
      {"context_variable", exec_context_variable},
      {"context_constant", exec_context_constant},
      {"exec", exec_exec},
      {"socket", exec_socket},
  };
  for (auto& [n, f] : table)
    if (n == type) return f;
  return nullptr;
}

}  // namespace flow
