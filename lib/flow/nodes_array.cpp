// Executors: array nodes (filter, map, reduce and the sixteen array helpers) and the loops.
// Non-array input to the helpers yields Thaiyyal's {error, input, original_type} object (not a
// failure); Go's nil slices print as null, and so do ours.
#include <algorithm>
#include <cmath>
#include <random>

#include "flow/nodes.h"

namespace flow {

namespace {

constexpr auto obj = make_object;

int64_t i64(size_t n) {
  return static_cast<int64_t>(n);
}

// Go's nil slice: an empty result array prints as null.
Value nil_if_empty(Array a) {
  if (a.empty()) return Value();
  return Value(std::move(a));
}

Value not_array(const Value& in) {
  return obj({{"error", "input is not an array"},
              {"input", in},
              {"original_type", boost::json::string(go_type(in))}});
}

// The first input as an array; *wrapper gets the non-array result object otherwise.
NodeResult<const Array*> array_in(Call& c, const char* name, Value* wrapper) {
  if (c.inputs.empty()) return fail(std::string(name) + " node needs at least 1 input");
  if (!c.in0()->is_array()) {
    *wrapper = not_array(*c.in0());
    return static_cast<const Array*>(nullptr);
  }
  return &c.in0()->get_array();
}

// filter/partition also accept an object holding the array under one of these keys.
const Array* unwrap_array(const Value& v) {
  if (v.is_array()) return &v.get_array();
  if (!v.is_object()) return nullptr;
  for (const char* k : {"range", "array", "items", "data", "values"}) {
    auto it = v.get_object().find(k);
    if (it != v.get_object().end() && it->value().is_array()) return &it->value().get_array();
  }
  return nullptr;
}

// Evaluation environment for item i of arr.
struct ItemEnv {
  Value index;
  Env env;
  ItemEnv(Call& c, const Array& arr, const Value* items_v, size_t i, bool with_items) {
    index = static_cast<double>(i);
    env = c.env(&arr[i]);
    env.locals.emplace_back("item", &arr[i]);
    env.locals.emplace_back("index", &index);
    if (with_items) env.locals.emplace_back("items", items_v);
  }
};

int64_t num_or(const Value* v, int64_t def) {
  if (!v || !v->is_double()) return def;
  double d = v->get_double();
  if (!std::isfinite(d)) return def;
  return static_cast<int64_t>(std::clamp(d, -9e15, 9e15));
}

}  // namespace

NodeResult<Value> exec_filter(Call& c) {
  std::string cond = c.str("condition");
  if (cond.empty()) return fail("filter node missing condition expression");
  if (c.inputs.empty()) return fail("filter node needs at least 1 input");
  const Value& in = *c.in0();
  const Array* arr = unwrap_array(in);
  if (!arr)
    return obj({{"input", in},
                {"filtered", in},
                {"is_array", false},
                {"warning", "input is not an array, passed through unchanged"},
                {"original_type", boost::json::string(go_type(in))}});
  Array out;
  int64_t skipped = 0, errors = 0;
  for (size_t i = 0; i < arr->size(); i++) {
    ItemEnv ie(c, *arr, nullptr, i, false);
    auto r = c.node.exprs[0].test(ie.env);
    if (!r) {
      errors++;
      skipped++;
    } else if (*r) {
      out.push_back((*arr)[i]);
    } else {
      skipped++;
    }
  }
  int64_t n = i64(out.size());
  return obj({{"filtered", std::move(out)},
              {"input_count", i64(arr->size())},
              {"output_count", n},
              {"skipped_count", skipped},
              {"error_count", errors},
              {"condition", boost::json::string(cond)},
              {"is_array", true}});
}

NodeResult<Value> exec_map(Call& c) {
  if (c.inputs.empty()) return fail("map node needs at least 1 input");
  const Value& in = *c.in0();
  if (!in.is_array()) return fail("map node requires array input, got " + go_type(in));
  const Array& arr = in.get_array();
  std::string field = c.str("field");
  bool has_expr = !c.node.exprs.empty();
  if (!has_expr && field.empty())
    return obj({{"results", arr},
                {"input_count", i64(arr.size())},
                {"output_count", i64(arr.size())},
                {"warning", "no transformation specified"}});
  Array out;
  int64_t ok = 0, failed = 0;
  for (size_t i = 0; i < arr.size(); i++) {
    if (!field.empty()) {
      const Value& it = arr[i];
      const Value* v = nullptr;
      if (it.is_object()) {
        auto f = it.get_object().find(field);
        if (f != it.get_object().end()) v = &f->value();
      }
      if (v) {
        out.push_back(*v);
        ok++;
      } else {
        out.push_back(nullptr);
        failed++;
      }
      continue;
    }
    ItemEnv ie(c, arr, &in, i, true);
    auto r = c.node.exprs[0].value(ie.env);
    if (r) {
      out.push_back(std::move(*r));
      ok++;
    } else {
      out.push_back(nullptr);
      failed++;
    }
  }
  int64_t n = i64(out.size());
  return obj({{"results", std::move(out)},
              {"input_count", i64(arr.size())},
              {"output_count", n},
              {"successful", ok},
              {"failed", failed}});
}

NodeResult<Value> exec_reduce(Call& c) {
  if (c.inputs.empty()) return fail("reduce node needs at least 1 input");
  const Value& in = *c.in0();
  if (!in.is_array()) return fail("reduce node requires array input, got " + go_type(in));
  const Array& arr = in.get_array();
  const Value* iv = c.data("initial_value");
  Value acc = iv ? *iv : Value(0.0);
  if (c.node.exprs.empty()) return fail("reduce node requires an expression");
  int64_t ok = 0, failed = 0;
  for (size_t i = 0; i < arr.size(); i++) {
    ItemEnv ie(c, arr, &in, i, true);
    ie.env.locals.emplace_back("accumulator", &acc);
    auto r = c.node.exprs[0].value(ie.env);
    if (!r) {
      failed++;
      continue;
    }
    acc = std::move(*r);
    ok++;
  }
  return obj({{"result", acc},
              {"initial_value", iv ? *iv : Value()},
              {"final_value", acc},
              {"input_count", i64(arr.size())},
              {"iterations", ok + failed},
              {"successful", ok},
              {"failed", failed}});
}

NodeResult<Value> exec_slice(Call& c) {
  Value w;
  auto r = array_in(c, "slice", &w);
  if (!r) return r.error();
  if (!*r) return w;
  const Array& arr = **r;
  int64_t len = i64(arr.size());
  int64_t start = num_or(c.data("start"), 0);
  if (start < 0) start += len;
  start = std::clamp<int64_t>(start, 0, len);
  int64_t end;
  if (c.data("end") && c.data("end")->is_double())
    end = num_or(c.data("end"), 0);
  else if (c.data("length") && c.data("length")->is_double())
    end = start + num_or(c.data("length"), 0);
  else
    end = len;
  if (end < 0) end += len;
  end = std::clamp<int64_t>(end, 0, len);
  if (start > end) start = end;
  Array out(arr.begin() + start, arr.begin() + end);
  int64_t n = i64(out.size());
  return obj({{"sliced", std::move(out)},
              {"input_count", len},
              {"output_count", n},
              {"start", start},
              {"end", end}});
}

namespace {
// Thaiyyal's sort order: null first, numbers, strings, booleans (false < true), else as text.
bool sort_less(const Value& a, const Value& b) {
  if (a.is_null() && b.is_null()) return false;
  if (a.is_null()) return true;
  if (b.is_null()) return false;
  if (is_number(a) && is_number(b)) return as_number(a) < as_number(b);
  if (a.is_string() && b.is_string())
    return std::string_view(a.get_string()) < std::string_view(b.get_string());
  if (a.is_bool() && b.is_bool()) return !a.get_bool() && b.get_bool();
  return go_sprint(a) < go_sprint(b);
}
}  // namespace

NodeResult<Value> exec_sort(Call& c) {
  Value w;
  auto r = array_in(c, "sort", &w);
  if (!r) return r.error();
  if (!*r) return w;
  std::string field = c.str("field");
  std::string order = c.str("order", "asc");
  std::transform(order.begin(), order.end(), order.begin(), ::tolower);
  auto key = [&](const Value& v) -> const Value& {
    static const Value null;
    if (field.empty()) return v;
    if (!v.is_object()) return null;
    auto it = v.get_object().find(field);
    return it == v.get_object().end() ? null : it->value();
  };
  Array out = **r;
  std::stable_sort(out.begin(), out.end(),
                   [&](const Value& a, const Value& b) { return sort_less(key(a), key(b)); });
  if (order == "desc") std::reverse(out.begin(), out.end());
  int64_t n = i64(out.size());
  return obj({{"sorted", std::move(out)},
              {"count", n},
              {"field", boost::json::string(field)},
              {"order", boost::json::string(order)}});
}

NodeResult<Value> exec_find(Call& c) {
  Value w;
  auto r = array_in(c, "find", &w);
  if (!r) return r.error();
  if (!*r) return w;
  std::string cond = c.str("condition");
  if (cond.empty()) return fail("find node missing required 'condition' string");
  const Array& arr = **r;
  for (size_t i = 0; i < arr.size(); i++) {
    ItemEnv ie(c, arr, c.in0(), i, true);
    auto m = c.node.exprs[0].test(ie.env);
    if (!m || !*m) continue;
    if (c.flag("return_index", false))
      return obj({{"found", arr[i]}, {"index", i64(i)}, {"condition", boost::json::string(cond)}});
    return obj({{"found", arr[i]}, {"condition", boost::json::string(cond)}});
  }
  return obj({{"found", nullptr},
              {"not_found", true},
              {"condition", boost::json::string(cond)},
              {"input_count", i64(arr.size())}});
}

NodeResult<Value> exec_flat_map(Call& c) {
  Value w;
  auto r = array_in(c, "flat_map", &w);
  if (!r) return r.error();
  if (!*r) return w;
  std::string field = c.str("field");
  Array out;
  for (auto& item : **r) {
    const Value* v = &item;
    if (!field.empty() && field != ".") {
      if (!item.is_object()) continue;
      auto it = item.get_object().find(field);
      if (it == item.get_object().end()) continue;
      v = &it->value();
    }
    if (v->is_array())
      for (auto& e : v->get_array()) out.push_back(e);
    else
      out.push_back(*v);
  }
  int64_t n = i64(out.size());
  return obj({{"flattened", nil_if_empty(std::move(out))},
              {"input_count", i64((*r)->size())},
              {"output_count", n},
              {"field", boost::json::string(field)}});
}

NodeResult<Value> exec_group_by(Call& c) {
  Value w;
  auto r = array_in(c, "group_by", &w);
  if (!r) return r.error();
  if (!*r) return w;
  std::string field = c.str("field");
  if (field.empty()) return fail("group_by node requires 'field' string");
  std::string agg = c.str("aggregate", "count"), vf = c.str("value_field");
  Object groups;  // key -> items
  for (auto& item : **r) {
    std::string key;
    if (item.is_object()) {
      auto it = item.get_object().find(field);
      key = it == item.get_object().end() ? "<missing>" : go_sprint(it->value());
    } else {
      key = go_sprint(item);
    }
    auto g = groups.find(key);
    if (g == groups.end()) g = groups.emplace(key, Array()).first;
    g->value().get_array().push_back(item);
  }
  auto nums = [&](const Array& items) {
    std::vector<double> v;
    for (auto& it : items) {
      if (!it.is_object()) continue;
      auto f = it.get_object().find(vf);
      if (f != it.get_object().end() && is_number(f->value())) v.push_back(as_number(f->value()));
    }
    return v;
  };
  Object out;
  for (auto& kv : groups) {
    const Array& items = kv.value().get_array();
    Value v;
    if (agg == "count") {
      v = i64(items.size());
    } else if (agg == "sum" || agg == "avg") {
      auto xs = nums(items);
      double s = 0;
      for (double x : xs) s += x;
      v = agg == "sum" ? s : xs.empty() ? 0.0 : s / static_cast<double>(xs.size());
    } else if (agg == "min" || agg == "max") {
      auto xs = nums(items);
      if (!xs.empty())
        v = agg == "min" ? *std::min_element(xs.begin(), xs.end())
                         : *std::max_element(xs.begin(), xs.end());
    } else if (agg == "values") {
      v = items;
    } else {
      return fail("unknown aggregate function: " + agg);
    }
    out[kv.key()] = std::move(v);
  }
  if (groups.empty() && agg != "count" && agg != "sum" && agg != "avg" && agg != "min" &&
      agg != "max" && agg != "values")
    return fail("unknown aggregate function: " + agg);
  const char* name = agg == "count" ? "counts"
                     : agg == "sum" ? "sums"
                     : agg == "avg" ? "averages"
                     : agg == "min" ? "minimums"
                     : agg == "max" ? "maximums"
                                    : "values";
  int64_t gc = i64(groups.size());
  Object res;
  res["groups"] = std::move(groups);
  res["group_count"] = gc;
  res["input_count"] = i64((*r)->size());
  res["field"] = field;
  res["aggregate"] = agg;
  res[name] = std::move(out);
  return Value(std::move(res));
}

NodeResult<Value> exec_unique(Call& c) {
  Value w;
  auto r = array_in(c, "unique", &w);
  if (!r) return r.error();
  if (!*r) return w;
  std::string field = c.str("field");
  std::vector<std::string> seen;
  Array out;
  for (auto& item : **r) {
    std::string key;
    if (!field.empty() && item.is_object()) {
      auto it = item.get_object().find(field);
      if (it == item.get_object().end()) {  // Go keys these by pointer: always unique
        out.push_back(item);
        continue;
      }
      key = go_sprint(it->value());
    } else {
      key = go_sprint(item);
    }
    if (std::find(seen.begin(), seen.end(), key) != seen.end()) continue;
    seen.push_back(std::move(key));
    out.push_back(item);
  }
  int64_t n = i64(out.size());
  return obj({{"unique", nil_if_empty(std::move(out))},
              {"input_count", i64((*r)->size())},
              {"output_count", n},
              {"removed", i64((*r)->size()) - n}});
}

NodeResult<Value> exec_chunk(Call& c) {
  Value w;
  auto r = array_in(c, "chunk", &w);
  if (!r) return r.error();
  if (!*r) return w;
  int64_t size = num_or(c.data("size"), 10);
  if (size <= 0) return fail("chunk size must be greater than 0, got " + std::to_string(size));
  const Array& arr = **r;
  Array chunks;
  for (size_t i = 0; i < arr.size(); i += static_cast<size_t>(size)) {
    size_t e = std::min(arr.size(), i + static_cast<size_t>(size));
    chunks.push_back(Array(arr.begin() + i, arr.begin() + e));
  }
  int64_t n = i64(chunks.size());
  return obj({{"chunks", nil_if_empty(std::move(chunks))},
              {"input_count", i64(arr.size())},
              {"chunk_count", n},
              {"chunk_size", size}});
}

NodeResult<Value> exec_reverse(Call& c) {
  Value w;
  auto r = array_in(c, "reverse", &w);
  if (!r) return r.error();
  if (!*r) return w;
  Array out((*r)->rbegin(), (*r)->rend());
  int64_t n = i64(out.size());
  return obj({{"reversed", std::move(out)}, {"count", n}});
}

NodeResult<Value> exec_partition(Call& c) {
  if (c.inputs.empty()) return fail("partition node needs at least 1 input");
  const Array* arr = unwrap_array(*c.in0());
  if (!arr) return not_array(*c.in0());
  std::string cond = c.str("condition");
  if (cond.empty()) return fail("partition node missing required 'condition' string");
  Array passed, failed;
  for (size_t i = 0; i < arr->size(); i++) {
    ItemEnv ie(c, *arr, c.in0(), i, true);
    auto m = c.node.exprs[0].test(ie.env);
    (m && *m ? passed : failed).push_back((*arr)[i]);
  }
  int64_t p = i64(passed.size()), f = i64(failed.size());
  return obj({{"passed", nil_if_empty(std::move(passed))},
              {"failed", nil_if_empty(std::move(failed))},
              {"passed_count", p},
              {"failed_count", f},
              {"input_count", i64(arr->size())},
              {"condition", boost::json::string(cond)}});
}

NodeResult<Value> exec_zip(Call& c) {
  std::vector<const Array*> arrays;
  if (c.in0() && c.in0()->is_array()) arrays.push_back(&c.in0()->get_array());
  if (const Value* cfg = c.data("arrays"); cfg && cfg->is_array())
    for (auto& a : cfg->get_array())
      if (a.is_array()) arrays.push_back(&a.get_array());
  if (arrays.empty()) return fail("zip node requires at least one array");
  const Value* fill = c.data("fill_missing");
  size_t maxlen = 0;
  for (auto* a : arrays) maxlen = std::max(maxlen, a->size());
  Array zipped;
  for (size_t i = 0; i < maxlen; i++) {
    Array t;
    for (auto* a : arrays) t.push_back(i < a->size() ? (*a)[i] : (fill ? *fill : Value()));
    zipped.push_back(std::move(t));
  }
  int64_t n = i64(zipped.size());
  return obj({{"zipped", nil_if_empty(std::move(zipped))},
              {"array_count", i64(arrays.size())},
              {"tuple_count", n},
              {"max_length", i64(maxlen)}});
}

NodeResult<Value> exec_sample(Call& c) {
  Value w;
  auto r = array_in(c, "sample", &w);
  if (!r) return r.error();
  if (!*r) return w;
  int64_t count = num_or(c.data("count"), 1);
  if (count <= 0) return fail("sample count must be greater than 0, got " + std::to_string(count));
  std::string method = c.str("method", "random");
  const Array& arr = **r;
  int64_t len = i64(arr.size());
  Array out;
  if (method == "first") {
    out = Array(arr.begin(), arr.begin() + std::min(count, len));
  } else if (method == "last") {
    out = Array(arr.begin() + std::max<int64_t>(0, len - count), arr.end());
  } else if (method == "random") {
    if (count >= len) {
      out = arr;
    } else {
      std::vector<size_t> idx(arr.size());
      for (size_t i = 0; i < idx.size(); i++) idx[i] = i;
      std::mt19937_64 rng(std::random_device{}());
      for (int64_t i = 0; i < count; i++) {
        std::uniform_int_distribution<int64_t> d(i, len - 1);
        std::swap(idx[i], idx[d(rng)]);
      }
      for (int64_t i = 0; i < count; i++) out.push_back(arr[idx[i]]);
    }
  } else {
    return fail("unknown sample method: " + method + " (must be 'random', 'first', or 'last')");
  }
  int64_t n = i64(out.size());
  return obj({{"sample", std::move(out)},
              {"input_count", len},
              {"output_count", n},
              {"method", boost::json::string(method)}});
}

NodeResult<Value> exec_range(Call& c) {
  auto num = [&](const char* k, double def) {
    const Value* v = c.data(k);
    return v && is_number(*v) ? as_number(*v) : def;
  };
  double start = num("start", 0), end = num("end", 10), step = num("step", 1);
  if (step == 0) return fail("range step cannot be 0");
  if (step > 0 && start > end)
    return fail("range with positive step requires start <= end, got start=" + go_float(start) +
                " end=" + go_float(end));
  if (step < 0 && start < end)
    return fail("range with negative step requires start >= end, got start=" + go_float(start) +
                " end=" + go_float(end));
  const size_t max_items = 10000;
  Array out;
  if (step > 0)
    for (double i = start; i <= end && out.size() < max_items; i += step) out.push_back(i);
  else
    for (double i = start; i >= end && out.size() < max_items; i += step) out.push_back(i);
  if (out.size() >= max_items)
    return fail("range would generate more than 10000 items, adjust start/end/step");
  int64_t n = i64(out.size());
  return obj({{"range", nil_if_empty(std::move(out))},
              {"count", n},
              {"start", start},
              {"end", end},
              {"step", step}});
}

NodeResult<Value> exec_compact(Call& c) {
  Value w;
  auto r = array_in(c, "compact", &w);
  if (!r) return r.error();
  if (!*r) return w;
  bool remove_empty = c.flag("remove_empty", false);
  Array out;
  int64_t removed = 0;
  for (auto& item : **r) {
    bool drop = item.is_null() || (item.is_double() && std::isnan(item.get_double())) ||
                (remove_empty && item.is_string() && item.get_string().empty());
    if (drop)
      removed++;
    else
      out.push_back(item);
  }
  int64_t n = i64(out.size());
  return obj({{"compacted", nil_if_empty(std::move(out))},
              {"input_count", i64((*r)->size())},
              {"output_count", n},
              {"removed", removed}});
}

NodeResult<Value> exec_transpose(Call& c) {
  Value w;
  auto r = array_in(c, "transpose", &w);
  if (!r) return r.error();
  if (!*r) return w;
  const Array& arr = **r;
  if (arr.empty()) return obj({{"transposed", Array()}, {"rows", 0}, {"cols", 0}});
  if (!arr[0].is_array())
    return obj({{"error", "input is not a 2D array (array of arrays)"},
                {"first_element", arr[0]},
                {"expected", "array of arrays"}});
  size_t rows = arr.size(), cols = arr[0].get_array().size();
  for (size_t i = 0; i < rows; i++) {
    if (!arr[i].is_array())
      return obj({{"error", boost::json::string("row " + std::to_string(i) + " is not an array")},
                  {"row_index", i64(i)},
                  {"row_value", arr[i]}});
    if (arr[i].get_array().size() != cols)
      return obj({{"error", "all rows must have the same length"},
                  {"expected_cols", i64(cols)},
                  {"row_index", i64(i)},
                  {"actual_cols", i64(arr[i].get_array().size())}});
  }
  Array out;
  for (size_t j = 0; j < cols; j++) {
    Array col;
    for (size_t i = 0; i < rows; i++) col.push_back(arr[i].get_array()[j]);
    out.push_back(std::move(col));
  }
  return obj({{"transposed", std::move(out)},
              {"rows", i64(rows)},
              {"cols", i64(cols)},
              {"transposed_rows", i64(cols)},
              {"transposed_cols", i64(rows)}});
}

NodeResult<Value> exec_for_each(Call& c) {
  if (c.inputs.empty()) return fail("for_each node needs at least 1 input");
  const Value& in = *c.in0();
  if (!in.is_array()) return fail("for_each node requires array input, got " + go_type(in));
  const Array& arr = in.get_array();
  const Value* mi = c.data("max_iterations");
  int64_t max = mi && *as_integer(*mi) > 0 ? *as_integer(*mi) : 1000;
  max = std::min<int64_t>(max, static_cast<int64_t>(c.rc.limits().max_iterations));
  if (i64(arr.size()) > max)
    return fail("for_each exceeds max iterations: " + std::to_string(arr.size()) + " > " +
                std::to_string(max));
  if (!c.wf.has_body(c.index))
    return obj({{"input_count", i64(arr.size())},
                {"iterations", i64(arr.size())},
                {"successful", i64(arr.size())},
                {"failed", 0}});
  Array results, errors;
  int64_t ok = 0, failed = 0;
  for (size_t i = 0; i < arr.size(); i++) {
    auto r = c.rc.run_body(arr[i], i);
    if (r) {
      results.push_back(std::move(*r));
      ok++;
      continue;
    }
    if (r.error().abort) return r.error();  // limits and cancellation end the loop
    results.push_back(nullptr);
    errors.push_back(
        boost::json::string("iteration " + std::to_string(i) + ": " + r.error().message));
    failed++;
  }
  Object out;
  out["input_count"] = i64(arr.size());
  out["iterations"] = ok + failed;
  out["successful"] = ok;
  out["failed"] = failed;
  out["results"] = std::move(results);
  if (!errors.empty()) out["errors"] = std::move(errors);
  return Value(std::move(out));
}

NodeResult<Value> exec_while_loop(Call& c) {
  std::string cond = c.str("condition");
  if (c.inputs.empty()) return fail("while_loop node needs at least 1 input");
  const Value* mi = c.data("max_iterations");
  int64_t max = mi && *as_integer(*mi) > 0 ? *as_integer(*mi) : 100;
  max = std::min<int64_t>(max, static_cast<int64_t>(c.rc.limits().max_iterations));
  Value cur = *c.in0();
  int64_t n = 0;
  if (!c.wf.has_body(c.index)) {
    while (simple_condition(cond, cur) && n < max) n++;
    if (n >= max) return fail("while_loop exceeded max iterations: " + std::to_string(max));
  } else {
    auto e = Expr::parse(cond);
    if (!e) return fail("while_loop condition: " + e.error().message);
    for (;;) {
      auto t = e->test(c.env(&cur));
      if (!t) return fail("while_loop condition: " + t.error().message);
      if (!*t) break;
      if (n >= max) return fail("while_loop exceeded max iterations: " + std::to_string(max));
      auto r = c.rc.run_body(cur, static_cast<size_t>(n));
      if (!r) {
        NodeError err = r.error();
        err.message = "while_loop iteration " + std::to_string(n) + ": " + err.message;
        return err;
      }
      cur = std::move(*r);
      n++;
    }
  }
  return obj({{"final_value", cur}, {"iterations", n}, {"condition", boost::json::string(cond)}});
}

}  // namespace flow
