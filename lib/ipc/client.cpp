#include "ipc/client.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <boost/json/parse.hpp>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

#include "core/fs.h"

namespace ipc {

UniqueFd& UniqueFd::operator=(UniqueFd&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = o.release();
  }
  return *this;
}

UniqueFd::~UniqueFd() {
  if (fd_ >= 0) ::close(fd_);
}

namespace {

using Clock = std::chrono::steady_clock;
constexpr size_t kMaxReply = 16u << 20;

struct Ctx {
  const std::string& path;
  int timeout_ms;
  Clock::time_point deadline;

  int remaining_ms() const {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    return left.count() < 0 ? 0 : static_cast<int>(left.count());
  }
  core::Error timed_out() const {
    return core::err(core::Errc::tempfail,
                     path + ": timed out after " + std::to_string(timeout_ms) + " ms");
  }
  core::Error closed() const {
    return core::err(core::Errc::unavailable, path + ": connection closed before reply");
  }
  core::Error sys(int e) const {
    if (e == EPIPE || e == ECONNRESET) return closed();
    return core::err(core::errc_from_errno(e), path + ": " + core::errno_text(e));
  }
};

// Waits until fd is ready for `events`; false on timeout.
core::Result<bool> wait_ready(int fd, short events, const Ctx& c) {
  for (;;) {
    pollfd p{fd, events, 0};
    int n = ::poll(&p, 1, c.remaining_ms());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return c.sys(errno);
    return n > 0;
  }
}

core::Result<UniqueFd> connect_unix(const Ctx& c) {
  sockaddr_un sa{};
  if (c.path.empty() || c.path.size() >= sizeof sa.sun_path)
    return core::err(core::Errc::usage, c.path + ": socket path too long (max 107 bytes)");
  sa.sun_family = AF_UNIX;
  std::memcpy(sa.sun_path, c.path.c_str(), c.path.size() + 1);
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd) return c.sys(errno);
  for (;;) {
    if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0) return fd;
    int e = errno;
    if (e == EINTR) continue;
    if (e == ENOENT || e == ECONNREFUSED || e == ENOTDIR)
      return core::err(core::Errc::unavailable, "daemon not running (" + c.path + ")");
    if (e == EAGAIN) {  // listen backlog full: retry until the deadline
      if (c.remaining_ms() == 0) return c.timed_out();
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      continue;
    }
    return c.sys(e);
  }
}

core::Result<void> send_all(int fd, std::string_view data, const Ctx& c) {
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n > 0) {
      data.remove_prefix(static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) {
      auto ready = wait_ready(fd, POLLOUT, c);
      if (!ready) return ready.error();
      if (!*ready) return c.timed_out();
      continue;
    }
    return c.sys(errno);
  }
  return {};
}

// Reads one line (without '\n'). With exact = true, never consumes a byte past the newline
// (MSG_PEEK first), so what follows stays in the socket for the caller.
core::Result<std::string> read_line(int fd, bool exact, const Ctx& c) {
  std::string line;
  char buf[16384];
  for (;;) {
    ssize_t n = ::recv(fd, buf, sizeof buf, exact ? MSG_PEEK : 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) {
      auto ready = wait_ready(fd, POLLIN, c);
      if (!ready) return ready.error();
      if (!*ready) return c.timed_out();
      continue;
    }
    if (n < 0) return c.sys(errno);
    if (n == 0) return c.closed();
    auto* nl = static_cast<char*>(std::memchr(buf, '\n', static_cast<size_t>(n)));
    size_t take = nl ? static_cast<size_t>(nl - buf) + 1 : static_cast<size_t>(n);
    if (exact) {  // consume exactly what we peeked up to and including the newline
      ssize_t m;
      do m = ::recv(fd, buf, take, 0);
      while (m < 0 && errno == EINTR);
      if (m != static_cast<ssize_t>(take)) return c.sys(m < 0 ? errno : EIO);
    }
    line.append(buf, nl ? take - 1 : take);
    if (nl) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      return line;
    }
    if (line.size() > kMaxReply)
      return core::err(core::Errc::data, c.path + ": reply longer than 16 MiB");
  }
}

core::Result<boost::json::object> parse_reply(const std::string& line, const Ctx& c) {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(line, ec);
  if (ec) return core::err(core::Errc::data, c.path + ": bad reply: " + ec.message());
  if (!v.is_object()) return core::err(core::Errc::data, c.path + ": bad reply: not an object");
  return std::move(v.as_object());
}

struct Exchange {
  UniqueFd fd;
  boost::json::object reply;
};

core::Result<Exchange> exchange(const std::string& path, std::string_view line, bool exact,
                                int timeout_ms) {
  Ctx c{path, timeout_ms, Clock::now() + std::chrono::milliseconds(timeout_ms)};
  if (line.find('\n') != std::string_view::npos)
    return core::err(core::Errc::usage, "ipc request must be a single line");
  auto fd = connect_unix(c);
  if (!fd) return fd.error();
  std::string out(line);
  out += '\n';
  WARREN_CHECK(send_all(fd->get(), out, c));
  auto reply_line = read_line(fd->get(), exact, c);
  if (!reply_line) return reply_line.error();
  auto reply = parse_reply(*reply_line, c);
  if (!reply) return reply.error();
  return Exchange{std::move(*fd), std::move(*reply)};
}

}  // namespace

core::Result<boost::json::object> call_line(const std::string& socket_path,
                                            std::string_view request_json, int timeout_ms) {
  auto x = exchange(socket_path, request_json, false, timeout_ms);
  if (!x) return x.error();
  return std::move(x->reply);
}

core::Result<boost::json::object> call(const std::string& socket_path,
                                       const boost::json::object& request, int timeout_ms) {
  std::string line = to_line(request);
  line.pop_back();
  return call_line(socket_path, line, timeout_ms);
}

core::Result<Takeover> call_takeover(const std::string& socket_path,
                                     const boost::json::object& request, int timeout_ms) {
  std::string line = to_line(request);
  line.pop_back();
  auto x = exchange(socket_path, line, true, timeout_ms);
  if (!x) return x.error();
  auto* ok = x->reply.if_contains("ok");
  if (!ok || !ok->is_bool() || !ok->as_bool()) return error_from_reply(x->reply);
  int flags = ::fcntl(x->fd.get(), F_GETFL);
  if (flags < 0 || ::fcntl(x->fd.get(), F_SETFL, flags & ~O_NONBLOCK) < 0)
    return core::err(core::errc_from_errno(errno), socket_path + ": " + core::errno_text(errno));
  return Takeover{std::move(x->fd), std::move(x->reply)};
}

}  // namespace ipc
