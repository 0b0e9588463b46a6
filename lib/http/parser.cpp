#include "http/parser.h"

#include <algorithm>
#include <cctype>
#include <cstring>

namespace http {

namespace {

// tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_" / "`" / "|" /
//         "~" / DIGIT / ALPHA
struct Tables {
  bool tchar[256] = {};
  bool field[256] = {};  // allowed in a field value: HTAB, SP, VCHAR, obs-text
  signed char hex[256];
  Tables() {
    for (int c = '0'; c <= '9'; ++c) tchar[c] = true;
    for (int c = 'a'; c <= 'z'; ++c) tchar[c] = true;
    for (int c = 'A'; c <= 'Z'; ++c) tchar[c] = true;
    for (const char* p = "!#$%&'*+-.^_`|~"; *p; ++p) tchar[static_cast<unsigned char>(*p)] = true;
    for (int c = 0; c < 256; ++c) field[c] = c == '\t' || (c >= 0x20 && c != 0x7f);
    std::memset(hex, -1, sizeof hex);
    for (int c = '0'; c <= '9'; ++c) hex[c] = static_cast<signed char>(c - '0');
    for (int c = 'a'; c <= 'f'; ++c) hex[c] = static_cast<signed char>(c - 'a' + 10);
    for (int c = 'A'; c <= 'F'; ++c) hex[c] = static_cast<signed char>(c - 'A' + 10);
  }
};
const Tables kT;

inline unsigned char uc(char c) {
  return static_cast<unsigned char>(c);
}
inline char lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
}
inline bool ows(char c) {
  return c == ' ' || c == '\t';
}

std::string_view trim_ows(std::string_view s) {
  while (!s.empty() && ows(s.front())) s.remove_prefix(1);
  while (!s.empty() && ows(s.back())) s.remove_suffix(1);
  return s;
}

Hdr classify(std::string_view n) {
  switch (n.size()) {
    case 2:
      if (iequals(n, "te")) return Hdr::te;
      break;
    case 4:
      if (iequals(n, "host")) return Hdr::host;
      break;
    case 6:
      if (iequals(n, "cookie")) return Hdr::cookie;
      if (iequals(n, "expect")) return Hdr::expect;
      break;
    case 7:
      if (iequals(n, "upgrade")) return Hdr::upgrade;
      if (iequals(n, "trailer")) return Hdr::trailer;
      break;
    case 9:
      if (iequals(n, "forwarded")) return Hdr::forwarded;
      if (iequals(n, "x-real-ip")) return Hdr::x_real_ip;
      break;
    case 10:
      if (iequals(n, "connection")) return Hdr::connection;
      if (iequals(n, "keep-alive")) return Hdr::keep_alive;
      if (iequals(n, "set-cookie")) return Hdr::set_cookie;
      break;
    case 14:
      if (iequals(n, "content-length")) return Hdr::content_length;
      break;
    case 15:
      if (iequals(n, "x-forwarded-for")) return Hdr::x_forwarded_for;
      break;
    case 16:
      if (iequals(n, "proxy-connection")) return Hdr::proxy_connection;
      if (iequals(n, "x-forwarded-host")) return Hdr::x_forwarded_host;
      break;
    case 17:
      if (iequals(n, "transfer-encoding")) return Hdr::transfer_encoding;
      if (iequals(n, "x-forwarded-proto")) return Hdr::x_forwarded_proto;
      break;
    case 18:
      if (iequals(n, "proxy-authenticate")) return Hdr::proxy_authenticate;
      break;
    case 19:
      if (iequals(n, "proxy-authorization")) return Hdr::proxy_authorization;
      break;
  }
  return Hdr::other;
}

Method classify_method(std::string_view m) {
  switch (m.size()) {
    case 3:
      if (m == "GET") return Method::get;
      if (m == "PUT") return Method::put;
      break;
    case 4:
      if (m == "HEAD") return Method::head;
      if (m == "POST") return Method::post;
      break;
    case 5:
      if (m == "PATCH") return Method::patch;
      if (m == "TRACE") return Method::trace;
      break;
    case 6:
      if (m == "DELETE") return Method::del;
      break;
    case 7:
      if (m == "OPTIONS") return Method::options;
      if (m == "CONNECT") return Method::connect;
      break;
  }
  return Method::other;
}

// "HTTP/1.1" -> minor; errors for other versions or junk.
Error parse_version(std::string_view v, int& minor) {
  if (v.size() != 8 || v.substr(0, 5) != "HTTP/" || v[6] != '.') return Error::bad_version;
  if (v[5] < '0' || v[5] > '9' || v[7] < '0' || v[7] > '9') return Error::bad_version;
  if (v[5] != '1') return Error::version_not_supported;
  minor = v[7] == '0' ? 0 : 1;
  return Error::none;
}

bool valid_host(std::string_view h) {
  if (h.empty() || h.size() > 255) return false;
  for (char c : h) {
    unsigned char u = uc(c);
    if (!(std::isalnum(u) || c == '-' || c == '.' || c == '_' || c == ':' || c == '[' || c == ']'))
      return false;
  }
  return true;
}

// "Host:port" parts; the port is empty when absent.
void split_authority(std::string_view a, std::string_view& host, std::string_view& port) {
  size_t colon = a.rfind(':');
  size_t close = a.rfind(']');
  if (colon != std::string_view::npos && (close == std::string_view::npos || colon > close)) {
    host = a.substr(0, colon);
    port = a.substr(colon + 1);
  } else {
    host = a;
    port = {};
  }
}

// Whether two authorities name the same host and port (a missing port matches 80 or 443).
bool same_authority(std::string_view a, std::string_view b) {
  std::string_view ha, pa, hb, pb;
  split_authority(a, ha, pa);
  split_authority(b, hb, pb);
  if (!iequals(ha, hb)) return false;
  if (pa == pb) return true;
  auto dflt = [](std::string_view p) { return p == "80" || p == "443"; };
  return pa.empty() ? dflt(pb) : pb.empty() && dflt(pa);
}

Error parse_request_line(std::string_view line, const Limits& lim, Head& h) {
  size_t sp1 = line.find(' ');
  if (sp1 == std::string_view::npos || sp1 == 0) return Error::bad_request_line;
  h.method_text = line.substr(0, sp1);
  for (char c : h.method_text)
    if (!kT.tchar[uc(c)]) return Error::bad_method;
  size_t sp2 = line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || sp2 == sp1 + 1) return Error::bad_request_line;
  h.target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  if (h.target.size() > lim.max_uri) return Error::uri_too_long;
  for (char c : h.target) {
    unsigned char u = uc(c);
    if (u <= 0x20 || u == 0x7f) return Error::bad_target;
  }
  Error e = parse_version(line.substr(sp2 + 1), h.version_minor);
  if (e != Error::none) return e;
  h.method = classify_method(h.method_text);
  if (h.method == Method::other && method_case_variant(h.method_text)) return Error::bad_method;
  std::string_view t = h.target;
  if (t[0] == '/') {
    h.path = t;
  } else if (t == "*") {
    if (h.method != Method::options) return Error::bad_target;
    h.path = t;
  } else if (h.method == Method::connect) {
    h.abs_host = t;  // authority-form
  } else {
    size_t scheme_len = 0;
    if (t.size() > 7 && iequals(t.substr(0, 7), "http://"))
      scheme_len = 7;
    else if (t.size() > 8 && iequals(t.substr(0, 8), "https://"))
      scheme_len = 8;
    else
      return Error::bad_target;
    std::string_view rest = t.substr(scheme_len);
    size_t end = rest.find_first_of("/?#");
    if (end == std::string_view::npos) end = rest.size();
    h.abs_host = rest.substr(0, end);
    if (h.abs_host.empty() || h.abs_host.find('@') != std::string_view::npos)
      return Error::bad_target;
    h.path = rest.substr(end);
    if (!h.path.empty() && h.path[0] == '#') return Error::bad_target;
  }
  return Error::none;
}

Error parse_status_line(std::string_view line, Head& h) {
  if (line.size() < 12 || line[8] != ' ') return Error::bad_status_line;
  Error e = parse_version(line.substr(0, 8), h.version_minor);
  if (e != Error::none) return e == Error::version_not_supported ? e : Error::bad_status_line;
  int s = 0;
  for (int i = 9; i < 12; ++i) {
    if (line[i] < '0' || line[i] > '9') return Error::bad_status_line;
    s = s * 10 + (line[i] - '0');
  }
  if (s < 100 || s > 599) return Error::bad_status_line;
  h.status = s;
  if (line.size() > 12) {
    if (line[12] != ' ') return Error::bad_status_line;
    h.reason = line.substr(13);
    for (char c : h.reason)
      if (!kT.field[uc(c)]) return c == '\r' ? Error::bare_cr : Error::bad_status_line;
  }
  return Error::none;
}

// Parses the header lines of head [begin, end) (end excludes the final empty line's CRLF).
Error parse_fields(std::string_view block, const Limits& lim, Head& h) {
  size_t pos = 0;
  while (pos < block.size()) {
    size_t eol = block.find("\r\n", pos);
    if (eol == std::string_view::npos) eol = block.size();  // cannot happen: scan checked CRLFs
    std::string_view line = block.substr(pos, eol - pos);
    pos = eol + 2;
    if (line.empty()) break;
    if (ows(line[0])) return Error::obs_fold;
    size_t i = 0;
    while (i < line.size() && kT.tchar[uc(line[i])]) ++i;
    if (i == 0 || i >= line.size() || line[i] != ':') return Error::bad_header_name;
    if (h.headers.size() >= lim.max_headers) return Error::too_many_headers;
    std::string_view value = line.substr(i + 1);
    for (char c : value)
      if (!kT.field[uc(c)]) return c == '\r' ? Error::bare_cr : Error::bad_header_value;
    Header f;
    f.name = line.substr(0, i);
    f.value = trim_ows(value);
    f.id = classify(f.name);
    h.headers.push_back(f);
  }
  return Error::none;
}

// Content-Length, Transfer-Encoding, Connection, Host, Upgrade, Expect.
Error interpret(Head& h, bool request) {
  int hosts = 0;
  std::string_view host_header;
  bool have_cl = false, have_te = false, ka_token = false, upgrade_token = false;
  int chunked_count = 0;
  bool other_coding = false;
  for (const Header& f : h.headers) {
    switch (f.id) {
      case Hdr::host:
        ++hosts;
        if (hosts == 1) host_header = f.value;
        if (hosts == 1 && h.abs_host.empty()) h.host = f.value;
        break;
      case Hdr::content_length: {
        if (have_cl) return Error::duplicate_content_length;
        have_cl = true;
        if (f.value.empty() || f.value.size() > 18) return Error::bad_content_length;
        int64_t v = 0;
        for (char c : f.value) {
          if (c < '0' || c > '9') return Error::bad_content_length;
          v = v * 10 + (c - '0');
        }
        h.content_length = v;
        break;
      }
      case Hdr::transfer_encoding: {
        have_te = true;
        std::string_view v = f.value;
        while (!v.empty()) {
          size_t comma = v.find(',');
          std::string_view item = trim_ows(v.substr(0, comma));
          v = comma == std::string_view::npos ? std::string_view() : v.substr(comma + 1);
          if (item.empty()) continue;
          if (iequals(item, "chunked"))
            ++chunked_count;
          else
            other_coding = true;
        }
        break;
      }
      case Hdr::connection: {
        std::string_view v = f.value;
        while (!v.empty()) {
          size_t comma = v.find(',');
          std::string_view item = trim_ows(v.substr(0, comma));
          v = comma == std::string_view::npos ? std::string_view() : v.substr(comma + 1);
          if (item.empty()) continue;
          if (iequals(item, "close"))
            h.conn_close = true;
          else if (iequals(item, "keep-alive"))
            ka_token = true;
          else if (iequals(item, "upgrade"))
            upgrade_token = true;
          else {
            for (char c : item)
              if (!kT.tchar[uc(c)]) return Error::bad_header_value;
            if (h.connection_tokens.size() >= 16) return Error::bad_header_value;
            h.connection_tokens.push_back(item);
          }
        }
        break;
      }
      case Hdr::upgrade:
        h.upgrade_value = f.value;
        break;
      case Hdr::expect:
        if (request) {
          if (!iequals(f.value, "100-continue")) return Error::bad_expect;
          h.expect_continue = true;
        }
        break;
      default:
        break;
    }
  }
  if (have_te) {
    if (have_cl) return Error::content_length_and_chunked;
    if (request && h.version_minor == 0) return Error::transfer_encoding_http10;
    if (chunked_count != 1 || other_coding) return Error::unsupported_transfer_encoding;
    h.chunked = true;
  }
  if (request) {
    if (hosts > 1) return Error::duplicate_host;
    if (hosts == 0 && h.version_minor == 1 && h.abs_host.empty()) return Error::missing_host;
    if (!h.abs_host.empty()) {
      // An absolute-form target and a Host header that name different hosts: refused, so no
      // hop can route by one and another by the other.
      if (hosts == 1 && !same_authority(h.abs_host, host_header)) return Error::host_mismatch;
      h.host = h.abs_host;
    }
    if (!h.host.empty() && !valid_host(h.host)) return Error::bad_host;
  }
  h.keep_alive = h.version_minor >= 1 ? !h.conn_close : (ka_token && !h.conn_close);
  h.upgrade = upgrade_token && !h.upgrade_value.empty();
  return Error::none;
}

}  // namespace

std::string_view to_string(Error e) {
  switch (e) {
    case Error::none:
      return "no error";
    case Error::bad_request_line:
      return "malformed request line";
    case Error::bad_method:
      return "invalid method";
    case Error::bad_target:
      return "invalid request target";
    case Error::uri_too_long:
      return "request target too long";
    case Error::bad_version:
      return "malformed HTTP version";
    case Error::version_not_supported:
      return "HTTP version not supported";
    case Error::bad_status_line:
      return "malformed status line";
    case Error::bad_header_name:
      return "invalid header name";
    case Error::bad_header_value:
      return "invalid header value";
    case Error::obs_fold:
      return "obsolete line folding";
    case Error::bare_cr:
      return "bare CR";
    case Error::bare_lf:
      return "bare LF (lines must end with CRLF)";
    case Error::head_too_large:
      return "header section too large";
    case Error::too_many_headers:
      return "too many header fields";
    case Error::bad_content_length:
      return "invalid Content-Length";
    case Error::duplicate_content_length:
      return "duplicate Content-Length";
    case Error::content_length_and_chunked:
      return "both Content-Length and Transfer-Encoding";
    case Error::unsupported_transfer_encoding:
      return "unsupported Transfer-Encoding";
    case Error::transfer_encoding_http10:
      return "Transfer-Encoding in an HTTP/1.0 request";
    case Error::missing_host:
      return "missing Host header";
    case Error::duplicate_host:
      return "duplicate Host header";
    case Error::host_mismatch:
      return "the request target and the Host header name different hosts";
    case Error::bad_host:
      return "invalid Host header";
    case Error::bad_expect:
      return "unsupported expectation";
    case Error::bad_chunk_size:
      return "bad chunk size";
    case Error::bad_chunk:
      return "malformed chunk";
    case Error::bad_chunk_ext:
      return "malformed chunk extension";
    case Error::chunk_ext_too_long:
      return "chunk extension too long";
    case Error::trailers_too_large:
      return "trailer section too large";
  }
  return "unknown error";
}

int status_for(Error e) {
  switch (e) {
    case Error::uri_too_long:
      return 414;
    case Error::head_too_large:
    case Error::too_many_headers:
      return 431;
    case Error::unsupported_transfer_encoding:
      return 501;
    case Error::version_not_supported:
      return 505;
    case Error::bad_expect:
      return 417;
    default:
      return 400;
  }
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (lower(a[i]) != lower(b[i])) return false;
  return true;
}

bool has_token(std::string_view list, std::string_view token) {
  while (!list.empty()) {
    size_t comma = list.find(',');
    if (iequals(trim_ows(list.substr(0, comma)), token)) return true;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return false;
}

bool method_case_variant(std::string_view m) {
  static constexpr std::string_view kStd[] = {"GET",     "HEAD",    "POST",  "PUT",  "DELETE",
                                              "CONNECT", "OPTIONS", "TRACE", "PATCH"};
  for (auto k : kStd)
    if (m != k && iequals(m, k)) return true;
  return false;
}

bool idempotent(Method m) {
  switch (m) {
    case Method::get:
    case Method::head:
    case Method::put:
    case Method::del:
    case Method::options:
    case Method::trace:
      return true;
    default:
      return false;
  }
}

void Head::clear() {
  method_text = target = path = abs_host = reason = host = upgrade_value = {};
  method = Method::other;
  status = 0;
  version_minor = 1;
  headers.clear();
  content_length = -1;
  chunked = false;
  keep_alive = true;
  conn_close = false;
  upgrade = false;
  expect_continue = false;
  connection_tokens.clear();
  head_bytes = 0;
}

std::string_view Head::get(Hdr id) const {
  for (const Header& f : headers)
    if (f.id == id) return f.value;
  return {};
}

std::string_view Head::get(std::string_view name) const {
  for (const Header& f : headers)
    if (iequals(f.name, name)) return f.value;
  return {};
}

bool Head::is_hop_by_hop(const Header& f) const {
  switch (f.id) {
    case Hdr::connection:
    case Hdr::keep_alive:
    case Hdr::proxy_connection:
    case Hdr::te:
    case Hdr::trailer:
    case Hdr::transfer_encoding:
    case Hdr::upgrade:
    case Hdr::proxy_authorization:
    case Hdr::proxy_authenticate:
      return true;
    // Framing and routing headers are never dropped because Connection names them.
    case Hdr::host:
    case Hdr::content_length:
      return false;
    default:
      break;
  }
  for (std::string_view t : connection_tokens)
    if (iequals(t, f.name)) return true;
  return false;
}

Parse HeadParser::scan(std::string_view buf, bool request, size_t& skip) {
  Parse r;
  skip = 0;
  // RFC 9112 2.2: ignore a few empty lines before a request line.
  if (request)
    while (skip + 1 < buf.size() && skip < 8 && buf[skip] == '\r' && buf[skip + 1] == '\n')
      skip += 2;
  const char* p = buf.data();
  size_t n = buf.size();
  size_t i = std::max(scanned_, skip);
  // Errors are reported at the first byte that proves them, so the verdict never depends on
  // how the bytes were split into reads.
  auto fail = [&](Error e) {
    r.state = Parse::bad;
    r.error = e;
    return r;
  };
  while (i < n) {
    const void* lf = std::memchr(p + i, '\n', n - i);
    if (!lf) {
      i = n;
      break;
    }
    size_t k = static_cast<size_t>(static_cast<const char*>(lf) - p);
    if (!line1_seen_ && request && k - skip > lim_.max_uri + 64) return fail(Error::uri_too_long);
    if (k >= skip + lim_.max_head) return fail(Error::head_too_large);
    if (k == skip || p[k - 1] != '\r') return fail(Error::bare_lf);
    line1_seen_ = true;
    if (k >= skip + 3 && p[k - 2] == '\n') {
      r.state = Parse::done;
      r.consumed = k + 1;
      return r;
    }
    i = k + 1;
  }
  scanned_ = i;
  if (!line1_seen_ && request && n - skip > lim_.max_uri + 64) return fail(Error::uri_too_long);
  if (n > skip + lim_.max_head) return fail(Error::head_too_large);
  return r;
}

static Parse finish(Parse r, Error e) {
  if (e != Error::none) {
    r.state = Parse::bad;
    r.error = e;
  }
  return r;
}

Parse HeadParser::parse_request(std::string_view buf, Head& out) {
  size_t skip = 0;
  Parse r = scan(buf, true, skip);
  if (r.state != Parse::done) return r;
  out.clear();
  out.head_bytes = r.consumed - skip;
  std::string_view head = buf.substr(skip, r.consumed - skip);
  size_t eol = head.find("\r\n");
  Error e = parse_request_line(head.substr(0, eol), lim_, out);
  if (e == Error::none) e = parse_fields(head.substr(eol + 2), lim_, out);
  if (e == Error::none) e = interpret(out, true);
  return finish(r, e);
}

Parse HeadParser::parse_response(std::string_view buf, Head& out) {
  size_t skip = 0;
  Parse r = scan(buf, false, skip);
  if (r.state != Parse::done) return r;
  out.clear();
  out.head_bytes = r.consumed;
  std::string_view head = buf.substr(0, r.consumed);
  size_t eol = head.find("\r\n");
  Error e = parse_status_line(head.substr(0, eol), out);
  if (e == Error::none) e = parse_fields(head.substr(eol + 2), lim_, out);
  if (e == Error::none) e = interpret(out, false);
  return finish(r, e);
}

ChunkedScanner::Step ChunkedScanner::feed(std::string_view in, std::string* payload) {
  Step s;
  size_t i = 0;
  const size_t n = in.size();
  const bool in_trailers = st_ == St::trailer_start || st_ == St::trailer_line ||
                           st_ == St::trailer_lf || st_ == St::final_lf || st_ == St::done;
  size_t keep = in_trailers ? 0 : SIZE_MAX;  // where the trailer section starts in `in`
  auto fail = [&](Error e) {
    s.consumed = i;
    s.error = e;
    return s;
  };
  while (i < n) {
    char c = in[i];
    switch (st_) {
      case St::size: {
        int v = kT.hex[uc(c)];
        if (v >= 0) {
          if (digits_ >= 15) return fail(Error::bad_chunk_size);
          size_ = size_ * 16 + static_cast<uint64_t>(v);
          ++digits_;
          ++i;
        } else if (digits_ == 0) {
          return fail(Error::bad_chunk_size);
        } else if (c == ';') {
          st_ = St::ext_bws;
          ++i;
        } else if (ows(c)) {
          st_ = St::size_ws;
          ++i;
        } else if (c == '\r') {
          st_ = St::size_lf;
          ++i;
        } else {
          return fail(c == '\n' ? Error::bare_lf : Error::bad_chunk_size);
        }
        break;
      }
      case St::size_ws:
        if (++ext_len_ > kMaxChunkExt) return fail(Error::chunk_ext_too_long);
        if (c == ';')
          st_ = St::ext_bws;
        else if (!ows(c))
          return fail(Error::bad_chunk_size);
        ++i;
        break;
      // chunk-ext = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] )
      // chunk-ext-name = token; chunk-ext-val = token / quoted-string
      case St::ext_bws:
      case St::ext_name:
      case St::ext_after:
      case St::ext_val_bws:
      case St::ext_val_token:
      case St::ext_quoted:
      case St::ext_quoted_bs: {
        if (++ext_len_ > kMaxChunkExt) return fail(Error::chunk_ext_too_long);
        const bool tchar = kT.tchar[uc(c)];
        switch (st_) {
          case St::ext_bws:  // a name must follow
            if (tchar)
              st_ = St::ext_name;
            else if (!ows(c))
              return fail(c == '\n' ? Error::bare_lf : Error::bad_chunk_ext);
            break;
          case St::ext_name:
          case St::ext_val_token:
            if (tchar) break;
            ext_named_ = st_ == St::ext_name;
            st_ = St::ext_after;
            --ext_len_;
            continue;  // look at c again as what follows
          case St::ext_after:
            if (c == ';') {
              st_ = St::ext_bws;
            } else if (c == '=' && ext_named_) {
              st_ = St::ext_val_bws;
            } else if (c == '\r') {
              st_ = St::size_lf;
            } else if (!ows(c)) {
              return fail(c == '\n' ? Error::bare_lf : Error::bad_chunk_ext);
            }
            if (c == '=' || c == ';') ext_named_ = false;
            break;
          case St::ext_val_bws:
            if (c == '"')
              st_ = St::ext_quoted;
            else if (tchar)
              st_ = St::ext_val_token;
            else if (!ows(c))
              return fail(c == '\n' ? Error::bare_lf : Error::bad_chunk_ext);
            break;
          case St::ext_quoted:  // qdtext = HTAB / SP / %x21 / %x23-5B / %x5D-7E / obs-text
            if (c == '"') {
              ext_named_ = false;
              st_ = St::ext_after;
            } else if (c == '\\') {
              st_ = St::ext_quoted_bs;
            } else if (!kT.field[uc(c)]) {
              return fail(c == '\n' ? Error::bare_lf : Error::bad_chunk_ext);
            }
            break;
          case St::ext_quoted_bs:  // quoted-pair = "\" ( HTAB / SP / VCHAR / obs-text )
            if (!kT.field[uc(c)]) return fail(Error::bad_chunk_ext);
            st_ = St::ext_quoted;
            break;
          default:
            break;
        }
        ++i;
        break;
      }
      case St::size_lf:
        if (c != '\n') return fail(Error::bare_cr);
        ++i;
        digits_ = 0;
        ext_len_ = 0;
        st_ = size_ == 0 ? St::trailer_start : St::data;
        if (size_ == 0) keep = i;
        break;
      case St::data: {
        size_t take = static_cast<size_t>(std::min<uint64_t>(size_, n - i));
        if (payload) payload->append(in.data() + i, take);
        payload_ += take;
        size_ -= take;
        i += take;
        if (size_ == 0) st_ = St::data_cr;
        break;
      }
      case St::data_cr:
        if (c != '\r') return fail(c == '\n' ? Error::bare_lf : Error::bad_chunk);
        st_ = St::data_lf;
        ++i;
        break;
      case St::data_lf:
        if (c != '\n') return fail(Error::bare_cr);
        st_ = St::size;
        ++i;
        break;
      case St::trailer_start:
        if (c == '\r') {
          st_ = St::final_lf;
          ++i;
        } else if (c == '\n') {
          return fail(Error::bare_lf);
        } else if (ows(c)) {
          return fail(Error::obs_fold);
        } else if (!kT.tchar[uc(c)]) {
          return fail(Error::bad_header_name);
        } else {
          st_ = St::trailer_line;
          trailer_name_ = true;
        }
        break;
      case St::trailer_line:  // field-name ":" OWS field-value OWS
        if (++trailer_len_ > kMaxTrailers) return fail(Error::trailers_too_large);
        if (trailer_name_) {
          if (c == ':')
            trailer_name_ = false;
          else if (!kT.tchar[uc(c)])
            return fail(Error::bad_header_name);
        } else if (c == '\r') {
          st_ = St::trailer_lf;
        } else if (c == '\n') {
          return fail(Error::bare_lf);
        } else if (!kT.field[uc(c)]) {
          return fail(Error::bad_header_value);
        }
        ++i;
        break;
      case St::trailer_lf:
        if (c != '\n') return fail(Error::bare_cr);
        st_ = St::trailer_start;
        ++i;
        break;
      case St::final_lf:
        if (c != '\n') return fail(Error::bare_cr);
        st_ = St::done;
        ++i;
        s.consumed = i;
        s.keep = std::min(keep, i);
        s.done = true;
        return s;
      case St::done:
        s.consumed = i;
        s.keep = std::min(keep, i);
        s.done = true;
        return s;
    }
  }
  s.consumed = i;
  s.keep = std::min(keep, i);
  s.done = st_ == St::done;
  return s;
}

std::string_view reason_phrase(int status) {
  switch (status) {
    case 100:
      return "Continue";
    case 101:
      return "Switching Protocols";
    case 103:
      return "Early Hints";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 204:
      return "No Content";
    case 206:
      return "Partial Content";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 303:
      return "See Other";
    case 304:
      return "Not Modified";
    case 307:
      return "Temporary Redirect";
    case 308:
      return "Permanent Redirect";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 411:
      return "Length Required";
    case 413:
      return "Content Too Large";
    case 414:
      return "URI Too Long";
    case 417:
      return "Expectation Failed";
    case 421:
      return "Misdirected Request";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    case 505:
      return "HTTP Version Not Supported";
  }
  return "Unknown";
}

}  // namespace http
