#include "bench/compare.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <thread>

#include <boost/json.hpp>

#include "bench/report.h"
#include "bench/units.h"
#include "bench/url.h"
#include "bench/util.h"
#include "core/fs.h"

namespace bench {

namespace {

// A server started from a scenario: its own process group, stopped by signal on destruction.
class Child {
 public:
  Child() = default;
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  ~Child() { stop(); }

  core::Result<void> start(const std::string& cmd, const std::string& dir, bool capture) {
    int pfd[2] = {-1, -1};
    if (capture && ::pipe2(pfd, O_CLOEXEC) < 0)
      return core::Error(core::Errc::internal, "pipe: " + core::errno_text(errno));
    pid_t pid = ::fork();
    if (pid < 0) return core::Error(core::Errc::internal, "fork: " + core::errno_text(errno));
    if (pid == 0) {
      ::setpgid(0, 0);
      if (::chdir(dir.c_str()) < 0) ::_exit(127);
      // stdout is netbench's data channel: the child writes to the pipe or to stderr.
      ::dup2(capture ? pfd[1] : 2, 1);
      int devnull = ::open("/dev/null", O_RDONLY);
      if (devnull >= 0) ::dup2(devnull, 0);
      ::signal(SIGPIPE, SIG_DFL);
      ::execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    ::setpgid(pid, pid);
    pid_ = pid;
    if (capture) {
      ::close(pfd[1]);
      out_ = pfd[0];
    }
    return {};
  }

  // The first line the child prints, within timeout.
  core::Result<std::string> first_line(int64_t timeout_ns) {
    std::string line;
    int64_t end = now_ns() + timeout_ns;
    while (now_ns() < end) {
      pollfd p{out_, POLLIN, 0};
      int n = ::poll(&p, 1, 50);
      if (n == 1) {
        char c;
        ssize_t r = ::read(out_, &c, 1);
        if (r == 1 && c == '\n') {
          // Keep draining to stderr so the child never blocks on a full pipe.
          int fd = out_;
          out_ = -1;
          std::thread([fd] {
            char buf[4096];
            ssize_t k;
            while ((k = ::read(fd, buf, sizeof buf)) > 0)
              (void)!::write(2, buf, static_cast<size_t>(k));
            ::close(fd);
          }).detach();
          return line;
        }
        if (r == 1) {
          if (c != '\r') line.push_back(c);
          if (line.size() > 1024) break;
          continue;
        }
        if (r == 0) break;
      }
      if (exited()) break;
    }
    return core::Error(core::Errc::unavailable, "printed no address line");
  }

  bool exited() {
    if (pid_ <= 0) return true;
    int st = 0;
    pid_t r = ::waitpid(pid_, &st, WNOHANG);
    if (r == pid_) {
      status_ = st;
      pid_ = -1;
      return true;
    }
    return false;
  }
  std::string exit_text() const {
    if (WIFEXITED(status_)) return "exited with status " + std::to_string(WEXITSTATUS(status_));
    if (WIFSIGNALED(status_)) return "killed by signal " + std::to_string(WTERMSIG(status_));
    return "exited";
  }

  void stop(int64_t grace_ns = 5'000'000'000) {
    if (out_ >= 0) {
      ::close(out_);
      out_ = -1;
    }
    if (pid_ <= 0) return;
    ::kill(-pid_, SIGTERM);
    int64_t end = now_ns() + grace_ns;
    while (now_ns() < end) {
      if (exited()) break;
      timespec ts = to_timespec(20'000'000);
      ::nanosleep(&ts, nullptr);
    }
    if (pid_ > 0) {
      ::kill(-pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
      pid_ = -1;
    }
  }

 private:
  pid_t pid_ = -1;
  int out_ = -1;
  int status_ = 0;
};

bool can_connect(const Address& a) {
  int fd = ::socket(a.family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  bool ok = ::connect(fd, reinterpret_cast<const sockaddr*>(&a.ss), a.len) == 0;
  ::close(fd);
  return ok;
}

core::Result<void> wait_ready(const std::string& name, const std::string& ready, Child* child,
                              int64_t timeout_ns) {
  WARREN_TRY(hp, parse_hostport(ready));
  int64_t end = now_ns() + timeout_ns;
  while (true) {
    auto a = resolve(hp);
    if (a && can_connect(*a)) return {};
    if (child && child->exited())
      return core::Error(core::Errc::unavailable,
                         "target " + name + ": start command " + child->exit_text());
    if (now_ns() >= end)
      return core::Error(core::Errc::unavailable,
                         "target " + name + ": nothing accepts connections on " + ready +
                             " after " + format_nanos(static_cast<double>(timeout_ns)));
    timespec ts = to_timespec(50'000'000);
    ::nanosleep(&ts, nullptr);
  }
}

std::string ratio_text(double v, double base) {
  if (base <= 0) return "-";
  return format_fixed(v / base, 2);
}

}  // namespace

RunFigures figures_of(const Summary& s) {
  RunFigures f;
  f.rps = s.rps();
  f.p50_ms = ms(static_cast<double>(s.latency.percentile(50)));
  f.p90_ms = ms(static_cast<double>(s.latency.percentile(90)));
  f.p99_ms = ms(static_cast<double>(s.latency.percentile(99)));
  f.p99_9_ms = ms(static_cast<double>(s.latency.percentile(99.9)));
  f.max_ms = ms(static_cast<double>(s.latency.max()));
  f.requests = s.requests;
  f.errors = s.error_total();
  f.behind = s.behind;
  return f;
}

double Stat::spread_pct() const {
  return median > 0 ? 100.0 * (max - min) / 2.0 / median : 0.0;
}

Stat stat_of(std::vector<double> v) {
  Stat s;
  if (v.empty()) return s;
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  s.median = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
  s.min = v.front();
  s.max = v.back();
  return s;
}

core::Result<CompareResult> run_compare(const Scenario& sc,
                                        const std::function<void(const std::string&)>& progress,
                                        const std::atomic<bool>* stop) {
  CompareResult res;
  res.scenario = sc.path;
  res.rounds = sc.rounds;
  res.baseline = sc.baseline;
  res.load = sc.load;
  std::vector<std::unique_ptr<Child>> children(sc.targets.size());
  std::vector<std::string> urls;
  // Start every server first; all of them stop when `children` goes out of scope.
  for (size_t i = 0; i < sc.targets.size(); ++i) {
    const ScenarioTarget& t = sc.targets[i];
    std::string url = t.url;
    bool templ = url.find("{addr}") != std::string::npos;
    if (!t.start.empty()) {
      children[i] = std::make_unique<Child>();
      WARREN_CHECK(children[i]->start(t.start, sc.dir, templ));
      if (templ) {
        auto addr = children[i]->first_line(t.ready_timeout_ns);
        if (!addr) return std::move(addr.error()).context("target " + t.name + ": start command");
        size_t k;
        while ((k = url.find("{addr}")) != std::string::npos) url.replace(k, 6, *addr);
      }
    }
    WARREN_TRY(u, parse_url(url));
    std::string ready = t.ready;
    if (ready.empty()) {
      if (!t.unix_socket.empty())
        ready = "unix:" + t.unix_socket;
      else if (!t.connect_to.empty())
        ready = t.connect_to;
      else
        ready = (u.host.find(':') != std::string::npos ? "[" + u.host + "]" : u.host) + ":" +
                std::to_string(u.port);
    }
    WARREN_CHECK(wait_ready(t.name, ready, children[i].get(), t.ready_timeout_ns));
    urls.push_back(url);
    res.targets.push_back(TargetResult{t.name, url, {}});
  }
  for (int r = 0; r < sc.rounds; ++r) {
    for (size_t i = 0; i < sc.targets.size(); ++i) {
      if (stop && stop->load()) return core::Error(core::Errc::failure, "interrupted");
      LoadOptions o = sc.load_for(sc.targets[i], urls[i]);
      o.stop = stop;
      WARREN_TRY(s, run_http(o));
      RunFigures f = figures_of(s);
      res.targets[i].runs.push_back(f);
      if (progress) {
        std::string line = "round " + std::to_string(r + 1) + "/" + std::to_string(sc.rounds) +
                           "  " + sc.targets[i].name + "  " + format_rate(f.rps) + " req/s  p50 " +
                           format_fixed(f.p50_ms, 3) + "ms  p99 " + format_fixed(f.p99_ms, 3) +
                           "ms";
        if (f.errors) line += "  errors " + format_count(f.errors);
        if (s.requests == 0 && !s.first_error.empty()) line += " (" + s.first_error + ")";
        progress(line);
      }
      if (sc.pause_ns > 0) {
        timespec ts = to_timespec(sc.pause_ns);
        ::nanosleep(&ts, nullptr);
      }
    }
  }
  for (size_t i = 0; i < children.size(); ++i)
    if (children[i]) children[i]->stop(sc.targets[i].stop_timeout_ns);
  return res;
}

namespace {

struct Medians {
  Stat rps, p50, p90, p99, p99_9, max;
  uint64_t errors = 0;
};

Medians medians_of(const TargetResult& t) {
  std::vector<double> rps, p50, p90, p99, p999, mx;
  Medians m;
  for (const RunFigures& f : t.runs) {
    rps.push_back(f.rps);
    p50.push_back(f.p50_ms);
    p90.push_back(f.p90_ms);
    p99.push_back(f.p99_ms);
    p999.push_back(f.p99_9_ms);
    mx.push_back(f.max_ms);
    m.errors += f.errors;
  }
  m.rps = stat_of(rps);
  m.p50 = stat_of(p50);
  m.p90 = stat_of(p90);
  m.p99 = stat_of(p99);
  m.p99_9 = stat_of(p999);
  m.max = stat_of(mx);
  return m;
}

const TargetResult* baseline_of(const CompareResult& r) {
  for (const TargetResult& t : r.targets)
    if (t.name == r.baseline) return &t;
  return r.targets.empty() ? nullptr : &r.targets[0];
}

}  // namespace

std::string format_compare_text(const CompareResult& r) {
  const TargetResult* base = baseline_of(r);
  Medians bm = base ? medians_of(*base) : Medians{};
  size_t w = 6;
  for (const TargetResult& t : r.targets) w = std::max(w, t.name.size());
  std::string o;
  char line[512];
  std::snprintf(line, sizeof line,
                "%d rounds, interleaved; medians; spread = half the range; ratios to %s\n\n",
                r.rounds, r.baseline.c_str());
  o += line;
  std::snprintf(line, sizeof line, "%-*s %12s %7s %6s %9s %6s %9s %6s %9s %8s\n",
                static_cast<int>(w), "target", "req/s", "spread", "x", "p50 ms", "x", "p99 ms", "x",
                "p99.9 ms", "errors");
  o += line;
  for (const TargetResult& t : r.targets) {
    Medians m = medians_of(t);
    std::snprintf(
        line, sizeof line, "%-*s %12s %6s%% %6s %9s %6s %9s %6s %9s %8s\n", static_cast<int>(w),
        t.name.c_str(), format_rate(m.rps.median).c_str(),
        format_fixed(m.rps.spread_pct(), 1).c_str(),
        ratio_text(m.rps.median, bm.rps.median).c_str(), format_fixed(m.p50.median, 3).c_str(),
        ratio_text(m.p50.median, bm.p50.median).c_str(), format_fixed(m.p99.median, 3).c_str(),
        ratio_text(m.p99.median, bm.p99.median).c_str(), format_fixed(m.p99_9.median, 3).c_str(),
        format_count(m.errors).c_str());
    o += line;
  }
  return o;
}

boost::json::object compare_to_json(const CompareResult& r) {
  namespace json = boost::json;
  json::object o;
  o["scenario"] = r.scenario;
  o["rounds"] = r.rounds;
  o["baseline"] = r.baseline;
  json::object load;
  load["duration_s"] = static_cast<double>(r.load.duration_ns) / 1e9;
  load["warmup_s"] = static_cast<double>(r.load.warmup_ns) / 1e9;
  load["connections"] = r.load.connections;
  load["threads"] = r.load.threads;
  load["rate"] = r.load.rate;
  load["keepalive"] = r.load.keepalive;
  o["load"] = std::move(load);
  const TargetResult* base = baseline_of(r);
  Medians bm = base ? medians_of(*base) : Medians{};
  auto round4 = [](double x) { return std::round(x * 1e4) / 1e4; };
  json::array targets;
  for (const TargetResult& t : r.targets) {
    json::object jt;
    jt["name"] = t.name;
    jt["url"] = t.url;
    json::array runs;
    for (const RunFigures& f : t.runs) {
      json::object jr;
      jr["rps"] = std::round(f.rps * 10) / 10;
      jr["p50_ms"] = f.p50_ms;
      jr["p90_ms"] = f.p90_ms;
      jr["p99_ms"] = f.p99_ms;
      jr["p99_9_ms"] = f.p99_9_ms;
      jr["max_ms"] = f.max_ms;
      jr["requests"] = f.requests;
      jr["errors"] = f.errors;
      jr["behind"] = f.behind;
      runs.push_back(std::move(jr));
    }
    jt["runs"] = std::move(runs);
    Medians m = medians_of(t);
    json::object med, spread, ratio;
    auto put = [&](const char* k, const Stat& s, const Stat& b) {
      med[k] = round4(s.median);
      spread[k] = round4(s.spread_pct());
      ratio[k] = b.median > 0 ? json::value(round4(s.median / b.median)) : json::value(nullptr);
    };
    put("rps", m.rps, bm.rps);
    put("p50_ms", m.p50, bm.p50);
    put("p90_ms", m.p90, bm.p90);
    put("p99_ms", m.p99, bm.p99);
    put("p99_9_ms", m.p99_9, bm.p99_9);
    put("max_ms", m.max, bm.max);
    jt["median"] = std::move(med);
    jt["spread_pct"] = std::move(spread);
    jt["ratio"] = std::move(ratio);
    jt["errors"] = m.errors;
    targets.push_back(std::move(jt));
  }
  o["targets"] = std::move(targets);
  return o;
}

}  // namespace bench
