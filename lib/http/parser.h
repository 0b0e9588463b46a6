// http — an incremental HTTP/1.1 parser with no I/O and no clock: message heads (requests and
// responses) parsed in place from a caller-owned buffer, and a chunked-body scanner. Strict
// about everything request smuggling relies on (CL+TE, duplicate Content-Length, bad chunk
// sizes, obs-fold, bare CR or LF, invalid names). One HeadParser/ChunkedScanner per stream;
// not thread-safe; Head's views point into the caller's buffer and live as long as it does.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace http {

enum class Error : uint8_t {
  none,
  bad_request_line,
  bad_method,
  bad_target,
  uri_too_long,
  bad_version,
  version_not_supported,
  bad_status_line,
  bad_header_name,
  bad_header_value,
  obs_fold,
  bare_cr,
  bare_lf,
  head_too_large,
  too_many_headers,
  bad_content_length,
  duplicate_content_length,
  content_length_and_chunked,
  unsupported_transfer_encoding,
  transfer_encoding_http10,
  missing_host,
  duplicate_host,
  bad_host,
  host_mismatch,
  bad_expect,
  bad_chunk_size,
  bad_chunk,
  bad_chunk_ext,
  chunk_ext_too_long,
  trailers_too_large,
};

// "bad chunk size", "conflicting Content-Length and Transfer-Encoding", ...
std::string_view to_string(Error e);
// The status a server answers a request error with: 400, 414, 417, 431, 501, 505.
int status_for(Error e);

// Headers the proxy treats specially, recognised once while parsing.
enum class Hdr : uint8_t {
  other,
  host,
  content_length,
  transfer_encoding,
  connection,
  keep_alive,
  proxy_connection,
  te,
  trailer,
  upgrade,
  expect,
  proxy_authorization,
  proxy_authenticate,
  x_forwarded_for,
  x_forwarded_proto,
  x_forwarded_host,
  x_real_ip,
  forwarded,
  cookie,
  set_cookie,
};

enum class Method : uint8_t { other, get, head, post, put, del, options, trace, connect, patch };

struct Header {
  std::string_view name;
  std::string_view value;  // optional whitespace trimmed
  Hdr id = Hdr::other;
};

struct Limits {
  size_t max_head = 32 * 1024;  // request/status line + headers + final CRLF
  size_t max_headers = 100;
  size_t max_uri = 8 * 1024;
};

// A parsed message head. Views point into the buffer given to HeadParser.
struct Head {
  // Request line.
  std::string_view method_text;
  Method method = Method::other;
  std::string_view target;    // as sent (origin-form "/a?b", absolute-form, "*", authority)
  std::string_view path;      // origin-form part of target ("/a?b"; "/" for "http://h")
  std::string_view abs_host;  // authority of an absolute-form target, else empty
  // Status line.
  int status = 0;
  std::string_view reason;
  int version_minor = 1;  // HTTP/1.<minor>

  std::vector<Header> headers;
  std::string_view host;  // the Host header (requests), or abs_host when absolute-form
  int64_t content_length = -1;
  bool chunked = false;
  bool keep_alive = true;   // after Connection and version
  bool conn_close = false;  // "Connection: close" given
  bool upgrade = false;     // Connection: upgrade and an Upgrade header
  std::string_view upgrade_value;
  bool expect_continue = false;
  // Extra hop-by-hop header names listed in Connection (besides close/keep-alive/upgrade).
  std::vector<std::string_view> connection_tokens;
  size_t head_bytes = 0;  // length of the head, final CRLF included

  void clear();
  // First header with this id, or empty.
  std::string_view get(Hdr id) const;
  // Case-insensitive lookup by name.
  std::string_view get(std::string_view name) const;
  // Whether `name` is hop-by-hop for this message (fixed list or named in Connection).
  bool is_hop_by_hop(const Header& h) const;
};

struct Parse {
  enum State : uint8_t { done, more, bad };
  State state = more;
  Error error = Error::none;
  size_t consumed = 0;  // when done: bytes of the head (including skipped leading CRLFs)
};

class HeadParser {
 public:
  explicit HeadParser(Limits l = {}) : lim_(l) {}
  void set_limits(const Limits& l) { lim_ = l; }
  const Limits& limits() const { return lim_; }

  // `buf` holds every byte received so far for this message, from its first byte. Returns
  // more (call again with the same bytes plus more), done (head in `out`), or error.
  Parse parse_request(std::string_view buf, Head& out);
  Parse parse_response(std::string_view buf, Head& out);
  // Forget the scan position before parsing the next message.
  void reset() {
    scanned_ = 0;
    line1_seen_ = false;
  }

 private:
  Parse scan(std::string_view buf, bool request, size_t& skip);
  Limits lim_;
  size_t scanned_ = 0;
  bool line1_seen_ = false;
};

// Scans a chunked body: validates the framing strictly (chunk extensions by their grammar,
// RFC 9112 7.1.1) and tells how many input bytes belong to the body (framing included, so a
// proxy can forward them unchanged). Optionally appends the payload (framing removed) to a
// string. The trailer section is validated too; `keep` tells which consumed bytes come before
// it, so a proxy that drops request trailers forwards `keep` bytes and, when done, one CRLF.
class ChunkedScanner {
 public:
  struct Step {
    size_t consumed = 0;
    size_t keep = 0;    // consumed bytes before the trailer section (the rest are trailers)
    bool done = false;  // the last chunk and the trailers ended
    Error error = Error::none;
  };
  Step feed(std::string_view in, std::string* payload = nullptr);
  void reset() { *this = ChunkedScanner(); }
  uint64_t payload_bytes() const { return payload_; }
  bool done() const { return st_ == St::done; }

 private:
  enum class St : uint8_t {
    size,
    size_ws,
    ext_bws,        // after ';': BWS, then a name
    ext_name,       // in a chunk-ext-name
    ext_after,      // after a name or value: BWS, then ';', '=' (after a name) or CR
    ext_val_bws,    // after '=': BWS, then a token or a quoted-string
    ext_val_token,  // in a token value
    ext_quoted,     // in a quoted-string
    ext_quoted_bs,  // after a backslash in a quoted-string
    size_lf,
    data,
    data_cr,
    data_lf,
    trailer_start,
    trailer_line,
    trailer_lf,
    final_lf,
    done
  };
  St st_ = St::size;
  int digits_ = 0;
  uint64_t size_ = 0;
  uint64_t payload_ = 0;
  size_t ext_len_ = 0;
  size_t trailer_len_ = 0;
  bool ext_named_ = false;     // ext_after: the element so far has a name but no value
  bool trailer_name_ = false;  // trailer_line: still in the field name
};

inline constexpr size_t kMaxChunkExt = 1024;
inline constexpr size_t kMaxTrailers = 8 * 1024;

// ASCII case-insensitive equality.
bool iequals(std::string_view a, std::string_view b);
// Whether a comma-separated list header value contains `token` (case-insensitive).
bool has_token(std::string_view list, std::string_view token);
// Whether a method token is a standard method name in another case ("get", "Post"): methods
// are case-sensitive (RFC 9110 9.1), so such a request is refused rather than forwarded as an
// unknown method that an origin might still read as the standard one.
bool method_case_variant(std::string_view m);
// Idempotent methods (RFC 9110 9.2.2): GET HEAD PUT DELETE OPTIONS TRACE.
bool idempotent(Method m);
// The standard reason phrase for a status ("Bad Gateway"), or "Unknown".
std::string_view reason_phrase(int status);

}  // namespace http
