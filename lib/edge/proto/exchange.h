// edge::proto::Exchange — the decisions of one downstream HTTP/1.x request/response exchange, with
// no I/O and no clock (lib/tunnel/proto is the model): the connection loop (proxy.cpp) reports
// events — a request head, a failed connect or write, a response head, the end of a body — and
// does what the answer says; deadlines are computed from the time it passes in. One Exchange per
// client connection, reused for every request on it, on that connection's worker thread only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "http/parser.h"
#include "http/proxy.h"

namespace edge::proto {

// What the core needs of edged.toml (edge::Config), as plain numbers (milliseconds, bytes).
struct ExchangeLimits {
  int64_t max_body = 0;  // request body bytes; 0: unlimited
  int retries = 1;       // other targets tried for an idempotent request after a failed connect
  int64_t client_header = 10000;  // the request head must arrive within this
  int64_t idle = 60000;           // keep-alive wait for the next request
  int64_t client_body = 60000;    // between reads of the request body
  int64_t send = 60000;           // a write to the client or upstream must progress
  int64_t upstream_connect = 5000;
  int64_t upstream_response = 60000;  // to the response head, and between body reads
  int64_t tunnel_idle = 3600000;      // Upgrade tunnels without traffic
};

// The waits the connection loop arms a deadline for.
enum class Wait : uint8_t {
  idle,
  client_header,
  client_body,
  send,
  upstream_connect,
  upstream_response,
  tunnel,
  linger,  // reading (and dropping) what a client still sends after an error answer
};

// An answer edged makes itself. status 0: none (close without one).
struct Answer {
  int status = 0;
  bool keep = false;         // the client connection stays open after it
  bool blame = false;        // the target failed (a passive failure is recorded against it)
  std::string_view detail;   // the reason on the page; the caller may add to it
  std::string_view headers;  // extra header lines (CRLF-terminated), e.g. Allow
};

// What the connection loop does next.
enum class Step : uint8_t {
  forward,       // go on
  retry_target,  // a connect failed: pick another target (if there is none: connect_failed())
  retry_fresh,   // the pooled connection was stale: send again on a new one to the same target
  answer,        // send answer() (then keep the connection or close it, as it says)
  close,         // close the client connection without an answer
  skip,          // an interim (1xx) response: read the next response head
  upgrade,       // 101 Switching Protocols: send the head, then tunnel bytes both ways
  read,          // between requests: wait for (and read) the next request
  parse,         // between requests: a pipelined request is already buffered, parse it
};

// How a response goes to the client.
struct ResponsePlan {
  http::Body body = http::Body::none;  // framing as received from the upstream
  bool client_keep = false;            // the client connection stays open after it
  bool dechunk = false;                // chunked body to an HTTP/1.0 client: sent unframed
  bool upstream_reusable = false;      // the upstream connection may be pooled after it
};

class Exchange {
 public:
  // The limits are the caller's (the daemon's snapshot) and must outlive their use here; a
  // pointer, not a copy: an Exchange lives in every connection, idle ones included.
  Exchange() : lim_(&kDefaults) {}
  explicit Exchange(const ExchangeLimits& l) : lim_(&l) {}
  void set_limits(const ExchangeLimits& l) { lim_ = &l; }
  const ExchangeLimits& limits() const { return *lim_; }
  static const ExchangeLimits kDefaults;

  // ---- time (absolute milliseconds on the caller's monotonic clock) ----------------------------
  int64_t deadline(Wait w, int64_t now) const {  // inline: armed several times per request
    switch (w) {
      case Wait::idle:
        return now + lim_->idle;
      case Wait::client_header:
        return now + lim_->client_header;
      case Wait::client_body:
        return now + lim_->client_body;
      case Wait::send:
        return now + lim_->send;
      case Wait::upstream_connect:
        return now + lim_->upstream_connect;
      case Wait::upstream_response:
        return now + lim_->upstream_response;
      case Wait::tunnel:
        return now + lim_->tunnel_idle;
      case Wait::linger:
        return now + kLinger;
    }
    return now;
  }
  // An idle keep-alive connection gives its buffer back after this long without a byte.
  static constexpr int64_t kParkAfter = 1000;
  static bool should_park(int64_t idle_since, int64_t now) {
    return now - idle_since >= kParkAfter;
  }
  static bool expired(int64_t deadline, int64_t now) { return now >= deadline; }
  // After an error answer that closes: read and drop at most this much (for kLinger ms).
  static constexpr int64_t kLinger = 1000;
  static constexpr size_t kLingerBytes = 256 * 1024;

  // ---- between requests -------------------------------------------------------------------------
  // After an exchange (or before the first): read, parse a pipelined request already buffered,
  // or close. A pipelined request is still answered while draining (with Connection: close).
  static Step next(bool keep, size_t buffered, bool draining);
  // The size to grow a request-head buffer of `cap` bytes to when it is full.
  static size_t grow_head(size_t cap, size_t max_header_bytes);

  // ---- the request head -------------------------------------------------------------------------
  // Reading the head failed: a head that started but did not finish in time gets 408; anything
  // else (EOF, reset, a silent connection) is closed without an answer.
  static Answer head_failed(bool timed_out, size_t partial_bytes);
  // A malformed head: 400, 414, 417, 431, 501 or 505 (http::status_for), and close.
  static Answer bad_head(http::Error e);

  // A parsed request head starts an exchange.
  void on_request(const http::Head& req, bool draining);
  bool keep() const { return keep_; }  // the client connection may stay open after it
  // ... after an answer edged makes itself without reading the body (only when there is none).
  bool keep_local() const { return keep_ && body_ == http::Body::none; }
  http::Body body() const { return body_; }
  http::Method method() const { return method_; }
  int minor() const { return minor_; }
  // Refusals in the order proxy.cpp checks them: CONNECT (405), a declared body over the limit
  // (413). status 0: none.
  Answer refuse_method() const;
  Answer refuse_body_length(int64_t content_length) const;
  // A route with no healthy target (503), a path not routed (404): answered, keep if bodiless.
  Answer no_target() const { return {503, keep_local(), false, {}, {}}; }

  // Expect: 100-continue on a forwarded request: answer "100 Continue" before the body is read
  // — only when nothing of the body arrived yet and no attempt sent any of it.
  bool send_continue(size_t body_bytes_buffered) const;
  // A body edged reads itself (portal forms, enrollment): 0 to go on, 411 (chunked) or 413
  // (over `max`); `continue_first`: answer 100-continue first.
  int small_body(size_t max, size_t body_bytes_buffered, bool& continue_first) const;

  // ---- upstream ---------------------------------------------------------------------------------
  // An attempt starts on a connection from the pool (`reused`) or a new one.
  void on_attempt(bool reused) { reused_ = reused; }
  // Whether the next attempt may take a pooled connection (not after a stale one).
  bool may_reuse() const { return !fresh_only_; }
  // A connect failed: retry_target (idempotent requests, while retries last) or answer (502,
  // 504 on a timeout). When no other target can be picked, the caller uses connect_failed().
  Step on_connect_failed(bool timed_out) const;
  void on_retry_target() { ++attempts_; }
  Answer connect_failed(bool timed_out) const;
  // The request body could not be forwarded: malformed (400) or over the limit (413).
  Answer body_failed(uint64_t payload_bytes) const;
  bool body_over_limit(uint64_t payload_bytes) const {
    return lim_->max_body > 0 && static_cast<int64_t>(payload_bytes) > lim_->max_body;
  }
  void on_body_started() { body_started_ = true; }
  // Writing the request failed. `client_side`: the client's body stalled or it went away.
  // retry_fresh (a stale pooled connection, bodiless request, at most twice), close, or answer.
  Step on_send_failed(bool client_side);
  // Reading the response head failed; `got_bytes`: some of it arrived. answer (504 on a
  // timeout, 502 otherwise) or retry_fresh (stale pooled connection, bodiless request).
  Step on_response_failed(bool timed_out, bool got_bytes);
  // The response head did not parse: 502, blaming the target.
  static Answer bad_response() { return {502, false, true, "invalid response from upstream", {}}; }
  // A response head: skip (1xx), upgrade (101 to an Upgrade request), answer (101 to anything
  // else: 502) or forward with plan().
  Step on_response_head(const http::Head& resp);
  const ResponsePlan& plan() const { return plan_; }
  // The response body ended. `complete`: all of it arrived; `client_error`: a write to the client
  // failed; `leftover`: the upstream sent bytes after the body. Returns whether the client
  // connection stays open; upstream_reusable() tells whether the upstream goes back to the pool.
  bool on_response_end(bool complete, bool client_error, bool leftover);
  bool upstream_reusable() const { return plan_.upstream_reusable; }

  // The answer of the last Step::answer.
  const Answer& answer() const { return answer_; }
  int attempts() const { return attempts_; }

  // Fresh connections tried after stale pooled ones before giving up.
  static constexpr int kStaleRetries = 2;

 private:
  Step give(Answer a) {
    answer_ = a;
    return Step::answer;
  }
  const ExchangeLimits* lim_;
  http::Body body_ = http::Body::none;
  http::Method method_ = http::Method::other;
  int minor_ = 1;
  bool keep_ = false;
  bool upgrade_ = false;
  bool expect_continue_ = false;
  bool chunked_ = false;
  int64_t content_length_ = -1;
  bool idempotent_ = false;
  int attempts_ = 0;
  bool fresh_only_ = false;
  bool reused_ = false;
  bool body_started_ = false;
  ResponsePlan plan_;
  Answer answer_;
};

}  // namespace edge::proto
