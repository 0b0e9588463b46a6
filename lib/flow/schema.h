// flow::validate_schema — JSON Schema validation for the schema_validator node: the draft 4-7
// keywords workflows use (type, enum, const, properties, required, additionalProperties,
// patternProperties, items, min/max constraints, pattern, format, allOf/anyOf/oneOf/not, local
// $ref), reporting errors with gojsonschema's field names, types and descriptions. Pure.
#pragma once

#include <string>
#include <vector>

#include <boost/system/result.hpp>

#include "flow/value.h"

namespace flow {

struct SchemaError {
  std::string field;        // "age", "address.city", "(root)"
  std::string type;         // "required", "invalid_type", "number_gte", ...
  std::string description;  // "Invalid type. Expected: integer, given: string"
  Value value;              // the offending value
};

// Errors in document order; an unusable schema (bad pattern, unresolvable $ref) is the error.
struct SchemaResult {
  bool ok = true;
  std::string error;
  std::vector<SchemaError> errors;
  explicit operator bool() const { return ok; }
  const std::vector<SchemaError>* operator->() const { return &errors; }
  const std::vector<SchemaError>& operator*() const { return errors; }
};
SchemaResult validate_schema(const Value& schema, const Value& doc);

}  // namespace flow
