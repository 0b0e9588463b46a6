// Executors: parse (JSON, CSV, TSV, flat YAML, XML root text, with format detection) and
// format (JSON, CSV, TSV). CSV rows come out as a plain array of objects, usable by the array
// nodes (Thaiyyal's typed slice is rejected by them).
#include <boost/json/stream_parser.hpp>

#include <algorithm>
#include <cmath>
#include <set>

#include "flow/nodes.h"
#include "flow/text.h"

namespace flow {

namespace {

std::string upper_ascii(std::string s) {
  for (char& c : s)
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 32);
  return s;
}

// Go's toString of the parse node.
std::string to_text(const Value& v) {
  if (v.is_string()) return std::string(v.get_string());
  if (v.is_null()) return "";
  if (v.is_bool()) return v.get_bool() ? "true" : "false";
  if (v.is_double()) return go_float(v.get_double());
  if (v.is_int64() || v.is_uint64()) return go_sprint(v);
  return to_json(v);
}

// First JSON value of the text (Go's Decoder.Decode ignores what follows it).
std::optional<Value> decode_first(std::string_view s, std::string* err) {
  if (s.empty()) {
    *err = "EOF";
    return std::nullopt;
  }
  boost::json::stream_parser p;
  boost::system::error_code ec;
  p.write_some(s.data(), s.size(), ec);
  if (!ec && !p.done()) p.finish(ec);
  if (ec) {
    *err = ec == boost::json::error::incomplete ? "unexpected EOF" : ec.message();
    return std::nullopt;
  }
  Value v = p.release();
  normalize_numbers(v);
  return v;
}

Value parse_scalar(std::string_view s) {
  std::string t = text::trim_space(s);
  if (t.empty()) return Value(boost::json::string());
  if (t == "true") return Value(true);
  if (t == "false") return Value(false);
  if (t == "null") return Value();
  if (auto d = parse_go_float(t)) return Value(*d);
  return Value(boost::json::string(t));
}

std::string detect(const std::string& input) {
  std::string t = text::trim_space(input);
  if (t.empty()) return "JSON";
  if ((t.front() == '{' && t.back() == '}') || (t.front() == '[' && t.back() == ']')) {
    std::string err;
    if (parse_json(t)) return "JSON";
  }
  if (t.front() == '<' && t.back() == '>') return "XML";
  auto lines = text::go_split(t, "\n");
  if (t.find(":\n") != std::string::npos || t.find(": ") != std::string::npos) {
    if (lines.size() > 1) {
      int yamlish = 0;
      for (auto& l : lines)
        if (text::trim_space(l).find(": ") != std::string::npos) yamlish++;
      if (yamlish >= 2) return "YAML";
    }
  }
  if (lines.size() > 1) {
    auto commas = std::count(lines[0].begin(), lines[0].end(), ',');
    auto tabs = std::count(lines[0].begin(), lines[0].end(), '\t');
    if (tabs > commas && tabs > 0) return "TSV";
    if (commas > 0) return "CSV";
  }
  return "JSON";
}

NodeResult<Value> parse_json_text(const std::string& input) {
  std::string t = text::trim_space(input);
  if (t == "true") return Value(true);
  if (t == "false") return Value(false);
  if (t == "null") return Value();
  if (auto d = parse_go_float(t)) return Value(*d);
  std::string err;
  auto v = decode_first(t, &err);
  if (!v) return fail("invalid JSON: " + err);
  return std::move(*v);
}

// encoding/csv with TrimLeadingSpace: quoted fields, "" escapes, blank lines skipped, every
// record as wide as the first.
NodeResult<std::vector<std::vector<std::string>>> read_csv(std::string_view s, char delim) {
  std::vector<std::vector<std::string>> rows;
  size_t i = 0, line = 1;
  while (i < s.size()) {
    if (s[i] == '\n' || (s[i] == '\r' && i + 1 < s.size() && s[i + 1] == '\n')) {
      i += s[i] == '\r' ? 2 : 1;
      line++;
      continue;  // blank line
    }
    std::vector<std::string> rec;
    size_t rec_line = line;
    for (;;) {
      while (i < s.size() && (s[i] == ' ' || s[i] == '\t') && s[i] != delim) i++;
      std::string field;
      if (i < s.size() && s[i] == '"') {
        size_t col = i;
        i++;
        for (;;) {
          if (i >= s.size())
            return fail("invalid CSV/TSV: record on line " + std::to_string(rec_line) +
                        "; parse error on line " + std::to_string(line) + ", column " +
                        std::to_string(col + 1) + ": extraneous or missing \" in quoted-field");
          if (s[i] == '"') {
            if (i + 1 < s.size() && s[i + 1] == '"') {
              field += '"';
              i += 2;
              continue;
            }
            i++;
            break;
          }
          if (s[i] == '\n') line++;
          field += s[i++];
        }
        if (i < s.size() && s[i] != delim && s[i] != '\n' && s[i] != '\r')
          return fail("invalid CSV/TSV: parse error on line " + std::to_string(line) +
                      ": extraneous or missing \" in quoted-field");
      } else {
        while (i < s.size() && s[i] != delim && s[i] != '\n' &&
               !(s[i] == '\r' && i + 1 < s.size() && s[i + 1] == '\n')) {
          if (s[i] == '"')
            return fail("invalid CSV/TSV: parse error on line " + std::to_string(line) +
                        ": bare \" in non-quoted-field");
          field += s[i++];
        }
      }
      rec.push_back(std::move(field));
      if (i < s.size() && s[i] == delim) {
        i++;
        continue;
      }
      if (i < s.size()) {
        i += s[i] == '\r' ? 2 : 1;
        line++;
      }
      break;
    }
    if (!rows.empty() && rec.size() != rows[0].size())
      return fail("invalid CSV/TSV: record on line " + std::to_string(rec_line) +
                  ": wrong number of fields");
    rows.push_back(std::move(rec));
  }
  return rows;
}

NodeResult<Value> parse_csv(const std::string& input, char delim) {
  auto rows = read_csv(input, delim);
  if (!rows) return rows.error();
  Array out;
  if (rows->empty()) return Value(std::move(out));
  auto& headers = (*rows)[0];
  for (size_t r = 1; r < rows->size(); r++) {
    Object o;
    for (size_t j = 0; j < headers.size(); j++)
      o[headers[j]] = j < (*rows)[r].size() ? parse_scalar((*rows)[r][j]) : Value();
    out.push_back(std::move(o));
  }
  return Value(std::move(out));
}

NodeResult<Value> parse_yaml(const std::string& input) {
  Object out;
  for (auto& l : text::go_split(text::trim_space(input), "\n")) {
    std::string line = text::trim_space(l);
    if (line.empty() || line[0] == '#') continue;
    size_t c = line.find(':');
    if (c == std::string::npos) continue;
    out[text::trim_space(line.substr(0, c))] = parse_scalar(line.substr(c + 1));
  }
  if (out.empty()) return fail("no valid YAML key-value pairs found");
  return Value(std::move(out));
}

// XML: the root element's own character data, as {root: value}.
NodeResult<Value> parse_xml(const std::string& input) {
  std::string s = text::trim_space(input);
  size_t i = 0;
  auto err = [&](const std::string& why) { return fail("invalid XML: " + why); };
  auto skip_misc = [&]() {
    for (;;) {
      while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) i++;
      if (s.compare(i, 2, "<?") == 0) {
        size_t e = s.find("?>", i);
        if (e == std::string::npos) return false;
        i = e + 2;
      } else if (s.compare(i, 4, "<!--") == 0) {
        size_t e = s.find("-->", i);
        if (e == std::string::npos) return false;
        i = e + 3;
      } else if (s.compare(i, 9, "<!DOCTYPE") == 0) {
        size_t e = s.find('>', i);
        if (e == std::string::npos) return false;
        i = e + 1;
      } else {
        return true;
      }
    }
  };
  auto decode_entities = [](const std::string& t) {
    std::string out;
    for (size_t k = 0; k < t.size(); k++) {
      if (t[k] != '&') {
        out += t[k];
        continue;
      }
      size_t e = t.find(';', k);
      if (e == std::string::npos) {
        out += t[k];
        continue;
      }
      std::string ent = t.substr(k + 1, e - k - 1);
      if (ent == "lt")
        out += '<';
      else if (ent == "gt")
        out += '>';
      else if (ent == "amp")
        out += '&';
      else if (ent == "quot")
        out += '"';
      else if (ent == "apos")
        out += '\'';
      else if (!ent.empty() && ent[0] == '#') {
        long cp = ent.size() > 1 && (ent[1] == 'x' || ent[1] == 'X')
                      ? std::strtol(ent.c_str() + 2, nullptr, 16)
                      : std::strtol(ent.c_str() + 1, nullptr, 10);
        if (cp > 0 && cp < 128) out += static_cast<char>(cp);
      } else {
        out += t.substr(k, e - k + 1);
      }
      k = e;
    }
    return out;
  };
  if (!skip_misc()) return err("unterminated markup");
  if (i >= s.size() || s[i] != '<') return err("expected an element");
  auto read_tag = [&](std::string& name, bool& closing, bool& empty) -> bool {
    // at '<'
    size_t e = i + 1;
    closing = e < s.size() && s[e] == '/';
    if (closing) e++;
    size_t b = e;
    while (e < s.size() && !std::isspace(static_cast<unsigned char>(s[e])) && s[e] != '>' &&
           s[e] != '/')
      e++;
    name = s.substr(b, e - b);
    char quote = 0;
    while (e < s.size() && (quote || s[e] != '>')) {
      if (quote && s[e] == quote)
        quote = 0;
      else if (!quote && (s[e] == '"' || s[e] == '\''))
        quote = s[e];
      e++;
    }
    if (e >= s.size() || name.empty()) return false;
    empty = s[e - 1] == '/';
    i = e + 1;
    return true;
  };
  std::string root;
  bool closing, empty;
  if (!read_tag(root, closing, empty) || closing) return err("expected a start element");
  std::string chardata;
  std::vector<std::string> stack{root};
  if (empty) stack.clear();
  while (!stack.empty()) {
    if (i >= s.size()) return err("unexpected EOF");
    if (s.compare(i, 9, "<![CDATA[") == 0) {
      size_t e = s.find("]]>", i);
      if (e == std::string::npos) return err("unterminated CDATA");
      if (stack.size() == 1) chardata += s.substr(i + 9, e - i - 9);
      i = e + 3;
    } else if (s.compare(i, 4, "<!--") == 0) {
      size_t e = s.find("-->", i);
      if (e == std::string::npos) return err("unterminated comment");
      i = e + 3;
    } else if (s[i] == '<') {
      std::string name;
      if (!read_tag(name, closing, empty)) return err("malformed tag");
      if (closing) {
        if (name != stack.back())
          return err("element <" + stack.back() + "> closed by </" + name + ">");
        stack.pop_back();
      } else if (!empty) {
        stack.push_back(name);
      }
    } else {
      size_t e = s.find('<', i);
      if (e == std::string::npos) e = s.size();
      if (stack.size() == 1) chardata += decode_entities(s.substr(i, e - i));
      i = e;
    }
  }
  if (!skip_misc() || i != s.size()) return err("data after the root element");
  Object o;
  o[root] = parse_scalar(chardata);
  return Value(std::move(o));
}

std::string csv_value(const Value& v) {
  if (v.is_string()) return std::string(v.get_string());
  if (v.is_double()) {
    double d = v.get_double();
    if (std::isfinite(d) && d == std::trunc(d) && std::fabs(d) < 9.2e18)
      return std::to_string(static_cast<int64_t>(d));
    return go_float(d);
  }
  if (v.is_int64() || v.is_uint64()) return go_sprint(v);
  if (v.is_bool()) return v.get_bool() ? "true" : "false";
  if (v.is_null()) return "";
  return to_json(v);
}

void csv_field(std::string& out, const std::string& f, char delim) {
  bool quote = false;
  if (!f.empty()) {
    quote = f == "\\." || f.find(delim) != std::string::npos ||
            f.find_first_of("\"\r\n") != std::string::npos || f[0] == ' ' || f[0] == '\t';
  }
  if (!quote) {
    out += f;
    return;
  }
  out += '"';
  for (char ch : f) {
    if (ch == '"') out += '"';
    out += ch;
  }
  out += '"';
}

NodeResult<Value> format_csv(const Value& in, char delim, bool headers_row) {
  std::vector<const Object*> recs;
  if (in.is_array()) {
    for (auto& e : in.get_array()) {
      if (!e.is_object())
        return fail("CSV formatting requires array of objects, got array element of type " +
                    go_type(e));
      recs.push_back(&e.get_object());
    }
  } else if (in.is_object()) {
    recs.push_back(&in.get_object());
  } else {
    return fail("CSV formatting requires array of objects or single object, got " + go_type(in));
  }
  if (recs.empty()) return Value(boost::json::string());
  std::set<std::string> keys;
  for (auto* r : recs)
    for (auto& kv : *r) keys.insert(std::string(kv.key()));
  std::string out;
  auto row = [&](const std::vector<std::string>& fields) {
    for (size_t i = 0; i < fields.size(); i++) {
      if (i) out += delim;
      csv_field(out, fields[i], delim);
    }
    out += '\n';
  };
  std::vector<std::string> hs(keys.begin(), keys.end());
  if (headers_row) row(hs);
  for (auto* r : recs) {
    std::vector<std::string> fields;
    for (auto& h : hs) {
      auto it = r->find(h);
      fields.push_back(it == r->end() ? "" : csv_value(it->value()));
    }
    row(fields);
  }
  return Value(boost::json::string(out));
}

}  // namespace

NodeResult<Value> exec_parse(Call& c) {
  if (c.inputs.empty()) return fail("parse node requires input");
  std::string in = to_text(*c.in0());
  std::string type = upper_ascii(c.str("input_type", "AUTO"));
  if (type == "AUTO") type = detect(in);
  if (type == "JSON") return parse_json_text(in);
  if (type == "CSV") return parse_csv(in, ',');
  if (type == "TSV") return parse_csv(in, '\t');
  if (type == "YAML") return parse_yaml(in);
  if (type == "XML") return parse_xml(in);
  return fail("unsupported input type: " + type + " (supported: AUTO, JSON, CSV, TSV, YAML, XML)");
}

NodeResult<Value> exec_format(Call& c) {
  if (c.inputs.empty()) return fail("format node requires input");
  const Value& in = *c.in0();
  std::string type = upper_ascii(c.str("output_type", "JSON"));
  if (type == "JSON")
    return Value(
        boost::json::string(c.flag("pretty_print", false) ? to_json_pretty(in) : to_json(in)));
  bool headers = c.flag("include_headers", true);
  if (type == "CSV") {
    std::string d = c.str("delimiter", ",");
    return format_csv(in, d.empty() ? ',' : d[0], headers);
  }
  if (type == "TSV") return format_csv(in, '\t', headers);
  return fail("unsupported output type: " + type + " (supported: JSON, CSV, TSV)");
}

}  // namespace flow
