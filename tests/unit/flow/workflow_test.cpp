// Loading workflows: type inference, field checks, the order, loop bodies, graph errors.
#include "../support.h"

#include "flow/workflow.h"

namespace {

core::Result<flow::Workflow> load(const std::string& s, flow::LoadLimits lim = {}) {
  return flow::load_workflow(s, lim);
}

std::string order(const flow::Workflow& wf) {
  std::string o;
  for (int i : wf.order) o += (o.empty() ? "" : " ") + wf.nodes[i].id;
  return o;
}

std::string error(const std::string& s) {
  auto r = load(s);
  return r ? "ok" : r.error().message;
}

}  // namespace

TEST_CASE("type inference follows Thaiyyal's key order") {
  auto wf = load(R"({"nodes":[
    {"id":"a","data":{"value":1,"text":"x"}},
    {"id":"b","data":{"condition":">1","true_path":"t"}},
    {"id":"c","data":{"condition":">1"}},
    {"id":"d","data":{"expression":"a","initial_value":0}},
    {"id":"e","data":{"expression":"a"}},
    {"id":"f","data":{"var_name":"x","var_op":"get"}},
    {"id":"g","data":{"field":"x"}},
    {"id":"h","data":{"cache_op":"get","cache_key":"k"}},
    {"id":"i","data":{"context_values":[{"name":"n","value":1,"type":"number"}]}},
    {"id":"j","data":{"backoff_strategy":"linear"}},
    {"id":"k","data":{"continue_on_error":true}},
    {"id":"l","data":{"timeout":"1s","timeout_action":"error"}},
    {"id":"m","type":"renderer","data":{"mode":"x"}}]})");
  REQUIRE(wf);
  std::string types;
  for (auto& n : wf->nodes) types += n.type + " ";
  CHECK(types ==
        "number condition filter reduce expression variable extract cache context_variable retry "
        "try_catch timeout renderer ");
}

TEST_CASE("order: initial nodes sorted by id, then in edges-array order as they become ready") {
  auto wf = load(R"({"nodes":[{"id":"z","data":{"value":1}},{"id":"m","data":{"value":1}},
    {"id":"a","data":{"value":1}},{"id":"x","data":{"op":"add"}},{"id":"y","data":{"op":"add"}}],
    "edges":[{"source":"z","target":"y"},{"source":"a","target":"y"},{"source":"a","target":"x"},
             {"source":"m","target":"x"}]})");
  REQUIRE(wf);
  CHECK(order(*wf) == "a m z x y");
  std::vector<int> want_in = {0, 1};  // y's inputs in edges-array order: z, a
  CHECK(wf->nodes[4].in == want_in);
}

TEST_CASE("graph errors are reported clearly before anything runs") {
  CHECK(error(R"({"nodes":[{"id":"a","data":{"value":1}},{"id":"a","data":{"value":2}}]})") ==
        "duplicate node id \"a\" (nodes[0] and nodes[1])");
  CHECK(
      error(
          R"({"nodes":[{"id":"a","data":{"value":1}}],"edges":[{"id":"e","source":"a","target":"b"}]})") ==
      "edge e: unknown target node \"b\"");
  CHECK(
      error(R"({"nodes":[{"id":"a","data":{"value":1}}],"edges":[{"source":"q","target":"a"}]})") ==
      "edges[0]: unknown source node \"q\"");
  CHECK(
      error(
          R"({"nodes":[{"id":"a","data":{"op":"add"}}],"edges":[{"source":"a","target":"a"}]})") ==
      "workflow contains cycles (circular dependencies): a -> a");
  CHECK(
      error(
          R"({"nodes":[{"id":"a","data":{"value":1}},{"id":"b","data":{"op":"add"}},{"id":"c","data":{"op":"add"}},{"id":"d","data":{"op":"add"}}],
    "edges":[{"source":"a","target":"b"},{"source":"b","target":"c"},{"source":"c","target":"d"},{"source":"d","target":"b"}]})") ==
      "workflow contains cycles (circular dependencies): b -> c -> d -> b");
  CHECK(error(R"({"nodes":{}})") ==
        "failed to parse payload: \"nodes\": expected array, got object");
  CHECK(error(R"({"nodes":[{"id":7}]})") ==
        "failed to parse payload: nodes[0].id: expected string, got number");
  CHECK(error(R"({"nodes":[{"data":{}}]})") == "failed to parse payload: nodes[0]: missing \"id\"");
  CHECK(error(R"({"nodes":[{"id":"a","data":{"value":1}}],"edges":[{"source":"a"}]})") ==
        "failed to parse payload: edges[0]: missing \"target\"");
  CHECK(error(R"({"nodes":[{"id":"a","data":5}]})") ==
        "failed to parse payload: failed to unmarshal data for node a (type ): \"data\": expected "
        "object, got number");
  CHECK(error("{\"nodes\":[\n{\"id\":\"a\",,}]}") ==
        "failed to parse payload: invalid JSON at line 2, column 11: syntax error");
  CHECK(error("{} x") == "failed to parse payload: invalid JSON at line 1, column 4: extra data");
}

TEST_CASE("field kinds, required fields and Thaiyyal's load rules") {
  CHECK(
      error(
          R"({"nodes":[{"id":"t","type":"text_operation","data":{"text_op":"repeat","repeat_n":2.5}}]})") ==
      "failed to parse payload: failed to unmarshal data for node t (type text_operation): field "
      "\"repeat_n\": expected integer, got 2.5");
  CHECK(error(R"({"nodes":[{"id":"s","data":{"paths":["a",3]}}]})") ==
        "failed to parse payload: failed to unmarshal data for node s (type split): field "
        "\"paths[1]\": expected string, got number");
  CHECK(error(R"({"nodes":[{"id":"r","type":"range","data":{"start":1}}]})") ==
        "failed to parse payload: failed to unmarshal data for node r (type range): missing "
        "required field: start and end");
  CHECK(error(R"({"nodes":[{"id":"x","type":"extract","data":{"fields":[]}}]})") ==
        "failed to parse payload: failed to unmarshal data for node x (type extract): missing "
        "required field: field or fields");
  CHECK(error(R"({"nodes":[{"id":"c","type":"context_constant","data":{}}]})") ==
        "failed to parse payload: failed to unmarshal data for node c (type context_constant): "
        "missing required field: context_values or context_name");
  CHECK(error(R"({"nodes":[{"id":"h","data":{"url":"http://x","http_client_uid":"c1"}}]})") ==
        "failed to parse payload: failed to unmarshal data for node h (type http): field "
        "\"http_client_uid\": named HTTP clients are not supported");
  CHECK(error(R"({"nodes":[{"id":"n","data":{"value":null}}]})") ==
        "failed to parse payload: failed to unmarshal data for node n (type number): missing "
        "required field: value");
  CHECK(
      error(
          R"({"nodes":[{"id":"x","type":"delay","data":{"duration":"1s","scope":"persistent"}}]})") ==
      "ok");
  CHECK(error(R"({"nodes":[{"id":"f","data":{"condition":"item >"}}]})") ==
        "failed to parse payload: failed to unmarshal data for node f (type filter): field "
        "\"condition\": unexpected end of expression");
}

TEST_CASE("limits on payload size, nodes and edges") {
  flow::LoadLimits lim;
  lim.max_payload_bytes = 10;
  CHECK(flow::load_workflow(R"({"nodes":[]})", lim).error().message ==
        "payload too large: 12 bytes (limit: 10)");
  lim = {};
  lim.max_edges = 0;
  CHECK(
      flow::load_workflow(
          R"({"nodes":[{"id":"a","data":{"value":1}}],"edges":[{"source":"a","target":"a"}]})", lim)
          .error()
          .message == "too many edges: 1 (limit: 0)");
}

TEST_CASE("loop bodies: membership, nesting, inputs from outside, order") {
  auto wf = load(R"({"nodes":[
    {"id":"arr","data":{"text":"[1]"}},{"id":"k","data":{"value":2}},
    {"id":"fe","type":"for_each","data":{}},{"id":"b1","data":{"op":"multiply"}},
    {"id":"inner","type":"for_each","data":{}},{"id":"b2","data":{"expression":"input"}},
    {"id":"after","data":{"mode":"x"}}],
    "edges":[{"source":"arr","target":"fe"},{"source":"fe","target":"b1","sourceHandle":"body"},
      {"source":"k","target":"b1"},{"source":"b1","target":"inner"},
      {"source":"inner","target":"b2","sourceHandle":"body"},{"source":"fe","target":"after"}]})");
  REQUIRE(wf);
  auto& n = wf->nodes;
  CHECK(n[0].loop == -1);
  CHECK(n[3].loop == 2);  // b1 in fe's body
  CHECK(n[4].loop == 2);  // inner too
  CHECK(n[5].loop == 4);  // b2 in inner's body
  CHECK(order(*wf) == "arr k fe after");
  CHECK(n[2].extra_deps == std::vector<int>{1});  // fe waits for k, which feeds its body
  CHECK(wf->body_order[2] == std::vector<int>{3, 4});
  CHECK(n[2].blocking);
  CHECK(error(R"({"nodes":[{"id":"l","type":"for_each","data":{}},{"id":"x","data":{"op":"add"}}],
    "edges":[{"source":"l","target":"x","sourceHandle":"body"},{"source":"x","target":"l"}]})") ==
        "workflow contains cycles (circular dependencies): the body of l leads back to l");
}

TEST_CASE("a 100000-node chain loads with the right order") {
  std::string s = "{\"nodes\":[{\"id\":\"n0\",\"data\":{\"value\":1}}";
  for (int i = 1; i < 100000; i++)
    s += ",{\"id\":\"n" + std::to_string(i) + "\",\"data\":{\"mode\":\"x\"}}";
  s += "],\"edges\":[";
  for (int i = 1; i < 100000; i++)
    s += std::string(i > 1 ? "," : "") + "{\"source\":\"n" + std::to_string(i - 1) +
         "\",\"target\":\"n" + std::to_string(i) + "\"}";
  s += "]}";
  flow::LoadLimits lim;
  lim.max_payload_bytes = 64 << 20;
  lim.max_nodes = 200000;
  lim.max_edges = 200000;
  auto wf = flow::load_workflow(s, lim);
  REQUIRE(wf);
  REQUIRE(wf->order.size() == 100000);
  CHECK(wf->nodes[wf->order.back()].id == "n99999");
}

TEST_CASE("dot output escapes labels") {
  auto wf = load(
      R"({"workflow_id":"w\"1","nodes":[{"id":"a","data":{"value":1,"label":"say \"hi\""}}]})");
  REQUIRE(wf);
  CHECK(flow::to_dot(*wf) ==
        "digraph \"w\\\"1\" {\n  rankdir=LR;\n  node [shape=box, fontname=\"Helvetica\"];\n"
        "  \"a\" [label=\"say \\\"hi\\\"\\nnumber\"];\n}\n");
}
