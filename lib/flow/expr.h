// flow::Expr — the expression language of condition, switch, filter, find, partition, map,
// reduce and expression nodes, parsed once into a tree and evaluated many times. It follows the
// Thaiyyal language (comparisons, && ||, !, shorthand ">=18" on the input, arithmetic with math
// functions, node./variables./context. references, paths with [i], .length and string/array
// methods, date functions, value functions such as map() and sum()) but with a real grammar, so
// operators inside strings or names containing "min" parse as written. Pure: no I/O; the clock
// comes from the Scope. An Expr is immutable and may be shared across threads.
#pragma once

#include <boost/system/result.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "flow/value.h"

namespace flow {

// An evaluation failure. Soft failures (a name that does not resolve, a type mismatch, division
// by zero) make a comparison false in boolean evaluation; hard ones (syntax, unknown function,
// wrong number of arguments, a failing date function) are errors everywhere.
struct EvalError {
  std::string message;
  bool hard = false;
};
[[noreturn]] void throw_exception_from_error(const EvalError& e, const boost::source_location&);

template <class T>
using EvalResult = boost::system::result<T, EvalError>;

// What an expression can see besides its input: workflow variables, context values, results of
// nodes that ran before, and the time. Implemented by the engine.
class Scope {
 public:
  virtual ~Scope() = default;
  virtual const Value* variable(std::string_view name) const = 0;
  virtual const Value* context(std::string_view name) const = 0;
  virtual const Value* node_result(std::string_view id) const = 0;
  virtual int64_t now_ns() const = 0;
};

// The input and per-item names (item, index, items, accumulator) of one evaluation.
struct Env {
  const Value* input = nullptr;  // nullptr: no input (Go nil)
  const Scope* scope = nullptr;
  std::vector<std::pair<std::string_view, const Value*>> locals;
};

struct ExprNode;

class Expr {
 public:
  // Parses; a syntax error is a hard EvalError ("unexpected ')' at 7").
  static EvalResult<Expr> parse(std::string_view text);

  // Value evaluation (expression, map, reduce nodes). Times come out as RFC 3339 strings.
  EvalResult<Value> value(const Env& env) const;
  // Boolean evaluation (condition, filter, switch, ...): unresolved operands make a comparison
  // false; a non-boolean value is false.
  EvalResult<bool> test(const Env& env) const;

  // Reads workflow state: variables., context., node. or a bare name that may fall back to a
  // variable. The runner orders such nodes after every earlier state-changing node.
  bool reads_state() const { return reads_state_; }
  bool reads_nodes() const { return reads_nodes_; }
  const std::string& text() const { return text_; }

 private:
  std::shared_ptr<const ExprNode> root_;
  std::string text_;
  bool reads_state_ = false;
  bool reads_nodes_ = false;
};

// Thaiyyal's fallback comparator: "true", "false", or an operator (>=, <=, ==, !=, >, <) and a
// number compared with v (or v.value when v is an object); anything else is false.
bool simple_condition(std::string_view condition, const Value& v);

// Go's strconv.ParseFloat for decimal text ("1.5", "-2", "1e3", "inf"); nullopt otherwise.
std::optional<double> parse_go_float(std::string_view s);

}  // namespace flow
