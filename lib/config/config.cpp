#include "config/config.h"

#include <toml++/toml.h>

#include <algorithm>

#include "core/fs.h"
#include "core/text.h"

namespace config {

namespace {

struct Pos {
  uint32_t line = 0;
  uint32_t col = 0;
};

Pos pos_of(const toml::source_region& s) {
  return {s.begin.line, s.begin.column};
}

const char* type_name(toml::node_type t) {
  switch (t) {
    case toml::node_type::table:
      return "a table";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a float";
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::date:
      return "a date";
    case toml::node_type::time:
      return "a time";
    case toml::node_type::date_time:
      return "a date-time";
    default:
      return "nothing";
  }
}

std::string quote(std::string_view s) {
  return "\"" + std::string(s) + "\"";
}

std::string format_ms(std::chrono::milliseconds d) {
  int64_t ms = d.count();
  if (ms % 1000 != 0) return std::to_string(ms) + "ms";
  int64_t s = ms / 1000;
  if (s != 0 && s % 3600 == 0) return std::to_string(s / 3600) + "h";
  if (s != 0 && s % 60 == 0) return std::to_string(s / 60) + "m";
  return std::to_string(s) + "s";
}

}  // namespace

struct Reader::State {
  std::string name;
  toml::table root;
  struct Seen {
    const toml::table* table;
    std::string prefix;
    std::vector<std::string> used;
  };
  std::vector<Seen> tables;
  struct Err {
    Pos pos;
    std::string text;  // without the "file:line:col: " prefix
  };
  std::vector<Err> errors;
  bool finished = false;

  void error(Pos p, std::string text) { errors.push_back({p, std::move(text)}); }
  std::string format(const Err& e) const {
    if (e.pos.line == 0) return name + ": " + e.text;
    return name + ":" + std::to_string(e.pos.line) + ":" + std::to_string(e.pos.col) + ": " +
           e.text;
  }
};

namespace {

const toml::table* tbl(const void* p) {
  return static_cast<const toml::table*>(p);
}

core::Result<Reader> make_reader(std::string_view text, std::string name) {
  auto st = std::make_shared<Reader::State>();
  st->name = std::move(name);
  try {
    st->root = toml::parse(text, st->name);
  } catch (const toml::parse_error& e) {
    auto p = pos_of(e.source());
    std::string msg(e.description());  // "Error while parsing value: ..." -> lower case
    if (!msg.empty() && msg[0] >= 'A' && msg[0] <= 'Z') msg[0] = static_cast<char>(msg[0] + 32);
    if (p.line == 0) return core::err(core::Errc::config, st->name + ": " + msg);
    return core::err(core::Errc::config, st->name + ":" + std::to_string(p.line) + ":" +
                                             std::to_string(p.col) + ": " + msg);
  }
  st->tables.push_back({&st->root, "", {}});
  const void* root = &st->root;
  return Reader(std::move(st), root, "", 0);
}

}  // namespace

core::Result<Reader> parse_string(std::string_view text, std::string name) {
  return make_reader(text, std::move(name));
}

core::Result<Reader> parse_file(const std::string& path) {
  auto text = core::read_file(path, 16u << 20);
  if (!text) return text.error();
  return make_reader(*text, path == "-" ? "stdin" : path);
}

core::Result<std::chrono::milliseconds> parse_duration_ms(std::string_view s) {
  auto bad = [&] {
    return core::err(core::Errc::config,
                     "bad duration " + quote(s) + " (use e.g. 250ms, 30s, 5m, 12h, 90d)");
  };
  if (s.size() > 2 && s.substr(s.size() - 2) == "ms") {
    auto v = core::parse_uint(s.substr(0, s.size() - 2));
    if (!v || *v > (uint64_t{1} << 50)) return bad();
    return std::chrono::milliseconds(static_cast<int64_t>(*v));
  }
  auto secs = core::parse_duration(s);
  if (!secs) return bad();
  return std::chrono::milliseconds(*secs * 1000);
}

// ---- Reader ----

const std::string& Reader::file_name() const {
  return st_->name;
}

bool Reader::has(std::string_view key) const {
  return table_ && tbl(table_)->get(key) != nullptr;
}

static std::string dotted(const std::string& prefix, std::string_view key) {
  return prefix.empty() ? std::string(key) : prefix + "." + std::string(key);
}

// Finds `key`, marks it used. Returns nullptr when this Reader is empty or the key is absent.
static const toml::node* lookup(Reader::State& st, size_t slot, const void* table,
                                std::string_view key) {
  if (!table) return nullptr;
  const toml::node* n = tbl(table)->get(key);
  if (n) {
    auto& used = st.tables[slot].used;
    if (std::find(used.begin(), used.end(), key) == used.end()) used.emplace_back(key);
  }
  return n;
}

bool Reader::require(std::string_view key) {
  if (!table_) return false;
  if (tbl(table_)->get(key)) return true;
  st_->error(pos_of(tbl(table_)->source()), "missing key " + quote(dotted(prefix_, key)));
  return false;
}

void Reader::fail(std::string_view key, std::string_view message) {
  Pos p;
  if (table_) {
    const toml::node* n = tbl(table_)->get(key);
    p = pos_of(n ? n->source() : tbl(table_)->source());
  }
  st_->error(p, dotted(prefix_, key) + ": " + std::string(message));
}

static void type_error(Reader::State& st, const toml::node& n, const std::string& key,
                       const char* want) {
  st.error(pos_of(n.source()), key + ": expected " + want + ", got " + type_name(n.type()));
}

bool Reader::get(std::string_view key, std::string& out) {
  auto* n = lookup(*st_, slot_, table_, key);
  if (!n) return false;
  if (!n->is_string()) {
    type_error(*st_, *n, dotted(prefix_, key), "a string");
    return false;
  }
  out = n->as_string()->get();
  return true;
}

bool Reader::get(std::string_view key, bool& out) {
  auto* n = lookup(*st_, slot_, table_, key);
  if (!n) return false;
  if (!n->is_boolean()) {
    type_error(*st_, *n, dotted(prefix_, key), "a boolean");
    return false;
  }
  out = n->as_boolean()->get();
  return true;
}

bool Reader::get(std::string_view key, double& out, double min, double max) {
  auto* n = lookup(*st_, slot_, table_, key);
  if (!n) return false;
  double v = 0;
  if (n->is_floating_point())
    v = n->as_floating_point()->get();
  else if (n->is_integer())
    v = static_cast<double>(n->as_integer()->get());
  else {
    type_error(*st_, *n, dotted(prefix_, key), "a number");
    return false;
  }
  if (!(v >= min && v <= max)) {  // also rejects nan
    st_->error(pos_of(n->source()), dotted(prefix_, key) + ": " + std::to_string(v) +
                                        " is out of range " + std::to_string(min) + ".." +
                                        std::to_string(max));
    return false;
  }
  out = v;
  return true;
}

bool Reader::get_int(std::string_view key, int64_t& out, int64_t min, int64_t max) {
  auto* n = lookup(*st_, slot_, table_, key);
  if (!n) return false;
  if (!n->is_integer()) {
    type_error(*st_, *n, dotted(prefix_, key), "an integer");
    return false;
  }
  int64_t v = n->as_integer()->get();
  if (v < min || v > max) {
    std::string why;
    if (min == INT64_MIN)
      why = "must be at most " + std::to_string(max);
    else if (max == INT64_MAX)
      why = "must be at least " + std::to_string(min);
    else
      why = "out of range " + std::to_string(min) + ".." + std::to_string(max);
    st_->error(pos_of(n->source()), dotted(prefix_, key) + ": " + std::to_string(v) + " " +
                                        (why[0] == 'o' ? "is " : "") + why);
    return false;
  }
  out = v;
  return true;
}

bool Reader::get(std::string_view key, std::vector<std::string>& out) {
  auto* n = lookup(*st_, slot_, table_, key);
  if (!n) return false;
  if (!n->is_array()) {
    type_error(*st_, *n, dotted(prefix_, key), "an array of strings");
    return false;
  }
  std::vector<std::string> v;
  const toml::array& a = *n->as_array();
  for (size_t i = 0; i < a.size(); ++i) {
    if (!a[i].is_string()) {
      type_error(*st_, a[i], dotted(prefix_, key) + "[" + std::to_string(i) + "]", "a string");
      return false;
    }
    v.push_back(a[i].as_string()->get());
  }
  out = std::move(v);
  return true;
}

std::optional<size_t> Reader::get_choice(std::string_view key,
                                         const std::vector<std::string_view>& names) {
  auto* n = lookup(*st_, slot_, table_, key);
  if (!n) return std::nullopt;
  if (!n->is_string()) {
    type_error(*st_, *n, dotted(prefix_, key), "a string");
    return std::nullopt;
  }
  const std::string& v = n->as_string()->get();
  for (size_t i = 0; i < names.size(); ++i)
    if (names[i] == v) return i;
  std::string list;
  for (auto& name : names) list += (list.empty() ? "" : ", ") + std::string(name);
  st_->error(pos_of(n->source()),
             dotted(prefix_, key) + ": " + quote(v) + " is not one of " + list);
  return std::nullopt;
}

bool Reader::get_enum(std::string_view key, std::string& out,
                      std::initializer_list<std::string_view> names) {
  auto i = get_choice(key, std::vector<std::string_view>(names));
  if (!i) return false;
  out = std::string(*(names.begin() + *i));
  return true;
}

bool Reader::get_duration_ms(std::string_view key, std::chrono::milliseconds& out,
                             std::chrono::milliseconds min, std::chrono::milliseconds max) {
  auto* n = lookup(*st_, slot_, table_, key);
  if (!n) return false;
  std::string k = dotted(prefix_, key);
  std::chrono::milliseconds v{};
  if (n->is_integer()) {
    int64_t s = n->as_integer()->get();
    if (s < 0 || s > (int64_t{1} << 40)) {
      st_->error(pos_of(n->source()), k + ": bad duration " + std::to_string(s));
      return false;
    }
    v = std::chrono::milliseconds(s * 1000);
  } else if (n->is_string()) {
    auto d = parse_duration_ms(n->as_string()->get());
    if (!d) {
      st_->error(pos_of(n->source()), k + ": " + d.error().message);
      return false;
    }
    v = *d;
  } else {
    type_error(*st_, *n, k, "a duration like \"30s\"");
    return false;
  }
  if (v < min || v > max) {
    std::string why = v < min ? "is below the minimum " + format_ms(min)
                              : "is above the maximum " + format_ms(max);
    st_->error(pos_of(n->source()), k + ": " + format_ms(v) + " " + why);
    return false;
  }
  out = v;
  return true;
}

Reader Reader::child(const void* table, std::string prefix) {
  size_t slot = st_->tables.size();
  for (size_t i = 0; i < st_->tables.size(); ++i)
    if (st_->tables[i].table == table) slot = i;
  if (slot == st_->tables.size()) st_->tables.push_back({tbl(table), prefix, {}});
  return Reader(st_, table, std::move(prefix), slot);
}

Reader Reader::table(std::string_view key) {
  auto* n = lookup(*st_, slot_, table_, key);
  std::string k = dotted(prefix_, key);
  if (n && !n->is_table()) {
    type_error(*st_, *n, k, "a table");
    n = nullptr;
  }
  if (!n) return Reader(st_, nullptr, k, 0);
  return child(n->as_table(), k);
}

std::vector<Reader> Reader::tables(std::string_view key) {
  std::vector<Reader> out;
  auto* n = lookup(*st_, slot_, table_, key);
  if (!n) return out;
  std::string k = dotted(prefix_, key);
  if (!n->is_array()) {
    type_error(*st_, *n, k, "an array of tables");
    return out;
  }
  const toml::array& a = *n->as_array();
  for (size_t i = 0; i < a.size(); ++i) {
    std::string ki = k + "[" + std::to_string(i) + "]";
    if (!a[i].is_table()) {
      type_error(*st_, a[i], ki, "a table");
      continue;
    }
    out.push_back(child(a[i].as_table(), ki));
  }
  return out;
}

std::vector<std::pair<std::string, Reader>> Reader::named_tables(std::string_view key) {
  std::vector<std::pair<std::string, Reader>> out;
  Reader parent = table(key);
  if (!parent.present()) return out;
  for (auto&& [name, node] : *tbl(parent.table_)) {
    // Indexed each time: child() below appends to st_->tables, which may reallocate.
    st_->tables[parent.slot_].used.emplace_back(name.str());
    std::string k = parent.prefix_ + "." + std::string(name.str());
    if (!node.is_table()) {
      type_error(*st_, node, k, "a table");
      continue;
    }
    out.emplace_back(std::string(name.str()), child(node.as_table(), k));
  }
  return out;
}

core::Result<void> Reader::finish() {
  if (!st_->finished) {
    st_->finished = true;
    for (auto& seen : st_->tables) {
      for (auto&& [key, node] : *seen.table) {
        if (std::find(seen.used.begin(), seen.used.end(), key.str()) != seen.used.end()) continue;
        st_->error(pos_of(key.source()), "unknown key " + quote(dotted(seen.prefix, key.str())));
      }
    }
    std::stable_sort(st_->errors.begin(), st_->errors.end(), [](const auto& a, const auto& b) {
      return std::pair(a.pos.line, a.pos.col) < std::pair(b.pos.line, b.pos.col);
    });
  }
  if (st_->errors.empty()) return {};
  return core::err(core::Errc::config, st_->format(st_->errors.front()));
}

std::vector<std::string> Reader::errors() const {
  std::vector<std::string> out;
  for (auto& e : st_->errors) {
    auto s = st_->format(e);
    if (out.empty() || out.back() != s) out.push_back(std::move(s));
  }
  return out;
}

}  // namespace config
