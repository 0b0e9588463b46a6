// Executors that wait or reach outside: delay, retry, try_catch, timeout, rate_limiter,
// throttle, schema_validator, http, exec, socket. The waiting and the I/O go through the
// RunContext, which enforces deadlines, cancellation and the configured policies.
#include <algorithm>
#include <cmath>

#include "flow/nodes.h"
#include "flow/schema.h"

namespace flow {

namespace {

constexpr auto obj = make_object;

std::string bad_duration(const std::string& s) {
  return "invalid duration format: " + s + " (use formats like '5s', '10m', '1h')";
}

// An optional duration field: absent -> def; unparsable -> error.
NodeResult<std::optional<int64_t>> duration_field(Call& c, const char* key) {
  const Value* v = c.data(key);
  if (!v) return std::optional<int64_t>();
  if (is_number(*v)) return std::optional<int64_t>(static_cast<int64_t>(as_number(*v) * 1e6));
  if (!v->is_string()) return fail(std::string(key) + ": " + bad_duration(go_sprint(*v)));
  auto d = parse_flow_duration(v->get_string());
  if (!d) return fail(std::string(key) + ": " + bad_duration(std::string(v->get_string())));
  return std::optional<int64_t>(*d);
}

// The error text of an object input carrying an "error" key (Thaiyyal's data-level errors).
std::optional<std::string> error_key(const Value* in) {
  if (!in || !in->is_object()) return std::nullopt;
  auto it = in->get_object().find("error");
  if (it == in->get_object().end()) return std::nullopt;
  return it->value().is_string() ? std::string(it->value().get_string()) : go_sprint(it->value());
}

}  // namespace

NodeResult<Value> exec_delay(Call& c) {
  const Value* in = c.in0();
  const Value* d = c.data("duration");
  int64_t ns;
  if (is_number(*d)) {
    ns = static_cast<int64_t>(as_number(*d) * 1e6);
  } else {
    std::string s = d->is_string() ? std::string(d->get_string()) : go_sprint(*d);
    auto p = d->is_string() ? parse_flow_duration(s) : std::nullopt;
    if (!p) return fail("invalid duration format: " + bad_duration(s));
    ns = *p;
  }
  if (ns > 0) {
    auto r = c.rc.sleep_ns(ns);
    if (!r) return r.error();
  }
  return obj({{"value", in ? *in : Value()}, {"duration", *d}, {"delayed", true}});
}

NodeResult<Value> exec_retry(Call& c) {
  auto num = [&](const char* k, double def) {
    const Value* v = c.data(k);
    return v && is_number(*v) ? as_number(*v) : def;
  };
  int64_t max_attempts = std::max<int64_t>(1, static_cast<int64_t>(num("max_attempts", 3)));
  std::string strategy = c.str("backoff_strategy", "exponential");
  auto dur = [&](const char* k, int64_t def) {
    auto s = c.opt_str(k);
    if (!s) return def;
    return parse_flow_duration(*s).value_or(def);
  };
  int64_t initial = dur("initial_delay", 1000000000LL), max_delay = dur("max_delay", 30000000000LL);
  double mult = num("multiplier", 2);
  std::vector<std::string> patterns;
  if (const Value* p = c.data("retry_on_errors"))
    for (auto& e : p->get_array()) patterns.emplace_back(e.get_string());
  auto backoff = [&](int64_t attempt) {
    double d;
    if (strategy == "exponential")
      d = static_cast<double>(initial) * std::pow(mult, static_cast<double>(attempt - 1));
    else if (strategy == "linear")
      d = static_cast<double>(initial) * static_cast<double>(attempt);
    else
      d = static_cast<double>(initial);
    return static_cast<int64_t>(std::min(d, static_cast<double>(max_delay)));
  };
  auto retryable = [&](const std::string& msg) {
    if (patterns.empty()) return true;
    for (auto& p : patterns)
      if (msg.find(p) != std::string::npos) return true;
    return false;
  };

  // The upstream node failed: run it again, up to max_attempts in total.
  if (const NodeError* up = c.rc.upstream_failure()) {
    NodeError err = *up;
    for (int64_t attempt = 1;; attempt++) {
      if (!retryable(err.message)) {
        err.message = "error not in retry list: " + err.message;
        return err;
      }
      if (attempt >= max_attempts) {
        err.message =
            "max retry attempts (" + std::to_string(max_attempts) + ") reached: " + err.message;
        return err;
      }
      if (auto s = c.rc.sleep_ns(backoff(attempt)); !s) return s.error();
      auto r = c.rc.rerun_upstream();
      if (r) return obj({{"value", *r}, {"attempts", attempt + 1}, {"success", true}});
      if (r.error().abort) return r.error();
      err = r.error();
    }
  }

  // Thaiyyal's data path: an input object with an "error" key is "retried" (nothing re-runs).
  if (c.inputs.empty()) return fail("retry node requires at least one input");
  const Value& in = *c.in0();
  for (int64_t attempt = 1; attempt <= max_attempts; attempt++) {
    auto msg = error_key(&in);
    if (!msg) return obj({{"value", in}, {"attempts", attempt}, {"success", true}});
    if (!retryable(*msg)) return fail("error not in retry list: " + *msg);
    if (attempt == max_attempts)
      return fail("max retry attempts (" + std::to_string(max_attempts) + ") reached: " + *msg);
    if (auto s = c.rc.sleep_ns(backoff(attempt)); !s) return s.error();
  }
  return fail("retry failed");
}

NodeResult<Value> exec_try_catch(Call& c) {
  const Value* fb = c.data("fallback_value");
  bool cont = c.flag("continue_on_error", true);
  auto path = c.opt_str("error_output_path");
  std::optional<std::string> msg;
  if (const NodeError* up = c.rc.upstream_failure()) {
    msg = up->message;
  } else {
    if (c.inputs.empty()) return fail("try-catch node requires at least one input");
    msg = error_key(c.in0());
    if (!msg) return obj({{"value", *c.in0()}, {"error_caught", false}});
  }
  if (!cont) return fail("error caught: " + *msg);
  Object r;
  r["value"] = fb ? *fb : Value();
  r["error_caught"] = true;
  r["error_message"] = *msg;
  if (path && !path->empty()) r["error_output_path"] = *path;
  return Value(std::move(r));
}

NodeResult<Value> exec_timeout(Call& c) {
  std::string ts = c.str("timeout");
  auto limit = parse_flow_duration(ts);
  if (!limit) return fail("invalid timeout duration: " + ts);
  std::string action = c.str("timeout_action", "error");
  if (const NodeError* up = c.rc.upstream_failure()) {
    // The upstream node ran past the limit and was stopped.
    Object r;
    r["value"] = nullptr;
    r["timeout_duration"] = go_duration(*limit);
    r["execution_time"] = go_duration(*limit);
    r["timed_out"] = true;
    r["timeout_exceeded"] = true;
    if (action == "error") {
      NodeError e = *up;
      e.message = "operation timed out after " + go_duration(*limit) +
                  " (limit: " + go_duration(*limit) + ")";
      e.code = core::Errc::tempfail;
      return e;
    }
    r["partial_result"] = true;
    return Value(std::move(r));
  }
  if (c.inputs.empty()) return fail("timeout node requires at least one input");
  const Value& in = *c.in0();
  int64_t exec_time = 0;
  bool timed_out = false;
  if (in.is_object()) {
    auto it = in.get_object().find("execution_time");
    if (it != in.get_object().end() && it->value().is_string()) {
      if (auto d = parse_flow_duration(it->value().get_string())) {
        exec_time = *d;
        timed_out = exec_time > *limit;
      }
    }
  }
  Object r;
  r["value"] = in;
  r["timeout_duration"] = go_duration(*limit);
  r["execution_time"] = go_duration(exec_time);
  r["timed_out"] = timed_out;
  if (timed_out) {
    r["timeout_exceeded"] = true;
    if (action == "error")
      return NodeError{"operation timed out after " + go_duration(exec_time) +
                           " (limit: " + go_duration(*limit) + ")",
                       core::Errc::tempfail};
    r["partial_result"] = true;
  }
  return Value(std::move(r));
}

NodeResult<Value> exec_rate_limiter(Call& c) {
  const Value* in = c.in0();
  int64_t max = *as_integer(*c.data("max_requests"));
  std::string per = c.str("per_duration", "1s");
  auto window = parse_flow_duration(per);
  if (!window) return fail("invalid per_duration format: " + bad_duration(per));
  std::string strategy = c.str("strategy", "fixed_window");
  if (strategy != "fixed_window")
    return fail("unsupported rate limit strategy: " + strategy + " (only fixed_window supported)");
  if (max <= 0) return fail("max_requests must be positive");
  NodeMemory& m = c.rc.memory(c.index);
  auto prune = [&](int64_t now) {
    while (!m.requests.empty() && m.requests.front() <= now - *window) m.requests.pop_front();
  };
  int64_t now = c.rc.now_ns();
  prune(now);
  if (static_cast<int64_t>(m.requests.size()) >= max) {
    int64_t wait = *window - (now - m.requests.front());
    if (wait > 0)
      if (auto s = c.rc.sleep_ns(wait); !s) return s.error();
    prune(c.rc.now_ns());
  }
  m.requests.push_back(c.rc.now_ns());
  return obj({{"value", in ? *in : Value()},
              {"rate_limited", true},
              {"requests_count", static_cast<int64_t>(m.requests.size())},
              {"max_requests", max},
              {"window", boost::json::string(per)}});
}

NodeResult<Value> exec_throttle(Call& c) {
  const Value* in = c.in0();
  double rps = as_number(*c.data("requests_per_second"));
  if (rps <= 0) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%f", rps);
    return fail(std::string("requests_per_second must be positive, got ") + buf);
  }
  auto min_gap = static_cast<int64_t>(1e9 / rps);
  NodeMemory& m = c.rc.memory(c.index);
  int64_t waited = 0;
  if (m.last) {
    int64_t elapsed = c.rc.now_ns() - *m.last;
    if (elapsed < min_gap) {
      waited = min_gap - elapsed;
      if (auto s = c.rc.sleep_ns(waited); !s) return s.error();
    }
  }
  m.last = c.rc.now_ns();
  return obj({{"value", in ? *in : Value()},
              {"throttled", true},
              {"requests_per_second", rps},
              {"delay_ms", waited / 1000000}});
}

NodeResult<Value> exec_schema_validator(Call& c) {
  const Value* in = c.in0();
  if (!in || in->is_null()) return fail("no input provided for validation");
  auto errors = validate_schema(*c.data("schema"), *in);
  if (!errors) return fail("schema validation failed: " + errors.error);
  if (errors->empty()) return obj({{"valid", true}, {"data", *in}});
  if (c.flag("strict", false))
    return fail("validation failed: " + std::to_string(errors->size()) + " errors found");
  Array list;
  for (auto& e : *errors)
    list.push_back(obj({{"field", boost::json::string(e.field)},
                        {"type", boost::json::string(e.type)},
                        {"description", boost::json::string(e.description)},
                        {"value", e.value}}));
  return obj({{"valid", false}, {"data", *in}, {"errors", std::move(list)}});
}

namespace {
bool json_content_type(std::string ct) {
  for (char& ch : ct) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  if (auto p = ct.find(';'); p != std::string::npos) ct.resize(p);
  while (!ct.empty() && ct.back() == ' ') ct.pop_back();
  while (!ct.empty() && ct.front() == ' ') ct.erase(ct.begin());
  if (ct == "application/json") return true;
  return ct.rfind("application/", 0) == 0 && ct.size() > 5 &&
         ct.compare(ct.size() - 5, 5, "+json") == 0;
}
}  // namespace

NodeResult<Value> exec_http(Call& c) {
  HttpRequest req;
  req.url = c.str("url");
  req.method = c.str("method", "GET");
  for (char& ch : req.method) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  static const char* methods[] = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"};
  if (std::find(std::begin(methods), std::end(methods), req.method) == std::end(methods))
    return fail("unsupported HTTP method: " + req.method);
  bool has_ct = false;
  if (const Value* h = c.data("headers")) {
    for (auto& kv : h->get_object()) {
      if (!kv.value().is_string())
        return fail("header \"" + std::string(kv.key()) + "\": expected string");
      std::string name(kv.key()), val(kv.value().get_string());
      if (name.find_first_of("\r\n:") != std::string::npos ||
          val.find_first_of("\r\n") != std::string::npos)
        return fail("header \"" + name + "\": invalid characters");
      std::string low = name;
      for (char& ch : low) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      if (low == "content-type") has_ct = true;
      req.headers.emplace_back(std::move(name), std::move(val));
    }
  }
  if (const Value* b = c.data("body")) {
    if (b->is_string()) {
      req.body = std::string(b->get_string());
    } else {
      req.body = to_json(*b);
      if (!has_ct) req.headers.emplace_back("Content-Type", "application/json");
    }
  }
  auto t = duration_field(c, "timeout");
  if (!t) return t.error();
  req.timeout_ns = *t;
  auto resp = c.rc.http(req);
  if (!resp) return resp.error();
  if (resp->status < 200 || resp->status >= 300) {
    NodeError e = fail("HTTP request returned error status: " + std::to_string(resp->status));
    if (resp->status >= 500 || resp->status == 429 || resp->status == 408)
      e.code = core::Errc::tempfail;
    return e;
  }
  bool declared = json_content_type(resp->content_type);
  bool looks = false;
  if (resp->content_type.empty()) {
    size_t i = resp->body.find_first_not_of(" \t\r\n");
    looks = i != std::string::npos && (resp->body[i] == '{' || resp->body[i] == '[');
  }
  if (declared || looks) {
    std::string err;
    if (auto v = parse_json(resp->body, &err)) return std::move(*v);
    if (declared) return fail("failed to parse JSON response: " + err);
  }
  return Value(boost::json::string(resp->body));
}

NodeResult<Value> exec_exec(Call& c) {
  ExecRequest req;
  for (auto& a : c.data("command")->get_array()) req.argv.emplace_back(a.get_string());
  req.stdin_data = c.str("stdin");
  auto t = duration_field(c, "timeout");
  if (!t) return t.error();
  req.timeout_ns = *t;
  auto r = c.rc.exec(req);
  if (!r) return r.error();
  Object o;
  o["exit_code"] = static_cast<int64_t>(r->exit_code);
  o["stdout"] = r->out;
  o["stderr"] = r->err;
  if (r->signal) o["signal"] = static_cast<int64_t>(r->signal);
  if (r->truncated) o["truncated"] = true;
  return Value(std::move(o));
}

NodeResult<Value> exec_socket(Call& c) {
  Object req;
  if (const Value* r = c.data("request"))
    req = r->get_object();
  else if (c.in0() && c.in0()->is_object())
    req = c.in0()->get_object();
  else
    return fail("socket node needs a request object (data.request or an object input)");
  auto t = duration_field(c, "timeout");
  if (!t) return t.error();
  return c.rc.socket(c.str("socket"), req, t->value_or(5000000000LL));
}

}  // namespace flow
