#include "bench/scenario.h"

#include <set>

#include "bench/units.h"
#include "bench/url.h"
#include "bench/util.h"
#include "config/config.h"
#include "core/fs.h"

namespace bench {

namespace {

// A duration in netbench's units ("1.5s", "250ms"); errors land at the key's position.
void get_nanos(config::Reader& r, std::string_view key, int64_t& out, int64_t min_ns) {
  std::string s;
  if (!r.get(key, s)) return;
  auto v = parse_nanos(s);
  if (!v) return r.fail(key, v.error().message);
  if (*v < min_ns)
    return r.fail(key, "must be at least " + format_nanos(static_cast<double>(min_ns)));
  out = *v;
}

void get_headers(config::Reader& r, std::vector<std::string>& out) {
  std::vector<std::string> hs;
  if (!r.get("headers", hs)) return;
  for (const std::string& h : hs)
    if (std::string why = header_line_error(h); !why.empty()) return r.fail("headers", why);
  out.insert(out.end(), hs.begin(), hs.end());
}

core::Result<Scenario> build(config::Reader& root, const std::string& name,
                             const std::string& dir) {
  Scenario sc;
  sc.path = name;
  sc.dir = dir;
  root.get("rounds", sc.rounds, 1, 1000);
  root.get("baseline", sc.baseline);
  get_nanos(root, "pause", sc.pause_ns, 0);

  LoadOptions& l = sc.load;
  l.duration_ns = 5'000'000'000;
  config::Reader load = root.table("load");
  get_nanos(load, "duration", l.duration_ns, 1'000'000);
  get_nanos(load, "warmup", l.warmup_ns, 0);
  get_nanos(load, "timeout", l.timeout_ns, 1'000'000);
  load.get("connections", l.connections, 1, 1'000'000);
  load.get("threads", l.threads, 1, 1024);
  load.get("rate", l.rate, 0.0, 1e9);
  load.get("keepalive", l.keepalive);
  load.get("method", l.method);
  load.get("insecure", l.insecure);
  get_headers(load, l.headers);
  std::string body_file;
  if (load.get("body_file", body_file)) {
    std::string p = body_file.empty() || body_file[0] == '/' ? body_file : dir + "/" + body_file;
    auto b = core::read_file(p);
    if (!b)
      load.fail("body_file", b.error().message);
    else
      l.body = std::move(*b);
  }
  if (l.threads > l.connections) load.fail("threads", "must not exceed connections");

  std::set<std::string> names;
  for (config::Reader& t : root.tables("target")) {
    ScenarioTarget x;
    t.need("name", x.name);
    t.need("url", x.url);
    t.get("start", x.start);
    t.get("ready", x.ready);
    get_nanos(t, "ready_timeout", x.ready_timeout_ns, 1'000'000);
    get_nanos(t, "stop_timeout", x.stop_timeout_ns, 0);
    t.get("connect_to", x.connect_to);
    t.get("unix_socket", x.unix_socket);
    t.get("sni", x.sni);
    t.get("insecure", x.insecure);
    get_headers(t, x.headers);
    if (!x.name.empty() && !names.insert(x.name).second) t.fail("name", "duplicate target name");
    bool templ = x.url.find("{addr}") != std::string::npos;
    if (templ && x.start.empty()) t.fail("url", "{addr} needs a start command that prints it");
    if (!x.url.empty() && !templ) {
      if (auto u = parse_url(x.url); !u) t.fail("url", u.error().message);
    }
    if (!x.ready.empty())
      if (auto hp = parse_hostport(x.ready); !hp) t.fail("ready", hp.error().message);
    if (!x.connect_to.empty())
      if (auto hp = parse_hostport(x.connect_to); !hp) t.fail("connect_to", hp.error().message);
    sc.targets.push_back(std::move(x));
  }
  if (sc.targets.empty()) root.fail("target", "a scenario needs at least one [[target]]");
  if (!sc.baseline.empty() && !names.count(sc.baseline))
    root.fail("baseline", "no target named \"" + sc.baseline + "\"");
  WARREN_CHECK(root.finish());
  if (sc.baseline.empty()) sc.baseline = sc.targets[0].name;
  return sc;
}

}  // namespace

LoadOptions Scenario::load_for(const ScenarioTarget& t, const std::string& url) const {
  LoadOptions o = load;
  o.urls = {url};
  o.connect_to = t.connect_to;
  o.unix_socket = t.unix_socket;
  o.sni = t.sni;
  o.insecure = o.insecure || t.insecure;
  o.headers.insert(o.headers.end(), t.headers.begin(), t.headers.end());
  return o;
}

core::Result<Scenario> load_scenario(const std::string& path) {
  WARREN_TRY(r, config::parse_file(path));
  size_t slash = path.rfind('/');
  std::string dir = slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
  if (path == "-") dir = ".";
  return build(r, path, dir);
}

core::Result<Scenario> parse_scenario(std::string_view text, const std::string& name,
                                      const std::string& dir) {
  WARREN_TRY(r, config::parse_string(text, name));
  return build(r, name, dir);
}

}  // namespace bench
