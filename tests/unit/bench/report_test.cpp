#include "../support.h"

#include <boost/json.hpp>

#include "bench/report.h"
#include "bench/url.h"

namespace {

bench::Summary sample() {
  bench::Summary s;
  s.urls = {"http://127.0.0.1:8080/"};
  s.open_loop = true;
  s.rate = 1000;
  s.duration_s = 2;
  s.requests = 2000;
  s.timeline.resize(2);
  for (int i = 0; i < 2000; ++i) {
    uint64_t v = 100'000 + static_cast<uint64_t>(i) * 1000;
    s.latency.record(v);
    s.timeline[static_cast<size_t>(i / 1000)].requests++;
    s.timeline[static_cast<size_t>(i / 1000)].latency.record(v);
  }
  s.status[200] = 1990;
  s.status[500] = 10;
  s.errors[static_cast<int>(bench::ErrorKind::connect)] = 3;
  s.behind = 7;
  s.scheduled = 2000;
  return s;
}

}  // namespace

TEST_CASE("JSON report carries the documented fields", "[bench]") {
  bench::Summary s = sample();
  std::vector<bench::Checked> checks;
  auto th = *bench::parse_threshold("p99<1ms");
  checks.push_back({th, bench::check(th, s)});
  boost::json::value v = boost::json::parse(bench::format_json(s, checks));
  auto& o = v.as_object();
  REQUIRE(o.at("mode").as_string() == "open");
  REQUIRE(o.at("requests").to_number<uint64_t>() == 2000);
  REQUIRE(o.at("rps").to_number<double>() == 1000);
  auto& lat = o.at("latency_ms").as_object();
  for (const char* k :
       {"min", "mean", "stdev", "max", "p50", "p75", "p90", "p95", "p99", "p99_9", "p99_99"})
    REQUIRE(lat.contains(k));
  REQUIRE(lat.at("p50").to_number<double>() == Approx(1.1).epsilon(0.01));
  REQUIRE(o.at("status").as_object().at("500").to_number<int>() == 10);
  auto& err = o.at("errors").as_object();
  REQUIRE(err.at("connect").to_number<int>() == 3);
  REQUIRE(err.at("status").to_number<int>() == 10);
  REQUIRE(err.at("total").to_number<int>() == 13);
  REQUIRE(o.at("schedule").as_object().at("behind").to_number<int>() == 7);
  REQUIRE(o.at("thresholds").as_array().size() == 1);
  REQUIRE(o.at("ok").as_bool() == false);
  REQUIRE(o.at("histogram").as_array().size() > 10);
}

TEST_CASE("text report, histogram and CSV", "[bench]") {
  bench::Summary s = sample();
  std::string t = bench::format_text(s, {});
  REQUIRE(t.find("open loop at 1000 req/s") != std::string::npos);
  REQUIRE(t.find("7 of 2,000 requests fell behind schedule (0.35%)") != std::string::npos);
  REQUIRE(t.find("connect 3") != std::string::npos);
  REQUIRE(t.find("Latency histogram") != std::string::npos);
  std::string h = bench::ascii_histogram(s.latency, 8, 20);
  REQUIRE(std::count(h.begin(), h.end(), '\n') == 8);
  REQUIRE(h.find("100.00%") != std::string::npos);
  REQUIRE(bench::ascii_histogram(bench::Histogram(), 8, 20).empty());
  std::string csv = bench::format_csv(s);
  REQUIRE(csv.rfind("second,requests,errors,bytes,rps,p50_ms,p90_ms,p99_ms,max_ms\n", 0) == 0);
  REQUIRE(std::count(csv.begin(), csv.end(), '\n') == 3);
  REQUIRE(csv.find("\n1,1000,0,0,1000.0,") != std::string::npos);
}

TEST_CASE("URLs and addresses", "[bench]") {
  auto u = bench::parse_url("https://example.com/a?b=1#frag");
  REQUIRE(u);
  REQUIRE(u->tls);
  REQUIRE(u->port == 443);
  REQUIRE(u->target == "/a?b=1");
  REQUIRE(u->host_header == "example.com");
  u = bench::parse_url("http://[::1]:8080");
  REQUIRE(u);
  REQUIRE(u->host == "::1");
  REQUIRE(u->port == 8080);
  REQUIRE(u->target == "/");
  for (const char* bad : {"example.com", "ftp://x/", "http://", "http://h:99999/", "http://u@h/",
                          "http://[::1/", "http://h/a b"}) {
    INFO(bad);
    auto r = bench::parse_url(bad);
    REQUIRE_FALSE(r);
    REQUIRE(r.error().code == core::Errc::usage);
  }
  auto hp = bench::parse_hostport("127.0.0.1:0");
  REQUIRE(hp);
  REQUIRE(hp->port == 0);
  REQUIRE(bench::parse_hostport("[::1]:80")->host == "::1");
  REQUIRE(bench::parse_hostport("unix:/tmp/x.sock")->unix_path == "/tmp/x.sock");
  REQUIRE_FALSE(bench::parse_hostport("localhost"));
  REQUIRE_FALSE(bench::parse_hostport("::1:80"));
}
