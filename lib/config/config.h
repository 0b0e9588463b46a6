// config — TOML files into plain structs. A Reader walks one table of a parsed document; each
// daemon describes its struct in a few lines of get()/table()/tables() calls and ends with
// finish(), which reports the first problem (bad value or unknown key) as
// "file:line:column: message" with Errc::config. Readers share the document; one thread at a time.
//
//   WARREN_TRY(r, config::parse_file(path));
//   r.get("listen", cfg.listen);
//   r.get("timeout_ms", cfg.timeout_ms, 1, 600000);
//   r.get_enum("mode", cfg.mode, {{"edge", Mode::edge}, {"site", Mode::site}});
//   r.get_duration("keepalive", cfg.keepalive);            // "30s", "5m", "250ms", or seconds
//   auto lim = r.table("limits");                           // absent table: gets are no-ops
//   lim.get("max_streams", cfg.limits.max_streams, 1, 65536);
//   for (auto& f : r.tables("forward")) { Forward x; f.need("name", x.name); ... }
//   WARREN_CHECK(r.finish());
#pragma once

#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "core/result.h"

namespace config {

class Reader;

// Parses a TOML file ("-" is stdin). Missing file -> Errc::noinput; syntax errors -> Errc::config
// with "path:line:column: what".
core::Result<Reader> parse_file(const std::string& path);
// Parses TOML text; `name` stands for the file name in messages.
core::Result<Reader> parse_string(std::string_view text, std::string name);

class Reader {
 public:
  struct State;  // shared by every Reader of one document (defined in config.cpp)

  // Each get() leaves `out` untouched when the key is absent (so member initialisers are the
  // defaults) and records an error when the value has the wrong type or is out of range.
  // It returns true when the key was present and valid.
  bool get(std::string_view key, std::string& out);
  bool get(std::string_view key, bool& out);
  bool get(std::string_view key, double& out, double min = -std::numeric_limits<double>::infinity(),
           double max = std::numeric_limits<double>::infinity());
  bool get(std::string_view key, std::vector<std::string>& out);  // array of strings
  // Integers of any width; min/max default to the type's range (so a uint16_t port rejects
  // 70000 and -1).
  template <class T, std::enable_if_t<std::is_integral_v<T> && !std::is_same_v<T, bool>, int> = 0>
  bool get(std::string_view key, T& out,
           std::type_identity_t<T> min = std::numeric_limits<T>::min(),
           std::type_identity_t<T> max = std::numeric_limits<T>::max()) {
    int64_t lo = static_cast<int64_t>(min);
    int64_t hi = std::is_unsigned_v<T> && max > static_cast<T>(INT64_MAX)
                     ? INT64_MAX
                     : static_cast<int64_t>(max);
    int64_t v = 0;
    if (!get_int(key, v, lo, hi)) return false;
    out = static_cast<T>(v);
    return true;
  }

  // A string that must be one of `names`.
  bool get_enum(std::string_view key, std::string& out,
                std::initializer_list<std::string_view> names);
  // A string mapped to an enum (or any value) through a table of names.
  template <class E>
  bool get_enum(std::string_view key, E& out,
                std::initializer_list<std::pair<std::string_view, E>> choices) {
    std::vector<std::string_view> names;
    for (auto& c : choices) names.push_back(c.first);
    auto i = get_choice(key, names);
    if (!i) return false;
    out = (choices.begin() + *i)->second;
    return true;
  }

  // Durations: "250ms", "30s", "5m", "12h", "90d", "2w", or an integer number of seconds.
  template <class Rep, class Period>
  bool get_duration(std::string_view key, std::chrono::duration<Rep, Period>& out,
                    std::chrono::milliseconds min = std::chrono::milliseconds(0),
                    std::chrono::milliseconds max = std::chrono::milliseconds::max()) {
    std::chrono::milliseconds ms{};
    if (!get_duration_ms(key, ms, min, max)) return false;
    out = std::chrono::duration_cast<std::chrono::duration<Rep, Period>>(ms);
    return true;
  }

  // Like get(), but a missing key is an error ("missing key \"name\"").
  template <class T, class... Args>
  bool need(std::string_view key, T& out, Args&&... args) {
    if (!require(key)) return false;
    return get(key, out, std::forward<Args>(args)...);
  }
  // Records a "missing key" error when `key` is absent; true when present.
  bool require(std::string_view key);
  bool has(std::string_view key) const;

  // A sub-table. Absent -> an empty Reader (present() false) whose gets change nothing.
  // Present but not a table -> error.
  Reader table(std::string_view key);
  // An array of tables ([[key]]); absent -> empty vector.
  std::vector<Reader> tables(std::string_view key);
  // A table of tables keyed by name ([sites.homelab], [sites.office]) in file order.
  std::vector<std::pair<std::string, Reader>> named_tables(std::string_view key);

  // Records a custom validation error at the key's value (or at this table if absent), e.g.
  // r.fail("listen", "bad address: " + why). The message is prefixed with the dotted key.
  void fail(std::string_view key, std::string_view message);

  bool present() const { return table_ != nullptr; }
  // Dotted path of this table from the root ("" for the root, "forward[1]", "limits").
  const std::string& path() const { return prefix_; }
  const std::string& file_name() const;

  // Checks every table opened from this document for unknown keys, then returns the first
  // error in file order (Errc::config), or ok. Call once, on the root, after all gets.
  core::Result<void> finish();
  // Every error so far (same format), in file order; finish() returns the first of these.
  std::vector<std::string> errors() const;

  Reader(std::shared_ptr<State> st, const void* table, std::string prefix, size_t slot)
      : st_(std::move(st)), table_(table), prefix_(std::move(prefix)), slot_(slot) {}

 private:
  bool get_int(std::string_view key, int64_t& out, int64_t min, int64_t max);
  std::optional<size_t> get_choice(std::string_view key, const std::vector<std::string_view>& n);
  bool get_duration_ms(std::string_view key, std::chrono::milliseconds& out,
                       std::chrono::milliseconds min, std::chrono::milliseconds max);
  Reader child(const void* table, std::string prefix);

  std::shared_ptr<State> st_;
  const void* table_ = nullptr;  // const toml::table*, owned by *st_
  std::string prefix_;
  size_t slot_ = 0;  // this table's entry in st_->tables (keys used)
};

// Parses "250ms", "30s", "5m", "2h", "90d", "2w", "1y" or plain seconds into milliseconds.
core::Result<std::chrono::milliseconds> parse_duration_ms(std::string_view s);

}  // namespace config
