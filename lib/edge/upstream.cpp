// Streams (plain/TLS on a non-blocking fd), buffers, the upstream pool, and connecting to
// targets: TCP (with TLS when asked) or through tunneld's `dial` on its Unix socket.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <boost/json.hpp>

#include <cerrno>
#include <cstring>

#include "edge/detail/daemon.h"
#include "ipc/ipc.h"

namespace edge::detail {

int64_t mono_ms() {
  return edge::now_ms();
}

// ---- Stream ----------------------------------------------------------------------------------

void Stream::assign(int fd) {
  close();
  error_code ec;
  d_.assign(fd, ec);
  fd_ = fd;
}

void Stream::close() {
  if (fd_ < 0) return;
  error_code ec;
  d_.cancel(ec);
  d_.close(ec);  // closes the fd
  fd_ = -1;
}

void Stream::cancel() {
  error_code ec;
  if (fd_ >= 0) d_.cancel(ec);
}

asio::awaitable<error_code> Stream::wait(bool for_write) {
  if (alarm && alarm->fired) co_return asio::error::timed_out;
  auto [ec] = co_await d_.async_wait(for_write ? asio::posix::descriptor_base::wait_write
                                               : asio::posix::descriptor_base::wait_read,
                                     net::use_tuple);
  if (alarm && alarm->fired) co_return asio::error::timed_out;
  co_return ec;
}

asio::awaitable<error_code> Stream::wait_readable() {
  if (tls && tls.pending()) co_return error_code();
  co_return co_await wait(false);
}

static error_code errno_code(int e) {
  return error_code(e, boost::system::system_category());
}

static error_code tls_failed() {
  return error_code(boost::system::errc::protocol_error, boost::system::generic_category());
}

// Sends what the TLS session produced. The common case (the socket takes it all) copies the
// records once into a per-thread scratch buffer and never suspends; a remainder the socket
// does not take is kept in tls_backlog_ while waiting for it to drain.
asio::awaitable<error_code> Stream::flush_tls() {
  thread_local std::vector<char> scratch(64 * 1024);
  for (;;) {
    if (!tls_backlog_.empty()) {
      ssize_t r = ::send(fd_, tls_backlog_.data(), tls_backlog_.size(), MSG_NOSIGNAL);
      if (r >= 0) {
        tls_backlog_.erase(0, static_cast<size_t>(r));
        continue;
      }
      if (errno == EINTR) continue;
      if (errno != EAGAIN) co_return errno_code(errno);
      if (auto ec = co_await wait(true); ec) co_return ec;
      continue;
    }
    size_t n = tls.take_output(scratch.data(), scratch.size());
    if (n == 0) co_return error_code();
    size_t off = 0;
    while (off < n) {
      ssize_t r = ::send(fd_, scratch.data() + off, n - off, MSG_NOSIGNAL);
      if (r >= 0) {
        off += static_cast<size_t>(r);
        continue;
      }
      if (errno == EINTR) continue;
      if (errno != EAGAIN) co_return errno_code(errno);
      tls_backlog_.assign(scratch.data() + off, n - off);
      break;
    }
  }
}

// Reads raw bytes from the socket through Asio's read op: tried at once only when the last
// read filled its buffer, otherwise queued on the edge-triggered registration (no epoll_ctl
// per wait, unlike async_wait).
asio::awaitable<std::tuple<error_code, size_t>> Stream::read_raw(char* p, size_t n) {
  if (alarm && alarm->fired)
    co_return std::make_tuple(error_code(asio::error::timed_out), size_t(0));
  auto [ec, got] = co_await d_.async_read_some(asio::buffer(p, n), net::use_tuple);
  if (alarm && alarm->fired)
    co_return std::make_tuple(error_code(asio::error::timed_out), size_t(0));
  co_return std::make_tuple(ec, got);
}

asio::awaitable<std::tuple<error_code, size_t>> Stream::read_some(char* p, size_t n) {
  if (fd_ < 0) co_return std::make_tuple(error_code(asio::error::bad_descriptor), size_t(0));
  if (!tls) co_return co_await read_raw(p, n);
  for (;;) {
    tls::Io r = tls.read(p, n);
    if (tls.output_pending())
      if (auto ec = co_await flush_tls(); ec) co_return std::make_tuple(ec, size_t(0));
    switch (r.want) {
      case tls::Want::done:
        co_return std::make_tuple(error_code(), static_cast<size_t>(r.n));
      case tls::Want::closed:
        co_return std::make_tuple(error_code(asio::error::eof), size_t(0));
      case tls::Want::error:
        last_error = tls.error();
        co_return std::make_tuple(tls_failed(), size_t(0));
      case tls::Want::read:
      case tls::Want::write:
        break;
    }
    // The caller's buffer takes the raw bytes: OpenSSL copies them in before decrypting.
    auto [ec, got] = co_await read_raw(p, n);
    if (ec == asio::error::eof) {
      tls.feed_eof();
      continue;
    }
    if (ec) co_return std::make_tuple(ec, size_t(0));
    tls.feed(p, got);
  }
}

asio::awaitable<error_code> Stream::write(std::string_view a, std::string_view b) {
  if (tls) {
    for (std::string_view part : {a, b}) {
      while (!part.empty()) {
        if (fd_ < 0) co_return asio::error::bad_descriptor;
        tls::Io r = tls.write(part.data(), part.size());
        if (r.want != tls::Want::done) {
          last_error = tls.error();
          co_return asio::error::connection_reset;
        }
        part.remove_prefix(static_cast<size_t>(r.n));
      }
    }
    co_return co_await flush_tls();  // both parts leave in one send
  }
  while (!a.empty() || !b.empty()) {
    if (fd_ < 0) co_return asio::error::bad_descriptor;
    iovec iov[2];
    int cnt = 0;
    if (!a.empty()) iov[cnt++] = {const_cast<char*>(a.data()), a.size()};
    if (!b.empty()) iov[cnt++] = {const_cast<char*>(b.data()), b.size()};
    msghdr mh{};
    mh.msg_iov = iov;
    mh.msg_iovlen = static_cast<size_t>(cnt);
    ssize_t r = ::sendmsg(fd_, &mh, MSG_NOSIGNAL);
    if (r >= 0) {
      size_t n = static_cast<size_t>(r);
      size_t fa = std::min(n, a.size());
      a.remove_prefix(fa);
      b.remove_prefix(n - fa);
      continue;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN) co_return errno_code(errno);
    if (auto ec = co_await wait(true); ec) co_return ec;
  }
  co_return error_code();
}

asio::awaitable<error_code> Stream::handshake() {
  std::array<char, 4096> raw;
  for (;;) {
    tls::Want w = tls.handshake();
    if (tls.output_pending())
      if (auto ec = co_await flush_tls(); ec) co_return ec;
    if (w == tls::Want::done) co_return error_code();
    if (w == tls::Want::error || w == tls::Want::closed) {
      last_error = tls.error();
      co_return tls_failed();
    }
    auto [ec, got] = co_await read_raw(raw.data(), raw.size());
    if (ec == asio::error::eof) {
      last_error = "connection closed during the handshake";
      co_return tls_failed();
    }
    if (ec) co_return ec;
    tls.feed(raw.data(), got);
  }
}

void Stream::close_notify() {
  if (!tls || fd_ < 0) return;
  tls.shutdown();
  char buf[256];
  size_t n = tls.take_output(buf, sizeof buf);
  if (n) (void)::send(fd_, buf, n, MSG_NOSIGNAL | MSG_DONTWAIT);
}

asio::awaitable<error_code> Stream::connect(const void* sa, unsigned len, int family) {
  int fd = ::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) co_return errno_code(errno);
  assign(fd);
  if (family != AF_UNIX) {
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  if (::connect(fd, static_cast<const sockaddr*>(sa), len) == 0) co_return error_code();
  if (errno != EINPROGRESS && errno != EAGAIN) co_return errno_code(errno);
  if (auto ec = co_await wait(true); ec) co_return ec;
  int err = 0;
  socklen_t el = sizeof err;
  ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el);
  co_return err ? errno_code(err) : error_code();
}

// ---- buffers ---------------------------------------------------------------------------------

void Buffer::compact() {
  if (begin == 0) return;
  std::memmove(data, data + begin, end - begin);
  end -= begin;
  begin = 0;
}

// Buffers are mapped pages, not heap blocks: untouched pages cost no memory, and a buffer given
// back beyond the few kept per worker returns its pages to the system at once (so parked
// idle connections really shrink the process).
static char* map_pages(size_t n) {
  void* p = ::mmap(nullptr, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) throw std::bad_alloc();
  return static_cast<char*>(p);
}

Buffer::~Buffer() {
  if (data) ::munmap(data, cap);
}

BufferPool::~BufferPool() {
  for (char* p : free_) ::munmap(p, kSize);
}

void BufferPool::get(Buffer& b) {
  if (b.data) return;
  if (!free_.empty()) {
    b.data = free_.back();
    free_.pop_back();
  } else {
    b.data = map_pages(kSize);
  }
  b.cap = kSize;
  b.begin = b.end = 0;
}

void BufferPool::put(Buffer& b) {
  if (!b.data || !b.empty()) return;
  if (b.cap == kSize && free_.size() < kKeep)
    free_.push_back(b.data);
  else
    ::munmap(b.data, b.cap);
  b.data = nullptr;
  b.cap = 0;
  b.begin = b.end = 0;
}

void BufferPool::grow(Buffer& b, size_t cap) {
  if (cap <= b.cap) return;
  cap = (cap + 4095) & ~size_t(4095);
  char* n = map_pages(cap);
  std::memcpy(n, b.data + b.begin, b.size());
  b.end = b.size();
  b.begin = 0;
  if (b.cap == kSize && free_.size() < kKeep)
    free_.push_back(b.data);
  else
    ::munmap(b.data, b.cap);
  b.data = n;
  b.cap = cap;
}

// ---- pool ------------------------------------------------------------------------------------

// Whether an idle upstream connection is still usable (no EOF, no unexpected bytes).
static bool still_open(int fd) {
  char c;
  ssize_t r = ::recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
  return r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

std::unique_ptr<Upstream> Pool::take(TargetState* t, int64_t now, Millis idle_limit) {
  auto it = idle_.find(t);
  if (it == idle_.end()) return nullptr;
  auto& v = it->second;
  while (!v.empty()) {
    auto u = std::move(v.back());
    v.pop_back();
    --count_;
    if (now - u->idle_since > idle_limit.count()) continue;
    // A connection idle for a while may have been closed by the upstream: peek first.
    if (now - u->idle_since > 1000 && !still_open(u->s.fd())) continue;
    return u;
  }
  return nullptr;
}

void Pool::give(std::unique_ptr<Upstream> u, size_t max_per_target, int64_t now) {
  if (!u->in.empty() || !u->s.is_open() || max_per_target == 0) return;
  auto& v = idle_[u->target.get()];
  if (v.size() >= max_per_target) return;
  u->idle_since = now;
  u->s.alarm = nullptr;
  v.push_back(std::move(u));
  ++count_;
}

void Pool::sweep(int64_t now, Millis idle_limit) {
  for (auto it = idle_.begin(); it != idle_.end();) {
    auto& v = it->second;
    size_t before = v.size();
    v.erase(std::remove_if(v.begin(), v.end(),
                           [&](const std::unique_ptr<Upstream>& u) {
                             return now - u->idle_since > idle_limit.count() ||
                                    !still_open(u->s.fd());
                           }),
            v.end());
    count_ -= before - v.size();
    it = v.empty() ? idle_.erase(it) : std::next(it);
  }
}

void Pool::clear() {
  idle_.clear();
  count_ = 0;
}

// ---- connecting ------------------------------------------------------------------------------

static std::string ec_text(const error_code& ec) {
  if (ec == asio::error::timed_out) return "timed out";
  if (ec == asio::error::eof) return "connection closed";
  return ec.message();
}

// Resolves host:port: numeric addresses directly, names through getaddrinfo (Asio's resolver).
static asio::awaitable<std::tuple<error_code, sockaddr_storage, socklen_t>> resolve(
    const std::string& host, uint16_t port) {
  sockaddr_storage ss{};
  in_addr a4{};
  in6_addr a6{};
  if (::inet_pton(AF_INET, host.c_str(), &a4) == 1) {
    auto* s = reinterpret_cast<sockaddr_in*>(&ss);
    s->sin_family = AF_INET;
    s->sin_port = htons(port);
    s->sin_addr = a4;
    co_return std::make_tuple(error_code(), ss, socklen_t(sizeof(sockaddr_in)));
  }
  if (::inet_pton(AF_INET6, host.c_str(), &a6) == 1) {
    auto* s = reinterpret_cast<sockaddr_in6*>(&ss);
    s->sin6_family = AF_INET6;
    s->sin6_port = htons(port);
    s->sin6_addr = a6;
    co_return std::make_tuple(error_code(), ss, socklen_t(sizeof(sockaddr_in6)));
  }
  net::tcp::resolver r(co_await asio::this_coro::executor);
  auto [ec, res] = co_await r.async_resolve(host, std::to_string(port), net::use_tuple);
  if (ec) co_return std::make_tuple(ec, ss, socklen_t(0));
  if (res.empty())
    co_return std::make_tuple(error_code(asio::error::host_not_found), ss, socklen_t(0));
  auto ep = res.begin()->endpoint();
  std::memcpy(&ss, ep.data(), ep.size());
  co_return std::make_tuple(error_code(), ss, static_cast<socklen_t>(ep.size()));
}

asio::awaitable<std::tuple<std::unique_ptr<Upstream>, ConnectError>> connect_upstream(
    const asio::any_io_executor& ex, BufferPool& bufs, std::shared_ptr<TargetState> t,
    const Snapshot& snap, Alarm* alarm) {
  const TargetSpec& spec = t->spec;
  auto u = std::make_unique<Upstream>(ex);
  u->target = std::move(t);
  u->s.alarm = alarm;
  ConnectError err;
  auto fail = [&](std::string what, bool timeout) {
    err.what = std::move(what);
    err.timeout = timeout;
    return std::make_tuple(std::unique_ptr<Upstream>(), err);
  };
  if (spec.site.empty()) {
    auto [rec, ss, len] = co_await resolve(spec.host, spec.port);
    if (rec) co_return fail("resolve " + spec.host + ": " + ec_text(rec), false);
    if (auto ec = co_await u->s.connect(&ss, len, ss.ss_family); ec)
      co_return fail("connect " + spec.address() + ": " + ec_text(ec),
                     ec == asio::error::timed_out);
  } else {
    // tunneld: one request line, one reply line, then the raw stream (warren(7), tunneld(8)).
    const std::string& path = snap.cfg->tunneld_socket;
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    if (path.size() >= sizeof sa.sun_path) co_return fail("tunneld socket path too long", false);
    std::memcpy(sa.sun_path, path.c_str(), path.size() + 1);
    if (auto ec = co_await u->s.connect(&sa, sizeof sa, AF_UNIX); ec)
      co_return fail("tunneld " + path + ": " + ec_text(ec), ec == asio::error::timed_out);
    boost::json::object req{{"op", "dial"}, {"site", spec.site}, {"target", spec.address()}};
    std::string line = ipc::to_line(req);
    if (auto ec = co_await u->s.write(line); ec)
      co_return fail("tunneld: " + ec_text(ec), ec == asio::error::timed_out);
    bufs.get(u->in);
    size_t nl = std::string::npos;
    while (nl == std::string::npos) {
      if (u->in.room() == 0) co_return fail("tunneld: reply line too long", false);
      auto [ec, n] = co_await u->s.read_some(u->in.space(), u->in.room());
      if (ec) co_return fail("tunneld: " + ec_text(ec), ec == asio::error::timed_out);
      u->in.end += n;
      nl = u->in.view().find('\n');
    }
    error_code jec;
    auto v = boost::json::parse(u->in.view().substr(0, nl), jec);
    u->in.consume(nl + 1);
    if (jec || !v.is_object()) co_return fail("tunneld: malformed reply", false);
    const auto& o = v.as_object();
    auto ok = o.if_contains("ok");
    if (!ok || !ok->is_bool() || !ok->as_bool()) {
      auto e = o.if_contains("error");
      co_return fail("site " + spec.site + ": " +
                         (e && e->is_string() ? std::string(e->as_string()) : "dial refused"),
                     false);
    }
  }
  if (spec.tls) {
    if (!snap.tls_client) co_return fail("no TLS client context", false);
    const std::string& sni = spec.sni.empty() ? spec.host : spec.sni;
    u->s.tls = tls::Session::client(*snap.tls_client, sni, spec.tls_verify);
    if (!u->in.empty()) co_return fail("tunneld: unexpected bytes before TLS", false);
    if (auto ec = co_await u->s.handshake(); ec)
      co_return fail("TLS to " + spec.address() + ": " +
                         (u->s.last_error.empty() ? ec_text(ec) : u->s.last_error),
                     ec == asio::error::timed_out);
  }
  if (u->in.empty()) bufs.put(u->in);
  co_return std::make_tuple(std::move(u), err);
}

}  // namespace edge::detail
