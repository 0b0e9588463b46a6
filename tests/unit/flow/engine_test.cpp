// The runner in-process: sequential semantics under concurrency, determinism over 1000 runs,
// overlap of waiting nodes, failure order, cancellation, limits.
#include "../support.h"

#include <chrono>

#include "flow/flow.h"

namespace {

flow::RunResult run(const std::string& json, flow::Config cfg = {}) {
  auto wf = flow::load_workflow(json, cfg.limits.load);
  REQUIRE(wf);
  return flow::run_workflow(*wf, cfg, {});
}

int64_t ms_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t)
      .count();
}

}  // namespace

TEST_CASE("waiting nodes overlap: two 200 ms delays take well under 400 ms") {
  auto t0 = std::chrono::steady_clock::now();
  auto r = run(
      R"({"nodes":[{"id":"a","data":{"duration":"200ms"}},{"id":"b","data":{"duration":"200ms"}},
    {"id":"j","data":{"join_strategy":"all"}}],"edges":[{"source":"a","target":"j"},{"source":"b","target":"j"}]})");
  auto ms = ms_since(t0);
  REQUIRE(r.ok);
  CHECK(ms >= 199);
  CHECK(ms < 390);
  CHECK(
      flow::to_json(r.final_output) ==
      R"({"count":2,"strategy":"all","values":[{"delayed":true,"duration":"200ms","value":null},{"delayed":true,"duration":"200ms","value":null}]})");
}

TEST_CASE("1000 runs of a concurrent, stateful workflow give identical results") {
  // Branches finish in varying order (delays of different lengths), while accumulator,
  // counter, variables and node references must see the sequential order every time.
  const std::string wf = R"({"nodes":[
    {"id":"n1","data":{"value":1}},{"id":"d1","data":{"duration":"2ms"}},{"id":"x1","data":{"expression":"input.value * 10"}},
    {"id":"a1","data":{"accum_op":"array"}},
    {"id":"n2","data":{"value":2}},{"id":"d2","data":{"duration":"1ms"}},{"id":"x2","data":{"expression":"input.value * 10"}},
    {"id":"a2","data":{"accum_op":"array"}},
    {"id":"n3","data":{"value":3}},{"id":"d3","data":{"duration":"0ms"}},{"id":"s3","data":{"var_name":"v","var_op":"set"}},
    {"id":"c","type":"counter","data":{"counter_op":"increment"}},
    {"id":"r","data":{"expression":"node.a2.value.length + variables.v.value"}}],
    "edges":[{"source":"n1","target":"d1"},{"source":"d1","target":"x1"},{"source":"x1","target":"a1"},
      {"source":"n2","target":"d2"},{"source":"d2","target":"x2"},{"source":"x2","target":"a2"},
      {"source":"n3","target":"d3"},{"source":"d3","target":"s3"},{"source":"a2","target":"c"},{"source":"c","target":"r"}]})";
  auto loaded = flow::load_workflow(wf, {});
  REQUIRE(loaded);
  flow::Config cfg;
  std::string first;
  for (int i = 0; i < 1000; i++) {
    auto r = flow::run_workflow(*loaded, cfg, {});
    REQUIRE(r.ok);
    std::string s = flow::to_json(flow::Value(r.node_results));
    if (i == 0) {
      first = s;
      CHECK(flow::to_json(r.node_results.at("a2")) == R"({"operation":"array","value":[10,20]})");
      CHECK(flow::to_json(r.node_results.at("r")) == "5");
    } else if (s != first) {
      FAIL("run " << i << " differs:\n" << s << "\nfirst:\n" << first);
    }
  }
}

TEST_CASE("the failure reported is the first in order, even when a later node fails first") {
  // m3 (position 5) fails at once; ax (position 2) fails after a 50 ms delay: ax is reported.
  auto r = run(R"({"nodes":[{"id":"a","data":{"duration":"50ms"}},{"id":"ax","data":{"op":"add"}},
    {"id":"m","data":{"value":1}},{"id":"m1","data":{"expression":"input"}},
    {"id":"m2","data":{"expression":"input"}},{"id":"m3","data":{"op":"add"}}],
    "edges":[{"source":"a","target":"ax"},{"source":"m","target":"m1"},{"source":"m1","target":"m2"},
      {"source":"m2","target":"m3"}]})");
  REQUIRE_FALSE(r.ok);
  CHECK(r.error == "error executing node ax: operation needs 2 inputs, got 1");
  CHECK(r.code == core::Errc::failure);
  CHECK(r.node_results.empty());
  CHECK(r.final_output.is_null());
}

TEST_CASE("a failure cancels later running nodes instead of waiting for them") {
  auto t0 = std::chrono::steady_clock::now();
  auto r = run(R"({"nodes":[{"id":"a","data":{"op":"add"}},{"id":"z","data":{"duration":"5s"}}]})");
  CHECK(ms_since(t0) < 1000);
  REQUIRE_FALSE(r.ok);
  CHECK(r.error == "error executing node a: operation needs 2 inputs, got 0");
}

TEST_CASE("the run deadline interrupts waiting nodes") {
  flow::Config cfg;
  cfg.limits.execution_ns = 100'000'000;
  auto t0 = std::chrono::steady_clock::now();
  auto r = run(R"({"nodes":[{"id":"d","data":{"duration":"10s"}}]})", cfg);
  CHECK(ms_since(t0) < 1000);
  REQUIRE_FALSE(r.ok);
  CHECK(r.code == core::Errc::tempfail);
  CHECK(r.error == "workflow execution timeout: exceeded 100ms");
}

TEST_CASE("the run deadline also stops a run of inline nodes, reported as the run's timeout") {
  flow::Config cfg;
  cfg.limits.execution_ns = 1;
  auto r =
      run(R"({"nodes":[{"id":"a","data":{"value":1}},{"id":"b","data":{"expression":"input + 1"}}],
    "edges":[{"source":"a","target":"b"}]})",
          cfg);
  REQUIRE_FALSE(r.ok);
  CHECK(r.code == core::Errc::tempfail);
  CHECK(r.error == "workflow execution timeout: exceeded 1ns");
}

TEST_CASE("max_concurrency bounds the overlap") {
  flow::Config cfg;
  cfg.limits.max_concurrency = 1;
  auto t0 = std::chrono::steady_clock::now();
  auto r = run(
      R"({"nodes":[{"id":"a","data":{"duration":"100ms"}},{"id":"b","data":{"duration":"100ms"}}]})",
      cfg);
  REQUIRE(r.ok);
  CHECK(ms_since(t0) >= 199);
}

TEST_CASE("a loop body with a failing node: other iterations still run") {
  auto r =
      run(R"({"nodes":[{"id":"t","data":{"text":"[2,0,4]"}},{"id":"p","type":"parse","data":{}},
    {"id":"fe","type":"for_each","data":{}},{"id":"ten","data":{"value":8}},{"id":"d","data":{"op":"divide"}}],
    "edges":[{"source":"t","target":"p"},{"source":"p","target":"fe"},{"source":"ten","target":"d"},
      {"source":"fe","target":"d","sourceHandle":"body"}]})");
  REQUIRE(r.ok);
  CHECK(
      flow::to_json(r.final_output) ==
      R"({"errors":["iteration 1: node d: division by zero"],"failed":1,"input_count":3,"iterations":3,"results":[4,null,2],"successful":2})");
}

TEST_CASE("result_json keeps Thaiyyal's field order") {
  auto r = run(R"({"workflow_id":"w","nodes":[{"id":"a","data":{"value":1}}]})");
  std::string j = flow::result_json(r);
  CHECK(j == "{\"execution_id\":\"" + r.execution_id +
                 "\",\"workflow_id\":\"w\",\"node_results\":{\"a\":1},\"final_output\":1}");
}
