// The expression language: grammar, value and boolean evaluation, Thaiyyal's comparison rules.
#include "../support.h"

#include <map>

#include "flow/expr.h"

namespace {

struct TestScope : flow::Scope {
  std::map<std::string, flow::Value, std::less<>> vars, ctx, nodes;
  const flow::Value* variable(std::string_view n) const override { return find(vars, n); }
  const flow::Value* context(std::string_view n) const override { return find(ctx, n); }
  const flow::Value* node_result(std::string_view n) const override { return find(nodes, n); }
  int64_t now_ns() const override { return 1704067200'000'000'000LL; }
  static const flow::Value* find(const std::map<std::string, flow::Value, std::less<>>& m,
                                 std::string_view k) {
    auto it = m.find(k);
    return it == m.end() ? nullptr : &it->second;
  }
};

flow::Value J(const char* s) {
  return *flow::parse_json(s);
}

std::string val(const char* e, const flow::Value& in, const TestScope* sc = nullptr) {
  auto x = flow::Expr::parse(e);
  if (!x) return "parse error: " + x.error().message;
  flow::Env env;
  env.input = &in;
  env.scope = sc;
  auto v = x->value(env);
  if (!v) return std::string(v.error().hard ? "hard: " : "soft: ") + v.error().message;
  return flow::to_json(*v);
}

std::string test(const char* e, const flow::Value& in, const TestScope* sc = nullptr) {
  auto x = flow::Expr::parse(e);
  if (!x) return "parse error: " + x.error().message;
  flow::Env env;
  env.input = &in;
  env.scope = sc;
  auto v = x->test(env);
  if (!v) return "error: " + v.error().message;
  return *v ? "true" : "false";
}

}  // namespace

TEST_CASE("arithmetic and precedence") {
  flow::Value in(3.0);
  CHECK(val("1 + 2 * 3", in) == "7");
  CHECK(val("(1 + 2) * 3", in) == "9");
  CHECK(val("-input + 10 % 4", in) == "-1");
  CHECK(val("7 % 2.9", in) == "1");  // % truncates to integers
  CHECK(val("10 / 4", in) == "2.5");
  CHECK(val("1 / 0", in) == "soft: division by zero");
  CHECK(val("5 % 0.5", in) == "soft: modulo by zero");
  CHECK(val("'5' + 1", in) == "6");  // numeric strings are numbers
  CHECK(val("'a' + 1", in) == "soft: value 'a' cannot be converted to number");
  CHECK(val("1e3 + .5", in) == "1000.5");
}

TEST_CASE("comparisons follow Thaiyyal: numeric strings compare as numbers, others are false") {
  flow::Value in(10.0);
  CHECK(test("input == '10'", in) == "true");
  CHECK(test("'abc' == 'abc'", in) == "true");
  CHECK(test("'abc' < 'abd'", in) == "false");  // only numbers and times are ordered
  CHECK(test("null == null", in) == "true");
  CHECK(test("input != null", in) == "true");
  CHECK(test("true == 1", in) == "false");
  CHECK(test("input.missing > 3", in) == "false");  // unresolved: false, not an error
  CHECK(test("nosuch == 1", in) == "false");
}

TEST_CASE("shorthand comparators compare the input, unwrapping nested value fields") {
  CHECK(test(">=18", flow::Value(25.0)) == "true");
  CHECK(test("<18", flow::Value(25.0)) == "false");
  CHECK(test(">=15", J(R"({"field":"value","value":15})")) == "true");
  CHECK(test("==5", J(R"({"value":{"value":5}})")) == "true");
  CHECK(test(">100", J(R"("hello")")) == "false");
  CHECK(test(">=18 && <=65", flow::Value(30.0)) == "true");
  CHECK(test("!=5", flow::Value(5.0)) == "false");
}

TEST_CASE("boolean operators and negation") {
  flow::Value in(7.0);
  CHECK(test("input > 5 && input < 10", in) == "true");
  CHECK(test("input < 5 || input > 10", in) == "false");
  CHECK(test("!(input == 7)", in) == "false");
  CHECK(test("!input.missing", in) == "true");
  CHECK(test("true", in) == "true");
  CHECK(test("input", in) == "false");  // not a boolean
  CHECK(val("input > 5 && input < 10", in) == "true");
  CHECK(val("input >= 18 ? 'adult' : 'minor'", in) == "\"minor\"");
}

TEST_CASE("references: input paths, variables, context, node results, bare names") {
  TestScope sc;
  sc.vars["x"] = 5.0;
  sc.ctx["limit"] = J(R"({"max":3})");
  sc.nodes["node-1"] = J(R"({"items":[10,20,30]})");
  flow::Value in = J(R"({"user":{"name":"ann","tags":["a","b"]},"price":4})");
  CHECK(val("input.user.name", in, &sc) == "\"ann\"");
  CHECK(val("user.tags[1]", in, &sc) == "\"b\"");
  CHECK(val("input['price'] * variables.x", in, &sc) == "20");
  CHECK(val("price * x", in, &sc) == "20");  // a bare name: input field, else variable
  CHECK(val("context.limit.max", in, &sc) == "3");
  CHECK(val("node.node-1.items[2] - 1", in, &sc) == "29");
  CHECK(val("node.node-1.items.length", in, &sc) == "3");
  CHECK(val("user.tags[5]", in, &sc) == "soft: array index 5 out of bounds (length: 2)");
  CHECK(val("variables.nope", in, &sc) == "soft: variable not found: nope");
  CHECK(val("nope", in, &sc) == "soft: unknown reference: nope");
}

TEST_CASE("string and array methods") {
  flow::Value in = J(R"("  Hello, World ")");
  CHECK(val("input.trim().toLowerCase()", in) == "\"hello, world\"");
  CHECK(val("input.trim().split(', ')", in) == "[\"Hello\",\"World\"]");
  CHECK(val("input.trim().split(', ').join('+')", in) == "\"Hello+World\"");
  CHECK(val("input.replace('o', '0')", in) == "\"  Hell0, W0rld \"");
  CHECK(val("input.includes('World')", in) == "true");
  CHECK(val("input.length", in) == "15");
  CHECK(val("input.trim().split('').first()", in) == "\"H\"");
  CHECK(val("input.nope()", in) == "hard: unknown method: nope");
  CHECK(val("input.reverse()", in) == "soft: reverse() can only be called on arrays, got string");
  CHECK(val("[1, 2, 3].includes(2)", in) == "true");
}

TEST_CASE("value functions") {
  flow::Value in = J("[3, 1, 2, 2]");
  CHECK(val("sum(input)", in) == "8");
  CHECK(val("avg(input)", in) == "2");
  CHECK(val("min(input)", in) == "1");
  CHECK(val("max(4, 9, 2)", in) == "9");
  CHECK(val("sort(input)", in) == "[1,2,2,3]");
  CHECK(val("unique(input)", in) == "[3,1,2]");
  CHECK(val("map(input, item * item)", in) == "[9,1,4,4]");
  CHECK(val("slice(input, -2)", in) == "[2,2]");
  CHECK(val("sample(input, 2)", in) == "[3,2]");
  CHECK(val("zip(input, [1])", in) == "[[3,1],[1,null],[2,null],[2,null]]");
  CHECK(val("flatten([1, [2, [3]]])", in) == "[1,2,3]");
  CHECK(val("round([1.5, 2.4])", in) == "[2,2]");
  CHECK(val("coalesce(input.x, null, 7)", J("{}")) == "7");
  CHECK(val("isNull(input.missing)", J("{}")) == "true");
  CHECK(val("contains(input, 2)", in) == "true");
  CHECK(val("avg([])", in) == "soft: avg() on empty array");
  CHECK(val("pow(2)", in) == "hard: pow() requires exactly 2 arguments, got 1");
  CHECK(val("nosuch(1)", in) == "hard: unknown function: nosuch");
}

TEST_CASE("dates are UTC; now() comes from the scope") {
  TestScope sc;
  flow::Value in;
  CHECK(val("now()", in, &sc) == "\"2024-01-01T00:00:00Z\"");
  CHECK(val("toEpochMillis('2024-01-01T00:00:01.5Z')", in, &sc) == "1704067201500");
  CHECK(val("fromEpoch(86400)", in, &sc) == "\"1970-01-02T00:00:00Z\"");
  CHECK(val("hour(dateAdd('2024-01-01', 7200))", in, &sc) == "2");
  CHECK(test("parseDate('2024-01-02') > now()", in, &sc) == "true");
  CHECK(val("day('junk')", in, &sc) == "hard: day(): unable to parse date/time: junk");
}

TEST_CASE("a real grammar: operators inside strings and names with min/max are literal") {
  flow::Value in = J(R"({"minimum":4,"a-b":1})");
  CHECK(val("'a || b && c' == 'a || b && c'", in) == "true");
  CHECK(val("minimum * 2", in) == "8");
  CHECK(val("'x > y'", in) == "\"x > y\"");
}

TEST_CASE("syntax errors are hard errors with a position") {
  CHECK(val("input * (2 +", flow::Value()) == "parse error: unexpected end of expression");
  CHECK(val("1 + )", flow::Value()) == "parse error: unexpected ')' at 4");
  CHECK(val("'open", flow::Value()) == "parse error: unterminated string at 0");
  CHECK(val("a = 1", flow::Value()) == "parse error: unexpected character '=' at 2");
  CHECK(val("1 2", flow::Value()) == "parse error: unexpected '2' at 2");
  std::string deep(5000, '(');
  CHECK(val(deep.c_str(), flow::Value()) == "parse error: expression nested too deeply");
}

TEST_CASE("what an expression reads decides how the runner orders it") {
  CHECK_FALSE(flow::Expr::parse("input.a > item * 2")->reads_state());
  CHECK(flow::Expr::parse("variables.x > 1")->reads_state());
  CHECK(flow::Expr::parse("price > 1")->reads_state());  // may fall back to a variable
  CHECK(flow::Expr::parse("node.a > 1")->reads_nodes());
  CHECK_FALSE(flow::Expr::parse("context.x > 1")->reads_nodes());
}

TEST_CASE("Thaiyyal's simple comparator") {
  CHECK(flow::simple_condition(">10", flow::Value(11.0)));
  CHECK_FALSE(flow::simple_condition(">10", flow::Value(10.0)));
  CHECK(flow::simple_condition(">= 10", flow::Value(10.0)));
  CHECK(flow::simple_condition(">abc", flow::Value(1.0)));  // Sscanf fails: threshold 0
  CHECK(flow::simple_condition("==5", J(R"({"value":5})")));
  CHECK_FALSE(flow::simple_condition("input < 10", flow::Value(5.0)));  // no operator prefix
  CHECK_FALSE(flow::simple_condition("<10", J(R"("5")")));
  CHECK(flow::simple_condition("true", flow::Value()));
}
