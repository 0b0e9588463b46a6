// The runner. One Sched per level (the main run, or one iteration of a loop body) walks its
// nodes in the level's order: a node becomes ready when all its predecessors are resolved, runs
// (or is skipped by the sourceHandle rules), and resolves its successors. Non-blocking nodes run
// inline on the scheduler thread; blocking ones (delay, http, exec, socket, rate limiting,
// retries, loops with bodies) run on worker threads, so their waits overlap. Results equal a
// sequential run in the documented order because
//   - a node that reads or writes shared state (variables, accumulator, counter, cache, context,
//     node.<id> references) starts only after every earlier such node has resolved, and sees
//     node results of earlier positions only;
//   - the failure reported is the first in order: after a failure at position f nothing after f
//     starts (running ones are cancelled) and everything before f still runs.
#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <list>
#include <memory>
#include <mutex>
#include <random>
#include <thread>
#include <unordered_map>

#include "core/fs.h"
#include "flow/flow.h"

namespace flow {

namespace {

enum class St : uint8_t { waiting, ready, running, done, skipped, caught, failed };

bool resolved(St s) {
  return s == St::done || s == St::skipped || s == St::caught || s == St::failed;
}

std::string random_id() {
  std::random_device rd;
  uint64_t x = (static_cast<uint64_t>(rd()) << 32) ^ rd();
  static const char* hex = "0123456789abcdef";
  std::string s(16, '0');
  for (int i = 15; i >= 0; i--) {
    s[i] = hex[x & 15];
    x >>= 4;
  }
  return s;
}

constexpr int kMaxThreads = 256;

struct RunShared {
  const Workflow& wf;
  const Config& cfg;
  State state;
  RunSignal sig;
  Stop root;
  std::optional<Value> input;
  std::atomic<size_t> executions{0};
  std::atomic<size_t> http_calls{0};
  std::atomic<int> threads{0};
  std::atomic<bool> timed_out{false};
  int64_t deadline = 0;
  std::string timeout_message;
  std::mutex mem_m;
  std::map<int, NodeMemory> memory;
  std::unordered_map<std::string_view, int> ids;

  RunShared(const Workflow& w, const Config& c) : wf(w), cfg(c), root(sig, nullptr) {
    ids.reserve(w.nodes.size() * 2);
    for (size_t i = 0; i < w.nodes.size(); i++) ids.emplace(w.nodes[i].id, static_cast<int>(i));
  }
};

class Sched;

// Counts one more use of a per-run budget; the error (which no catcher absorbs) when exceeded.
std::optional<NodeError> over_budget(std::atomic<size_t>& used, size_t limit, const char* what) {
  size_t n = ++used;
  if (n <= limit) return std::nullopt;
  NodeError e = fail(std::string("maximum ") + what + " exceeded: " + std::to_string(n) +
                     " (limit: " + std::to_string(limit) + ")");
  e.abort = true;
  return e;
}

// The services one node execution sees.
class NodeRun final : public RunContext {
 public:
  NodeRun(Sched& s, int node, const Stop& stop, const NodeError* upstream)
      : s_(s), node_(node), stop_(stop), upstream_(upstream) {}

  State& state() override;
  const NodeLimits& limits() const override;
  NodeMemory& memory(int node) override;
  NodeResult<void> sleep_ns(int64_t ns) override { return stop_.sleep(ns); }
  NodeResult<HttpResponse> http(const HttpRequest& req) override;
  NodeResult<ExecResponse> exec(const ExecRequest& req) override;
  NodeResult<Value> socket(const std::string& name, const Object& request,
                           int64_t timeout_ns) override;
  NodeResult<Value> run_body(const Value& value, size_t iteration) override;
  const NodeError* upstream_failure() override { return upstream_; }
  NodeResult<Value> rerun_upstream() override;

  const Value* variable(std::string_view name) const override;
  const Value* context(std::string_view name) const override;
  const Value* node_result(std::string_view id) const override;
  int64_t now_ns() const override { return wall_ns(); }

 private:
  Sched& s_;
  int node_;
  const Stop& stop_;
  const NodeError* upstream_;
};

class Sched {
 public:
  Sched(RunShared& r, const Sched* parent, int loop, const Value* iter, const Stop& stop)
      : r_(r),
        wf_(r.wf),
        parent_(parent),
        loop_(loop),
        iter_(iter),
        stop_(stop),
        order_(loop < 0 ? r.wf.order : r.wf.body_order[loop]) {
    size_t n = order_.size();
    st_.assign(n, St::waiting);
    results_.resize(n);
    errors_.resize(n);
    pending_.assign(n, 0);
    for (size_t p = 0; p < n; p++) {
      const Node& node = wf_.nodes[order_[p]];
      for (int ei : node.in)
        if (same_level(wf_.edges[ei].src)) pending_[p]++;
      for (int d : node.extra_deps)
        if (same_level(d)) pending_[p]++;
      if (node.reads_state || node.writes_state || node.reads_nodes)
        stateful_.push_back(static_cast<int>(p));
    }
  }

  ~Sched() { join_all(); }

  // Runs the level. Returns the first failure in order (uncaught), else ok.
  NodeResult<void> run();

  // Lookup of a node's outcome from this level or an enclosing one.
  struct Out {
    bool ran = false;
    const Value* value = nullptr;
    bool caught = false;
    const NodeError* error = nullptr;
  };
  Out lookup(int node) const;
  // node.<id> visibility for an expression of the node at position `before` in this level.
  const Value* visible(int node, int before) const;
  const Value* result_value() const;  // terminal rule
  Object node_results() const;

  RunShared& shared() { return r_; }
  const Workflow& wf() const { return wf_; }
  int loop() const { return loop_; }
  NodeResult<Value> execute(int node, const Stop& stop, const NodeError* upstream);
  std::vector<const Value*> inputs(int node) const;

 private:
  RunShared& r_;
  const Workflow& wf_;
  const Sched* parent_;
  int loop_;
  const Value* iter_;
  const Stop& stop_;
  const std::vector<int>& order_;

  std::vector<St> st_;
  std::vector<std::optional<Value>> results_;
  std::vector<std::optional<NodeError>> errors_;
  std::vector<int> pending_;
  std::vector<int> stateful_;  // positions, ascending
  size_t stateful_ptr_ = 0;    // first possibly unresolved stateful position (index into stateful_)
  size_t all_ptr_ = 0;         // first possibly unresolved position
  std::set<int> ready_;
  int fail_pos_ = INT32_MAX;
  size_t running_ = 0;

  struct Job {
    int pos;
    std::unique_ptr<Stop> stop;
    std::optional<NodeResult<Value>> result;
    std::thread th;
    bool counted_thread = false;
  };
  std::list<Job> jobs_;
  std::mutex m_;
  std::condition_variable cv_;
  std::deque<Job*> done_;

  bool same_level(int node) const { return wf_.nodes[node].loop == loop_; }
  int pos(int node) const { return wf_.nodes[node].pos; }

  void join_all() {
    for (auto& j : jobs_) {
      if (j.stop) j.stop->cancel();
    }
    for (auto& j : jobs_)
      if (j.th.joinable()) j.th.join();
    for (auto& j : jobs_)
      if (j.counted_thread) r_.threads--;
    jobs_.clear();
  }

  bool should_run(int node) const;
  void became_free(int p);  // pending reached 0
  void resolve(int p, St s);
  void complete(int p, NodeResult<Value> res);
  bool can_start(int p);
  void start(int p);
  std::unique_ptr<Stop> make_stop(int node);
  const NodeError* upstream_error(int node) const;
};

// ---------------------------------------------------------------------------------------------
// RunContext

State& NodeRun::state() {
  return s_.shared().state;
}
const NodeLimits& NodeRun::limits() const {
  return s_.shared().cfg.limits.node;
}
NodeMemory& NodeRun::memory(int node) {
  std::lock_guard<std::mutex> g(s_.shared().mem_m);
  return s_.shared().memory[node];
}

NodeResult<HttpResponse> NodeRun::http(const HttpRequest& req) {
  RunShared& r = s_.shared();
  if (!r.cfg.http.enabled) return http_fetch(req, r.cfg.http, r.cfg.user_agent, stop_);
  if (auto e = over_budget(r.http_calls, r.cfg.limits.max_http_calls, "HTTP calls per execution"))
    return *e;
  return http_fetch(req, r.cfg.http, r.cfg.user_agent, stop_);
}

NodeResult<ExecResponse> NodeRun::exec(const ExecRequest& req) {
  return run_program(req, s_.shared().cfg.exec, stop_);
}

NodeResult<Value> NodeRun::socket(const std::string& name, const Object& request,
                                  int64_t timeout_ns) {
  RunShared& r = s_.shared();
  return socket_request(name, request, timeout_ns, r.cfg.warren_dir, r.cfg.socket, stop_);
}

NodeResult<Value> NodeRun::run_body(const Value& value, size_t) {
  Sched child(s_.shared(), &s_, node_, &value, stop_);
  auto r = child.run();
  if (!r) return r.error();
  const Value* v = child.result_value();
  return v ? *v : Value();
}

NodeResult<Value> NodeRun::rerun_upstream() {
  const Node& n = s_.wf().nodes[node_];
  if (n.in.empty()) return fail("no upstream node");
  int up = s_.wf().edges[n.in.front()].src;
  Stop stop(s_.shared().sig, &stop_);
  int64_t now = mono_ns();
  stop.add_deadline(
      now + s_.shared().cfg.limits.node_ns,
      NodeError{"node execution timed out after " + go_duration(s_.shared().cfg.limits.node_ns),
                core::Errc::tempfail, true});
  return s_.execute(up, stop, nullptr);
}

const Value* NodeRun::variable(std::string_view name) const {
  auto& v = s_.shared().state.variables;
  auto it = v.find(name);
  return it == v.end() ? nullptr : &it->value();
}

const Value* NodeRun::context(std::string_view name) const {
  auto& st = s_.shared().state;
  if (auto it = st.context_vars.find(name); it != st.context_vars.end()) return &it->value();
  if (auto it = st.constants.find(name); it != st.constants.end()) return &it->value();
  return nullptr;
}

const Value* NodeRun::node_result(std::string_view id) const {
  auto it = s_.shared().ids.find(id);
  if (it == s_.shared().ids.end()) return nullptr;
  return s_.visible(it->second, s_.wf().nodes[node_].pos);
}

// ---------------------------------------------------------------------------------------------
// Sched

Sched::Out Sched::lookup(int node) const {
  if (node == loop_) return Out{true, iter_};
  if (same_level(node)) {
    int p = pos(node);
    Out o;
    if (st_[p] == St::done) {
      o.ran = true;
      o.value = &*results_[p];
    } else if (st_[p] == St::caught) {
      o.caught = true;
      o.error = &*errors_[p];
    }
    return o;
  }
  return parent_ ? parent_->lookup(node) : Out{};
}

const Value* Sched::visible(int node, int before) const {
  if (same_level(node)) {
    int p = pos(node);
    if (p < before && st_[p] == St::done) return &*results_[p];
    return nullptr;
  }
  if (!parent_) return nullptr;
  return parent_->visible(node, wf_.nodes[loop_].pos);
}

std::vector<const Value*> Sched::inputs(int node) const {
  const Node& n = wf_.nodes[node];
  std::vector<const Value*> in;
  in.reserve(n.in.size());
  for (int ei : n.in) {
    Out o = lookup(wf_.edges[ei].src);
    if (o.ran) in.push_back(o.value);
  }
  if (n.in.empty() && loop_ < 0 && r_.input) in.push_back(&*r_.input);
  return in;
}

namespace {
bool handle_satisfied(const Value* result, const std::string& h) {
  if (!result || !result->is_object()) return false;
  const Object& o = result->get_object();
  for (const char* k : {"path", "output_path"}) {
    auto it = o.find(k);
    if (it != o.end() && it->value().is_string() && it->value().get_string() == h) return true;
  }
  if (h == "true" || h == "false") {
    auto it = o.find(h == "true" ? "true_path" : "false_path");
    if (it != o.end() && it->value().is_bool()) return it->value().get_bool();
    it = o.find("condition_met");
    if (it != o.end() && it->value().is_bool())
      return h == "true" ? it->value().get_bool() : !it->value().get_bool();
  }
  return false;
}
}  // namespace

bool Sched::should_run(int node) const {
  const Node& n = wf_.nodes[node];
  if (n.in.empty()) return true;
  bool any = false, conditional = false, satisfied = false;
  for (int ei : n.in) {
    const Edge& e = wf_.edges[ei];
    Out o = lookup(e.src);
    if (!o.ran) {
      // A catcher runs when its upstream failed.
      if (o.caught &&
          std::find(wf_.nodes[e.src].catchers.begin(), wf_.nodes[e.src].catchers.end(), node) !=
              wf_.nodes[e.src].catchers.end() &&
          ei == n.in.front())
        return true;
      continue;
    }
    any = true;
    if (!e.handle) return true;
    conditional = true;
    if (e.src == loop_) {
      if (*e.handle == "body") satisfied = true;
    } else if (handle_satisfied(o.value, *e.handle)) {
      satisfied = true;
    }
  }
  return any && (!conditional || satisfied);
}

void Sched::became_free(int p) {
  int node = order_[p];
  if (should_run(node)) {
    st_[p] = St::ready;
    ready_.insert(p);
  } else {
    resolve(p, St::skipped);
  }
}

void Sched::resolve(int p, St s) {
  st_[p] = s;
  const Node& n = wf_.nodes[order_[p]];
  std::vector<int> freed;
  for (int ei : n.out) {
    int d = wf_.edges[ei].dst;
    if (!same_level(d)) continue;
    if (--pending_[pos(d)] == 0) freed.push_back(pos(d));
  }
  // Loops that wait for this node because their bodies read it.
  for (int d : n.dependents)
    if (same_level(d) && --pending_[pos(d)] == 0) freed.push_back(pos(d));
  for (int x : freed) became_free(x);
}

const NodeError* Sched::upstream_error(int node) const {
  const Node& n = wf_.nodes[node];
  if (n.in.empty()) return nullptr;
  Out o = lookup(wf_.edges[n.in.front()].src);
  return o.caught ? o.error : nullptr;
}

std::unique_ptr<Stop> Sched::make_stop(int node) {
  auto s = std::make_unique<Stop>(r_.sig, &stop_);
  int64_t now = mono_ns();
  s->add_deadline(now + r_.cfg.limits.node_ns,
                  NodeError{"node execution timed out after " + go_duration(r_.cfg.limits.node_ns),
                            core::Errc::tempfail, true});
  for (int c : wf_.nodes[node].catchers) {
    const Node& cn = wf_.nodes[c];
    if (cn.type != "timeout") continue;
    auto it = cn.data.find("timeout");
    if (it == cn.data.end() || !it->value().is_string()) continue;
    if (auto d = parse_flow_duration(it->value().get_string()))
      s->add_deadline(now + *d, NodeError{"node execution timed out after " + go_duration(*d),
                                          core::Errc::tempfail, true});
  }
  return s;
}

NodeResult<Value> Sched::execute(int node, const Stop& stop, const NodeError* upstream) {
  if (auto e = stop.check()) return *e;
  if (auto e = over_budget(r_.executions, r_.cfg.limits.max_node_executions, "node executions"))
    return *e;
  const Node& nd = wf_.nodes[node];
  Executor f = find_executor(nd.type);
  NodeRun rc(*this, node, stop, upstream);
  Call call{wf_, nd, node, inputs(node), rc};
  NodeResult<Value> res = fail("internal error");
  try {
    res = f(call);
  } catch (const std::bad_alloc&) {
    res = NodeError{"out of memory", core::Errc::internal};
  } catch (const std::exception& e) {
    res = NodeError{std::string("internal error: ") + e.what(), core::Errc::internal};
  }
  // A node that ran past a deadline without noticing (inline work) is reported as stopped.
  if (res) {
    if (auto e = stop.check(); e && (e->abort || e->timed_out)) return *e;
  }
  return res;
}

bool Sched::can_start(int p) {
  if (p > fail_pos_) return false;
  const Node& n = wf_.nodes[order_[p]];
  if (n.reads_nodes) {
    while (all_ptr_ < order_.size() && resolved(st_[all_ptr_])) all_ptr_++;
    if (static_cast<int>(all_ptr_) < p) return false;
  }
  if (n.reads_state || n.writes_state || n.reads_nodes) {
    while (stateful_ptr_ < stateful_.size() && resolved(st_[stateful_[stateful_ptr_]]))
      stateful_ptr_++;
    if (stateful_ptr_ < stateful_.size() && stateful_[stateful_ptr_] < p) return false;
  }
  return true;
}

void Sched::complete(int p, NodeResult<Value> res) {
  int node = order_[p];
  if (res) {
    results_[p] = std::move(*res);
    resolve(p, St::done);
    return;
  }
  NodeError err = std::move(res.error());
  const Node& n = wf_.nodes[node];
  bool caught = false;
  if (!err.abort) {
    for (int c : n.catchers) {
      const std::string& t = wf_.nodes[c].type;
      if (t == "retry" || t == "try_catch" || (t == "timeout" && err.timed_out)) caught = true;
    }
  }
  errors_[p] = std::move(err);
  if (caught) {
    resolve(p, St::caught);
    return;
  }
  if (p < fail_pos_) {
    fail_pos_ = p;
    for (auto& j : jobs_)
      if (j.pos > p && j.stop) j.stop->cancel();
  }
  st_[p] = St::failed;
}

void Sched::start(int p) {
  int node = order_[p];
  const Node& n = wf_.nodes[node];
  ready_.erase(p);
  st_[p] = St::running;
  const NodeError* up = upstream_error(node);
  bool thread_ok =
      n.blocking && running_ < r_.cfg.limits.max_concurrency && r_.threads.load() < kMaxThreads;
  if (!thread_ok) {
    // Inline (also the fallback for blocking work when no thread is free).
    if (!n.blocking && n.catchers.empty()) {
      complete(p, execute(node, stop_, up));
    } else {
      auto stop = make_stop(node);
      complete(p, execute(node, *stop, up));
    }
    return;
  }
  jobs_.emplace_back();
  Job& j = jobs_.back();
  j.pos = p;
  j.stop = make_stop(node);
  j.counted_thread = true;
  r_.threads++;
  running_++;
  j.th = std::thread([this, &j, node, up] {
    auto res = execute(node, *j.stop, up);
    std::lock_guard<std::mutex> g(m_);
    j.result = std::move(res);
    done_.push_back(&j);
    cv_.notify_one();
  });
}

NodeResult<void> Sched::run() {
  size_t n = order_.size();
  for (size_t p = 0; p < n; p++)
    if (pending_[p] == 0 && st_[p] == St::waiting) became_free(static_cast<int>(p));
  for (;;) {
    // Completions from workers.
    {
      std::deque<Job*> done;
      {
        std::lock_guard<std::mutex> g(m_);
        done.swap(done_);
      }
      for (Job* j : done) {
        j->th.join();
        r_.threads--;
        j->counted_thread = false;
        running_--;
        int p = j->pos;
        auto res = std::move(*j->result);
        jobs_.remove_if([j](const Job& x) { return &x == j; });
        complete(p, std::move(res));
      }
    }
    // Start what can start, lowest position first.
    bool started = false;
    for (auto it = ready_.begin(); it != ready_.end();) {
      int p = *it;
      ++it;
      if (p > fail_pos_) {
        ready_.erase(p);
        continue;
      }
      if (!can_start(p)) continue;
      const Node& node = wf_.nodes[order_[p]];
      if (node.blocking && running_ >= r_.cfg.limits.max_concurrency && r_.threads < kMaxThreads)
        continue;
      start(p);
      started = true;
      it = ready_.begin();  // state changed: rescan from the lowest
    }
    // Done? Everything before the first failure resolved and nothing running.
    size_t limit = fail_pos_ == INT32_MAX ? n : static_cast<size_t>(fail_pos_);
    bool finished = true;
    for (size_t p = std::min(all_ptr_, limit); p < limit; p++) {
      if (!resolved(st_[p])) {
        finished = false;
        break;
      }
      if (p == all_ptr_) all_ptr_++;
    }
    if (finished && running_ == 0) break;
    if (started) continue;
    if (running_ == 0) {
      // Nothing runs and nothing can start: only possible when a failure stopped the level.
      if (fail_pos_ != INT32_MAX) break;
      break;  // defensive: avoid a hang on an inconsistency
    }
    std::unique_lock<std::mutex> lk(m_);
    if (!done_.empty()) continue;
    // Wake for completions, or at the deadline (past it: every millisecond while the stopped
    // nodes finish).
    int64_t wait = std::clamp<int64_t>(stop_.deadline() - mono_ns(), 1'000'000, 100'000'000);
    cv_.wait_for(lk, std::chrono::nanoseconds(wait));
    lk.unlock();
    if (loop_ < 0 && mono_ns() >= r_.deadline && !r_.timed_out) {
      r_.timed_out = true;
      r_.sig.cancel(r_.timeout_message);
    }
  }
  join_all();
  if (fail_pos_ != INT32_MAX) {
    NodeError e = *errors_[fail_pos_];
    const std::string& id = wf_.nodes[order_[fail_pos_]].id;
    e.message = (loop_ < 0 ? "error executing node " : "node ") + id + ": " + e.message;
    return e;
  }
  return {};
}

const Value* Sched::result_value() const {
  const Value* best = nullptr;
  const Value* best_ctx = nullptr;
  for (size_t i = 0; i < wf_.nodes.size(); i++) {
    const Node& n = wf_.nodes[i];
    if (n.loop != loop_) continue;
    // Terminal: no outgoing edges, apart from a loop's edges into its own body.
    bool terminal = true;
    for (int ei : n.out)
      if (wf_.nodes[wf_.edges[ei].dst].loop != static_cast<int>(i)) terminal = false;
    if (!terminal) continue;
    int p = n.pos;
    if (st_[p] != St::done) continue;
    if (n.type == "context_variable" || n.type == "context_constant")
      best_ctx = &*results_[p];
    else
      best = &*results_[p];
  }
  return best ? best : best_ctx;
}

Object Sched::node_results() const {
  Object o;
  for (size_t p = 0; p < order_.size(); p++)
    if (st_[p] == St::done) o[wf_.nodes[order_[p]].id] = *results_[p];
  return o;
}

}  // namespace

RunResult run_workflow(const Workflow& wf, const Config& cfg, RunOptions opt) {
  RunResult out;
  out.execution_id = random_id();
  out.workflow_id = wf.workflow_id;
  out.started_ns = wall_ns();
  int64_t t0 = mono_ns();
  RunShared r(wf, cfg);
  r.state = std::move(opt.state);
  r.input = std::move(opt.input);
  r.deadline = t0 + cfg.limits.execution_ns;
  r.timeout_message =
      "workflow execution timeout: exceeded " + go_duration(cfg.limits.execution_ns);
  NodeError why{r.timeout_message, core::Errc::tempfail};
  why.abort = true;
  r.root.add_deadline(r.deadline, why);
  NodeResult<void> res;
  Object results;
  Value final_output;
  {
    Sched main(r, nullptr, -1, nullptr, r.root);
    res = main.run();
    // A node stopped by the run deadline (between inline nodes) is the run's timeout.
    if (!res && res.error().abort && mono_ns() >= r.deadline) r.timed_out = true;
    if (res && !r.timed_out) {
      results = main.node_results();
      if (const Value* v = main.result_value()) final_output = *v;
    }
  }
  out.duration_ns = mono_ns() - t0;
  out.executions = r.executions;
  if (r.timed_out) {
    out.ok = false;
    out.code = core::Errc::tempfail;
    out.error = r.timeout_message;
  } else if (!res) {
    out.ok = false;
    out.code = res.error().code == core::Errc::tempfail   ? core::Errc::tempfail
               : res.error().code == core::Errc::internal ? core::Errc::internal
                                                          : core::Errc::failure;
    out.error = res.error().message;
  } else {
    out.ok = true;
    out.node_results = std::move(results);
    out.final_output = std::move(final_output);
  }
  out.state = std::move(r.state);
  return out;
}

std::string result_json(const RunResult& r) {
  std::string s = "{\"execution_id\":";
  append_json(s, Value(boost::json::string(r.execution_id)));
  if (!r.workflow_id.empty()) {
    s += ",\"workflow_id\":";
    append_json(s, Value(boost::json::string(r.workflow_id)));
  }
  s += ",\"node_results\":";
  append_json(s, Value(r.node_results));
  s += ",\"final_output\":";
  append_json(s, r.final_output);
  if (!r.ok) {
    s += ",\"errors\":[";
    append_json(s, Value(boost::json::string(r.error)));
    s += "]";
  }
  return s + "}";
}

}  // namespace flow
