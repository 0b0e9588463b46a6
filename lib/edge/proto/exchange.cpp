// The decisions of one HTTP/1.x exchange (edge/proto/exchange.h): no I/O, no clock.
#include "edge/proto/exchange.h"

#include <algorithm>

namespace edge::proto {

const ExchangeLimits Exchange::kDefaults{};

Step Exchange::next(bool keep, size_t buffered, bool draining) {
  if (!keep) return Step::close;
  if (buffered > 0) return Step::parse;
  return draining ? Step::close : Step::read;
}

size_t Exchange::grow_head(size_t cap, size_t max_header_bytes) {
  return std::max(cap + 64, std::min(cap * 2, max_header_bytes + 64));
}

Answer Exchange::head_failed(bool timed_out, size_t partial_bytes) {
  // Slowloris: the head did not arrive in time.
  if (timed_out && partial_bytes > 0)
    return {408, false, false, "the request head did not arrive in time", {}};
  return {};
}

Answer Exchange::bad_head(http::Error e) {
  return {http::status_for(e), false, false, http::to_string(e), {}};
}

void Exchange::on_request(const http::Head& req, bool draining) {
  body_ = http::request_body(req);
  method_ = req.method;
  minor_ = req.version_minor;
  keep_ = req.keep_alive && !draining;
  upgrade_ = req.upgrade;
  expect_continue_ = req.expect_continue;
  chunked_ = req.chunked;
  content_length_ = req.content_length;
  idempotent_ = http::idempotent(req.method);
  attempts_ = 0;
  fresh_only_ = reused_ = body_started_ = false;
  plan_ = ResponsePlan{};
  answer_ = Answer{};
}

Answer Exchange::refuse_method() const {
  if (method_ == http::Method::connect)
    return {405, false, false, "CONNECT is not supported", "Allow: GET, HEAD, POST\r\n"};
  return {};
}

Answer Exchange::refuse_body_length(int64_t content_length) const {
  if (lim_->max_body > 0 && content_length > lim_->max_body)
    return {413, false, false, "the request body is larger than the limit", {}};
  return {};
}

bool Exchange::send_continue(size_t body_bytes_buffered) const {
  return expect_continue_ && body_ != http::Body::none && body_bytes_buffered == 0 &&
         !body_started_;
}

int Exchange::small_body(size_t max, size_t body_bytes_buffered, bool& continue_first) const {
  continue_first = false;
  if (chunked_) return 411;
  if (content_length_ > static_cast<int64_t>(max)) return 413;
  continue_first = expect_continue_ && content_length_ > 0 && body_bytes_buffered == 0;
  return 0;
}

Step Exchange::on_connect_failed(bool timed_out) const {
  (void)timed_out;
  return idempotent_ && attempts_ < lim_->retries ? Step::retry_target : Step::answer;
}

Answer Exchange::connect_failed(bool timed_out) const {
  return {timed_out ? 504 : 502, false, true, {}, {}};
}

Answer Exchange::body_failed(uint64_t payload_bytes) const {
  return {payload_bytes > 0 && body_over_limit(payload_bytes) ? 413 : 400,
          false,
          false,
          "malformed or too large request body",
          {}};
}

Step Exchange::on_send_failed(bool client_side) {
  if (reused_ && body_ == http::Body::none && !client_side) {
    fresh_only_ = true;  // the pooled connection was stale: once more on a new one
    if (attempts_++ < kStaleRetries) return Step::retry_fresh;
  }
  if (client_side) return Step::close;
  return give({502, false, true, "upstream write failed", {}});
}

Step Exchange::on_response_failed(bool timed_out, bool got_bytes) {
  if (timed_out) return give({504, false, true, "the upstream did not answer in time", {}});
  if (reused_ && !got_bytes && body_ == http::Body::none) {
    fresh_only_ = true;  // a stale keep-alive connection
    if (attempts_++ < kStaleRetries) return Step::retry_fresh;
    return give({502, false, false, "upstream closed the connection", {}});
  }
  return give({502, false, true, "closed the connection", {}});
}

Step Exchange::on_response_head(const http::Head& resp) {
  if (resp.status >= 100 && resp.status < 200 && resp.status != 101) return Step::skip;
  if (resp.status == 101) {
    if (!upgrade_)
      return give(
          {502, false, false, "upstream switched protocols without an Upgrade request", {}});
    return Step::upgrade;
  }
  ResponsePlan p;
  p.body = http::response_body(resp, method_);
  p.client_keep = keep_ && p.body != http::Body::until_close;
  p.dechunk = p.body == http::Body::chunked && minor_ == 0;
  if (p.dechunk) p.client_keep = false;
  p.upstream_reusable = resp.keep_alive && p.body != http::Body::until_close;
  plan_ = p;
  return Step::forward;
}

bool Exchange::on_response_end(bool complete, bool client_error, bool leftover) {
  if (leftover) plan_.upstream_reusable = false;  // bytes after the body: not ours
  if (!complete || client_error) {
    plan_.upstream_reusable = false;
    return false;
  }
  return plan_.client_keep;
}

}  // namespace edge::proto
