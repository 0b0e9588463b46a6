#include "../support.h"

#include <random>
#include <string>

#include "bench/http1.h"

using bench::Http1Parser;

namespace {

// Feeds `wire` in pieces of `step` bytes; returns the final status and bytes consumed.
Http1Parser::Status feed_all(Http1Parser& p, const std::string& wire, size_t step,
                             size_t* used_total) {
  size_t off = 0;
  *used_total = 0;
  auto st = Http1Parser::Status::more;
  while (off < wire.size()) {
    size_t n = std::min(step, wire.size() - off);
    size_t used = 0;
    st = p.feed(wire.data() + off, n, &used);
    *used_total += used;
    if (st != Http1Parser::Status::more) return st;
    REQUIRE(used == n);
    off += n;
  }
  return st;
}

}  // namespace

TEST_CASE("responses frame by length, chunks and close, in any split", "[bench]") {
  const std::string chunked =
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5;ext=1\r\nhello\r\n7\r\n, world\r\n0\r\nX-Trailer: 1\r\n\r\n";
  const std::string length = "HTTP/1.1 404 Not Found\r\ncontent-length: 3\r\n\r\nabcNEXT";
  for (size_t step : {size_t{1}, size_t{2}, size_t{7}, size_t{4096}}) {
    Http1Parser p(Http1Parser::Kind::response);
    std::string body;
    p.set_body_sink(&body);
    size_t used = 0;
    REQUIRE(feed_all(p, chunked, step, &used) == Http1Parser::Status::done);
    REQUIRE(used == chunked.size());
    REQUIRE(body == "hello, world");
    REQUIRE(p.status() == 200);
    REQUIRE(p.keep_alive());

    p.reset();
    body.clear();
    REQUIRE(feed_all(p, length, step, &used) == Http1Parser::Status::done);
    REQUIRE(used == length.size() - 4);  // "NEXT" belongs to the next message
    REQUIRE(body == "abc");
    REQUIRE(p.status() == 404);
  }
  Http1Parser p(Http1Parser::Kind::response);
  size_t used = 0;
  std::string close = "HTTP/1.0 200 OK\r\n\r\nuntil the end";
  REQUIRE(p.feed(close.data(), close.size(), &used) == Http1Parser::Status::more);
  REQUIRE(p.eof() == Http1Parser::Status::done);
  REQUIRE(p.body_bytes() == 13);
  REQUIRE_FALSE(p.keep_alive());
}

TEST_CASE("interim, HEAD and bodyless responses", "[bench]") {
  Http1Parser p(Http1Parser::Kind::response);
  size_t used = 0;
  std::string w = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n";
  REQUIRE(p.feed(w.data(), w.size(), &used) == Http1Parser::Status::done);
  REQUIRE(p.status() == 204);
  REQUIRE(used == w.size());
  p.reset(true);
  w = "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n";
  REQUIRE(p.feed(w.data(), w.size(), &used) == Http1Parser::Status::done);
  REQUIRE(p.body_bytes() == 0);
}

TEST_CASE("bad responses are errors, never crashes", "[bench]") {
  for (const char* bad :
       {"HTTP/2 200 OK\r\n\r\n", "HTTP/1.1 2000 OK\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        "HTTP/1.1 200 OK\r\n folded\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nab", "garbage\r\n\r\n"}) {
    INFO(bad);
    Http1Parser p(Http1Parser::Kind::response);
    size_t used = 0;
    std::string w = bad;
    REQUIRE(p.feed(w.data(), w.size(), &used) == Http1Parser::Status::error);
    REQUIRE_FALSE(p.error().empty());
  }
  Http1Parser p(Http1Parser::Kind::response, 128);
  std::string big = "HTTP/1.1 200 OK\r\nX: " + std::string(200, 'a');
  size_t used = 0;
  REQUIRE(p.feed(big.data(), big.size(), &used) == Http1Parser::Status::error);
  REQUIRE(p.error() == "header too large");
  Http1Parser q(Http1Parser::Kind::response);
  REQUIRE(q.eof() == Http1Parser::Status::error);
}

TEST_CASE("requests: pipelining, bodies, keep-alive rules", "[bench]") {
  Http1Parser p(Http1Parser::Kind::request);
  std::string w =
      "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\nabcd"
      "GET / HTTP/1.0\r\n\r\n";
  std::string body;
  p.set_body_sink(&body);
  size_t used = 0;
  REQUIRE(p.feed(w.data(), w.size(), &used) == Http1Parser::Status::done);
  REQUIRE(p.method() == "POST");
  REQUIRE(p.target() == "/echo");
  REQUIRE(p.expect_continue());
  REQUIRE(body == "abcd");
  REQUIRE(p.keep_alive());
  size_t off = used;
  p.reset();
  REQUIRE(p.feed(w.data() + off, w.size() - off, &used) == Http1Parser::Status::done);
  REQUIRE(p.version_minor() == 0);
  REQUIRE_FALSE(p.keep_alive());
  p.reset();
  std::string te = "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n";
  REQUIRE(p.feed(te.data(), te.size(), &used) == Http1Parser::Status::error);
  p.reset();
  std::string both = "POST / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n";
  REQUIRE(p.feed(both.data(), both.size(), &used) == Http1Parser::Status::error);
}

TEST_CASE("mutated messages in random splits never crash or overrun", "[bench]") {
  const std::string seeds[] = {
      "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
      "HTTP/1.0 404 Not Found\r\nConnection: keep-alive\r\n\r\nbody",
      "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc",
      "GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1;x=y\r\na\r\n0\r\nT: 1\r\n\r\n"};
  std::mt19937 rng(7);
  for (int iter = 0; iter < 20000; ++iter) {
    std::string m = seeds[rng() % 5];
    int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits && !m.empty(); ++e) {
      size_t at = rng() % m.size();
      switch (rng() % 4) {
        case 0:
          m[at] = static_cast<char>(rng());
          break;
        case 1:
          m.insert(at, 1, "\r\n:;0 9aF"[rng() % 9]);
          break;
        case 2:
          m.erase(at, 1);
          break;
        default:
          m.resize(at);
          break;
      }
    }
    for (auto kind : {Http1Parser::Kind::request, Http1Parser::Kind::response}) {
      Http1Parser p(kind, 256);
      std::string sink;
      p.set_body_sink(&sink);
      size_t off = 0;
      auto st = Http1Parser::Status::more;
      while (off < m.size() && st == Http1Parser::Status::more) {
        size_t n = 1 + rng() % (m.size() - off);
        size_t used = 0;
        st = p.feed(m.data() + off, n, &used);
        REQUIRE(used <= n);
        off += used;
      }
      if (st == Http1Parser::Status::more) st = p.eof();
      REQUIRE(sink.size() == p.body_bytes());
      REQUIRE(sink.size() <= m.size());
      if (st == Http1Parser::Status::error) REQUIRE_FALSE(p.error().empty());
    }
  }
}
