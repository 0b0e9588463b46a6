// Fuzz target: workflow payload loading (JSON, fields, types, graph checks, order, bodies) and
// the expression parser and evaluator (input bytes as an expression over a fixed input).
#include <cstdint>
#include <string_view>

#include "flow/expr.h"
#include "flow/workflow.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  (void)flow::load_workflow(in, flow::LoadLimits{});
  auto e = flow::Expr::parse(in.substr(0, 2000));
  if (e) {
    static const flow::Value input = *flow::parse_json(
        R"({"a":1,"b":[1,2,"x",null,{"c":true}],"s":"Hello, World","t":"2024-01-01T00:00:00Z"})");
    static const flow::Value index(2.0);
    flow::Env env;
    env.input = &input;
    env.locals.emplace_back("index", &index);
    (void)e->value(env);
    (void)e->test(env);
  }
  return 0;
}
