// Fuzz target: HTTP/1.1 request and response heads (whole and split at every 7th byte, which
// must agree), chunked bodies, the upstream request rewrite, and route lookup for whatever
// Host/path came in. Requests arrive from anyone on the internet.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "edge/routes.h"
#include "http/parser.h"
#include "http/proxy.h"

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

const edge::RouteTable& table() {
  static const edge::RouteTable* t = [] {
    std::vector<edge::RouteSpec> specs;
    for (const char* h : {"app.example.com", "*.example.com", "*", "a.b.example.com"}) {
      for (const char* p : {"/", "/api", "/api/v2/", "/static"}) {
        edge::RouteSpec s;
        s.name = std::string(h) + p;
        s.host = h;
        s.path = p;
        s.targets.push_back(*edge::parse_target("127.0.0.1:9"));
        specs.push_back(std::move(s));
      }
    }
    auto* rt = new edge::RouteTable;
    (void)rt->build(std::move(specs), nullptr);
    return rt;
  }();
  return *t;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  http::Limits lim;
  lim.max_head = 4096;
  lim.max_headers = 32;
  lim.max_uri = 1024;

  http::Head h;
  http::HeadParser p(lim);
  http::Parse whole = p.parse_request(in, h);
  check(whole.consumed <= in.size());
  if (whole.state == http::Parse::done) {
    for (const auto& f : h.headers) {
      check(f.name.data() >= in.data() && f.name.data() + f.name.size() <= in.data() + size);
      check(f.value.data() >= in.data() && f.value.data() + f.value.size() <= in.data() + size);
    }
    std::string out;
    http::ForwardOptions o;
    o.client_ip = "192.0.2.1";
    o.host = h.host.empty() ? "fallback" : h.host;
    o.upgrade = h.upgrade;
    http::write_request_head(h, o, out);
    http::HeadParser again(http::Limits{1 << 20, 1000, 1 << 20});
    http::Head h2;
    check(again.parse_request(out, h2).state == http::Parse::done);
    check(h2.method_text == h.method_text);
    (void)table().match(h.host, h.path);
    size_t rest = whole.consumed;
    if (http::request_body(h) == http::Body::chunked) {
      http::ChunkedScanner sc;
      std::string payload;
      auto st = sc.feed(in.substr(rest), &payload);
      check(st.consumed <= in.size() - rest);
      check(payload.size() == sc.payload_bytes());
    }
  }
  // The same bytes fed in pieces must reach the same verdict.
  http::HeadParser q(lim);
  http::Head hq;
  http::Parse step;
  for (size_t n = 7;; n += 7) {
    size_t m = std::min(n, in.size());
    step = q.parse_request(in.substr(0, m), hq);
    if (step.state != http::Parse::more || m == in.size()) break;
  }
  check(step.state == whole.state);
  if (whole.state == http::Parse::done) check(step.consumed == whole.consumed);
  if (whole.state == http::Parse::bad) check(step.error == whole.error);

  http::HeadParser r(lim);
  http::Head hr;
  http::Parse resp = r.parse_response(in, hr);
  if (resp.state == http::Parse::done) {
    std::string out;
    http::write_response_head(hr, {}, out);
    (void)http::response_body(hr, http::Method::get);
  }
  http::ChunkedScanner sc;
  auto st = sc.feed(in);
  check(st.consumed <= in.size());
  (void)http::cookie_value(in, "edged_sticky");
  return 0;
}
