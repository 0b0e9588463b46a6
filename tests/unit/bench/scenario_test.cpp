#include "../support.h"

#include "bench/compare.h"
#include "bench/scenario.h"

TEST_CASE("scenario files parse with defaults and per-target settings", "[bench]") {
  auto sc = bench::parse_scenario(R"(
rounds = 4
baseline = "edge"
pause = "250ms"
[load]
duration = "1.5s"
warmup = "0.5s"
connections = 32
threads = 2
rate = 5000
keepalive = false
headers = ["Accept: */*"]
[[target]]
name = "direct"
url = "http://{addr}/"
start = "exec netbench serve --listen 127.0.0.1:0"
[[target]]
name = "edge"
url = "https://app.test/"
connect_to = "127.0.0.1:8443"
insecure = true
headers = ["X-Via: edge"]
ready_timeout = "3s"
)",
                                  "s.toml", ".");
  REQUIRE(sc);
  REQUIRE(sc->rounds == 4);
  REQUIRE(sc->baseline == "edge");
  REQUIRE(sc->pause_ns == 250'000'000);
  REQUIRE(sc->load.duration_ns == 1'500'000'000);
  REQUIRE(sc->load.warmup_ns == 500'000'000);
  REQUIRE(sc->load.connections == 32);
  REQUIRE(sc->load.threads == 2);
  REQUIRE(sc->load.rate == 5000);
  REQUIRE_FALSE(sc->load.keepalive);
  REQUIRE(sc->targets.size() == 2);
  REQUIRE(sc->targets[1].ready_timeout_ns == 3'000'000'000);
  auto o = sc->load_for(sc->targets[1], "https://app.test/");
  REQUIRE(o.connect_to == "127.0.0.1:8443");
  REQUIRE(o.insecure);
  REQUIRE(o.headers == std::vector<std::string>{"Accept: */*", "X-Via: edge"});
  auto d =
      bench::parse_scenario("[[target]]\nname = \"a\"\nurl = \"http://h:1/\"\n", "d.toml", ".");
  REQUIRE(d);
  REQUIRE(d->rounds == 3);
  REQUIRE(d->baseline == "a");
  REQUIRE(d->load.duration_ns == 5'000'000'000);
}

TEST_CASE("bad scenarios name file, line and column", "[bench]") {
  struct Case {
    const char* text;
    const char* want;
  };
  for (const Case& c : std::initializer_list<Case>{
           {"rounds = 2\n", "at least one [[target]]"},
           {"[[target]]\nname = \"a\"\nurl = \"ftp://x/\"\n", "s.toml:3:7: "},
           {"[[target]]\nname = \"a\"\n", "missing key \"target[0].url\""},
           {"[[target]]\nname = \"a\"\nurl = \"http://{addr}/\"\n", "needs a start command"},
           {"[load]\nduration = \"soon\"\n[[target]]\nname = \"a\"\nurl = \"http://h/\"\n",
            "s.toml:2:12: "},
           {"[load]\nconnections = 1\nthreads = 2\n[[target]]\nname = \"a\"\nurl = \"http://h/\"\n",
            "must not exceed connections"},
           {"baseline = \"b\"\n[[target]]\nname = \"a\"\nurl = \"http://h/\"\n", "no target named"},
           {"[[target]]\nname = \"a\"\nurl = \"http://h/\"\n[[target]]\nname = \"a\"\nurl = "
            "\"http://h/\"\n",
            "duplicate target name"},
           {"[[target]]\nname = \"a\"\nurl = \"http://h/\"\nmtu = 3\n", "s.toml:4:1: "},
           {"rounds = [\n", "s.toml:"}}) {
    INFO(c.text);
    auto sc = bench::parse_scenario(c.text, "s.toml", ".");
    REQUIRE_FALSE(sc);
    REQUIRE(sc.error().code == core::Errc::config);
    INFO(sc.error().message);
    REQUIRE(sc.error().message.find(c.want) != std::string::npos);
  }
}

TEST_CASE("compare statistics: medians, spread, ratios to the baseline", "[bench]") {
  auto s = bench::stat_of({30, 10, 20});
  REQUIRE(s.median == 20);
  REQUIRE(s.spread_pct() == 50);
  REQUIRE(bench::stat_of({1, 2, 3, 4}).median == 2.5);
  REQUIRE(bench::stat_of({}).median == 0);
  bench::CompareResult r;
  r.rounds = 2;
  r.baseline = "direct";
  bench::RunFigures a{100, 1, 2, 3, 4, 5, 200, 0, 0}, b{110, 1, 2, 3, 4, 5, 220, 0, 0};
  bench::RunFigures c{50, 2, 4, 6, 8, 10, 100, 1, 0}, d{40, 2, 4, 6, 8, 10, 80, 1, 0};
  r.targets.push_back({"direct", "http://a/", {a, b}});
  r.targets.push_back({"proxied", "http://b/", {c, d}});
  std::string t = bench::format_compare_text(r);
  REQUIRE(t.find("direct") != std::string::npos);
  REQUIRE(t.find("105.0") != std::string::npos);  // median of 100 and 110
  REQUIRE(t.find("0.43") != std::string::npos);   // 45 / 105
  auto j = bench::compare_to_json(r);
  auto& p = j.at("targets").as_array()[1].as_object();
  REQUIRE(p.at("median").as_object().at("rps").to_number<double>() == 45);
  REQUIRE(p.at("ratio").as_object().at("p50_ms").to_number<double>() == 2);
  REQUIRE(p.at("spread_pct").as_object().at("rps").to_number<double>() == Approx(11.1111));
  REQUIRE(p.at("errors").to_number<int>() == 2);
}
