// The node types: names, data fields with their kinds and defaults, and scheduling traits.
// The executors live in nodes_*.cpp; this table drives validation and `flowrun nodes`.
#include <boost/unordered/unordered_flat_map.hpp>

#include <algorithm>

#include "flow/workflow.h"

namespace flow {

namespace {

using K = FieldKind;

FieldSpec req(std::string_view n, FieldKind k, std::string_view help) {
  return FieldSpec{n, k, true, "", help};
}
FieldSpec opt(std::string_view n, FieldKind k, std::string_view def, std::string_view help) {
  return FieldSpec{n, k, false, def, help};
}

std::vector<NodeType> make_types() {
  const FieldSpec scope = opt("scope", K::string, "",
                              "\"persistent\" keeps the value across runs in the store (needs "
                              "workflow_id)");
  std::vector<NodeType> t = {
      // Basic I/O
      {"number",
       "NumberData",
       Group::input,
       "Outputs a number",
       {req("value", K::number, "The number")}},
      {"text_input",
       "TextInputData",
       Group::input,
       "Outputs a string",
       {req("text", K::string, "The text")}},
      {"boolean_input",
       "BooleanInputData",
       Group::input,
       "Outputs a boolean",
       {req("boolean_value", K::boolean, "The boolean")}},
      {"date_input",
       "DateInputData",
       Group::input,
       "Outputs a date string (not validated)",
       {req("date_value", K::string, "YYYY-MM-DD")}},
      {"datetime_input",
       "DateTimeInputData",
       Group::input,
       "Outputs a date-time string (not validated)",
       {req("datetime_value", K::string, "RFC 3339 date and time")}},
      {"visualization",
       "VisualizationData",
       Group::input,
       "Passes its first input through",
       {opt("mode", K::string, "", "Display mode (informational)")}},
      {"renderer",
       "RendererData",
       Group::input,
       "Passes its first input through, or null",
       {opt("mode", K::string, "", "Render mode (informational)")}},
      // Operations
      {"operation",
       "OperationData",
       Group::operation,
       "Arithmetic on the first two inputs",
       {req("op", K::string, "add, subtract, multiply or divide")}},
      {"text_operation",
       "TextOperationData",
       Group::operation,
       "String operations",
       {req("text_op", K::string,
            "uppercase, lowercase, titlecase, camelcase, inversecase, concat, repeat"),
        opt("separator", K::string, "\"\"", "concat: joins the inputs"),
        opt("repeat_n", K::integer, "", "repeat: how many times")}},
      {"http",
       "HTTPData",
       Group::io,
       "HTTP request through the SSRF guard (off unless enabled)",
       {req("url", K::string, "http:// or https:// URL"),
        opt("method", K::string, "GET", "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"),
        opt("headers", K::object, "", "Request headers (string values)"),
        opt("body", K::any, "", "Request body: a string as is, anything else as JSON"),
        opt("timeout", K::string, "[http] timeout", "Total time limit (\"5s\")"),
        opt("http_client_uid", K::string, "", "Named clients are not supported (rejected)")},
       true},
      {"expression",
       "ExpressionData",
       Group::operation,
       "Evaluates an expression over the first input",
       {req("expression", K::string, "The expression (value, else boolean evaluation)")}},
      // Control flow
      {"condition",
       "ConditionData",
       Group::control,
       "Tests the first input; edges with sourceHandle true/false branch",
       {req("condition", K::string, "Boolean expression, or a comparator like \">=18\""),
        opt("true_path", K::string, "", "Ignored (the result carries true_path as a boolean)"),
        opt("false_path", K::string, "", "Ignored")}},
      {"for_each",
       "ForEachData",
       Group::control,
       "Runs its body (nodes behind sourceHandle \"body\") once per item of an array input",
       {opt("max_iterations", K::integer, "1000", "Largest array accepted")},
       false,
       false,
       true},
      {"while_loop",
       "WhileLoopData",
       Group::control,
       "Runs its body while the condition holds; the body's result is the next value",
       {req("condition", K::string, "Comparator (no body) or expression (with a body)"),
        opt("max_iterations", K::integer, "100", "Iterations before failing")},
       false,
       false,
       true},
      {"filter",
       "FilterData",
       Group::array,
       "Keeps array items for which the condition holds",
       {req("condition", K::string, "Expression over item (variables.item, variables.index)")}},
      {"map",
       "MapData",
       Group::array,
       "Transforms every array item",
       {opt("expression", K::string, "", "Expression over item"),
        opt("field", K::string, "", "Field to take from each object item")}},
      {"reduce",
       "ReduceData",
       Group::array,
       "Folds an array into one value",
       {req("expression", K::string, "Expression over accumulator and item"),
        opt("initial_value", K::any, "0", "Starting accumulator")}},
      {"slice",
       "SliceData",
       Group::array,
       "A part of an array (negative = from the end)",
       {opt("start", K::any, "0", "First index"), opt("end", K::any, "", "End index (exclusive)"),
        opt("length", K::any, "", "Length, when end is not given")}},
      {"sort",
       "SortData",
       Group::array,
       "Stable sort, nulls first",
       {opt("field", K::string, "", "Sort objects by this field"),
        opt("order", K::string, "asc", "asc or desc")}},
      {"find",
       "FindData",
       Group::array,
       "First item for which the condition holds",
       {req("condition", K::string, "Expression over item"),
        opt("return_index", K::boolean, "false", "Also return the index")}},
      {"flat_map",
       "FlatMapData",
       Group::array,
       "Flattens items (or a field of them) one level",
       {opt("field", K::string, "", "Field to take from each object item"),
        opt("expression", K::string, "", "Ignored")}},
      {"group_by",
       "GroupByData",
       Group::array,
       "Groups items by a field and aggregates",
       {req("field", K::string, "Field to group by"),
        opt("aggregate", K::string, "count", "count, sum, avg, min, max or values"),
        opt("value_field", K::string, "", "Field aggregated by sum/avg/min/max")}},
      {"unique",
       "UniqueData",
       Group::array,
       "Drops repeated items (compared as text)",
       {opt("field", K::string, "", "Compare objects by this field")}},
      {"chunk",
       "ChunkData",
       Group::array,
       "Splits an array into chunks",
       {req("size", K::any, "Chunk size (> 0)")}},
      {"reverse", "ReverseData", Group::array, "Reverses an array", {}},
      {"partition",
       "PartitionData",
       Group::array,
       "Splits items into passed and failed",
       {req("condition", K::string, "Expression over item")}},
      {"zip",
       "ZipData",
       Group::array,
       "Combines arrays element-wise",
       {opt("arrays", K::any, "", "Literal arrays zipped after the input"),
        opt("fill_missing", K::any, "null", "Filler for shorter arrays"),
        opt("remove_empty", K::boolean, "false", "Ignored")}},
      {"sample",
       "SampleData",
       Group::array,
       "Takes some items",
       {req("count", K::any, "How many (> 0)"),
        opt("method", K::string, "random", "random, first or last")}},
      {"range",
       "RangeData",
       Group::array,
       "Generates numbers start..end (inclusive)",
       {req("start", K::any, "First number"), req("end", K::any, "Last number"),
        opt("step", K::any, "1", "Step (not 0)")}},
      {"compact",
       "CompactData",
       Group::array,
       "Drops nulls and NaNs",
       {opt("remove_empty", K::boolean, "false", "Also drop empty strings")}},
      {"transpose", "TransposeData", Group::array, "Transposes an array of arrays", {}},
      // State and memory
      {"variable",
       "VariableData",
       Group::state,
       "Sets or gets a workflow variable",
       {req("var_name", K::string, "Variable name"), req("var_op", K::string, "get or set"), scope},
       false,
       true},
      {"extract",
       "ExtractData",
       Group::state,
       "Takes fields of an object",
       {opt("field", K::string, "", "One field: {field, value}"),
        opt("fields", K::strings, "", "Several fields: an object of those present")}},
      {"transform",
       "TransformData",
       Group::state,
       "Reshapes data",
       {req("transform_type", K::string, "to_array, to_object, flatten, keys or values")}},
      {"accumulator",
       "AccumulatorData",
       Group::state,
       "Accumulates inputs (one accumulator per run)",
       {req("accum_op", K::string, "sum, product, concat, array or count"),
        opt("initial_value", K::any, "by op: 0, 1, \"\", []", "Starting value"), scope},
       false,
       true},
      {"counter",
       "CounterData",
       Group::state,
       "Changes the counter (one counter per run)",
       {req("counter_op", K::string, "increment, decrement, reset or get"),
        opt("delta", K::number, "1", "Step"),
        opt("initial_value", K::any, "", "A number overwrites the counter before the op"), scope},
       false,
       true},
      {"parse",
       "ParseData",
       Group::state,
       "Parses text (JSON, CSV, TSV, flat YAML, XML)",
       {opt("input_type", K::string, "AUTO", "AUTO, JSON, CSV, TSV, YAML or XML")}},
      {"format",
       "FormatData",
       Group::state,
       "Formats data as JSON, CSV or TSV text",
       {req("output_type", K::string, "JSON, CSV or TSV"),
        opt("pretty_print", K::boolean, "false", "JSON: indent"),
        opt("include_headers", K::boolean, "true", "CSV/TSV: header row"),
        opt("delimiter", K::string, ",", "CSV: delimiter (first byte)")}},
      // Advanced control
      {"switch",
       "SwitchData",
       Group::control,
       "First case whose expression holds; edges with sourceHandle = output_path branch",
       {req("cases", K::cases, "[{when, output_path}, ..., {is_default: true}]")}},
      {"parallel",
       "ParallelData",
       Group::flow,
       "Collects its inputs",
       {opt("max_concurrency", K::integer, "10", "Reported only"),
        opt("timeout", K::string, "", "Ignored")}},
      {"join",
       "JoinData",
       Group::flow,
       "Combines inputs",
       {opt("join_strategy", K::string, "all", "all, any or first"),
        opt("timeout", K::string, "", "Ignored")}},
      {"split",
       "SplitData",
       Group::flow,
       "Copies the input under several path names",
       {req("paths", K::strings, "Path names")}},
      {"delay",
       "DelayData",
       Group::flow,
       "Waits, then passes the input on",
       {req("duration", K::any, "Go duration (\"50ms\", \"1.5s\") or milliseconds")},
       true},
      {"cache",
       "CacheData",
       Group::state,
       "Gets, sets or deletes a cache entry",
       {req("cache_op", K::string, "get, set or delete"), req("cache_key", K::string, "Key"),
        opt("ttl", K::string, "5m", "Lifetime of a set entry"),
        opt("max_size", K::integer, "", "Ignored"), opt("eviction", K::string, "", "Ignored"),
        opt("storage", K::string, "", "Ignored"), scope},
       false,
       true},
      // Resilience
      {"retry",
       "RetryData",
       Group::resilience,
       "Re-runs its failing upstream node with backoff",
       {opt("max_attempts", K::integer, "3", "Attempts in total"),
        opt("backoff_strategy", K::string, "exponential", "exponential, linear or constant"),
        opt("initial_delay", K::string, "1s", "First delay"),
        opt("max_delay", K::string, "30s", "Largest delay"),
        opt("multiplier", K::number, "2", "exponential: factor per attempt"),
        opt("retry_on_errors", K::strings, "", "Retry only errors containing one of these")},
       true},
      {"try_catch",
       "TryCatchData",
       Group::resilience,
       "Catches a failure of its upstream node (or an error object) and substitutes a fallback",
       {opt("fallback_value", K::any, "null", "Value used instead"),
        opt("continue_on_error", K::boolean, "true", "false: fail with \"error caught: ...\""),
        opt("error_output_path", K::string, "", "Copied into the result")}},
      {"timeout",
       "TimeoutData",
       Group::resilience,
       "Bounds the real run time of its upstream node",
       {req("timeout", K::string, "Limit (\"2s\")"),
        opt("timeout_action", K::string, "error", "error or continue_with_partial")}},
      {"rate_limiter",
       "RateLimiterData",
       Group::resilience,
       "Waits for a slot: at most max_requests per window",
       {req("max_requests", K::integer, "Requests per window"),
        req("per_duration", K::string, "Window (\"1s\")"),
        opt("strategy", K::string, "fixed_window", "Only fixed_window")},
       true},
      {"throttle",
       "ThrottleData",
       Group::resilience,
       "Keeps a minimum spacing between runs of the node",
       {req("requests_per_second", K::number, "Rate (> 0)")},
       true},
      {"schema_validator",
       "SchemaValidatorData",
       Group::resilience,
       "Validates the input against a JSON Schema",
       {req("schema", K::any, "JSON Schema (draft 4-7 keywords)"),
        opt("strict", K::boolean, "false", "Fail instead of reporting")}},
      // Context
      {"context_variable",
       "ContextVariableData",
       Group::context,
       "Defines context.<name> values (variables override constants)",
       {opt("context_values", K::context_values, "", "[{name, value, type}]"),
        opt("context_name", K::string, "", "Legacy single name"),
        opt("context_value", K::any, "", "Legacy single value")},
       false,
       true},
      {"context_constant",
       "ContextConstantData",
       Group::context,
       "Defines context.<name> values",
       {opt("context_values", K::context_values, "", "[{name, value, type}]"),
        opt("context_name", K::string, "", "Legacy single name"),
        opt("context_value", K::any, "", "Legacy single value")},
       false,
       true},
      // Toolchain (flowrun)
      {"exec",
       "ExecData",
       Group::io,
       "Runs a program (argv, no shell; off unless enabled)",
       {req("command", K::strings, "argv: program and arguments"),
        opt("stdin", K::string, "", "Text written to the program's stdin"),
        opt("timeout", K::string, "[exec] timeout", "Time limit; the program is killed after it")},
       true},
      {"socket",
       "SocketData",
       Group::io,
       "One JSON-lines request to a Unix socket",
       {req("socket", K::string, "Daemon name (WARREN_DIR/run/NAME.sock) or socket path"),
        opt("request", K::object, "the input object", "The request object"),
        opt("timeout", K::string, "5s", "Time limit")},
       true},
  };
  return t;
}

}  // namespace

const std::vector<NodeType>& node_types() {
  static const std::vector<NodeType> all = make_types();
  return all;
}

const NodeType* find_node_type(std::string_view name) {
  static const auto index = [] {
    boost::unordered_flat_map<std::string_view, const NodeType*> m;
    for (auto& t : node_types()) m.emplace(t.name, &t);
    return m;
  }();
  auto it = index.find(name);
  return it == index.end() ? nullptr : it->second;
}

std::string_view group_name(Group g) {
  switch (g) {
    case Group::input:
      return "input";
    case Group::operation:
      return "operation";
    case Group::control:
      return "control";
    case Group::array:
      return "array";
    case Group::state:
      return "state";
    case Group::flow:
      return "flow";
    case Group::resilience:
      return "resilience";
    case Group::io:
      return "io";
    case Group::context:
      return "context";
  }
  return "";
}

std::string_view field_kind_name(FieldKind k) {
  switch (k) {
    case K::number:
      return "number";
    case K::integer:
      return "integer";
    case K::string:
      return "string";
    case K::boolean:
      return "boolean";
    case K::any:
      return "any";
    case K::strings:
      return "string[]";
    case K::object:
      return "object";
    case K::cases:
      return "case[]";
    case K::context_values:
      return "value[]";
  }
  return "";
}

}  // namespace flow
