// config writing — the other direction of config.h: values as TOML text, for every program
// that writes a TOML file (blueprints, site tunneld.toml). Output parses back with config.h
// to the same value.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace config {

// A basic string with every control character escaped: toml_string("a\"b") == "\"a\\\"b\"".
std::string toml_string(std::string_view s);
// A bare key when it may be one, else a quoted key.
std::string toml_key(std::string_view k);
// ["a", "b"]
std::string toml_array(const std::vector<std::string>& v);
// The shortest duration text that parse_duration_ms reads back: 250 -> "250ms", 5000 -> "5s",
// 300000 -> "5m"; toml_duration_s counts seconds (2592000 -> "30d").
std::string toml_duration_ms(int64_t ms);
std::string toml_duration_s(int64_t s);

}  // namespace config
