// edge::proto::Exchange, the I/O-free core of one downstream exchange, driven in memory: keep-alive
// and close (HTTP/1.0, Connection, draining), pipelining, 100-continue, Upgrade, retries on a
// stale pooled connection and on a refused target, response body framing (Content-Length,
// chunked, close-delimited, HEAD/204/304, HTTP/1.0 clients) and the error answers, with time
// passed in.
#include <string>

#include "../support.h"
#include "edge/proto/exchange.h"

using namespace edge::proto;

namespace {

// A parsed request head (the views point into `text`, kept alive by the struct).
struct Req {
  explicit Req(std::string t) : text(std::move(t)) {
    http::HeadParser p;
    r = p.parse_request(text, head);
  }
  std::string text;
  http::Head head;
  http::Parse r;
};

struct Resp {
  explicit Resp(std::string t) : text(std::move(t)) {
    http::HeadParser p;
    r = p.parse_response(text, head);
  }
  std::string text;
  http::Head head;
  http::Parse r;
};

const char* kGet = "GET / HTTP/1.1\r\nHost: a.test\r\n\r\n";
const char* kPost = "POST /f HTTP/1.1\r\nHost: a.test\r\nContent-Length: 5\r\n\r\n";
const char* kOk = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n";

// `l` must outlive the Exchange (it keeps a pointer, as to the daemon's snapshot).
Exchange started(const char* req, const ExchangeLimits& l = Exchange::kDefaults,
                 bool draining = false) {
  Exchange x(l);
  Req q(req);
  REQUIRE(q.r.state == http::Parse::done);
  x.on_request(q.head, draining);
  return x;
}

}  // namespace

TEST_CASE("exchange: keep-alive follows the version, Connection and draining", "[edge][exchange]") {
  CHECK(started(kGet).keep());
  CHECK_FALSE(started("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n").keep());
  CHECK_FALSE(started("GET / HTTP/1.0\r\nHost: a\r\n\r\n").keep());
  CHECK(started("GET / HTTP/1.0\r\nHost: a\r\nConnection: keep-alive\r\n\r\n").keep());
  CHECK_FALSE(
      started(kGet, Exchange::kDefaults, true).keep());  // draining: the last answer says close
  // An answer edged makes itself leaves a body unread: only bodiless requests keep it open.
  CHECK(started(kGet).keep_local());
  CHECK_FALSE(started(kPost).keep_local());
  CHECK_FALSE(
      started("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n").keep_local());
  CHECK(started("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n").keep_local());
}

TEST_CASE("exchange: between requests — read, parse a pipelined one, or close",
          "[edge][exchange]") {
  CHECK(Exchange::next(true, 0, false) == Step::read);
  CHECK(Exchange::next(true, 40, false) == Step::parse);  // pipelined: answered in order
  CHECK(Exchange::next(false, 40, false) == Step::close);
  CHECK(Exchange::next(true, 0, true) == Step::close);   // draining: no new wait
  CHECK(Exchange::next(true, 40, true) == Step::parse);  // but a buffered one is answered
  // Two pipelined requests in one buffer: each exchange starts afresh.
  std::string two =
      std::string(kGet) + "GET /2 HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n";
  http::HeadParser p;
  http::Head h;
  auto r = p.parse_request(two, h);
  REQUIRE(r.state == http::Parse::done);
  Exchange x;
  x.on_request(h, false);
  CHECK(x.keep());
  CHECK(Exchange::next(x.keep(), two.size() - r.consumed, false) == Step::parse);
  p.reset();
  REQUIRE(p.parse_request(std::string_view(two).substr(r.consumed), h).state == http::Parse::done);
  x.on_request(h, false);
  CHECK_FALSE(x.keep());
  CHECK(Exchange::next(x.keep(), 0, false) == Step::close);
}

TEST_CASE("exchange: Expect: 100-continue is answered only before any body byte",
          "[edge][exchange]") {
  const char* expect =
      "POST /u HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n";
  Exchange x = started(expect);
  CHECK(x.send_continue(0));
  CHECK_FALSE(x.send_continue(5));  // the client sent the body anyway
  x.on_body_started();
  CHECK_FALSE(x.send_continue(0));  // a retry never sends a second 100
  CHECK_FALSE(started(kPost).send_continue(0));
  CHECK_FALSE(
      started("GET / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n\r\n").send_continue(0));

  // Bodies edged reads itself (portal forms, enrollment).
  bool cont = false;
  CHECK(started(expect).small_body(8192, 0, cont) == 0);
  CHECK(cont);
  CHECK(started(expect).small_body(8192, 5, cont) == 0);
  CHECK_FALSE(cont);
  CHECK(started(expect).small_body(4, 0, cont) == 413);
  CHECK(started("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n")
            .small_body(8192, 0, cont) == 411);
}

TEST_CASE("exchange: Upgrade tunnels only when the client asked", "[edge][exchange]") {
  const char* ws =
      "GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n";
  Resp sw("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n");
  REQUIRE(sw.r.state == http::Parse::done);
  Exchange x = started(ws);
  CHECK(x.on_response_head(sw.head) == Step::upgrade);
  Exchange y = started(kGet);
  CHECK(y.on_response_head(sw.head) == Step::answer);
  CHECK(y.answer().status == 502);
  CHECK_FALSE(y.answer().keep);
  // Interim responses are skipped, then the final one is forwarded.
  Resp cont("HTTP/1.1 100 Continue\r\n\r\n");
  Resp hints("HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n");
  Resp ok(kOk);
  Exchange z = started(kGet);
  CHECK(z.on_response_head(cont.head) == Step::skip);
  CHECK(z.on_response_head(hints.head) == Step::skip);
  CHECK(z.on_response_head(ok.head) == Step::forward);
}

TEST_CASE("exchange: a stale pooled connection is replaced for bodiless requests",
          "[edge][exchange]") {
  SECTION("the write fails on a pooled connection: once more on a new one") {
    Exchange x = started(kGet);
    CHECK(x.may_reuse());
    x.on_attempt(true);
    CHECK(x.on_send_failed(false) == Step::retry_fresh);
    CHECK_FALSE(x.may_reuse());  // the next attempt opens a connection
    x.on_attempt(false);
    CHECK(x.on_send_failed(false) == Step::answer);  // a new connection failing is the target's
    CHECK(x.answer().status == 502);
    CHECK(x.answer().blame);
    CHECK(x.answer().detail == "upstream write failed");
  }
  SECTION("the pooled connection closes before any response byte") {
    Exchange x = started(kGet);
    x.on_attempt(true);
    CHECK(x.on_response_failed(false, false) == Step::retry_fresh);
    x.on_attempt(false);
    Resp ok(kOk);
    CHECK(x.on_response_head(ok.head) == Step::forward);
  }
  SECTION("the new connection closes too: 502, the target's failure") {
    Exchange x = started(kGet);
    x.on_attempt(true);
    CHECK(x.on_response_failed(false, false) == Step::retry_fresh);
    x.on_attempt(false);
    CHECK(x.on_response_failed(false, false) == Step::answer);
    CHECK(x.answer().status == 502);
    CHECK(x.answer().blame);
  }
  SECTION("target retries and stale retries share one budget of attempts") {
    ExchangeLimits l;
    l.retries = 3;
    Exchange x = started(kGet, l);
    for (int i = 0; i < 2; ++i) {
      REQUIRE(x.on_connect_failed(false) == Step::retry_target);
      x.on_retry_target();
    }
    x.on_attempt(true);  // a pooled connection to the third target, stale as well
    CHECK(x.on_response_failed(false, false) == Step::answer);
    CHECK(x.answer().status == 502);
    CHECK_FALSE(x.answer().blame);
    CHECK(x.answer().detail == "upstream closed the connection");
  }
  SECTION("part of a response arrived: no retry") {
    Exchange x = started(kGet);
    x.on_attempt(true);
    CHECK(x.on_response_failed(false, true) == Step::answer);
    CHECK(x.answer().status == 502);
    CHECK(x.answer().blame);
  }
  SECTION("a request with a body is never sent twice") {
    Exchange x = started(kPost);
    x.on_attempt(true);
    CHECK(x.on_send_failed(false) == Step::answer);
    Exchange y = started(kPost);
    y.on_attempt(true);
    CHECK(y.on_response_failed(false, false) == Step::answer);
    CHECK(y.answer().status == 502);
  }
  SECTION("a bodiless POST is retried on a stale connection (nothing of it was processed)") {
    Exchange x = started("POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n");
    x.on_attempt(true);
    CHECK(x.on_send_failed(false) == Step::retry_fresh);
  }
  SECTION("the client's body stalled: close without an answer") {
    Exchange x = started(kPost);
    x.on_attempt(false);
    CHECK(x.on_send_failed(true) == Step::close);
    Exchange y = started(kGet);
    y.on_attempt(true);
    CHECK(y.on_send_failed(true) == Step::close);  // not the pool's fault: no retry
  }
  SECTION("a response that does not come in time is 504") {
    Exchange x = started(kGet);
    x.on_attempt(true);
    CHECK(x.on_response_failed(true, false) == Step::answer);
    CHECK(x.answer().status == 504);
    CHECK(x.answer().blame);
  }
  SECTION("the next request starts with a clean slate") {
    Exchange x = started(kGet);
    x.on_attempt(true);
    CHECK(x.on_send_failed(false) == Step::retry_fresh);
    Req q(kGet);
    x.on_request(q.head, false);
    CHECK(x.may_reuse());
    CHECK(x.attempts() == 0);
  }
}

TEST_CASE("exchange: a refused target is replaced for idempotent requests", "[edge][exchange]") {
  ExchangeLimits l;
  l.retries = 1;
  Exchange x = started(kGet, l);
  CHECK(x.on_connect_failed(false) == Step::retry_target);
  x.on_retry_target();
  CHECK(x.on_connect_failed(false) == Step::answer);  // retries used up
  CHECK(x.connect_failed(false).status == 502);
  CHECK(x.connect_failed(true).status == 504);
  CHECK(x.connect_failed(true).blame);
  CHECK_FALSE(x.connect_failed(true).keep);
  // POST is not idempotent: the first failure is the answer.
  CHECK(started(kPost, l).on_connect_failed(false) == Step::answer);
  for (const char* m : {"HEAD", "PUT", "DELETE", "OPTIONS", "TRACE"}) {
    std::string r = std::string(m) + " / HTTP/1.1\r\nHost: a\r\n\r\n";
    CHECK(started(r.c_str(), l).on_connect_failed(false) == Step::retry_target);
  }
  l.retries = 0;
  CHECK(started(kGet, l).on_connect_failed(false) == Step::answer);
  l.retries = 3;
  Exchange y = started(kGet, l);
  for (int i = 0; i < 3; ++i) {
    CHECK(y.on_connect_failed(false) == Step::retry_target);
    y.on_retry_target();
  }
  CHECK(y.on_connect_failed(false) == Step::answer);
}

TEST_CASE("exchange: response body framing", "[edge][exchange]") {
  auto plan = [](const char* req, const char* resp) {
    Exchange x = started(req);
    Resp r(resp);
    REQUIRE(r.r.state == http::Parse::done);
    REQUIRE(x.on_response_head(r.head) == Step::forward);
    return x.plan();
  };
  auto p = plan(kGet, kOk);
  CHECK(p.body == http::Body::length);
  CHECK(p.client_keep);
  CHECK(p.upstream_reusable);
  CHECK_FALSE(p.dechunk);

  p = plan(kGet, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
  CHECK(p.body == http::Body::chunked);
  CHECK(p.client_keep);
  CHECK_FALSE(p.dechunk);

  // An HTTP/1.0 client cannot read chunks: unframed, then close.
  p = plan("GET / HTTP/1.0\r\nHost: a\r\nConnection: keep-alive\r\n\r\n",
           "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
  CHECK(p.dechunk);
  CHECK_FALSE(p.client_keep);
  CHECK(p.upstream_reusable);

  // Close-delimited: neither side is kept.
  p = plan(kGet, "HTTP/1.1 200 OK\r\n\r\n");
  CHECK(p.body == http::Body::until_close);
  CHECK_FALSE(p.client_keep);
  CHECK_FALSE(p.upstream_reusable);

  // No body: HEAD, 204, 304, Content-Length: 0.
  p = plan("HEAD / HTTP/1.1\r\nHost: a\r\n\r\n", "HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n");
  CHECK(p.body == http::Body::none);
  CHECK(p.client_keep);
  CHECK(plan(kGet, "HTTP/1.1 204 No Content\r\n\r\n").body == http::Body::none);
  CHECK(plan(kGet, "HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n").body ==
        http::Body::none);
  CHECK(plan(kGet, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n").body == http::Body::none);

  // The upstream closes after it: the client may stay, the upstream does not.
  p = plan(kGet, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n");
  CHECK(p.client_keep);
  CHECK_FALSE(p.upstream_reusable);
  p = plan(kGet, "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\n");
  CHECK_FALSE(p.upstream_reusable);
  // The client asked to close.
  CHECK_FALSE(plan("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", kOk).client_keep);
}

TEST_CASE("exchange: the end of a response decides both connections", "[edge][exchange]") {
  Resp ok(kOk);
  Exchange x = started(kGet);
  REQUIRE(x.on_response_head(ok.head) == Step::forward);
  CHECK(x.on_response_end(true, false, false));
  CHECK(x.upstream_reusable());

  x = started(kGet);
  REQUIRE(x.on_response_head(ok.head) == Step::forward);
  CHECK(x.on_response_end(true, false, true));  // bytes after the body: not ours to pool
  CHECK_FALSE(x.upstream_reusable());

  x = started(kGet);
  REQUIRE(x.on_response_head(ok.head) == Step::forward);
  CHECK_FALSE(x.on_response_end(false, false, false));  // the upstream broke off
  CHECK_FALSE(x.upstream_reusable());

  x = started(kGet);
  REQUIRE(x.on_response_head(ok.head) == Step::forward);
  CHECK_FALSE(x.on_response_end(true, true, false));  // the client went away
  CHECK_FALSE(x.upstream_reusable());
}

TEST_CASE("exchange: error answers", "[edge][exchange]") {
  // A head that started but did not finish in time: 408; a silent or closed connection: none.
  CHECK(Exchange::head_failed(true, 10).status == 408);
  CHECK_FALSE(Exchange::head_failed(true, 10).keep);
  CHECK(Exchange::head_failed(true, 0).status == 0);
  CHECK(Exchange::head_failed(false, 10).status == 0);

  auto bad = [](std::string req, http::Limits l = {}) {
    http::HeadParser p(l);
    http::Head h;
    auto r = p.parse_request(req, h);
    REQUIRE(r.state == http::Parse::bad);
    return Exchange::bad_head(r.error);
  };
  CHECK(bad("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n")
            .status == 400);
  http::Limits small;
  small.max_uri = 16;
  CHECK(bad("GET /" + std::string(64, 'a') + " HTTP/1.1\r\nHost: a\r\n\r\n", small).status == 414);
  small.max_headers = 2;
  CHECK(bad("GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", small).status == 431);
  CHECK_FALSE(bad("GET / HTTP/2.0\r\nHost: a\r\n\r\n").keep);

  Exchange c = started("CONNECT a.test:443 HTTP/1.1\r\nHost: a.test:443\r\n\r\n");
  CHECK(c.refuse_method().status == 405);
  CHECK(c.refuse_method().headers == "Allow: GET, HEAD, POST\r\n");
  CHECK(started(kGet).refuse_method().status == 0);

  ExchangeLimits l;
  l.max_body = 4;
  Exchange x = started(kPost, l);
  CHECK(x.refuse_body_length(5).status == 413);
  CHECK(x.refuse_body_length(4).status == 0);
  CHECK(started(kPost).refuse_body_length(1 << 30).status == 0);  // no limit
  CHECK(x.body_over_limit(5));
  CHECK(x.body_failed(5).status == 413);
  CHECK(x.body_failed(3).status == 400);  // malformed chunks under the limit
  CHECK(x.body_failed(0).status == 400);

  CHECK(started(kGet).no_target().status == 503);
  CHECK(started(kGet).no_target().keep);
  CHECK_FALSE(started(kPost).no_target().keep);
  CHECK(Exchange::bad_response().status == 502);
  CHECK(Exchange::bad_response().blame);
}

TEST_CASE("exchange: deadlines come from the time passed in", "[edge][exchange]") {
  ExchangeLimits l;
  l.idle = 60000;
  l.client_header = 10000;
  l.client_body = 7000;
  l.send = 3000;
  l.upstream_connect = 500;
  l.upstream_response = 9000;
  l.tunnel_idle = 3600000;
  Exchange x(l);
  const int64_t now = 1'000'000;
  CHECK(x.deadline(Wait::idle, now) == now + 60000);
  CHECK(x.deadline(Wait::client_header, now) == now + 10000);
  CHECK(x.deadline(Wait::client_body, now) == now + 7000);
  CHECK(x.deadline(Wait::send, now) == now + 3000);
  CHECK(x.deadline(Wait::upstream_connect, now) == now + 500);
  CHECK(x.deadline(Wait::upstream_response, now) == now + 9000);
  CHECK(x.deadline(Wait::tunnel, now) == now + 3600000);
  CHECK(x.deadline(Wait::linger, now) == now + Exchange::kLinger);
  // A clock that advances: the deadline passes exactly at it.
  int64_t d = x.deadline(Wait::client_header, now);
  CHECK_FALSE(Exchange::expired(d, now + 9999));
  CHECK(Exchange::expired(d, now + 10000));
  // A reload: the next request's deadlines follow the new snapshot's limits.
  ExchangeLimits reloaded = l;
  reloaded.idle = 5000;
  x.set_limits(reloaded);
  CHECK(x.deadline(Wait::idle, now) == now + 5000);
  CHECK(Exchange().deadline(Wait::idle, now) == now + ExchangeLimits{}.idle);
  // An idle keep-alive connection is parked after a second.
  CHECK_FALSE(Exchange::should_park(now, now + 999));
  CHECK(Exchange::should_park(now, now + 1000));
}

TEST_CASE("exchange: a full head buffer grows toward the header limit", "[edge][exchange]") {
  CHECK(Exchange::grow_head(16384, 32768) == 32768);
  CHECK(Exchange::grow_head(32768, 32768) == 32768 + 64);  // one more read shows it is too big
  CHECK(Exchange::grow_head(16384, 8192) == 16384 + 64);
}
