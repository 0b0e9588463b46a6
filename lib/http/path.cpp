#include "http/path.h"

namespace http {

namespace {

int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool unreserved(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

// pchar minus '%' and ';' (handled apart): unreserved, sub-delims but ';', ':', '@', and '/'.
bool plain_path_char(unsigned char c) {
  if (unreserved(c)) return true;
  switch (c) {
    case '!':
    case '$':
    case '&':
    case '\'':
    case '(':
    case ')':
    case '*':
    case '+':
    case ',':
    case '=':
    case ':':
    case '@':
    case '/':
      return true;
    default:
      return false;
  }
}

// Length of the well-formed UTF-8 sequence at p[0..n) (RFC 3629 table), 0 when ill-formed.
size_t utf8_len(const unsigned char* p, size_t n) {
  unsigned char c = p[0];
  auto cont = [&](size_t i, unsigned char lo = 0x80, unsigned char hi = 0xBF) {
    return i < n && p[i] >= lo && p[i] <= hi;
  };
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) return cont(1) ? 2 : 0;
  if (c == 0xE0) return cont(1, 0xA0) && cont(2) ? 3 : 0;
  if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF) return cont(1) && cont(2) ? 3 : 0;
  if (c == 0xED) return cont(1, 0x80, 0x9F) && cont(2) ? 3 : 0;  // no surrogates
  if (c == 0xF0) return cont(1, 0x90) && cont(2) && cont(3) ? 4 : 0;
  if (c >= 0xF1 && c <= 0xF3) return cont(1) && cont(2) && cont(3) ? 4 : 0;
  if (c == 0xF4) return cont(1, 0x80, 0x8F) && cont(2) && cont(3) ? 4 : 0;
  return 0;  // C0, C1 (overlong), F5..FF, a lone continuation byte
}

void push_escaped(std::string& out, unsigned char v) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  out.push_back('%');
  out.push_back(kHex[v >> 4]);
  out.push_back(kHex[v & 15]);
}

// Decodes the path part into `dec`, keeping the escapes that are not unreserved.
PathError decode(std::string_view p, std::string& dec) {
  unsigned char run[64];  // escaped bytes >= 0x80 in a row, checked as UTF-8 when the run ends
  size_t nrun = 0;
  auto flush = [&]() -> bool {
    for (size_t i = 0; i < nrun;) {
      size_t l = utf8_len(run + i, nrun - i);
      if (l == 0) return false;
      i += l;
    }
    nrun = 0;
    return true;
  };
  for (size_t i = 0; i < p.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(p[i]);
    if (c != '%') {
      if (c >= 0x80) {  // raw UTF-8 from a lax client: checked, then sent escaped
        if (nrun == sizeof run) return PathError::bad_utf8;
        run[nrun++] = c;
        push_escaped(dec, c);
        continue;
      }
      if (nrun && !flush()) return PathError::bad_utf8;
      if (c == '\\') return PathError::backslash;
      if (c == ';') return PathError::parameter;
      if (c < 0x20 || c == 0x7f) return PathError::control;
      if (c == '#') return PathError::fragment;
      if (plain_path_char(c))
        dec.push_back(static_cast<char>(c));
      else  // '"', '<', '{', '|', ... (not in RFC 3986; sent raw by some clients): escaped
        push_escaped(dec, c);
      continue;
    }
    if (i + 2 >= p.size()) return PathError::bad_escape;
    int h = hexval(p[i + 1]), l = hexval(p[i + 2]);
    if (h < 0 || l < 0) return PathError::bad_escape;
    unsigned char v = static_cast<unsigned char>(h * 16 + l);
    i += 2;
    if (v >= 0x80) {
      if (nrun == sizeof run) return PathError::bad_utf8;
      run[nrun++] = v;
    } else if (nrun && !flush()) {
      return PathError::bad_utf8;
    }
    if (v == '/') return PathError::encoded_slash;
    if (v == '\\') return PathError::backslash;
    if (v < 0x20 || v == 0x7f) return PathError::control;
    if (unreserved(v))
      dec.push_back(static_cast<char>(v));
    else
      push_escaped(dec, v);
  }
  if (nrun && !flush()) return PathError::bad_utf8;
  return PathError::none;
}

// Removes dot-segments and merges empty segments; `d` starts with '/'.
void resolve(std::string_view d, std::string& out) {
  const size_t base = out.size();
  bool trailing = false;
  size_t pos = 1;
  while (pos <= d.size()) {
    size_t e = d.find('/', pos);
    if (e == std::string_view::npos) e = d.size();
    std::string_view seg = d.substr(pos, e - pos);
    // A path that ends in "/", "/." or "/.." names a directory: keep the final slash.
    trailing = e == d.size() && (seg.empty() || seg == "." || seg == "..");
    if (seg == "..") {
      size_t cut = out.rfind('/');
      if (cut != std::string::npos && cut >= base) out.resize(cut);
    } else if (!seg.empty() && seg != ".") {
      out.push_back('/');
      out.append(seg);
    }
    pos = e + 1;
  }
  if (out.size() == base || trailing) out.push_back('/');
}

}  // namespace

std::string_view to_string(PathError e) {
  switch (e) {
    case PathError::none:
      return "ok";
    case PathError::not_origin_form:
      return "the path does not start with /";
    case PathError::backslash:
      return "backslash in the path";
    case PathError::encoded_slash:
      return "encoded slash in the path";
    case PathError::parameter:
      return "';' parameter in the path";
    case PathError::control:
      return "control character in the path";
    case PathError::bad_escape:
      return "malformed percent-escape in the path";
    case PathError::bad_utf8:
      return "escaped bytes in the path are not UTF-8";
    case PathError::bad_char:
      return "invalid character in the path";
    case PathError::fragment:
      return "fragment in the request target";
  }
  return "bad path";
}

PathError normalize_target(std::string_view target, std::string& out) {
  out.clear();
  if (target.empty() || target[0] != '/') return PathError::not_origin_form;
  size_t q = target.find('?');
  std::string_view path = target.substr(0, q);
  std::string_view query = q == std::string_view::npos ? std::string_view() : target.substr(q);
  if (query.find('#') != std::string_view::npos) return PathError::fragment;
  for (char c : query) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x20 || u >= 0x7f) return u >= 0x80 ? PathError::bad_char : PathError::control;
  }
  // Most paths are already normal: plain characters, no escapes, no "//" or dot-segments.
  bool plain = true;
  for (size_t i = 0; i < path.size() && plain; ++i) {
    unsigned char c = static_cast<unsigned char>(path[i]);
    plain = plain_path_char(c) &&
            !(c == '/' && i + 1 < path.size() && (path[i + 1] == '/' || path[i + 1] == '.'));
  }
  if (plain) {
    out.assign(target);
    return PathError::none;
  }
  std::string dec;
  dec.reserve(path.size());
  if (PathError e = decode(path, dec); e != PathError::none) return e;
  out.reserve(dec.size() + query.size());
  resolve(dec, out);
  out.append(query);
  return PathError::none;
}

std::string normalize_path(std::string_view path) {
  std::string out;
  if (path.find('?') != std::string_view::npos) return {};
  if (normalize_target(path, out) != PathError::none) return {};
  return out;
}

}  // namespace http
