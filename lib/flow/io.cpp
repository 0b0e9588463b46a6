#include "flow/io.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

#include "ipc/client.h"

namespace flow {

int64_t mono_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

int64_t wall_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void RunSignal::cancel(const std::string& why) {
  {
    std::lock_guard<std::mutex> g(m);
    if (!cancelled) reason = why;
    cancelled = true;
  }
  cv.notify_all();
}

void Stop::add_deadline(int64_t at, NodeError why) {
  if (at < at_) {
    at_ = at;
    why_ = std::move(why);
  }
}

void Stop::cancel() {
  {
    std::lock_guard<std::mutex> g(sig_.m);
    cancelled_ = true;
  }
  sig_.cv.notify_all();
}

int64_t Stop::deadline() const {
  int64_t d = at_;
  for (const Stop* s = parent_; s; s = s->parent_) d = std::min(d, s->at_);
  return d;
}

std::optional<NodeError> Stop::check() const {
  if (sig_.cancelled) {
    NodeError e{sig_.reason, core::Errc::tempfail};
    e.abort = true;
    return e;
  }
  int64_t now = mono_ns();
  const Stop* best = nullptr;
  for (const Stop* s = this; s; s = s->parent_) {
    if (s->cancelled_) {
      NodeError e{"cancelled", core::Errc::tempfail};
      e.abort = true;
      return e;
    }
    if (s->at_ <= now && (!best || s->at_ < best->at_)) best = s;
  }
  if (best) return best->why_;
  return std::nullopt;
}

NodeResult<void> Stop::sleep(int64_t ns) const {
  int64_t until = mono_ns() + ns;
  std::unique_lock<std::mutex> lk(sig_.m);
  for (;;) {
    lk.unlock();
    if (auto e = check()) return *e;
    lk.lock();
    int64_t now = mono_ns();
    int64_t wake = std::min(until, deadline());
    if (now >= until) return {};
    if (now >= wake) continue;  // a deadline passed: check() reports it
    sig_.cv.wait_for(lk, std::chrono::nanoseconds(std::min<int64_t>(wake - now, 100'000'000)));
  }
}

// ---------------------------------------------------------------------------------------------
// exec

namespace {

void set_nonblock(int fd) {
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
}

}  // namespace

NodeResult<ExecResponse> run_program(const ExecRequest& req, const ExecPolicy& p,
                                     const Stop& stop) {
  if (!p.enabled) return fail("exec is not enabled (set [exec] enabled = true in flowrun.toml)");
  if (req.argv.empty() || req.argv[0].empty()) return fail("exec: empty command");
  if (!p.allowed.empty() &&
      std::find(p.allowed.begin(), p.allowed.end(), req.argv[0]) == p.allowed.end())
    return fail("exec: program not allowed: " + req.argv[0]);
  int64_t timeout = req.timeout_ns.value_or(p.timeout_ns);
  int in[2], out[2], err[2], status_pipe[2];
  if (::pipe2(in, O_CLOEXEC) || ::pipe2(out, O_CLOEXEC) || ::pipe2(err, O_CLOEXEC) ||
      ::pipe2(status_pipe, O_CLOEXEC))
    return fail(std::string("exec: pipe: ") + std::strerror(errno));
  std::vector<char*> argv;
  for (auto& a : req.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid < 0) return fail(std::string("exec: fork: ") + std::strerror(errno));
  if (pid == 0) {
    ::setpgid(0, 0);
    ::dup2(in[0], 0);
    ::dup2(out[1], 1);
    ::dup2(err[1], 2);
    ::signal(SIGPIPE, SIG_DFL);
    ::execvp(argv[0], argv.data());
    int e = errno;
    (void)!::write(status_pipe[1], &e, sizeof e);
    ::_exit(127);
  }
  ::close(in[0]);
  ::close(out[1]);
  ::close(err[1]);
  ::close(status_pipe[1]);
  int exec_errno = 0;
  if (::read(status_pipe[0], &exec_errno, sizeof exec_errno) == sizeof exec_errno) {
    ::close(status_pipe[0]);
    ::close(in[1]);
    ::close(out[0]);
    ::close(err[0]);
    ::waitpid(pid, nullptr, 0);
    return fail("exec: cannot run " + req.argv[0] + ": " + std::strerror(exec_errno));
  }
  ::close(status_pipe[0]);
  set_nonblock(in[1]);
  set_nonblock(out[0]);
  set_nonblock(err[0]);
  ExecResponse r;
  size_t written = 0;
  int fin = in[1], fout = out[0], ferr = err[0];
  if (req.stdin_data.empty()) {
    ::close(fin);
    fin = -1;
  }
  int64_t until = mono_ns() + timeout;
  std::optional<NodeError> stopped;
  while (fout >= 0 || ferr >= 0) {
    if (auto e = stop.check()) {
      stopped = e;
      break;
    }
    if (mono_ns() >= until) {
      stopped = NodeError{"exec timed out after " + go_duration(timeout), core::Errc::tempfail};
      break;
    }
    pollfd pf[3];
    int n = 0;
    if (fin >= 0) pf[n++] = {fin, POLLOUT, 0};
    if (fout >= 0) pf[n++] = {fout, POLLIN, 0};
    if (ferr >= 0) pf[n++] = {ferr, POLLIN, 0};
    int rc = ::poll(pf, n, 20);
    if (rc < 0 && errno != EINTR) break;
    for (int i = 0; i < n; i++) {
      if (!pf[i].revents) continue;
      int fd = pf[i].fd;
      if (fd == fin) {
        ssize_t w = ::write(fin, req.stdin_data.data() + written, req.stdin_data.size() - written);
        if (w > 0) written += static_cast<size_t>(w);
        if (w < 0 && errno != EAGAIN) written = req.stdin_data.size();
        if (written >= req.stdin_data.size()) {
          ::close(fin);
          fin = -1;
        }
        continue;
      }
      std::string& dst = fd == fout ? r.out : r.err;
      char buf[16384];
      ssize_t k = ::read(fd, buf, sizeof buf);
      if (k > 0) {
        size_t room = p.max_output_bytes > dst.size() ? p.max_output_bytes - dst.size() : 0;
        if (static_cast<size_t>(k) > room) r.truncated = true;
        dst.append(buf, std::min(room, static_cast<size_t>(k)));
      } else if (k == 0 || (errno != EAGAIN && errno != EINTR)) {
        ::close(fd);
        (fd == fout ? fout : ferr) = -1;
      }
    }
  }
  if (fin >= 0) ::close(fin);
  if (fout >= 0) ::close(fout);
  if (ferr >= 0) ::close(ferr);
  if (stopped) ::kill(-pid, SIGKILL);
  int status = 0;
  // The pipes are closed; wait for the exit (bounded: a program that keeps running after
  // closing its output is killed at the deadline).
  for (;;) {
    pid_t w = ::waitpid(pid, &status, WNOHANG);
    if (w == pid || (w < 0 && errno != EINTR)) break;
    if (!stopped) {
      if (auto e = stop.check())
        stopped = e;
      else if (mono_ns() >= until)
        stopped = NodeError{"exec timed out after " + go_duration(timeout), core::Errc::tempfail};
      if (stopped) ::kill(-pid, SIGKILL);
    }
    ::usleep(2000);
  }
  if (stopped) return *stopped;
  if (WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) {
    r.signal = WTERMSIG(status);
    r.exit_code = 128 + r.signal;
  }
  return r;
}

// ---------------------------------------------------------------------------------------------
// socket

NodeResult<Value> socket_request(const std::string& name, const Object& request, int64_t timeout_ns,
                                 const std::string& warren_dir, const SocketPolicy& p,
                                 const Stop& stop) {
  std::string path;
  if (name.find('/') == std::string::npos)
    path = warren_dir + "/run/" + name + ".sock";
  else if (name[0] == '/')
    path = name;
  else
    path = warren_dir + "/" + name;
  std::string run_dir = warren_dir + "/run/";
  bool ok = path.compare(0, run_dir.size(), run_dir) == 0 &&
            path.find("/..") == std::string::npos && path.size() > 5 &&
            path.compare(path.size() - 5, 5, ".sock") == 0;
  ok = ok || std::find(p.allowed.begin(), p.allowed.end(), path) != p.allowed.end();
  if (!ok)
    return fail("socket " + path + " is not allowed (WARREN_DIR/run/*.sock, or [socket] allowed)");
  int64_t left = std::min(timeout_ns, stop.deadline() - mono_ns());
  if (auto e = stop.check()) return *e;
  int ms = static_cast<int>(std::clamp<int64_t>(left / 1000000, 1, 3600000));
  auto r = ipc::call(path, request, ms);
  if (!r) {
    core::Errc c = r.error().code;
    NodeError e{"socket request failed: " + r.error().message,
                c == core::Errc::unavailable || c == core::Errc::tempfail ? core::Errc::tempfail
                                                                          : core::Errc::failure};
    if (auto s = stop.check()) return *s;
    return e;
  }
  return Value(std::move(*r));
}

}  // namespace flow
