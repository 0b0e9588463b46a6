#include "flow/schema.h"

#include <cmath>
#include <regex>

namespace flow {

namespace {

std::string json_type(const Value& v) {
  if (v.is_null()) return "null";
  if (v.is_bool()) return "boolean";
  if (v.is_string()) return "string";
  if (v.is_array()) return "array";
  if (v.is_object()) return "object";
  return as_integer(v) ? "integer" : "number";
}

bool type_matches(const std::string& t, const Value& v) {
  std::string g = json_type(v);
  if (t == g) return true;
  return t == "number" && g == "integer";
}

size_t rune_count(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s)
    if ((c & 0xC0) != 0x80) n++;
  return n;
}

bool format_ok(const std::string& f, const std::string& s) {
  static const std::regex email(R"(^[^@\s]+@[^@\s]+\.[^@\s]+$)");
  static const std::regex date(R"(^\d{4}-\d{2}-\d{2}$)");
  static const std::regex ipv4(R"(^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$)");
  static const std::regex uri(R"(^[A-Za-z][A-Za-z0-9+.-]*:[^\s]*$)");
  static const std::regex uuid(
      R"(^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$)");
  if (f == "email") return std::regex_match(s, email);
  if (f == "date") return std::regex_match(s, date) && parse_time(s).has_value();
  if (f == "date-time") return s.size() >= 20 && parse_time(s).has_value();
  if (f == "ipv4") return std::regex_match(s, ipv4);
  if (f == "uri") return std::regex_match(s, uri);
  if (f == "uuid") return std::regex_match(s, uuid);
  return true;  // unknown formats pass, as in gojsonschema
}

class Validator {
 public:
  explicit Validator(const Value& root) : root_(root) {}
  std::string fatal;
  std::vector<SchemaError> errors;

  void run(const Value& schema, const Value& v, const std::string& ctx, int depth = 0) {
    if (!fatal.empty()) return;
    if (depth > 64) {
      fatal = "schema nested too deeply (or a $ref loop)";
      return;
    }
    if (schema.is_bool()) {
      if (!schema.get_bool()) add(ctx, "false", "False always fails validation", v);
      return;
    }
    if (!schema.is_object()) return;
    const Object& s = schema.get_object();
    if (auto r = s.find("$ref"); r != s.end() && r->value().is_string()) {
      const Value* target = resolve(r->value().get_string());
      if (!target) {
        fatal = "cannot resolve $ref " + std::string(r->value().get_string());
        return;
      }
      run(*target, v, ctx, depth + 1);
      return;
    }
    // type: a mismatch ends the checks of this schema.
    if (auto t = s.find("type"); t != s.end()) {
      std::vector<std::string> types;
      if (t->value().is_string()) types.emplace_back(t->value().get_string());
      if (t->value().is_array())
        for (auto& e : t->value().get_array())
          if (e.is_string()) types.emplace_back(e.get_string());
      bool ok = types.empty();
      for (auto& ty : types) ok |= type_matches(ty, v);
      if (!ok) {
        std::string exp;
        for (auto& ty : types) exp += (exp.empty() ? "" : "/") + ty;
        add(ctx, "invalid_type", "Invalid type. Expected: " + exp + ", given: " + json_type(v), v);
        return;
      }
    }
    combinators(s, v, ctx, depth);
    if (auto e = s.find("enum"); e != s.end() && e->value().is_array()) {
      bool found = false;
      std::string allowed;
      for (auto& x : e->value().get_array()) {
        found |= equal(x, v);
        allowed += (allowed.empty() ? "" : ", ") + to_json(x);
      }
      if (!found) add(ctx, "enum", field(ctx) + " must be one of the following: " + allowed, v);
    }
    if (auto e = s.find("const"); e != s.end() && !equal(e->value(), v))
      add(ctx, "const", field(ctx) + " does not match: " + to_json(e->value()), v);
    if (v.is_object()) object(s, v.get_object(), v, ctx, depth);
    if (v.is_array()) array(s, v.get_array(), v, ctx, depth);
    if (v.is_string()) string(s, std::string(v.get_string()), v, ctx);
    if (is_number(v)) number(s, as_number(v), v, ctx);
  }

 private:
  const Value& root_;

  static std::string field(const std::string& ctx) { return ctx.empty() ? "(root)" : ctx; }
  static std::string child(const std::string& ctx, std::string_view k) {
    return ctx.empty() ? std::string(k) : ctx + "." + std::string(k);
  }
  void add(const std::string& ctx, std::string type, std::string desc, const Value& v) {
    errors.push_back(SchemaError{field(ctx), std::move(type), std::move(desc), v});
  }

  const Value* resolve(std::string_view ref) {
    if (ref == "#") return &root_;
    if (ref.substr(0, 2) != "#/") return nullptr;
    const Value* cur = &root_;
    size_t i = 2;
    while (i <= ref.size()) {
      size_t j = ref.find('/', i);
      if (j == std::string_view::npos) j = ref.size();
      std::string tok(ref.substr(i, j - i));
      for (size_t k; (k = tok.find("~1")) != std::string::npos;) tok.replace(k, 2, "/");
      for (size_t k; (k = tok.find("~0")) != std::string::npos;) tok.replace(k, 2, "~");
      if (cur->is_object()) {
        auto it = cur->get_object().find(tok);
        if (it == cur->get_object().end()) return nullptr;
        cur = &it->value();
      } else if (cur->is_array()) {
        char* end = nullptr;
        unsigned long n = std::strtoul(tok.c_str(), &end, 10);
        if (*end || n >= cur->get_array().size()) return nullptr;
        cur = &cur->get_array()[n];
      } else {
        return nullptr;
      }
      i = j + 1;
    }
    return cur;
  }

  size_t sub_errors(const Value& schema, const Value& v, const std::string& ctx, int depth) {
    Validator sub(root_);
    sub.run(schema, v, ctx, depth + 1);
    if (!sub.fatal.empty() && fatal.empty()) fatal = sub.fatal;
    return sub.errors.size();
  }

  void combinators(const Object& s, const Value& v, const std::string& ctx, int depth) {
    if (auto a = s.find("allOf"); a != s.end() && a->value().is_array()) {
      bool ok = true;
      for (auto& sub : a->value().get_array()) ok &= sub_errors(sub, v, ctx, depth) == 0;
      if (!ok) add(ctx, "number_all_of", "Must validate all the schemas (allOf)", v);
    }
    if (auto a = s.find("anyOf"); a != s.end() && a->value().is_array()) {
      bool ok = false;
      for (auto& sub : a->value().get_array()) ok |= sub_errors(sub, v, ctx, depth) == 0;
      if (!ok) add(ctx, "number_any_of", "Must validate at least one schema (anyOf)", v);
    }
    if (auto a = s.find("oneOf"); a != s.end() && a->value().is_array()) {
      int n = 0;
      for (auto& sub : a->value().get_array()) n += sub_errors(sub, v, ctx, depth) == 0;
      if (n != 1) add(ctx, "number_one_of", "Must validate one and only one schema (oneOf)", v);
    }
    if (auto a = s.find("not"); a != s.end() && sub_errors(a->value(), v, ctx, depth) == 0)
      add(ctx, "number_not", "Must not validate the schema (not)", v);
  }

  void object(const Object& s, const Object& o, const Value& v, const std::string& ctx, int depth) {
    auto num = [&](const char* k) -> std::optional<int64_t> {
      auto it = s.find(k);
      if (it == s.end()) return std::nullopt;
      return as_integer(it->value());
    };
    if (auto m = num("maxProperties"); m && static_cast<int64_t>(o.size()) > *m)
      add(ctx, "array_max_properties", "Must have at most " + std::to_string(*m) + " properties",
          v);
    if (auto m = num("minProperties"); m && static_cast<int64_t>(o.size()) < *m)
      add(ctx, "array_min_properties", "Must have at least " + std::to_string(*m) + " properties",
          v);
    if (auto r = s.find("required"); r != s.end() && r->value().is_array())
      for (auto& name : r->value().get_array())
        if (name.is_string() && !o.contains(name.get_string())) {
          std::string p(name.get_string());
          errors.push_back(SchemaError{p, "required", p + " is required", v});
        }
    const Object* props = nullptr;
    if (auto p = s.find("properties"); p != s.end() && p->value().is_object())
      props = &p->value().get_object();
    const Object* patterns = nullptr;
    if (auto p = s.find("patternProperties"); p != s.end() && p->value().is_object())
      patterns = &p->value().get_object();
    auto ap = s.find("additionalProperties");
    for (auto& kv : o) {
      bool matched = props && props->contains(kv.key());
      if (patterns)
        for (auto& pp : *patterns) {
          std::regex re;
          try {
            re = std::regex(std::string(pp.key()), std::regex::ECMAScript);
          } catch (const std::regex_error&) {
            fatal = "invalid regex pattern '" + std::string(pp.key()) + "'";
            return;
          }
          if (std::regex_search(std::string(kv.key()), re)) {
            matched = true;
            run(pp.value(), kv.value(), child(ctx, kv.key()), depth + 1);
          }
        }
      if (matched || ap == s.end()) continue;
      if (ap->value().is_bool() && !ap->value().get_bool())
        errors.push_back(
            SchemaError{std::string(kv.key()), "additional_property_not_allowed",
                        "Additional property " + std::string(kv.key()) + " is not allowed", v});
      else if (ap->value().is_object())
        run(ap->value(), kv.value(), child(ctx, kv.key()), depth + 1);
    }
    if (props)
      for (auto& kv : *props)
        if (auto it = o.find(kv.key()); it != o.end())
          run(kv.value(), it->value(), child(ctx, kv.key()), depth + 1);
  }

  void array(const Object& s, const Array& a, const Value& v, const std::string& ctx, int depth) {
    auto num = [&](const char* k) -> std::optional<int64_t> {
      auto it = s.find(k);
      if (it == s.end()) return std::nullopt;
      return as_integer(it->value());
    };
    if (auto m = num("minItems"); m && static_cast<int64_t>(a.size()) < *m)
      add(ctx, "array_min_items", "Array must have at least " + std::to_string(*m) + " items", v);
    if (auto m = num("maxItems"); m && static_cast<int64_t>(a.size()) > *m)
      add(ctx, "array_max_items", "Array must have at most " + std::to_string(*m) + " items", v);
    if (auto u = s.find("uniqueItems");
        u != s.end() && u->value().is_bool() && u->value().get_bool())
      for (size_t i = 0; i < a.size(); i++)
        for (size_t j = i + 1; j < a.size(); j++)
          if (equal(a[i], a[j])) {
            add(ctx, "unique",
                "array items[" + std::to_string(i) + "," + std::to_string(j) + "] must be unique",
                v);
            i = a.size();
            break;
          }
    auto items = s.find("items");
    if (items == s.end()) return;
    if (items->value().is_array()) {
      auto& list = items->value().get_array();
      for (size_t i = 0; i < a.size() && i < list.size(); i++)
        run(list[i], a[i], child(ctx, std::to_string(i)), depth + 1);
      auto add_items = s.find("additionalItems");
      if (a.size() > list.size() && add_items != s.end()) {
        if (add_items->value().is_bool() && !add_items->value().get_bool())
          add(ctx, "array_no_additional_items", "No additional items allowed on array", v);
        else
          for (size_t i = list.size(); i < a.size(); i++)
            run(add_items->value(), a[i], child(ctx, std::to_string(i)), depth + 1);
      }
    } else {
      for (size_t i = 0; i < a.size(); i++)
        run(items->value(), a[i], child(ctx, std::to_string(i)), depth + 1);
    }
  }

  void string(const Object& s, const std::string& str, const Value& v, const std::string& ctx) {
    size_t n = rune_count(str);
    if (auto m = s.find("minLength");
        m != s.end() && as_integer(m->value()) && static_cast<int64_t>(n) < *as_integer(m->value()))
      add(ctx, "string_gte",
          "String length must be greater than or equal to " + go_sprint(m->value()), v);
    if (auto m = s.find("maxLength");
        m != s.end() && as_integer(m->value()) && static_cast<int64_t>(n) > *as_integer(m->value()))
      add(ctx, "string_lte", "String length must be less than or equal to " + go_sprint(m->value()),
          v);
    if (auto p = s.find("pattern"); p != s.end() && p->value().is_string()) {
      std::string pat(p->value().get_string());
      try {
        if (!std::regex_search(str, std::regex(pat, std::regex::ECMAScript)))
          add(ctx, "pattern", "Does not match pattern '" + pat + "'", v);
      } catch (const std::regex_error&) {
        fatal = "invalid regex pattern '" + pat + "'";
      }
    }
    if (auto f = s.find("format"); f != s.end() && f->value().is_string() &&
                                   !format_ok(std::string(f->value().get_string()), str))
      add(ctx, "format", "Does not match format '" + std::string(f->value().get_string()) + "'", v);
  }

  void number(const Object& s, double x, const Value& v, const std::string& ctx) {
    auto get = [&](const char* k) -> const Value* {
      auto it = s.find(k);
      return it == s.end() ? nullptr : &it->value();
    };
    if (const Value* m = get("multipleOf"); m && is_number(*m) && as_number(*m) > 0) {
      double q = x / as_number(*m);
      if (std::fabs(q - std::round(q)) > 1e-9)
        add(ctx, "multiple_of", "Must be a multiple of " + go_sprint(*m), v);
    }
    const Value* emin = get("exclusiveMinimum");
    const Value* emax = get("exclusiveMaximum");
    if (const Value* m = get("minimum"); m && is_number(*m)) {
      bool excl = emin && emin->is_bool() && emin->get_bool();
      double lo = as_number(*m);
      if (excl ? x <= lo : x < lo)
        add(ctx, excl ? "number_gt" : "number_gte",
            std::string(excl ? "Must be greater than " : "Must be greater than or equal to ") +
                go_sprint(*m),
            v);
    }
    if (const Value* m = get("maximum"); m && is_number(*m)) {
      bool excl = emax && emax->is_bool() && emax->get_bool();
      double hi = as_number(*m);
      if (excl ? x >= hi : x > hi)
        add(ctx, excl ? "number_lt" : "number_lte",
            std::string(excl ? "Must be less than " : "Must be less than or equal to ") +
                go_sprint(*m),
            v);
    }
    if (emin && is_number(*emin) && x <= as_number(*emin))
      add(ctx, "number_gt", "Must be greater than " + go_sprint(*emin), v);
    if (emax && is_number(*emax) && x >= as_number(*emax))
      add(ctx, "number_lt", "Must be less than " + go_sprint(*emax), v);
  }
};

}  // namespace

SchemaResult validate_schema(const Value& schema, const Value& doc) {
  SchemaResult r;
  if (!schema.is_object() && !schema.is_bool()) {
    r.ok = false;
    r.error = "schema must be an object";
    return r;
  }
  Validator v(schema);
  v.run(schema, doc, "");
  if (!v.fatal.empty()) {
    r.ok = false;
    r.error = v.fatal;
    return r;
  }
  r.errors = std::move(v.errors);
  return r;
}

}  // namespace flow
