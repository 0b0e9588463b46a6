// flow values — workflow data is JSON (boost::json::value). These helpers give it the semantics
// of the Thaiyyal engine the workflows come from: every JSON number is a float64, objects print
// with sorted keys, numbers print the way Go's encoding/json prints a float64, and the text forms
// of %v / %T that node outputs and error messages use. Pure functions; safe from any thread.
#pragma once

#include <boost/json/value.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace flow {

using Value = boost::json::value;
using Object = boost::json::object;
using Array = boost::json::array;

// Parses JSON text; every number becomes a double (as Go's interface{} decoding does).
// Errors: the parser's message with the byte offset, e.g. "syntax error at offset 12".
std::optional<Value> parse_json(std::string_view text, std::string* error = nullptr);
// Turns every integer in v into a double, recursively.
void normalize_numbers(Value& v);

// Canonical compact JSON: object keys sorted (byte order), numbers as Go formats a float64
// (15, 0.1, 1e+21, 1e-7), no HTML escaping, NaN/Inf as null.
std::string to_json(const Value& v);
void append_json(std::string& out, const Value& v);
// Two-space indented form of to_json (Go's json.MarshalIndent(v, "", "  ")).
std::string to_json_pretty(const Value& v);

// Go's fmt %v of a decoded JSON value: 1e+06, [a b], map[k:v], <nil>.
std::string go_sprint(const Value& v);
// Go's strconv.FormatFloat(f, 'g', -1, 64), as %v prints a float64.
std::string go_float(double d);
// Go's %T of a decoded JSON value: float64, string, bool, <nil>, map[string]interface {},
// []interface {} (int for the integer counters some nodes output).
std::string go_type(const Value& v);

// Numbers: any JSON number (double, int64, uint64).
inline bool is_number(const Value& v) {
  return v.is_double() || v.is_int64() || v.is_uint64();
}
double as_number(const Value& v);  // 0 when not a number
// Number that is a whole value in [-2^53, 2^53]: the integer, else nullopt.
std::optional<int64_t> as_integer(const Value& v);

// Deep equality with numbers compared by value (1 == 1.0).
bool equal(const Value& a, const Value& b);

// Go time.ParseDuration ("1h30m", "250ms", "1.5s", "-2s", "0"); nanoseconds, or nullopt.
std::optional<int64_t> parse_go_duration(std::string_view s);
// Thaiyyal's duration rule: a Go duration, else an integer number of milliseconds.
std::optional<int64_t> parse_flow_duration(std::string_view s);
// Go's time.Duration.String(): "1m30s", "1.5s", "300ms", "0s", "2h0m0s".
std::string go_duration(int64_t ns);

// RFC 3339 in UTC with the fraction Go's RFC3339Nano prints (trailing zeros dropped).
std::string rfc3339_utc(int64_t unix_ns);
// RFC 3339 / RFC 3339 with fraction / a few date forms -> unix nanoseconds.
std::optional<int64_t> parse_time(std::string_view s);

}  // namespace flow
