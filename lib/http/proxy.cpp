#include "http/proxy.h"

#include <charconv>

namespace http {

namespace {

void append_num(std::string& out, int64_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, static_cast<size_t>(r.ptr - buf));
}

void append_header(std::string& out, std::string_view name, std::string_view value) {
  out.append(name);
  out.append(": ", 2);
  out.append(value);
  out.append("\r\n", 2);
}

}  // namespace

void write_request_head(const Head& req, const ForwardOptions& o, std::string& out) {
  out.append(req.method_text);
  out.push_back(' ');
  if (req.path.empty() || req.path[0] == '?') out.push_back('/');
  out.append(req.path);
  out.append(" HTTP/1.1\r\n", 11);
  append_header(out, "Host", o.host);
  size_t xff_at = std::string::npos;  // where a trusted peer's X-Forwarded-For was copied
  bool have_proto = false, have_fhost = false;
  for (const Header& f : req.headers) {
    switch (f.id) {
      case Hdr::host:
      case Hdr::expect:
      case Hdr::x_real_ip:
        continue;
      case Hdr::x_forwarded_for:
        if (!o.trusted_peer) continue;
        if (xff_at == std::string::npos) {
          out.append("X-Forwarded-For: ");
          out.append(f.value);
          xff_at = out.size();
          out.append("\r\n", 2);
        } else {  // several headers form one list
          out.insert(xff_at, std::string(", ").append(f.value));
          xff_at += 2 + f.value.size();
        }
        continue;
      case Hdr::x_forwarded_proto:
        if (!o.trusted_peer) continue;
        have_proto = true;
        break;
      case Hdr::x_forwarded_host:
        if (!o.trusted_peer) continue;
        have_fhost = true;
        break;
      case Hdr::forwarded:
        if (!o.trusted_peer) continue;
        break;
      default:
        if (req.is_hop_by_hop(f)) continue;
        break;
    }
    append_header(out, f.name, f.value);
  }
  if (xff_at == std::string::npos) {
    append_header(out, "X-Forwarded-For", o.client_ip);
  } else {
    std::string add = ", ";
    add.append(o.client_ip);
    out.insert(xff_at, add);
  }
  if (!have_proto) append_header(out, "X-Forwarded-Proto", o.tls ? "https" : "http");
  if (!have_fhost && !req.host.empty()) append_header(out, "X-Forwarded-Host", req.host);
  append_header(out, "X-Real-IP", o.real_ip.empty() ? o.client_ip : o.real_ip);
  if (req.chunked) out.append("Transfer-Encoding: chunked\r\n");
  if (o.upgrade) {
    out.append("Connection: upgrade\r\n");
    append_header(out, "Upgrade", req.upgrade_value);
  }
  out.append(o.extra);
  out.append("\r\n", 2);
}

Body request_body(const Head& req) {
  if (req.chunked) return Body::chunked;
  if (req.content_length > 0) return Body::length;
  return Body::none;
}

Body response_body(const Head& resp, Method request_method) {
  if (request_method == Method::head) return Body::none;
  if (resp.status < 200 || resp.status == 204 || resp.status == 304) return Body::none;
  if (request_method == Method::connect && resp.status < 300) return Body::none;
  if (resp.chunked) return Body::chunked;
  if (resp.content_length >= 0) return resp.content_length == 0 ? Body::none : Body::length;
  return Body::until_close;
}

void write_response_head(const Head& resp, const ResponseOptions& o, std::string& out) {
  out.append("HTTP/1.1 ", 9);
  append_num(out, resp.status);
  out.push_back(' ');
  out.append(resp.reason.empty() ? reason_phrase(resp.status) : resp.reason);
  out.append("\r\n", 2);
  for (const Header& f : resp.headers) {
    if (resp.is_hop_by_hop(f)) continue;
    append_header(out, f.name, f.value);
  }
  if (resp.chunked && !o.dechunk) out.append("Transfer-Encoding: chunked\r\n");
  if (resp.status == 101) {
    out.append("Connection: upgrade\r\n");
    if (!resp.upgrade_value.empty()) append_header(out, "Upgrade", resp.upgrade_value);
  } else if (!o.keep_alive) {
    out.append("Connection: close\r\n");
  } else if (o.client_minor == 0) {
    out.append("Connection: keep-alive\r\n");
  }
  out.append(o.extra);
  out.append("\r\n", 2);
}

void html_escape(std::string_view s, std::string& out) {
  for (char c : s) {
    switch (c) {
      case '&':
        out.append("&amp;");
        break;
      case '<':
        out.append("&lt;");
        break;
      case '>':
        out.append("&gt;");
        break;
      case '"':
        out.append("&quot;");
        break;
      default:
        out.push_back(c);
    }
  }
}

void json_escape(std::string_view s, std::string& out) {
  static const char* hex = "0123456789abcdef";
  for (char c : s) {
    unsigned char u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (u < 0x20 || u == 0x7f) {
      out.append("\\u00");
      out.push_back(hex[u >> 4]);
      out.push_back(hex[u & 15]);
    } else {
      out.push_back(c);
    }
  }
}

static void write_page(int status, std::string_view title_extra, std::string_view body_html,
                       bool keep_alive, std::string& out, std::string_view extra, bool head_only) {
  std::string page;
  page.reserve(256 + body_html.size());
  page.append("<!doctype html>\n<html><head><title>");
  append_num(page, status);
  page.push_back(' ');
  page.append(reason_phrase(status));
  page.append("</title></head>\n<body><h1>");
  append_num(page, status);
  page.push_back(' ');
  page.append(reason_phrase(status));
  page.append("</h1>\n");
  page.append(body_html);
  page.append("<hr><p>edged</p></body></html>\n");
  (void)title_extra;
  out.append("HTTP/1.1 ");
  append_num(out, status);
  out.push_back(' ');
  out.append(reason_phrase(status));
  out.append("\r\nContent-Type: text/html; charset=utf-8\r\nCache-Control: no-store\r\n");
  out.append("Content-Length: ");
  append_num(out, static_cast<int64_t>(page.size()));
  out.append("\r\n");
  if (!keep_alive) out.append("Connection: close\r\n");
  out.append(extra);
  out.append("\r\n");
  if (!head_only) out.append(page);
}

void write_error(int status, std::string_view detail, bool keep_alive, std::string& out,
                 std::string_view extra, bool head_only) {
  std::string body;
  if (!detail.empty()) {
    body.append("<p>");
    html_escape(detail, body);
    body.append("</p>\n");
  }
  write_page(status, {}, body, keep_alive, out, extra, head_only);
}

void write_redirect(std::string_view location, bool keep_alive, std::string& out, bool head_only,
                    int status, std::string_view more) {
  std::string body = "<p>Moved to <a href=\"";
  html_escape(location, body);
  body.append("\">");
  html_escape(location, body);
  body.append("</a>.</p>\n");
  std::string extra = "Location: ";
  extra.append(location);
  extra.append("\r\n");
  extra.append(more);
  write_page(status, {}, body, keep_alive, out, extra, head_only);
}

void write_response(int status, std::string_view content_type, std::string_view body,
                    bool keep_alive, std::string& out, std::string_view extra, bool head_only) {
  out.append("HTTP/1.1 ");
  append_num(out, status);
  out.push_back(' ');
  out.append(reason_phrase(status));
  out.append("\r\nContent-Type: ");
  out.append(content_type);
  out.append("\r\nContent-Length: ");
  append_num(out, static_cast<int64_t>(body.size()));
  out.append("\r\n");
  if (!keep_alive) out.append("Connection: close\r\n");
  out.append(extra);
  out.append("\r\n");
  if (!head_only) out.append(body);
}

std::string_view cookie_value(std::string_view h, std::string_view name) {
  while (!h.empty()) {
    size_t semi = h.find(';');
    std::string_view item = h.substr(0, semi);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    if (item.size() > name.size() && item.substr(0, name.size()) == name &&
        item[name.size()] == '=')
      return item.substr(name.size() + 1);
    if (semi == std::string_view::npos) break;
    h.remove_prefix(semi + 1);
  }
  return {};
}

}  // namespace http
