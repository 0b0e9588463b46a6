#include "bench/tcp.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <memory>
#include <thread>

#include <boost/json.hpp>

#include "bench/units.h"
#include "bench/url.h"
#include "bench/util.h"
#include "core/fs.h"

namespace bench {

namespace {

constexpr char kMagic[7] = {'N', 'B', 'T', 'C', 'P', '1', '\n'};
constexpr size_t kHello = 16;

bool stopped(const std::atomic<bool>* s) {
  return s && s->load(std::memory_order_relaxed);
}

void put_u64(unsigned char* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<unsigned char>(v >> (8 * i));
}

uint64_t get_u64(const unsigned char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= static_cast<uint64_t>(p[i]) << (8 * i);
  return v;
}

void set_timeout(int fd, int opt, int64_t ns) {
  timeval tv{static_cast<time_t>(ns / 1'000'000'000),
             static_cast<suseconds_t>(ns % 1'000'000'000 / 1000)};
  ::setsockopt(fd, SOL_SOCKET, opt, &tv, sizeof tv);
}

// Reads exactly n bytes (blocking, honouring SO_RCVTIMEO). False on EOF, error or timeout.
bool read_exact(int fd, unsigned char* p, size_t n) {
  while (n) {
    ssize_t r = ::recv(fd, p, n, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    p += r;
    n -= static_cast<size_t>(r);
  }
  return true;
}

bool write_all(int fd, const unsigned char* p, size_t n) {
  while (n) {
    ssize_t w = ::send(fd, p, n, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

void serve_stream(int fd, size_t bufsize) {
  std::unique_ptr<unsigned char[]> buf(new unsigned char[bufsize]);
  unsigned char hello[kHello];
  set_timeout(fd, SO_RCVTIMEO, 5'000'000'000);
  if (!read_exact(fd, hello, kHello) || std::memcmp(hello, kMagic, 7) != 0 ||
      (hello[7] != 's' && hello[7] != 'r')) {
    ::close(fd);
    return;
  }
  if (hello[7] == 's') {
    set_timeout(fd, SO_RCVTIMEO, 0);
    uint64_t total = 0;
    for (;;) {
      ssize_t r = ::recv(fd, buf.get(), bufsize, 0);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) break;
      total += static_cast<uint64_t>(r);
    }
    unsigned char out[8];
    put_u64(out, total);
    write_all(fd, out, 8);
  } else {
    uint64_t ms = get_u64(hello + 8);
    int64_t end = now_ns() + static_cast<int64_t>(std::min<uint64_t>(ms, 86'400'000)) * 1'000'000;
    std::memset(buf.get(), 'x', bufsize);
    while (now_ns() < end)
      if (!write_all(fd, buf.get(), bufsize)) break;
    ::shutdown(fd, SHUT_WR);
    // Wait for the client to close so the last bytes are not cut off by a reset.
    set_timeout(fd, SO_RCVTIMEO, 5'000'000'000);
    while (::recv(fd, buf.get(), bufsize, 0) > 0) {
    }
  }
  ::close(fd);
}

core::Result<int> listen_on(const std::string& listen, std::string* bound) {
  WARREN_TRY(hp, parse_hostport(listen));
  WARREN_TRY(addr, resolve(hp));
  int fd = ::socket(addr.family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return core::Error(core::Errc::unavailable, "socket: " + core::errno_text(errno));
  int one = 1;
  if (addr.family != AF_UNIX) ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (addr.family == AF_UNIX) ::unlink(hp.unix_path.c_str());
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&addr.ss), addr.len) < 0 ||
      ::listen(fd, 128) < 0) {
    int e = errno;
    ::close(fd);
    return core::Error(e == EACCES ? core::Errc::noperm : core::Errc::unavailable,
                       "cannot listen on " + addr.text + ": " + core::errno_text(e));
  }
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  *bound = addr.family == AF_UNIX ? addr.text : address_text(reinterpret_cast<sockaddr*>(&ss), len);
  return fd;
}

core::Result<int> connect_to(const Address& a, int64_t timeout_ns) {
  int fd = ::socket(a.family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return core::Error(core::Errc::unavailable, "socket: " + core::errno_text(errno));
  int rc = ::connect(fd, reinterpret_cast<const sockaddr*>(&a.ss), a.len);
  int err = rc < 0 ? errno : 0;
  if (rc < 0 && errno == EINPROGRESS) {
    pollfd p{fd, POLLOUT, 0};
    int n = ::poll(&p, 1, static_cast<int>(timeout_ns / 1'000'000));
    socklen_t len = sizeof err;
    if (n == 1)
      ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
    else
      err = ETIMEDOUT;
  }
  if (err) {
    ::close(fd);
    return core::Error(core::Errc::unavailable, "connect " + a.text + ": " + core::errno_text(err));
  }
  int flags = 0;
  ::ioctl(fd, FIONBIO, &flags);
  if (a.family != AF_UNIX) {
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  return fd;
}

struct Stream {
  int fd = -1;
  std::atomic<uint64_t> moved{0};  // bytes sent (client sends) or received (reverse)
  uint64_t received = 0;           // final count from the receiving side
  bool ok = true;
  std::string error;
};

double rusage_s(const timeval& a, const timeval& b) {
  return static_cast<double>(b.tv_sec - a.tv_sec) +
         static_cast<double>(b.tv_usec - a.tv_usec) / 1e6;
}

}  // namespace

double TcpInterval::gbit() const {
  double len = end_s - start_s;
  return len > 0 ? static_cast<double>(bytes) * 8 / len / 1e9 : 0;
}

double TcpResult::gbit() const {
  return duration_s > 0 ? static_cast<double>(bytes_received) * 8 / duration_s / 1e9 : 0;
}

core::Result<void> tcp_serve(const TcpServerOptions& o) {
  std::string bound;
  WARREN_TRY(lfd, listen_on(o.listen, &bound));
  if (o.on_listening) o.on_listening(bound);
  int64_t end = o.duration_ns > 0 ? now_ns() + o.duration_ns : INT64_MAX;
  while (!stopped(o.stop) && now_ns() < end) {
    pollfd p{lfd, POLLIN, 0};
    if (::poll(&p, 1, 100) != 1) continue;
    int fd = ::accept4(lfd, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    std::thread(serve_stream, fd, o.buffer).detach();
  }
  ::close(lfd);
  return {};
}

core::Result<TcpResult> tcp_client(const TcpClientOptions& o) {
  if (o.streams < 1 || o.streams > 128)
    return core::Error(core::Errc::usage, "streams must be 1..128");
  if (o.duration_ns <= 0) return core::Error(core::Errc::usage, "duration must be positive");
  if (o.buffer < 1024 || o.buffer > (64u << 20))
    return core::Error(core::Errc::usage, "buffer must be 1k..64M");
  WARREN_TRY(hp, parse_hostport(o.target));
  if (hp.unix_path.empty() && hp.port == 0) return core::Error(core::Errc::usage, "port 0");
  WARREN_TRY(addr, resolve(hp));
  std::vector<std::unique_ptr<Stream>> streams;
  for (int i = 0; i < o.streams; ++i) {
    auto s = std::make_unique<Stream>();
    auto fd = connect_to(addr, o.connect_timeout_ns);
    if (!fd) {
      for (auto& x : streams) ::close(x->fd);
      return fd.error();
    }
    s->fd = *fd;
    streams.push_back(std::move(s));
  }
  rusage ru0{}, ru1{};
  ::getrusage(RUSAGE_SELF, &ru0);
  int64_t t0 = now_ns();
  int64_t end = t0 + o.duration_ns;
  uint64_t ms = static_cast<uint64_t>(o.duration_ns / 1'000'000);
  auto work = [&o, end, ms](Stream* s) {
    std::unique_ptr<unsigned char[]> buf(new unsigned char[o.buffer]);
    std::memset(buf.get(), 'x', o.buffer);
    unsigned char hello[kHello];
    std::memcpy(hello, kMagic, 7);
    hello[7] = o.reverse ? 'r' : 's';
    put_u64(hello + 8, ms);
    if (!write_all(s->fd, hello, kHello)) {
      s->ok = false;
      s->error = "hello: " + core::errno_text(errno);
      return;
    }
    if (!o.reverse) {
      set_timeout(s->fd, SO_SNDTIMEO, 1'000'000'000);
      while (now_ns() < end && !stopped(o.stop)) {
        ssize_t w = ::send(s->fd, buf.get(), o.buffer, MSG_NOSIGNAL);
        if (w < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (w <= 0) {
          s->ok = false;
          s->error = "send: " + core::errno_text(errno);
          return;
        }
        s->moved.fetch_add(static_cast<uint64_t>(w), std::memory_order_relaxed);
      }
      ::shutdown(s->fd, SHUT_WR);
      set_timeout(s->fd, SO_RCVTIMEO, 10'000'000'000);
      unsigned char cnt[8];
      if (!read_exact(s->fd, cnt, 8)) {
        s->ok = false;
        s->error = "no byte count from the server";
        return;
      }
      s->received = get_u64(cnt);
    } else {
      set_timeout(s->fd, SO_RCVTIMEO, 1'000'000'000);
      int64_t hard_end = end + 5'000'000'000;
      for (;;) {
        ssize_t r = ::recv(s->fd, buf.get(), o.buffer, 0);
        if (r < 0 && (errno == EINTR || errno == EAGAIN)) {
          if (now_ns() > hard_end || stopped(o.stop)) break;
          continue;
        }
        if (r <= 0) break;
        s->moved.fetch_add(static_cast<uint64_t>(r), std::memory_order_relaxed);
        if (stopped(o.stop)) break;
      }
      s->received = s->moved.load();
    }
  };
  std::vector<std::thread> threads;
  for (auto& s : streams) threads.emplace_back(work, s.get());

  TcpResult r;
  r.target = o.target;
  r.streams = o.streams;
  r.reverse = o.reverse;
  uint64_t last = 0;
  int64_t last_t = t0;
  for (int sec = 1; last_t < end && !stopped(o.stop); ++sec) {
    int64_t next = std::min(end, t0 + static_cast<int64_t>(sec) * 1'000'000'000);
    while (now_ns() < next && !stopped(o.stop)) {
      timespec ts = to_timespec(std::min<int64_t>(next - now_ns(), 50'000'000));
      ::nanosleep(&ts, nullptr);
    }
    int64_t t = now_ns();
    uint64_t total = 0;
    for (auto& s : streams) total += s->moved.load(std::memory_order_relaxed);
    TcpInterval iv;
    iv.start_s = static_cast<double>(last_t - t0) / 1e9;
    iv.end_s = static_cast<double>(t - t0) / 1e9;
    iv.bytes = total - last;
    if (iv.end_s - iv.start_s > 0.05) {  // drop a sliver at the end
      r.intervals.push_back(iv);
      if (o.on_interval) o.on_interval(iv);
    }
    last = total;
    last_t = t;
  }
  int64_t send_end = now_ns();
  for (auto& t : threads) t.join();
  ::getrusage(RUSAGE_SELF, &ru1);
  r.duration_s = static_cast<double>(std::min(send_end, std::max(end, t0)) - t0) / 1e9;
  if (stopped(o.stop)) r.duration_s = static_cast<double>(send_end - t0) / 1e9;
  std::string err;
  for (auto& s : streams) {
    ::close(s->fd);
    r.bytes_sent += s->moved.load();
    r.bytes_received += s->received;
    r.stream_bytes.push_back(s->received);
    if (!s->ok && err.empty()) err = s->error;
  }
  r.cpu_user_s = rusage_s(ru0.ru_utime, ru1.ru_utime);
  r.cpu_sys_s = rusage_s(ru0.ru_stime, ru1.ru_stime);
  if (!err.empty())
    return core::Error(core::Errc::failure, "stream to " + addr.text + " failed: " + err);
  return r;
}

std::string format_tcp_interval(const TcpInterval& i) {
  char line[128];
  std::snprintf(line, sizeof line, "%6.2f-%-6.2f s  %10s  %7.2f Gbit/s\n", i.start_s, i.end_s,
                format_bytes(static_cast<double>(i.bytes)).c_str(), i.gbit());
  return line;
}

std::string format_tcp_text(const TcpResult& r) {
  std::string o;
  char line[256];
  std::snprintf(line, sizeof line, "sender    %6.2f s  %10s  %7.2f Gbit/s\n", r.duration_s,
                format_bytes(static_cast<double>(r.bytes_sent)).c_str(),
                r.duration_s > 0 ? static_cast<double>(r.bytes_sent) * 8 / r.duration_s / 1e9 : 0);
  o += line;
  std::snprintf(line, sizeof line, "receiver  %6.2f s  %10s  %7.2f Gbit/s\n", r.duration_s,
                format_bytes(static_cast<double>(r.bytes_received)).c_str(), r.gbit());
  o += line;
  if (r.streams > 1)
    for (size_t i = 0; i < r.stream_bytes.size(); ++i) {
      std::snprintf(
          line, sizeof line, "  stream %zu  %10s  %7.2f Gbit/s\n", i + 1,
          format_bytes(static_cast<double>(r.stream_bytes[i])).c_str(),
          r.duration_s > 0 ? static_cast<double>(r.stream_bytes[i]) * 8 / r.duration_s / 1e9 : 0);
      o += line;
    }
  double cpu = r.duration_s > 0 ? 100 * (r.cpu_user_s + r.cpu_sys_s) / r.duration_s : 0;
  o += "client CPU " + format_fixed(cpu, 0) + "% of one core\n";
  return o;
}

boost::json::object tcp_to_json(const TcpResult& r) {
  boost::json::object o;
  auto round3 = [](double x) { return std::round(x * 1000) / 1000; };
  o["target"] = r.target;
  o["streams"] = r.streams;
  o["reverse"] = r.reverse;
  o["duration_s"] = round3(r.duration_s);
  o["bytes_sent"] = r.bytes_sent;
  o["bytes_received"] = r.bytes_received;
  o["gbit_per_s"] = round3(r.gbit());
  boost::json::array iv;
  for (const TcpInterval& i : r.intervals) {
    boost::json::object j;
    j["start_s"] = round3(i.start_s);
    j["end_s"] = round3(i.end_s);
    j["bytes"] = i.bytes;
    j["gbit_per_s"] = round3(i.gbit());
    iv.push_back(std::move(j));
  }
  o["intervals"] = std::move(iv);
  boost::json::array st;
  for (uint64_t b : r.stream_bytes) st.push_back(b);
  o["stream_bytes"] = std::move(st);
  boost::json::object cpu;
  cpu["user_s"] = round3(r.cpu_user_s);
  cpu["sys_s"] = round3(r.cpu_sys_s);
  o["cpu"] = std::move(cpu);
  return o;
}

}  // namespace bench
