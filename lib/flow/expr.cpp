#include "flow/expr.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <stdexcept>

#include "flow/text.h"

namespace flow {

[[noreturn]] void throw_exception_from_error(const EvalError& e, const boost::source_location&) {
  throw std::runtime_error(e.message);
}

namespace {

EvalError soft(std::string m) {
  return EvalError{std::move(m), false};
}
EvalError hard(std::string m) {
  return EvalError{std::move(m), true};
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// The tree.

enum class Op {
  add,
  sub,
  mul,
  div,
  mod,
  eq,
  ne,
  lt,
  le,
  gt,
  ge,
  and_,
  or_,
};

struct ExprNode {
  enum class Kind {
    lit,       // a literal (lit)
    ident,     // a bare name (name)
    root,      // node.<id> / variables.<name> / context.<name> (root, name)
    member,    // kids[0].name
    index,     // kids[0][kids[1]]
    call,      // name(kids...)
    method,    // kids[0].name(kids[1..])
    neg,       // -kids[0]
    not_,      // !kids[0]
    binary,    // kids[0] op kids[1]
    shortcmp,  // op kids[0], compared with the input
    ternary,   // kids[0] ? kids[1] : kids[2]
    array,     // [kids...]
  };
  Kind kind = Kind::lit;
  Op op = Op::add;
  int root = 0;  // 1 node, 2 variables, 3 context
  std::string name;
  Value lit;
  std::vector<std::unique_ptr<ExprNode>> kids;
};

using NodeP = std::unique_ptr<ExprNode>;

// ---------------------------------------------------------------------------------------------
// Parser: recursive descent over the text, tokens read on demand.

namespace {

enum class Tok { end, num, str, ident, op, error };

struct Token {
  Tok kind = Tok::end;
  std::string text;  // operator spelling, identifier, or decoded string
  double num = 0;
  size_t pos = 0;
};

bool ident_start(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '$';
}
bool ident_char(char c) {
  return ident_start(c) || (c >= '0' && c <= '9');
}

class Parser {
 public:
  explicit Parser(std::string_view s) : s_(s) {}

  EvalResult<NodeP> parse_all() {
    next();
    auto e = parse_ternary();
    if (!e) return e;
    if (tok_.kind != Tok::end) return unexpected();
    return e;
  }

  bool reads_state = false;
  bool reads_nodes = false;

 private:
  std::string_view s_;
  size_t pos_ = 0;
  Token tok_;
  int depth_ = 0;

  EvalError unexpected() {
    if (tok_.kind == Tok::error) return hard(tok_.text);
    if (tok_.kind == Tok::end) return hard("unexpected end of expression");
    std::string what = tok_.kind == Tok::str ? "string" : tok_.text;
    return hard("unexpected '" + what + "' at " + std::to_string(tok_.pos));
  }

  // Reads the next token. dash_names: identifiers may contain '-' and start with a digit
  // (node ids after "node.").
  void next(bool dash_names = false) {
    while (pos_ < s_.size() &&
           (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r'))
      pos_++;
    tok_ = Token{};
    tok_.pos = pos_;
    if (pos_ >= s_.size()) return;
    char c = s_[pos_];
    if (dash_names && (ident_char(c) || c == '-')) {
      size_t b = pos_;
      while (pos_ < s_.size() && (ident_char(s_[pos_]) || s_[pos_] == '-')) pos_++;
      tok_.kind = Tok::ident;
      tok_.text = std::string(s_.substr(b, pos_ - b));
      return;
    }
    if ((c >= '0' && c <= '9') ||
        (c == '.' && pos_ + 1 < s_.size() && s_[pos_ + 1] >= '0' && s_[pos_ + 1] <= '9')) {
      size_t b = pos_;
      while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') pos_++;
      if (pos_ < s_.size() && s_[pos_] == '.') {
        pos_++;
        while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') pos_++;
      }
      if (pos_ < s_.size() && (s_[pos_] == 'e' || s_[pos_] == 'E')) {
        size_t e = pos_ + 1;
        if (e < s_.size() && (s_[e] == '+' || s_[e] == '-')) e++;
        if (e < s_.size() && s_[e] >= '0' && s_[e] <= '9') {
          pos_ = e;
          while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') pos_++;
        }
      }
      tok_.kind = Tok::num;
      tok_.text = std::string(s_.substr(b, pos_ - b));
      tok_.num = parse_go_float(tok_.text).value_or(0);
      return;
    }
    if (c == '"' || c == '\'') {
      pos_++;
      std::string out;
      while (pos_ < s_.size() && s_[pos_] != c) {
        char d = s_[pos_++];
        if (d == '\\' && pos_ < s_.size()) {
          char e = s_[pos_++];
          switch (e) {
            case 'n':
              out += '\n';
              break;
            case 't':
              out += '\t';
              break;
            case 'r':
              out += '\r';
              break;
            default:
              out += e;
          }
        } else {
          out += d;
        }
      }
      if (pos_ >= s_.size()) {
        tok_.kind = Tok::error;
        tok_.text = "unterminated string at " + std::to_string(tok_.pos);
        return;
      }
      pos_++;
      tok_.kind = Tok::str;
      tok_.text = std::move(out);
      return;
    }
    if (ident_start(c)) {
      size_t b = pos_;
      while (pos_ < s_.size() && ident_char(s_[pos_])) pos_++;
      tok_.kind = Tok::ident;
      tok_.text = std::string(s_.substr(b, pos_ - b));
      return;
    }
    static const char* two[] = {"==", "!=", "<=", ">=", "&&", "||"};
    for (const char* t : two) {
      if (s_.substr(pos_, 2) == t) {
        pos_ += 2;
        tok_.kind = Tok::op;
        tok_.text = t;
        return;
      }
    }
    if (std::string_view("+-*/%<>!()[],.?:").find(c) != std::string_view::npos) {
      pos_++;
      tok_.kind = Tok::op;
      tok_.text = std::string(1, c);
      return;
    }
    tok_.kind = Tok::error;
    tok_.text = std::string("unexpected character '") + c + "' at " + std::to_string(pos_);
  }

  bool is_op(const char* o) const { return tok_.kind == Tok::op && tok_.text == o; }

  static NodeP make(ExprNode::Kind k) {
    auto n = std::make_unique<ExprNode>();
    n->kind = k;
    return n;
  }

  EvalResult<NodeP> parse_ternary() {
    if (++depth_ > 200) return hard("expression nested too deeply");
    auto c = parse_or();
    if (!c) return c;
    if (is_op("?")) {
      next();
      auto a = parse_ternary();
      if (!a) return a;
      if (!is_op(":")) return unexpected();
      next();
      auto b = parse_ternary();
      if (!b) return b;
      auto n = make(ExprNode::Kind::ternary);
      n->kids.push_back(std::move(*c));
      n->kids.push_back(std::move(*a));
      n->kids.push_back(std::move(*b));
      depth_--;
      return n;
    }
    depth_--;
    return c;
  }

  EvalResult<NodeP> parse_or() {
    auto l = parse_and();
    if (!l) return l;
    while (is_op("||")) {
      next();
      auto r = parse_and();
      if (!r) return r;
      l = binary(Op::or_, std::move(*l), std::move(*r));
    }
    return l;
  }

  EvalResult<NodeP> parse_and() {
    auto l = parse_not();
    if (!l) return l;
    while (is_op("&&")) {
      next();
      auto r = parse_not();
      if (!r) return r;
      l = binary(Op::and_, std::move(*l), std::move(*r));
    }
    return l;
  }

  EvalResult<NodeP> parse_not() {
    if (is_op("!")) {
      if (++depth_ > 200) return hard("expression nested too deeply");
      next();
      auto e = parse_not();
      if (!e) return e;
      depth_--;
      auto n = make(ExprNode::Kind::not_);
      n->kids.push_back(std::move(*e));
      return n;
    }
    return parse_cmp();
  }

  std::optional<Op> cmp_op() const {
    if (tok_.kind != Tok::op) return std::nullopt;
    const std::string& t = tok_.text;
    if (t == "==") return Op::eq;
    if (t == "!=") return Op::ne;
    if (t == "<=") return Op::le;
    if (t == ">=") return Op::ge;
    if (t == "<") return Op::lt;
    if (t == ">") return Op::gt;
    return std::nullopt;
  }

  EvalResult<NodeP> parse_cmp() {
    if (auto op = cmp_op()) {  // ">=18": compare the input
      next();
      auto r = parse_add();
      if (!r) return r;
      auto n = make(ExprNode::Kind::shortcmp);
      n->op = *op;
      n->kids.push_back(std::move(*r));
      return n;
    }
    auto l = parse_add();
    if (!l) return l;
    while (auto op = cmp_op()) {
      next();
      auto r = parse_add();
      if (!r) return r;
      l = binary(*op, std::move(*l), std::move(*r));
    }
    return l;
  }

  EvalResult<NodeP> parse_add() {
    auto l = parse_mul();
    if (!l) return l;
    while (is_op("+") || is_op("-")) {
      Op op = tok_.text == "+" ? Op::add : Op::sub;
      next();
      auto r = parse_mul();
      if (!r) return r;
      l = binary(op, std::move(*l), std::move(*r));
    }
    return l;
  }

  EvalResult<NodeP> parse_mul() {
    auto l = parse_unary();
    if (!l) return l;
    while (is_op("*") || is_op("/") || is_op("%")) {
      Op op = tok_.text == "*" ? Op::mul : tok_.text == "/" ? Op::div : Op::mod;
      next();
      auto r = parse_unary();
      if (!r) return r;
      l = binary(op, std::move(*l), std::move(*r));
    }
    return l;
  }

  EvalResult<NodeP> parse_unary() {
    if (is_op("-") || is_op("+")) {
      bool neg = tok_.text == "-";
      if (++depth_ > 200) return hard("expression nested too deeply");
      next();
      auto e = parse_unary();
      if (!e) return e;
      depth_--;
      if (!neg) return e;
      auto n = make(ExprNode::Kind::neg);
      n->kids.push_back(std::move(*e));
      return n;
    }
    return parse_postfix();
  }

  EvalResult<std::vector<NodeP>> parse_args(const char* close) {
    std::vector<NodeP> args;
    next();
    if (is_op(close)) {
      next();
      return args;
    }
    for (;;) {
      auto a = parse_ternary();
      if (!a) return a.error();
      args.push_back(std::move(*a));
      if (is_op(close)) {
        next();
        return args;
      }
      if (!is_op(",")) return unexpected();
      next();
    }
  }

  EvalResult<NodeP> parse_postfix() {
    auto p = parse_primary();
    if (!p) return p;
    NodeP cur = std::move(*p);
    for (;;) {
      if (is_op(".")) {
        next();
        if (tok_.kind != Tok::ident) return unexpected();
        std::string name = tok_.text;
        next();
        if (is_op("(")) {
          auto args = parse_args(")");
          if (!args) return args.error();
          auto n = make(ExprNode::Kind::method);
          n->name = std::move(name);
          n->kids.push_back(std::move(cur));
          for (auto& a : *args) n->kids.push_back(std::move(a));
          cur = std::move(n);
        } else {
          auto n = make(ExprNode::Kind::member);
          n->name = std::move(name);
          n->kids.push_back(std::move(cur));
          cur = std::move(n);
        }
      } else if (is_op("[")) {
        next();
        auto i = parse_ternary();
        if (!i) return i;
        if (!is_op("]")) return unexpected();
        next();
        auto n = make(ExprNode::Kind::index);
        n->kids.push_back(std::move(cur));
        n->kids.push_back(std::move(*i));
        cur = std::move(n);
      } else {
        return cur;
      }
    }
  }

  EvalResult<NodeP> parse_primary() {
    if (tok_.kind == Tok::num) {
      auto n = make(ExprNode::Kind::lit);
      n->lit = tok_.num;
      next();
      return n;
    }
    if (tok_.kind == Tok::str) {
      auto n = make(ExprNode::Kind::lit);
      n->lit = boost::json::string(tok_.text);
      next();
      return n;
    }
    if (is_op("(")) {
      if (++depth_ > 200) return hard("expression nested too deeply");
      next();
      auto e = parse_ternary();
      if (!e) return e;
      if (!is_op(")")) return unexpected();
      depth_--;
      next();
      return e;
    }
    if (is_op("[")) {
      if (++depth_ > 200) return hard("expression nested too deeply");
      auto items = parse_args("]");
      if (!items) return items.error();
      depth_--;
      auto n = make(ExprNode::Kind::array);
      n->kids = std::move(*items);
      return n;
    }
    if (tok_.kind != Tok::ident) return unexpected();
    std::string name = tok_.text;
    next();
    if (name == "true" || name == "false" || name == "null") {
      auto n = make(ExprNode::Kind::lit);
      if (name == "null")
        n->lit = nullptr;
      else
        n->lit = name == "true";
      return n;
    }
    if (is_op("(")) {
      auto args = parse_args(")");
      if (!args) return args.error();
      auto n = make(ExprNode::Kind::call);
      n->name = std::move(name);
      n->kids = std::move(*args);
      return n;
    }
    int root = name == "node" ? 1 : name == "variables" ? 2 : name == "context" ? 3 : 0;
    if (root && is_op(".")) {
      next(root == 1);
      if (tok_.kind != Tok::ident) return unexpected();
      auto n = make(ExprNode::Kind::root);
      n->root = root;
      n->name = tok_.text;
      reads_state = true;
      if (root == 1) reads_nodes = true;
      next();
      return n;
    }
    if (name != "input" && name != "item") reads_state = true;  // may fall back to a variable
    auto n = make(ExprNode::Kind::ident);
    n->name = std::move(name);
    return n;
  }

  static NodeP binary(Op op, NodeP l, NodeP r) {
    auto n = make(ExprNode::Kind::binary);
    n->op = op;
    n->kids.push_back(std::move(l));
    n->kids.push_back(std::move(r));
    return n;
  }
};

}  // namespace

// ---------------------------------------------------------------------------------------------
// Values during evaluation: a borrowed or owned JSON value, or a time.

namespace {

struct V {
  const Value* ref = nullptr;
  Value own;
  bool is_time = false;
  int64_t t = 0;  // unix ns

  static V borrow(const Value* p) {
    V v;
    v.ref = p;
    return v;
  }
  static V owned(Value x) {
    V v;
    v.own = std::move(x);
    return v;
  }
  static V time(int64_t ns) {
    V v;
    v.is_time = true;
    v.t = ns;
    return v;
  }
  const Value& get() const { return ref ? *ref : own; }
  Value take() && {
    if (is_time) return boost::json::string(rfc3339_utc(t));
    return ref ? *ref : std::move(own);
  }
  Value copy() const {
    if (is_time) return boost::json::string(rfc3339_utc(t));
    return get();
  }
};

const Value kNull;

std::optional<double> to_float(const V& v) {
  if (v.is_time) return std::nullopt;
  const Value& x = v.get();
  if (is_number(x)) return as_number(x);
  if (x.is_string()) return parse_go_float(x.get_string());
  return std::nullopt;
}

std::string sprint(const V& v) {
  if (v.is_time) return rfc3339_utc(v.t);
  return go_sprint(v.get());
}

std::string type_of(const V& v) {
  return v.is_time ? "time.Time" : go_type(v.get());
}

bool values_equal(const V& a, const V& b) {
  bool an = !a.is_time && a.get().is_null(), bn = !b.is_time && b.get().is_null();
  if (an && bn) return true;
  if (an || bn) return false;
  if (a.is_time && b.is_time) return a.t == b.t;
  auto x = to_float(a), y = to_float(b);
  if (x && y) return *x == *y;
  if (a.is_time || b.is_time) return false;
  const Value &p = a.get(), &q = b.get();
  if (p.is_string() && q.is_string()) return p.get_string() == q.get_string();
  if (p.is_bool() && q.is_bool()) return p.get_bool() == q.get_bool();
  return false;
}

bool compare(const V& a, const V& b, Op op) {
  if (op == Op::eq) return values_equal(a, b);
  if (op == Op::ne) return !values_equal(a, b);
  double x, y;
  if (a.is_time && b.is_time) {
    x = static_cast<double>(a.t);
    y = static_cast<double>(b.t);
  } else {
    auto fx = to_float(a), fy = to_float(b);
    if (!fx || !fy) return false;
    x = *fx;
    y = *fy;
  }
  switch (op) {
    case Op::lt:
      return x < y;
    case Op::le:
      return x <= y;
    case Op::gt:
      return x > y;
    case Op::ge:
      return x >= y;
    default:
      return false;
  }
}

// Go's sort helper of the value functions: numbers (and numeric strings), strings, else %v.
int compare_for_sort(const Value& a, const Value& b) {
  auto x = to_float(V::borrow(&a)), y = to_float(V::borrow(&b));
  if (x && y) return *x < *y ? -1 : *x > *y ? 1 : 0;
  if (a.is_string() && b.is_string()) {
    auto c = std::string_view(a.get_string()).compare(std::string_view(b.get_string()));
    return c < 0 ? -1 : c > 0 ? 1 : 0;
  }
  auto sa = go_sprint(a), sb = go_sprint(b);
  return sa < sb ? -1 : sa > sb ? 1 : 0;
}

class Eval {
 public:
  explicit Eval(const Env& env) : env_(env) {}

  EvalResult<V> value(const ExprNode& n) const;
  EvalResult<bool> test(const ExprNode& n) const;

 private:
  const Env& env_;

  const Value* var(std::string_view name) const {
    for (auto& [k, v] : env_.locals)
      if (k == name) return v;
    if ((name == "input" || name == "item") && env_.input) return env_.input;
    return env_.scope ? env_.scope->variable(name) : nullptr;
  }

  EvalResult<V> ident(const ExprNode& n) const {
    const std::string& name = n.name;
    if (name == "input" || name == "item") {
      if (const Value* v = var(name)) return V::borrow(v);
      return V::borrow(env_.input ? env_.input : &kNull);
    }
    if (env_.input && env_.input->is_object()) {
      auto& o = env_.input->get_object();
      if (auto it = o.find(name); it != o.end()) return V::borrow(&it->value());
    }
    if (const Value* v = var(name)) return V::borrow(v);
    return soft("unknown reference: " + name);
  }

  EvalResult<V> root(const ExprNode& n) const {
    const Value* v = nullptr;
    if (n.root == 1) {
      v = env_.scope ? env_.scope->node_result(n.name) : nullptr;
      if (!v) return soft("node result not found: " + n.name);
    } else if (n.root == 2) {
      v = var(n.name);
      if (!v) return soft("variable not found: " + n.name);
    } else {
      v = env_.scope ? env_.scope->context(n.name) : nullptr;
      if (!v) return soft("context variable not found: " + n.name);
    }
    return V::borrow(v);
  }

  EvalResult<V> member(const ExprNode& n) const {
    auto o = value(*n.kids[0]);
    if (!o) return o;
    const Value& x = o->get();
    if (n.name == "length" && !o->is_time) {
      if (x.is_array()) return V::owned(static_cast<double>(x.get_array().size()));
      if (x.is_string()) return V::owned(static_cast<double>(x.get_string().size()));
    }
    if (o->is_time || !x.is_object())
      return soft("cannot access field " + n.name + " on non-object");
    auto& obj = x.get_object();
    auto it = obj.find(n.name);
    if (it == obj.end()) return soft("field not found: " + n.name);
    if (o->ref) return V::borrow(&it->value());
    return V::owned(it->value());
  }

  EvalResult<V> index(const ExprNode& n) const {
    auto o = value(*n.kids[0]);
    if (!o) return o;
    auto i = value(*n.kids[1]);
    if (!i) return i;
    const Value& x = o->get();
    const Value& k = i->get();
    if (!o->is_time && x.is_object() && !i->is_time && k.is_string()) {
      auto it = x.get_object().find(k.get_string());
      if (it == x.get_object().end())
        return soft("field not found: " + std::string(k.get_string()));
      return o->ref ? V::borrow(&it->value()) : V::owned(it->value());
    }
    auto idx = i->is_time ? std::nullopt : as_integer(k);
    if (!idx) return soft("invalid array index: " + sprint(*i));
    if (o->is_time || !x.is_array())
      return soft("cannot use array indexing on non-array type: " + type_of(*o));
    auto& arr = x.get_array();
    if (*idx < 0 || *idx >= static_cast<int64_t>(arr.size()))
      return soft("array index " + std::to_string(*idx) +
                  " out of bounds (length: " + std::to_string(arr.size()) + ")");
    return o->ref ? V::borrow(&arr[*idx]) : V::owned(arr[*idx]);
  }

  EvalResult<V> arith(Op op, const V& a, const V& b) const {
    auto x = to_float(a);
    if (!x) return soft("value '" + sprint(a) + "' cannot be converted to number");
    auto y = to_float(b);
    if (!y) return soft("value '" + sprint(b) + "' cannot be converted to number");
    switch (op) {
      case Op::add:
        return V::owned(*x + *y);
      case Op::sub:
        return V::owned(*x - *y);
      case Op::mul:
        return V::owned(*x * *y);
      case Op::div:
        if (*y == 0) return soft("division by zero");
        return V::owned(*x / *y);
      case Op::mod: {
        auto xi = static_cast<int64_t>(std::clamp(*x, -9.2e18, 9.2e18));
        auto yi = static_cast<int64_t>(std::clamp(*y, -9.2e18, 9.2e18));
        if (yi == 0) return soft("modulo by zero");
        return V::owned(static_cast<double>(xi % yi));
      }
      default:
        return soft("bad operator");
    }
  }

  EvalResult<V> call(const ExprNode& n) const;
  EvalResult<V> method(const ExprNode& n) const;
  EvalResult<std::vector<V>> args(const ExprNode& n, size_t from = 0) const {
    std::vector<V> out;
    for (size_t i = from; i < n.kids.size(); i++) {
      auto v = value(*n.kids[i]);
      if (!v) return v.error();
      out.push_back(std::move(*v));
    }
    return out;
  }
  EvalResult<V> math1(const std::string& f, const V& v) const;
  EvalResult<int64_t> time_arg(const std::string& f, const V& v) const;
};

EvalResult<bool> Eval::test(const ExprNode& n) const {
  using K = ExprNode::Kind;
  switch (n.kind) {
    case K::binary:
      if (n.op == Op::and_ || n.op == Op::or_) {
        auto l = test(*n.kids[0]);
        if (!l) return l;
        auto r = test(*n.kids[1]);  // both sides, as Thaiyyal (no short circuit)
        if (!r) return r;
        return n.op == Op::and_ ? (*l && *r) : (*l || *r);
      }
      if (n.op >= Op::eq && n.op <= Op::ge) {
        auto l = value(*n.kids[0]);
        if (!l) {
          if (l.error().hard) return l.error();
          return false;
        }
        auto r = value(*n.kids[1]);
        if (!r) {
          if (r.error().hard) return r.error();
          return false;
        }
        return compare(*l, *r, n.op);
      }
      break;
    case K::not_: {
      auto e = test(*n.kids[0]);
      if (!e) return e;
      return !*e;
    }
    default:
      break;
  }
  auto v = value(n);
  if (!v) {
    if (v.error().hard) return v.error();
    return false;
  }
  return !v->is_time && v->get().is_bool() && v->get().get_bool();
}

EvalResult<V> Eval::value(const ExprNode& n) const {
  using K = ExprNode::Kind;
  switch (n.kind) {
    case K::lit:
      return V::borrow(&n.lit);
    case K::ident:
      return ident(n);
    case K::root:
      return root(n);
    case K::member:
      return member(n);
    case K::index:
      return index(n);
    case K::call:
      return call(n);
    case K::method:
      return method(n);
    case K::array: {
      Array a;
      for (auto& k : n.kids) {
        auto v = value(*k);
        if (!v) return v;
        a.push_back(std::move(*v).take());
      }
      return V::owned(std::move(a));
    }
    case K::neg: {
      auto v = value(*n.kids[0]);
      if (!v) return v;
      auto x = to_float(*v);
      if (!x) return soft("value '" + sprint(*v) + "' cannot be converted to number");
      return V::owned(-*x);
    }
    case K::not_: {
      auto b = test(n);
      if (!b) return b.error();
      return V::owned(*b);
    }
    case K::shortcmp: {
      // Compare the input, unwrapping nested {"value": ...} objects.
      const Value* in = env_.input ? env_.input : &kNull;
      for (int guard = 0; guard < 64 && in->is_object(); guard++) {
        auto it = in->get_object().find("value");
        if (it == in->get_object().end()) break;
        in = &it->value();
      }
      auto r = value(*n.kids[0]);
      if (!r) return r;
      return V::owned(compare(V::borrow(in), *r, n.op));
    }
    case K::ternary: {
      auto c = test(*n.kids[0]);
      if (!c) return c.error();
      return value(*n.kids[*c ? 1 : 2]);
    }
    case K::binary: {
      if (n.op == Op::and_ || n.op == Op::or_) {
        auto b = test(n);
        if (!b) return b.error();
        return V::owned(*b);
      }
      auto l = value(*n.kids[0]);
      if (!l) return l;
      auto r = value(*n.kids[1]);
      if (!r) return r;
      if (n.op >= Op::eq && n.op <= Op::ge) return V::owned(compare(*l, *r, n.op));
      return arith(n.op, *l, *r);
    }
  }
  return hard("bad expression");
}

EvalResult<V> Eval::math1(const std::string& f, const V& v) const {
  auto apply = [&](double x) -> double {
    if (f == "round") return std::round(x);
    if (f == "floor") return std::floor(x);
    if (f == "ceil") return std::ceil(x);
    return std::fabs(x);
  };
  if (!v.is_time && v.get().is_array()) {
    Array out;
    for (auto& e : v.get().get_array()) {
      auto x = to_float(V::borrow(&e));
      if (!x) return soft(f + "() encountered non-numeric element: " + go_type(e));
      out.push_back(apply(*x));
    }
    return V::owned(std::move(out));
  }
  auto x = to_float(v);
  if (!x) return soft(f + "() requires numeric value, got " + type_of(v));
  return V::owned(apply(*x));
}

EvalResult<int64_t> Eval::time_arg(const std::string& f, const V& v) const {
  if (v.is_time) return v.t;
  const Value& x = v.get();
  if (x.is_string()) {
    if (auto t = parse_time(x.get_string())) return *t;
    return hard(f + "(): unable to parse date/time: " + std::string(x.get_string()));
  }
  if (is_number(x)) return static_cast<int64_t>(as_number(x)) * 1000000000;
  return hard(f + "(): unsupported date/time type: " + go_type(x));
}

EvalResult<V> Eval::call(const ExprNode& n) const {
  const std::string& f = n.name;
  size_t argc = n.kids.size();
  auto need = [&](size_t k) -> EvalResult<void> {
    if (argc != k)
      return hard(f + "() requires exactly " + std::to_string(k) + " argument" +
                  (k == 1 ? "" : "s") + ", got " + std::to_string(argc));
    return {};
  };

  // map(array, item expression): the second argument is evaluated per element.
  if (f == "map") {
    if (argc != 2)
      return hard("map() requires exactly 2 arguments: array expression and item expression");
    auto a = value(*n.kids[0]);
    if (!a) return a;
    if (a->is_time || !a->get().is_array())
      return soft("map() first argument must be an array, got " + type_of(*a));
    Array out;
    for (auto& el : a->get().get_array()) {
      Env sub = env_;
      sub.input = &el;
      sub.locals.erase(
          std::remove_if(sub.locals.begin(), sub.locals.end(),
                         [](auto& kv) { return kv.first == "item" || kv.first == "input"; }),
          sub.locals.end());
      auto v = Eval(sub).value(*n.kids[1]);
      if (!v)
        return EvalError{"map() item expression failed: " + v.error().message, v.error().hard};
      out.push_back(std::move(*v).take());
    }
    return V::owned(std::move(out));
  }
  // isNull / coalesce: an unresolved argument counts as null.
  if (f == "isNull" || f == "coalesce") {
    if (f == "isNull") {
      if (auto r = need(1); !r) return r.error();
    } else if (argc < 1) {
      return hard("coalesce() requires at least 1 argument");
    }
    for (auto& k : n.kids) {
      auto v = value(*k);
      if (!v && v.error().hard) return v.error();
      bool null = !v || (!v->is_time && v->get().is_null());
      if (f == "isNull") return V::owned(null);
      if (!null) return v;
    }
    return V::borrow(&kNull);
  }

  auto av = args(n);
  if (!av) return av.error();
  auto& a = *av;

  if (f == "pow") {
    if (auto r = need(2); !r) return r.error();
    auto x = to_float(a[0]), y = to_float(a[1]);
    if (!x || !y) return soft("pow() requires numeric arguments");
    return V::owned(std::pow(*x, *y));
  }
  if (f == "sqrt") {
    if (auto r = need(1); !r) return r.error();
    auto x = to_float(a[0]);
    if (!x) return soft("sqrt() requires a numeric argument");
    if (*x < 0) return soft("sqrt() of negative number");
    return V::owned(std::sqrt(*x));
  }
  if (f == "round" || f == "floor" || f == "ceil" || f == "abs") {
    if (auto r = need(1); !r) return r.error();
    return math1(f, a[0]);
  }
  if (f == "min" || f == "max" || f == "sum" || f == "avg") {
    if (argc == 0) return hard(f + "() requires at least 1 argument");
    std::vector<double> nums;
    if (argc == 1) {
      if (!a[0].is_time && a[0].get().is_array()) {
        for (auto& e : a[0].get().get_array()) {
          auto x = to_float(V::borrow(&e));
          if (!x) return soft(f + "() encountered non-numeric element: " + go_type(e));
          nums.push_back(*x);
        }
        if (nums.empty()) {
          if (f == "sum") return V::owned(0.0);
          return soft(f + "() on empty array");
        }
      } else if (f == "min" || f == "max") {
        return soft(f + "() requires at least 2 arguments or an array, got 1 non-array value");
      } else {
        auto x = to_float(a[0]);
        if (!x) return soft(f + "() requires numeric values, got " + type_of(a[0]));
        return V::owned(*x);
      }
    } else {
      for (auto& v : a) {
        auto x = to_float(v);
        if (!x) return soft(f + "() requires numeric values, got " + type_of(v));
        nums.push_back(*x);
      }
    }
    double r = nums[0];
    if (f == "min")
      for (double x : nums) r = std::min(r, x);
    else if (f == "max")
      for (double x : nums) r = std::max(r, x);
    else {
      r = 0;
      for (double x : nums) r += x;
      if (f == "avg") r /= static_cast<double>(nums.size());
    }
    return V::owned(r);
  }
  auto array_arg = [&](size_t i, const char* what) -> EvalResult<const Array*> {
    if (a[i].is_time || !a[i].get().is_array())
      return soft(f + "() " + what + " must be an array, got " + type_of(a[i]));
    return &a[i].get().get_array();
  };
  if (f == "sort" || f == "reverse" || f == "unique" || f == "flatten") {
    if (auto r = need(1); !r) return r.error();
    auto arr = array_arg(0, "argument");
    if (!arr) return arr.error();
    Array out;
    if (f == "sort") {
      out = **arr;
      if (out.size() <= 1000) {  // Thaiyyal's exchange sort, exactly (its order for mixed types)
        for (size_t i = 0; i < out.size(); i++)
          for (size_t j = i + 1; j < out.size(); j++)
            if (compare_for_sort(out[i], out[j]) > 0) std::swap(out[i], out[j]);
      } else {
        std::stable_sort(out.begin(), out.end(),
                         [](const Value& x, const Value& y) { return compare_for_sort(x, y) < 0; });
      }
    } else if (f == "reverse") {
      out = Array((*arr)->rbegin(), (*arr)->rend());
    } else if (f == "unique") {
      std::vector<std::string> seen;
      for (auto& e : **arr) {
        auto k = go_sprint(e);
        if (std::find(seen.begin(), seen.end(), k) != seen.end()) continue;
        seen.push_back(std::move(k));
        out.push_back(e);
      }
    } else {
      std::vector<const Array*> stack{*arr};
      std::vector<size_t> pos{0};
      while (!stack.empty()) {
        if (pos.back() >= stack.back()->size()) {
          stack.pop_back();
          pos.pop_back();
          continue;
        }
        const Value& e = (*stack.back())[pos.back()++];
        if (e.is_array() && stack.size() < 256) {
          stack.push_back(&e.get_array());
          pos.push_back(0);
        } else {
          out.push_back(e);
        }
      }
    }
    return V::owned(std::move(out));
  }
  if (f == "slice") {
    if (argc < 2 || argc > 3)
      return hard("slice() requires 2 or 3 arguments (array, start, [end]), got " +
                  std::to_string(argc));
    auto arr = array_arg(0, "first argument");
    if (!arr) return arr.error();
    int64_t len = static_cast<int64_t>((*arr)->size());
    auto clampi = [&](const V& v, const char* what) -> EvalResult<int64_t> {
      auto x = to_float(v);
      if (!x) return soft(std::string("slice() ") + what + " must be numeric, got " + type_of(v));
      int64_t i = static_cast<int64_t>(std::clamp(*x, -9e18, 9e18));
      if (i < 0) i += len;
      return std::clamp<int64_t>(i, 0, len);
    };
    auto s = clampi(a[1], "start");
    if (!s) return s.error();
    int64_t e = len;
    if (argc == 3) {
      auto ee = clampi(a[2], "end");
      if (!ee) return ee.error();
      e = *ee;
    }
    Array out;
    for (int64_t i = *s; i < e; i++) out.push_back((**arr)[i]);
    return V::owned(std::move(out));
  }
  if (f == "sample") {
    if (argc != 2)
      return hard("sample() requires exactly 2 arguments (array, n), got " + std::to_string(argc));
    auto arr = array_arg(0, "first argument");
    if (!arr) return arr.error();
    auto x = to_float(a[1]);
    if (!x) return soft("sample() n must be numeric, got " + type_of(a[1]));
    int64_t cnt = static_cast<int64_t>(std::clamp(*x, -9e18, 9e18));
    if (cnt < 0) return soft("sample() n must be non-negative, got " + std::to_string(cnt));
    const Array& in = **arr;
    int64_t len = static_cast<int64_t>(in.size());
    Array out;
    if (cnt == 0) return V::owned(std::move(out));
    if (cnt >= len) {  // Thaiyyal's fixed "shuffle"
      out = in;
      for (int64_t i = len - 1; i > 0; i--)
        std::swap(out[i], out[static_cast<int64_t>((i + 1) * 0.5)]);
    } else {
      int64_t step = std::max<int64_t>(1, len / cnt);
      for (int64_t i = 0; i < cnt && i * step < len; i++) out.push_back(in[i * step]);
    }
    return V::owned(std::move(out));
  }
  if (f == "zip") {
    if (argc < 2) return hard("zip() requires at least 2 arrays, got " + std::to_string(argc));
    size_t maxlen = 0;
    for (size_t i = 0; i < argc; i++) {
      if (a[i].is_time || !a[i].get().is_array())
        return soft("zip() argument " + std::to_string(i) + " must be an array, got " +
                    type_of(a[i]));
      maxlen = std::max(maxlen, a[i].get().get_array().size());
    }
    Array out;
    for (size_t i = 0; i < maxlen; i++) {
      Array t;
      for (size_t j = 0; j < argc; j++) {
        auto& arr = a[j].get().get_array();
        t.push_back(i < arr.size() ? arr[i] : Value());
      }
      out.push_back(std::move(t));
    }
    return V::owned(std::move(out));
  }
  if (f == "contains") {
    if (auto r = need(2); !r) return r.error();
    return V::owned(sprint(a[0]).find(sprint(a[1])) != std::string::npos);
  }
  // Date and time (UTC).
  if (f == "now") {
    if (argc != 0) return hard("now() takes no arguments, got " + std::to_string(argc));
    return V::time(env_.scope ? env_.scope->now_ns() : 0);
  }
  if (f == "parseDate" || f == "toEpoch" || f == "toEpochMillis" || f == "year" || f == "month" ||
      f == "day" || f == "hour" || f == "minute") {
    if (auto r = need(1); !r) return r.error();
    auto t = time_arg(f, a[0]);
    if (!t) return t.error();
    if (f == "parseDate") return V::time(*t);
    int64_t secs = *t >= 0 ? *t / 1000000000 : -((-*t + 999999999) / 1000000000);
    if (f == "toEpoch") return V::owned(static_cast<double>(secs));
    if (f == "toEpochMillis")
      return V::owned(static_cast<double>(*t >= 0 ? *t / 1000000 : -((-*t + 999999) / 1000000)));
    std::time_t tt = static_cast<std::time_t>(secs);
    std::tm tm{};
    gmtime_r(&tt, &tm);
    int r = f == "year"    ? tm.tm_year + 1900
            : f == "month" ? tm.tm_mon + 1
            : f == "day"   ? tm.tm_mday
            : f == "hour"  ? tm.tm_hour
                           : tm.tm_min;
    return V::owned(static_cast<double>(r));
  }
  if (f == "fromEpoch" || f == "fromEpochMillis") {
    if (auto r = need(1); !r) return r.error();
    auto x = to_float(a[0]);
    if (!x) return hard(f + "() requires numeric argument");
    auto i = static_cast<int64_t>(std::clamp(*x, -9e12, 9e12));
    return V::time(f == "fromEpoch" ? i * 1000000000 : i * 1000000);
  }
  if (f == "dateDiff" || f == "dateAdd") {
    if (auto r = need(2); !r) return r.error();
    auto t1 = time_arg(f, a[0]);
    if (!t1) return t1.error();
    if (f == "dateDiff") {
      auto t2 = time_arg(f, a[1]);
      if (!t2) return t2.error();
      return V::owned(static_cast<double>(*t1 - *t2) / 1e9);
    }
    auto x = to_float(a[1]);
    if (!x) return hard("dateAdd() second argument must be numeric");
    return V::time(*t1 + static_cast<int64_t>(std::clamp(*x, -9e9, 9e9)) * 1000000000);
  }
  return hard("unknown function: " + f);
}

EvalResult<V> Eval::method(const ExprNode& n) const {
  auto o = value(*n.kids[0]);
  if (!o) return o;
  auto av = args(n, 1);
  if (!av) return av.error();
  auto& a = *av;
  const std::string& m = n.name;
  const Value& x = o->get();
  bool is_str = !o->is_time && x.is_string();
  bool is_arr = !o->is_time && x.is_array();
  auto need = [&](size_t k) -> EvalResult<void> {
    if (a.size() != k)
      return hard(m + "() requires exactly " + std::to_string(k) + " argument" +
                  (k == 1 ? "" : "s") + ", got " + std::to_string(a.size()));
    return {};
  };
  auto only = [&](const char* what) {
    return soft(m + "() can only be called on " + what + ", got " + type_of(*o));
  };
  if (m == "toUpperCase" || m == "toLowerCase" || m == "trim") {
    if (!is_str) return only("strings");
    std::string s(x.get_string());
    if (m == "trim") return V::owned(boost::json::string(text::trim_space(s)));
    return V::owned(boost::json::string(m == "toUpperCase" ? text::upper(s) : text::lower(s)));
  }
  if (m == "includes") {
    if (!is_str && !is_arr) return only("strings or arrays");
    if (auto r = need(1); !r) return r.error();
    std::string needle = sprint(a[0]);
    if (is_str) return V::owned(std::string_view(x.get_string()).find(needle) != std::string::npos);
    for (auto& e : x.get_array())
      if ((!a[0].is_time && equal(e, a[0].get())) || go_sprint(e) == needle) return V::owned(true);
    return V::owned(false);
  }
  if (m == "startsWith" || m == "endsWith") {
    if (!is_str) return only("strings");
    if (auto r = need(1); !r) return r.error();
    std::string_view s = x.get_string();
    std::string p = sprint(a[0]);
    bool ok = p.size() <= s.size() &&
              (m == "startsWith" ? s.substr(0, p.size()) == p : s.substr(s.size() - p.size()) == p);
    return V::owned(ok);
  }
  if (m == "replace") {
    if (!is_str) return only("strings");
    if (auto r = need(2); !r) return r.error();
    return V::owned(boost::json::string(
        text::replace_all(std::string(x.get_string()), sprint(a[0]), sprint(a[1]))));
  }
  if (m == "split") {
    if (!is_str) return only("strings");
    if (auto r = need(1); !r) return r.error();
    Array out;
    for (auto& p : text::go_split(std::string(x.get_string()), sprint(a[0])))
      out.push_back(boost::json::string(p));
    return V::owned(std::move(out));
  }
  if (m == "join") {
    if (!is_arr) return only("arrays");
    if (auto r = need(1); !r) return r.error();
    std::string sep = sprint(a[0]), out;
    bool first = true;
    for (auto& e : x.get_array()) {
      if (!first) out += sep;
      first = false;
      out += go_sprint(e);
    }
    return V::owned(boost::json::string(out));
  }
  if (m == "reverse" || m == "first" || m == "last") {
    if (!is_arr) return only("arrays");
    auto& arr = x.get_array();
    if (m == "reverse") return V::owned(Array(arr.rbegin(), arr.rend()));
    if (arr.empty()) return V::borrow(&kNull);
    const Value& e = m == "first" ? arr.front() : arr.back();
    return o->ref ? V::borrow(&e) : V::owned(e);
  }
  return hard("unknown method: " + m);
}

}  // namespace

// ---------------------------------------------------------------------------------------------

EvalResult<Expr> Expr::parse(std::string_view text) {
  if (text.size() > 10000) return hard("expression is too long (max 10000 characters)");
  Parser p(text);
  auto root = p.parse_all();
  if (!root) return root.error();
  Expr e;
  e.root_ = std::shared_ptr<const ExprNode>(std::move(*root));
  e.text_ = std::string(text);
  e.reads_state_ = p.reads_state;
  e.reads_nodes_ = p.reads_nodes;
  return e;
}

EvalResult<Value> Expr::value(const Env& env) const {
  auto v = Eval(env).value(*root_);
  if (!v) return v.error();
  return std::move(*v).take();
}

EvalResult<bool> Expr::test(const Env& env) const {
  return Eval(env).test(*root_);
}

std::optional<double> parse_go_float(std::string_view s) {
  if (s.empty()) return std::nullopt;
  bool neg = false;
  if (s[0] == '+' || s[0] == '-') {
    neg = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s.empty()) return std::nullopt;
  std::string low = text::lower(std::string(s));
  if (low == "inf" || low == "infinity") return neg ? -HUGE_VAL : HUGE_VAL;
  if (low == "nan") return std::nan("");
  for (char c : s)
    if (!((c >= '0' && c <= '9') || c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-'))
      return std::nullopt;
  double d = 0;
  auto r = std::from_chars(s.data(), s.data() + s.size(), d, std::chars_format::general);
  if (r.ec == std::errc::result_out_of_range)
    d = HUGE_VAL;
  else if (r.ec != std::errc() || r.ptr != s.data() + s.size())
    return std::nullopt;
  return neg ? -d : d;
}

bool simple_condition(std::string_view c, const Value& v) {
  if (c == "true") return true;
  if (c == "false") return false;
  double num;
  if (v.is_double()) {
    num = v.get_double();
  } else if (v.is_object() && v.get_object().contains("value") &&
             v.get_object().at("value").is_double()) {
    num = v.get_object().at("value").get_double();
  } else if (v.is_int64() || v.is_uint64()) {
    num = as_number(v);
  } else {
    return false;
  }
  if (c.size() < 2) {
    if (c.empty()) return false;
  }
  std::string_view op;
  std::string_view rest;
  if (c.size() >= 2 && (c.substr(0, 2) == ">=" || c.substr(0, 2) == "<=" ||
                        c.substr(0, 2) == "==" || c.substr(0, 2) == "!=")) {
    op = c.substr(0, 2);
    rest = c.substr(2);
  } else if (c.size() >= 2 && (c[0] == '>' || c[0] == '<')) {
    op = c.substr(0, 1);
    rest = c.substr(1);
  } else {
    return false;
  }
  // fmt.Sscanf("%f"): skip spaces, read the longest float prefix; on failure the threshold is 0.
  size_t i = 0;
  while (i < rest.size() && (rest[i] == ' ' || rest[i] == '\t' || rest[i] == '\n')) i++;
  std::string tail(rest.substr(i));
  double th = 0;
  if (!tail.empty()) {
    char* end = nullptr;
    double d = std::strtod(tail.c_str(), &end);
    if (end != tail.c_str()) th = d;
  }
  if (op == ">") return num > th;
  if (op == "<") return num < th;
  if (op == ">=") return num >= th;
  if (op == "<=") return num <= th;
  if (op == "==") return num == th;
  return num != th;
}

}  // namespace flow
