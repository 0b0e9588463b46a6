// http::HeadParser, ChunkedScanner and the proxy head rewriting: valid messages whole and byte by
// byte, and every smuggling/limit case the edge must refuse with the right status.
#include <string>

#include "../support.h"
#include "http/parser.h"
#include "http/proxy.h"

using namespace http;

namespace {

Parse parse_req(std::string_view s, Head& h, Limits lim = {}) {
  HeadParser p(lim);
  return p.parse_request(s, h);
}

Error req_error(std::string_view s, Limits lim = {}) {
  Head h;
  Parse r = parse_req(s, h, lim);
  if (r.state == Parse::done) return Error::none;
  if (r.state == Parse::more) return Error::none;
  return r.error;
}

// Feeds a chunked body in pieces of `step` bytes; returns payload or "ERR:<error>".
std::string dechunk(std::string_view body, size_t step, size_t* used = nullptr) {
  ChunkedScanner sc;
  std::string out;
  size_t pos = 0;
  while (pos < body.size()) {
    size_t n = std::min(step, body.size() - pos);
    auto s = sc.feed(body.substr(pos, n), &out);
    if (s.error != Error::none) return "ERR:" + std::string(to_string(s.error));
    pos += s.consumed;
    if (s.done) break;
    if (s.consumed < n) return "ERR:stalled";
  }
  if (used) *used = pos;
  return sc.done() ? out : "INCOMPLETE:" + out;
}

}  // namespace

TEST_CASE("a simple GET parses with its headers recognised") {
  Head h;
  std::string s =
      "GET /a/b?c=d HTTP/1.1\r\nHost: Example.COM:8080\r\nUser-Agent: t\r\n"
      "X-Forwarded-For: 1.2.3.4\r\nCookie: a=1; edged_sticky=xyz\r\n\r\nNEXT";
  Parse r = parse_req(s, h);
  REQUIRE(r.state == Parse::done);
  CHECK(r.consumed == s.size() - 4);
  CHECK(h.method == Method::get);
  CHECK(h.path == "/a/b?c=d");
  CHECK(h.host == "Example.COM:8080");
  CHECK(h.version_minor == 1);
  CHECK(h.keep_alive);
  CHECK(h.content_length == -1);
  CHECK_FALSE(h.chunked);
  CHECK(h.headers.size() == 4);
  CHECK(h.headers[2].id == Hdr::x_forwarded_for);
  CHECK(h.get("user-agent") == "t");
  CHECK(cookie_value(h.get(Hdr::cookie), "edged_sticky") == "xyz");
  CHECK(request_body(h) == Body::none);
}

TEST_CASE("incremental parsing byte by byte gives the same result") {
  std::string s = "\r\nPOST /up HTTP/1.1\r\nHost: h\r\nContent-Length: 12\r\n\r\n";
  HeadParser p;
  Head h;
  Parse r;
  for (size_t i = 1; i <= s.size(); ++i) {
    r = p.parse_request(std::string_view(s).substr(0, i), h);
    if (i < s.size()) REQUIRE(r.state == Parse::more);
  }
  REQUIRE(r.state == Parse::done);
  CHECK(r.consumed == s.size());
  CHECK(h.method == Method::post);
  CHECK(h.content_length == 12);
  CHECK(request_body(h) == Body::length);
}

TEST_CASE("keep-alive follows the version and Connection") {
  Head h;
  REQUIRE(parse_req("GET / HTTP/1.0\r\n\r\n", h).state == Parse::done);
  CHECK_FALSE(h.keep_alive);
  REQUIRE(parse_req("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", h).state == Parse::done);
  CHECK(h.keep_alive);
  REQUIRE(parse_req("GET / HTTP/1.1\r\nHost: x\r\nConnection: foo, close\r\n\r\n", h).state ==
          Parse::done);
  CHECK_FALSE(h.keep_alive);
  REQUIRE(h.connection_tokens.size() == 1);
  CHECK(h.connection_tokens[0] == "foo");
  REQUIRE(parse_req(
              "GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n", h)
              .state == Parse::done);
  CHECK(h.upgrade);
  CHECK(h.upgrade_value == "websocket");
}

TEST_CASE("absolute-form targets take the host from the URI") {
  Head h;
  REQUIRE(parse_req("GET http://a.example/x?y HTTP/1.1\r\nHost: a.example\r\n\r\n", h).state ==
          Parse::done);
  CHECK(h.host == "a.example");
  CHECK(h.path == "/x?y");
  REQUIRE(parse_req("GET http://a.example HTTP/1.1\r\nHost: a.example\r\n\r\n", h).state ==
          Parse::done);
  CHECK(h.path.empty());
}

TEST_CASE("request smuggling vectors are refused") {
  CHECK(req_error("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: "
                  "chunked\r\n\r\n") == Error::content_length_and_chunked);
  CHECK(req_error("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n") ==
        Error::duplicate_content_length);
  CHECK(req_error("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 5\r\n\r\n") ==
        Error::bad_content_length);
  CHECK(req_error("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +5\r\n\r\n") ==
        Error::bad_content_length);
  CHECK(req_error("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n") ==
        Error::bad_content_length);
  CHECK(req_error("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, chunked\r\n\r\n") ==
        Error::unsupported_transfer_encoding);
  CHECK(req_error("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n") ==
        Error::unsupported_transfer_encoding);
  CHECK(req_error("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n") ==
        Error::unsupported_transfer_encoding);
  CHECK(req_error("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n") ==
        Error::transfer_encoding_http10);
  CHECK(req_error("GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n") == Error::obs_fold);
  CHECK(req_error("GET / HTTP/1.1\r\n Host: x\r\n\r\n") == Error::obs_fold);
  CHECK(req_error("GET / HTTP/1.1\nHost: x\r\n\r\n") == Error::bare_lf);
  CHECK(req_error("GET / HTTP/1.1\r\nHost: x\n\r\n") == Error::bare_lf);
  CHECK(req_error("GET / HTTP/1.1\r\nHost: x\r\nX-A: a\rb\r\n\r\n") == Error::bare_cr);
  CHECK(req_error("GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\r\n\r\n") == Error::bare_cr);
  CHECK(req_error("GET / HTTP/1.1\r\nHost : x\r\n\r\n") == Error::bad_header_name);
  CHECK(req_error("GET / HTTP/1.1\r\nHo(st: x\r\n\r\n") == Error::bad_header_name);
  CHECK(req_error("GET / HTTP/1.1\r\n: x\r\n\r\n") == Error::bad_header_name);
  CHECK(req_error("GET / HTTP/1.1\r\nHost: x\r\nX: a\x01\r\n\r\n") == Error::bad_header_value);
  CHECK(req_error("GET / HTTP/1.1\r\n\r\n") == Error::missing_host);
  CHECK(req_error("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n") == Error::duplicate_host);
  CHECK(req_error("GET / HTTP/1.1\r\nHost: a/b\r\n\r\n") == Error::bad_host);
  CHECK(req_error("GET  / HTTP/1.1\r\nHost: a\r\n\r\n") == Error::bad_request_line);
  CHECK(req_error("GET / HTTP/1.1 \r\nHost: a\r\n\r\n") == Error::bad_version);
  CHECK(req_error("GET / HTTP/2.0\r\nHost: a\r\n\r\n") == Error::version_not_supported);
  CHECK(req_error("G@T / HTTP/1.1\r\nHost: a\r\n\r\n") == Error::bad_method);
  CHECK(req_error("GET a HTTP/1.1\r\nHost: a\r\n\r\n") == Error::bad_target);
  CHECK(req_error("GET /\x7f HTTP/1.1\r\nHost: a\r\n\r\n") == Error::bad_target);
  CHECK(req_error("GET / HTTP/1.1\r\nHost: a\r\nExpect: 200-ok\r\n\r\n") == Error::bad_expect);
  CHECK(status_for(Error::content_length_and_chunked) == 400);
  CHECK(status_for(Error::unsupported_transfer_encoding) == 501);
  CHECK(status_for(Error::bad_expect) == 417);
}

TEST_CASE("limits: long URI 414, large head 431, many headers 431") {
  Limits lim;
  lim.max_uri = 100;
  lim.max_head = 1000;
  lim.max_headers = 5;
  std::string longuri = "GET /" + std::string(200, 'a') + " HTTP/1.1\r\nHost: x\r\n\r\n";
  CHECK(req_error(longuri, lim) == Error::uri_too_long);
  // Incomplete request line that is already too long: refused before the line ends.
  CHECK(req_error("GET /" + std::string(300, 'a'), lim) == Error::uri_too_long);
  std::string big = "GET / HTTP/1.1\r\nHost: x\r\nX: " + std::string(1200, 'b') + "\r\n\r\n";
  CHECK(req_error(big, lim) == Error::head_too_large);
  CHECK(status_for(Error::head_too_large) == 431);
  CHECK(req_error("GET / HTTP/1.1\r\nHost: x\r\nX: " + std::string(1200, 'b'), lim) ==
        Error::head_too_large);
  std::string many = "GET / HTTP/1.1\r\nHost: x\r\n";
  for (int i = 0; i < 6; ++i) many += "X" + std::to_string(i) + ": v\r\n";
  CHECK(req_error(many + "\r\n", lim) == Error::too_many_headers);
}

TEST_CASE("responses: status line, framing, keep-alive") {
  HeadParser p;
  Head h;
  Parse r = p.parse_response("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", h);
  REQUIRE(r.state == Parse::done);
  CHECK(h.status == 200);
  CHECK(h.reason == "OK");
  CHECK(response_body(h, Method::get) == Body::length);
  CHECK(response_body(h, Method::head) == Body::none);
  p.reset();
  REQUIRE(p.parse_response("HTTP/1.1 204\r\n\r\n", h).state == Parse::done);
  CHECK(h.status == 204);
  CHECK(response_body(h, Method::get) == Body::none);
  p.reset();
  REQUIRE(p.parse_response("HTTP/1.0 200 OK\r\n\r\n", h).state == Parse::done);
  CHECK_FALSE(h.keep_alive);
  CHECK(response_body(h, Method::get) == Body::until_close);
  p.reset();
  REQUIRE(p.parse_response("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", h).state ==
          Parse::done);
  CHECK(response_body(h, Method::get) == Body::chunked);
  p.reset();
  CHECK(p.parse_response("HTTP/1.1 2000 OK\r\n\r\n", h).state == Parse::bad);
  p.reset();
  CHECK(p.parse_response("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: "
                         "chunked\r\n\r\n",
                         h)
            .error == Error::content_length_and_chunked);
}

TEST_CASE("chunked bodies decode whole and byte by byte, trailers included") {
  std::string body = "5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-Trailer: v\r\n\r\nNEXT";
  for (size_t step : {1, 2, 3, 7, 1000}) {
    size_t used = 0;
    CHECK(dechunk(body, step, &used) == "hello world");
    CHECK(used == body.size() - 4);
  }
  CHECK(dechunk("A\r\n0123456789\r\n0\r\n\r\n", 1) == "0123456789");
  CHECK(dechunk("0\r\n\r\n", 1).empty());
}

TEST_CASE("bad chunk framing is refused") {
  CHECK(dechunk("x\r\n", 5) == "ERR:bad chunk size");
  CHECK(dechunk("\r\n", 5) == "ERR:bad chunk size");
  CHECK(dechunk("-1\r\n", 5) == "ERR:bad chunk size");
  CHECK(dechunk("0x5\r\nhello\r\n", 5) == "ERR:bad chunk size");
  CHECK(dechunk("1000000000000000\r\n", 50) == "ERR:bad chunk size");
  CHECK(dechunk("5\nhello\r\n0\r\n\r\n", 50) == "ERR:bare LF (lines must end with CRLF)");
  CHECK(dechunk("5\r\nhelloX\r\n0\r\n\r\n", 50) == "ERR:malformed chunk");
  CHECK(dechunk("5\r\nhello\n0\r\n\r\n", 50) == "ERR:bare LF (lines must end with CRLF)");
  CHECK(dechunk("5 \r\nhello\r\n", 50) == "ERR:bad chunk size");
  CHECK(dechunk("5 ;a\r\nhello\r\n0\r\n\r\n", 50) == "hello");
  CHECK(dechunk("5;" + std::string(2000, 'e') + "\r\n", 5000) == "ERR:chunk extension too long");
  CHECK(dechunk("0\r\nX: a\nb\r\n\r\n", 50) == "ERR:bare LF (lines must end with CRLF)");
  CHECK(dechunk("0\r\n folded\r\n\r\n", 50) == "ERR:obsolete line folding");
  CHECK(dechunk("5\r\nhe", 50) == "INCOMPLETE:he");
}

TEST_CASE("the upstream request drops hop-by-hop headers and sets X-Forwarded-*") {
  Head h;
  std::string s =
      "POST /p HTTP/1.1\r\nHost: app.example\r\nConnection: keep-alive, X-Secret\r\n"
      "X-Secret: s\r\nKeep-Alive: timeout=5\r\nTE: trailers\r\nProxy-Authorization: p\r\n"
      "X-Forwarded-For: 6.6.6.6\r\nX-Real-IP: 6.6.6.6\r\nX-Forwarded-Proto: gopher\r\n"
      "Expect: 100-continue\r\nTransfer-Encoding: chunked\r\nAccept: */*\r\n\r\n";
  REQUIRE(parse_req(s, h).state == Parse::done);
  std::string out;
  ForwardOptions o;
  o.client_ip = "10.1.2.3";
  o.tls = true;
  o.host = "app.example";
  write_request_head(h, o, out);
  CHECK(out ==
        "POST /p HTTP/1.1\r\nHost: app.example\r\nAccept: */*\r\nX-Forwarded-For: 10.1.2.3\r\n"
        "X-Forwarded-Proto: https\r\nX-Forwarded-Host: app.example\r\nX-Real-IP: 10.1.2.3\r\n"
        "Transfer-Encoding: chunked\r\n\r\n");
  // From a trusted proxy the chain is extended and its proto kept.
  out.clear();
  o.trusted_peer = true;
  o.real_ip = "6.6.6.6";
  o.host = "backend:8080";
  write_request_head(h, o, out);
  CHECK(out.find("X-Forwarded-For: 6.6.6.6, 10.1.2.3\r\n") != std::string::npos);
  CHECK(out.find("X-Forwarded-Proto: gopher\r\n") != std::string::npos);
  CHECK(out.find("X-Real-IP: 6.6.6.6\r\n") != std::string::npos);
  CHECK(out.find("Host: backend:8080\r\n") != std::string::npos);
  CHECK(out.find("X-Secret") == std::string::npos);
}

TEST_CASE("the client response drops hop-by-hop headers and states Connection") {
  HeadParser p;
  Head h;
  REQUIRE(p.parse_response("HTTP/1.1 200 OK\r\nKeep-Alive: x\r\nConnection: keep-alive\r\n"
                           "Transfer-Encoding: chunked\r\nX-A: 1\r\n\r\n",
                           h)
              .state == Parse::done);
  std::string out;
  ResponseOptions o;
  o.keep_alive = false;
  o.extra = "Set-Cookie: a=b\r\n";
  write_response_head(h, o, out);
  CHECK(out ==
        "HTTP/1.1 200 OK\r\nX-A: 1\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n"
        "Set-Cookie: a=b\r\n\r\n");
  out.clear();
  o = {};
  o.client_minor = 0;
  o.dechunk = true;
  o.keep_alive = false;
  write_response_head(h, o, out);
  CHECK(out == "HTTP/1.1 200 OK\r\nX-A: 1\r\nConnection: close\r\n\r\n");
}

TEST_CASE("error pages and redirects are complete responses") {
  std::string out;
  write_error(502, "upstream <refused>", false, out);
  Head h;
  HeadParser p;
  Parse r = p.parse_response(out, h);
  REQUIRE(r.state == Parse::done);
  CHECK(h.status == 502);
  CHECK_FALSE(h.keep_alive);
  CHECK(static_cast<size_t>(h.content_length) == out.size() - r.consumed);
  CHECK(out.find("upstream &lt;refused&gt;") != std::string::npos);
  out.clear();
  write_redirect("https://a.example/x", true, out);
  p.reset();
  REQUIRE(p.parse_response(out, h).state == Parse::done);
  CHECK(h.status == 308);
  CHECK(h.get("location") == "https://a.example/x");
  std::string j;
  json_escape("a\"b\\c\n", j);
  CHECK(j == "a\\\"b\\\\c\\u000a");
}

TEST_CASE("chunk extensions follow their grammar: token names, token or quoted values") {
  for (std::string ext :
       {";a", ";a=b", "; a = b", ";a=\"x y;z\"", ";a=\"q\\\"d\"", ";a;b=c;d", " ;a", ";a=b ;c"})
    CHECK(dechunk("5" + ext + "\r\nhello\r\n0\r\n\r\n", 1) == "hello");
  for (std::string ext : {";", ";=b", ";a=", ";a=b c", ";a b", ";a=\"open", ";a=\"x\"y", ";a==b",
                          ";a=b,c", ";(a)", ";a=\"\x01\"", ";a=\x7f", ";a=b;"})
    CHECK(dechunk("5" + ext + "\r\nhello\r\n0\r\n\r\n", 1).rfind("ERR:", 0) == 0);
  CHECK(dechunk("5;a=b c\r\nhello\r\n0\r\n\r\n", 50) == "ERR:malformed chunk extension");
}

TEST_CASE("trailers are validated and reported apart from the body, so a proxy can drop them") {
  std::string body = "5\r\nhello\r\n0\r\nRemote-User: admin\r\nX-A: 1\r\n\r\n";
  const size_t before = body.find("Remote-User");
  for (size_t step : {1, 2, 5, 17, 1000}) {
    ChunkedScanner sc;
    size_t pos = 0, kept = 0;
    std::string forwarded;
    while (pos < body.size()) {
      auto s = sc.feed(std::string_view(body).substr(pos, std::min(step, body.size() - pos)));
      REQUIRE(s.error == Error::none);
      CHECK(s.keep <= s.consumed);
      forwarded.append(body, pos, s.keep);
      kept += s.keep;
      pos += s.consumed;
      if (s.done) break;
    }
    CHECK(sc.done());
    CHECK(kept == before);
    CHECK(forwarded == "5\r\nhello\r\n0\r\n");
  }
  CHECK(dechunk("0\r\nNo-Colon\r\n\r\n", 50) == "ERR:invalid header name");
  CHECK(dechunk("0\r\nBad Name: v\r\n\r\n", 50) == "ERR:invalid header name");
  CHECK(dechunk("0\r\n: v\r\n\r\n", 50).rfind("ERR:", 0) == 0);
}

TEST_CASE("standard methods in another case are refused, not forwarded as unknown methods") {
  for (auto m : {"get", "Get", "pOST", "delete", "DeLeTe", "options", "patch", "connect"})
    CHECK(req_error(std::string(m) + " / HTTP/1.1\r\nHost: x\r\n\r\n") == Error::bad_method);
  // Unknown methods in any case stay allowed (WebDAV and friends).
  Head h;
  CHECK(parse_req("PROPFIND / HTTP/1.1\r\nHost: x\r\n\r\n", h).state == Parse::done);
  CHECK(parse_req("mkcol / HTTP/1.1\r\nHost: x\r\n\r\n", h).state == Parse::done);
  CHECK(method_case_variant("Get"));
  CHECK_FALSE(method_case_variant("GET"));
  CHECK_FALSE(method_case_variant("GETS"));
}

TEST_CASE("an absolute-form target and a Host header must name the same host") {
  Head h;
  CHECK(parse_req("GET http://a.test/x HTTP/1.1\r\nHost: a.test\r\n\r\n", h).state == Parse::done);
  CHECK(h.host == "a.test");
  CHECK(parse_req("GET http://A.test:80/x HTTP/1.1\r\nHost: a.TEST\r\n\r\n", h).state ==
        Parse::done);
  CHECK(parse_req("GET http://a.test/x HTTP/1.1\r\n\r\n", h).state == Parse::done);
  CHECK(req_error("GET http://a.test/x HTTP/1.1\r\nHost: b.test\r\n\r\n") == Error::host_mismatch);
  CHECK(req_error("GET http://a.test:8080/x HTTP/1.1\r\nHost: a.test:8081\r\n\r\n") ==
        Error::host_mismatch);
  CHECK(req_error("GET http://a.test:8080/ HTTP/1.1\r\nHost: a.test\r\n\r\n") ==
        Error::host_mismatch);
  CHECK(status_for(Error::host_mismatch) == 400);
}
