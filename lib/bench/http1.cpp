#include "bench/http1.h"

#include <algorithm>
#include <cstring>

namespace bench {

namespace {

char lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (lower(a[i]) != b[i]) return false;
  return true;
}

bool is_tchar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::strchr("!#$%&'*+-.^_`|~", c) != nullptr && c != 0;
}

std::string_view trim_ows(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Calls fn(token) for each comma-separated token of a header value, lowercase-compared by fn.
template <class Fn>
void each_token(std::string_view v, Fn fn) {
  while (!v.empty()) {
    size_t c = v.find(',');
    fn(trim_ows(v.substr(0, c)));
    if (c == std::string_view::npos) break;
    v.remove_prefix(c + 1);
  }
}

int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  c = lower(c);
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

const char* find_crlfcrlf(const char* p, size_t n) {
  if (n < 4) return nullptr;
  const char* end = p + n;
  const char* s = p;
  while (s + 4 <= end) {
    const void* r = std::memchr(s, '\r', static_cast<size_t>(end - s - 3));
    if (!r) return nullptr;
    const char* q = static_cast<const char*>(r);
    if (q[1] == '\n' && q[2] == '\r' && q[3] == '\n') return q;
    s = q + 1;
  }
  return nullptr;
}

}  // namespace

Http1Parser::Http1Parser(Kind kind, size_t max_header) : kind_(kind), max_header_(max_header) {}

void Http1Parser::reset(bool head_request) {
  state_ = State::head;
  hbuf_.clear();
  head_request_ = head_request;
  status_ = 0;
  minor_ = 1;
  if (kind_ == Kind::request) {
    method_.clear();
    target_.clear();
  }
  keep_alive_ = true;
  chunked_ = has_length_ = conn_close_ = conn_keep_ = expect_continue_ = false;
  length_ = remaining_ = body_bytes_ = header_bytes_ = 0;
  chunk_digits_ = 0;
  cr_seen_ = false;
  trailer_line_ = 0;
  error_.clear();
}

Http1Parser::Status Http1Parser::fail(std::string why) {
  state_ = State::failed;
  error_ = std::move(why);
  return Status::error;
}

void Http1Parser::take_body(const char* p, size_t n) {
  body_bytes_ += n;
  if (sink_) sink_->append(p, n);
}

bool Http1Parser::parse_start_line(std::string_view line) {
  if (kind_ == Kind::response) {
    // HTTP/1.x SP 3DIGIT [SP reason]
    if (line.size() < 12 || line.substr(0, 7) != "HTTP/1." || (line[7] != '0' && line[7] != '1') ||
        line[8] != ' ')
      return fail("bad status line"), false;
    minor_ = line[7] - '0';
    int code = 0;
    for (int i = 9; i < 12; ++i) {
      if (line[i] < '0' || line[i] > '9') return fail("bad status code"), false;
      code = code * 10 + (line[i] - '0');
    }
    if (code < 100 || (line.size() > 12 && line[12] != ' ')) return fail("bad status code"), false;
    status_ = code;
    return true;
  }
  size_t sp1 = line.find(' ');
  if (sp1 == std::string_view::npos || sp1 == 0) return fail("bad request line"), false;
  for (size_t i = 0; i < sp1; ++i)
    if (!is_tchar(line[i])) return fail("bad method"), false;
  size_t sp2 = line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || sp2 == sp1 + 1) return fail("bad request line"), false;
  std::string_view ver = line.substr(sp2 + 1);
  if (ver.size() != 8 || ver.substr(0, 7) != "HTTP/1." || (ver[7] != '0' && ver[7] != '1'))
    return fail("bad HTTP version"), false;
  minor_ = ver[7] - '0';
  method_.assign(line.substr(0, sp1));
  target_.assign(line.substr(sp1 + 1, sp2 - sp1 - 1));
  for (char c : target_)
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f)
      return fail("bad request target"), false;
  return true;
}

bool Http1Parser::parse_header(std::string_view line) {
  if (line.front() == ' ' || line.front() == '\t') return fail("obsolete header folding"), false;
  size_t colon = line.find(':');
  if (colon == std::string_view::npos || colon == 0) return fail("bad header line"), false;
  std::string_view name = line.substr(0, colon);
  for (char c : name)
    if (!is_tchar(c)) return fail("bad header name"), false;
  std::string_view value = trim_ows(line.substr(colon + 1));
  for (char c : value)
    if (c == '\r' || c == '\n' || c == 0) return fail("bad header value"), false;
  switch (lower(name[0])) {
    case 'c':
      if (iequals(name, "content-length")) {
        if (value.empty() || value.size() > 18) return fail("bad Content-Length"), false;
        uint64_t v = 0;
        for (char c : value) {
          if (c < '0' || c > '9') return fail("bad Content-Length"), false;
          v = v * 10 + static_cast<uint64_t>(c - '0');
        }
        if (has_length_ && v != length_) return fail("conflicting Content-Length"), false;
        has_length_ = true;
        length_ = v;
      } else if (iequals(name, "connection")) {
        each_token(value, [&](std::string_view t) {
          if (iequals(t, "close")) conn_close_ = true;
          if (iequals(t, "keep-alive")) conn_keep_ = true;
        });
      }
      break;
    case 't':
      if (iequals(name, "transfer-encoding")) {
        std::string_view last;
        each_token(value, [&](std::string_view t) { last = t; });
        if (iequals(last, "chunked")) {
          chunked_ = true;
        } else if (kind_ == Kind::request) {
          return fail("unsupported Transfer-Encoding"), false;
        }
      }
      break;
    case 'e':
      if (kind_ == Kind::request && iequals(name, "expect") && iequals(value, "100-continue"))
        expect_continue_ = true;
      break;
    default:
      break;
  }
  return true;
}

bool Http1Parser::parse_head(const char* p, size_t n) {
  header_bytes_ += n;
  std::string_view head(p, n - 2);  // keep one CRLF so every line ends with one
  bool first = true;
  while (!head.empty()) {
    size_t e = head.find("\r\n");
    if (e == std::string_view::npos) return fail("bad line ending"), false;
    std::string_view line = head.substr(0, e);
    head.remove_prefix(e + 2);
    if (line.find('\n') != std::string_view::npos) return fail("bare LF in header"), false;
    if (first) {
      if (!parse_start_line(line)) return false;
      first = false;
    } else if (!parse_header(line)) {
      return false;
    }
  }
  if (first) return fail("empty message"), false;
  if (chunked_ && has_length_) return fail("both Content-Length and chunked"), false;
  keep_alive_ = minor_ == 1 ? !conn_close_ : (conn_keep_ && !conn_close_);

  bool no_body = kind_ == Kind::response &&
                 (head_request_ || status_ < 200 || status_ == 204 || status_ == 304);
  if (kind_ == Kind::response && status_ >= 100 && status_ < 200 && status_ != 101) {
    // Interim response (100 Continue): the real one follows.
    bool h = head_request_;
    uint64_t hb = header_bytes_;
    reset(h);
    header_bytes_ = hb;
    return true;
  }
  if (no_body) {
    state_ = State::done;
  } else if (chunked_) {
    state_ = State::chunk_size;
  } else if (has_length_) {
    remaining_ = length_;
    state_ = length_ ? State::length : State::done;
  } else if (kind_ == Kind::response) {
    state_ = State::until_close;
    keep_alive_ = false;
  } else {
    state_ = State::done;
  }
  return true;
}

Http1Parser::Status Http1Parser::feed(const char* data, size_t n, size_t* consumed) {
  size_t i = 0;
  while (i < n && state_ != State::done) {
    switch (state_) {
      case State::head: {
        if (hbuf_.empty()) {
          const char* e = find_crlfcrlf(data + i, n - i);
          if (e) {
            size_t len = static_cast<size_t>(e - (data + i)) + 4;
            if (len > max_header_) return *consumed = i, fail("header too large");
            if (!parse_head(data + i, len)) return *consumed = i, Status::error;
            i += len;
          } else {
            if (n - i > max_header_) return *consumed = i, fail("header too large");
            hbuf_.assign(data + i, n - i);
            i = n;
          }
        } else {
          size_t old = hbuf_.size();
          hbuf_.append(data + i, n - i);
          size_t from = old >= 3 ? old - 3 : 0;
          const char* e = find_crlfcrlf(hbuf_.data() + from, hbuf_.size() - from);
          if (e) {
            size_t len = static_cast<size_t>(e - hbuf_.data()) + 4;
            if (len > max_header_) return *consumed = i, fail("header too large");
            std::string head = std::move(hbuf_);
            hbuf_.clear();
            if (!parse_head(head.data(), len)) return *consumed = i, Status::error;
            i += len - old;
          } else {
            if (hbuf_.size() > max_header_) return *consumed = i, fail("header too large");
            i = n;
          }
        }
        break;
      }
      case State::length: {
        size_t take = static_cast<size_t>(std::min<uint64_t>(remaining_, n - i));
        take_body(data + i, take);
        i += take;
        remaining_ -= take;
        if (remaining_ == 0) state_ = State::done;
        break;
      }
      case State::chunk_size: {
        char c = data[i++];
        int h = hexval(c);
        if (h >= 0) {
          if (cr_seen_ || ++chunk_digits_ > 15) return *consumed = i, fail("bad chunk size");
          remaining_ = remaining_ * 16 + static_cast<uint64_t>(h);
        } else if (c == ';' || c == ' ' || c == '\t') {
          if (chunk_digits_ == 0) return *consumed = i, fail("bad chunk size");
          state_ = State::chunk_ext;
        } else if (c == '\r' && !cr_seen_) {
          cr_seen_ = true;
        } else if (c == '\n' && cr_seen_ && chunk_digits_ > 0) {
          cr_seen_ = false;
          chunk_digits_ = 0;
          state_ = remaining_ ? State::chunk_data : State::trailer;
          trailer_line_ = 0;
        } else {
          return *consumed = i, fail("bad chunk size");
        }
        break;
      }
      case State::chunk_ext: {
        const void* nl = std::memchr(data + i, '\n', n - i);
        if (!nl) {
          i = n;
        } else {
          i = static_cast<size_t>(static_cast<const char*>(nl) - data) + 1;
          chunk_digits_ = 0;
          cr_seen_ = false;
          state_ = remaining_ ? State::chunk_data : State::trailer;
          trailer_line_ = 0;
        }
        break;
      }
      case State::chunk_data: {
        size_t take = static_cast<size_t>(std::min<uint64_t>(remaining_, n - i));
        take_body(data + i, take);
        i += take;
        remaining_ -= take;
        if (remaining_ == 0) {
          state_ = State::chunk_crlf;
          cr_seen_ = false;
        }
        break;
      }
      case State::chunk_crlf: {
        char c = data[i++];
        if (c == '\r' && !cr_seen_) {
          cr_seen_ = true;
        } else if (c == '\n' && cr_seen_) {
          cr_seen_ = false;
          state_ = State::chunk_size;
        } else {
          return *consumed = i, fail("missing CRLF after chunk");
        }
        break;
      }
      case State::trailer: {
        char c = data[i++];
        if (c == '\n') {
          if (trailer_line_ == 0) state_ = State::done;
          trailer_line_ = 0;
        } else if (c != '\r') {
          if (++trailer_line_ > max_header_) return *consumed = i, fail("trailer too large");
        }
        break;
      }
      case State::until_close:
        take_body(data + i, n - i);
        i = n;
        break;
      case State::done:
        break;
      case State::failed:
        return *consumed = i, Status::error;
    }
  }
  *consumed = i;
  if (state_ == State::failed) return Status::error;
  return state_ == State::done ? Status::done : Status::more;
}

Http1Parser::Status Http1Parser::eof() {
  if (state_ == State::until_close) {
    state_ = State::done;
    return Status::done;
  }
  if (state_ == State::done) return Status::done;
  return fail(state_ == State::head && hbuf_.empty() ? "closed before the response"
                                                     : "closed in the middle of a message");
}

}  // namespace bench
