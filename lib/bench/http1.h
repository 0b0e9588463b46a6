// bench::Http1Parser — an incremental HTTP/1.x message parser (requests for `netbench serve`,
// responses for `netbench http`), built for speed and for hostile input: it never asserts on
// the bytes, limits the header size, and reports errors as text. It frames the body
// (Content-Length, chunked, until close) and counts it; bodies are appended to a sink only when
// one is set. One parser per connection; no I/O, no clock.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace bench {

class Http1Parser {
 public:
  enum class Kind { request, response };
  enum class Status { more, done, error };

  explicit Http1Parser(Kind kind, size_t max_header = 64 * 1024);

  // Starts a new message. For a response, head_request = the request was HEAD (no body).
  void reset(bool head_request = false);
  // Consumes bytes of one message. *consumed = bytes used (the rest belongs to the next message).
  Status feed(const char* data, size_t n, size_t* consumed);
  // The peer closed: completes a body delimited by the close, else an error.
  Status eof();

  // Body bytes are appended here while set (echo). Cleared by nothing; set per message.
  void set_body_sink(std::string* sink) { sink_ = sink; }

  bool started() const { return state_ != State::head || !hbuf_.empty(); }
  // The head has been parsed (the body, if any, is being read).
  bool head_complete() const { return state_ != State::head && state_ != State::failed; }
  int status() const { return status_; }                 // response
  const std::string& method() const { return method_; }  // request
  const std::string& target() const { return target_; }  // request
  int version_minor() const { return minor_; }
  bool keep_alive() const { return keep_alive_; }
  bool chunked() const { return chunked_; }
  bool expect_continue() const { return expect_continue_; }  // request: "Expect: 100-continue"
  uint64_t body_bytes() const { return body_bytes_; }
  uint64_t header_bytes() const { return header_bytes_; }
  const std::string& error() const { return error_; }

 private:
  enum class State {
    head,
    length,
    chunk_size,
    chunk_ext,
    chunk_data,
    chunk_crlf,
    trailer,
    until_close,
    done,
    failed
  };
  bool parse_head(const char* p, size_t n);
  bool parse_start_line(std::string_view line);
  bool parse_header(std::string_view line);
  Status fail(std::string why);
  void take_body(const char* p, size_t n);

  Kind kind_;
  size_t max_header_;
  State state_ = State::head;
  std::string hbuf_;
  std::string* sink_ = nullptr;
  bool head_request_ = false;
  int status_ = 0;
  int minor_ = 1;
  std::string method_, target_;
  bool keep_alive_ = true;
  bool chunked_ = false;
  bool has_length_ = false;
  bool conn_close_ = false, conn_keep_ = false;
  bool expect_continue_ = false;
  uint64_t length_ = 0;
  uint64_t remaining_ = 0;
  uint64_t body_bytes_ = 0;
  uint64_t header_bytes_ = 0;
  int chunk_digits_ = 0;
  bool cr_seen_ = false;
  size_t trailer_line_ = 0;
  std::string error_;
};

}  // namespace bench
