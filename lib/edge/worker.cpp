// edged's workers: one thread each with its own io_context — the accept loops (a connection
// each, handed to serve()) and a 250 ms tick that expires deadlines, parks idle keep-alive
// connections, flushes the access log and sweeps the upstream pool. Worker thread only.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>

#include "core/fs.h"
#include "edge/detail/daemon.h"
#include "log/log.h"

namespace edge::detail {

using namespace std::chrono_literals;

Conn::Conn(Worker& w, int fd, bool tls, std::string peer)
    : w(w), client(w.ctx.get_executor()), tls(tls), peer_ip(std::move(peer)) {
  client.assign(fd);
  client.alarm = &alarm;
  parse_ip(peer_ip, peer_bin);
  w.link(this);
}

Conn::~Conn() {
  w.unlink(this);
}

void Conn::expire() {
  alarm.fired = true;
  client.cancel();
  if (up) up->s.cancel();
}

const Snapshot& Worker::current() {
  uint64_t g = d.gen.load(std::memory_order_acquire);
  if (g != gen || !snap) {
    auto global = d.snap.load();
    // A per-worker control block, so per-request copies never share a cache line across
    // threads; it keeps the global snapshot alive.
    const Snapshot* raw = global.get();
    snap =
        std::shared_ptr<const Snapshot>(raw, [global](const Snapshot*) mutable { global.reset(); });
    gen = g;
  }
  return *snap;
}

void Worker::link(Conn* c) {
  c->next = conns;
  if (conns) conns->prev = c;
  conns = c;
  ++nconns;
}

void Worker::unlink(Conn* c) {
  if (c->prev) c->prev->next = c->next;
  if (c->next) c->next->prev = c->prev;
  if (conns == c) conns = c->next;
  --nconns;
}

void Worker::flush_log() {
  if (log_buf.empty()) return;
  int fd = d.log_fd.load(std::memory_order_relaxed);
  size_t off = 0;
  while (fd >= 0 && off < log_buf.size()) {
    ssize_t n = ::write(fd, log_buf.data() + off, log_buf.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    off += static_cast<size_t>(n);
  }
  log_buf.clear();
}

namespace {

std::string peer_text(const sockaddr_storage& ss) {
  char buf[INET6_ADDRSTRLEN] = "";
  if (ss.ss_family == AF_INET) {
    ::inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&ss)->sin_addr, buf, sizeof buf);
  } else if (ss.ss_family == AF_INET6) {
    const auto* s6 = reinterpret_cast<const sockaddr_in6*>(&ss);
    if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr))
      ::inet_ntop(AF_INET, reinterpret_cast<const char*>(&s6->sin6_addr) + 12, buf, sizeof buf);
    else
      ::inet_ntop(AF_INET6, &s6->sin6_addr, buf, sizeof buf);
  }
  return buf;
}

}  // namespace

asio::awaitable<void> accept_loop(Worker& w, net::tcp::acceptor& acc, bool tls, ServeFn serve) {
  int lfd = acc.native_handle();
  error_code ig;
  acc.non_blocking(true, ig);
  for (;;) {
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    int fd = ::accept4(lfd, reinterpret_cast<sockaddr*>(&ss), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      int e = errno;
      if (e == EAGAIN || e == EWOULDBLOCK) {
        auto [ec] = co_await acc.async_wait(net::tcp::acceptor::wait_read, net::use_tuple);
        if (ec || !acc.is_open()) co_return;
        continue;
      }
      if (e == EINTR || e == ECONNABORTED) continue;
      if (!acc.is_open() || e == EBADF || e == EINVAL) co_return;
      wlog::get("edge")->warn("event=accept_failed error=\"{}\"", core::errno_text(e));
      asio::steady_timer t(w.ctx, 100ms);  // EMFILE and friends: back off a little
      co_await t.async_wait(net::use_tuple);
      continue;
    }
    const Snapshot& s = w.current();
    if (w.draining || w.d.open_connections.load(std::memory_order_relaxed) >=
                          static_cast<int64_t>(s.cfg->max_connections)) {
      ::close(fd);
      continue;
    }
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    asio::co_spawn(w.ctx, serve(w, fd, tls, peer_text(ss)), net::log_errors("connection"));
  }
}

asio::awaitable<void> tick(Worker& w) {
  asio::steady_timer t(w.ctx);
  w.tick_timer = &t;
  int64_t last_sweep = 0;
  for (;;) {
    t.expires_after(250ms);
    auto [ec] = co_await t.async_wait(net::use_tuple);
    if (ec || w.stopped) {
      w.tick_timer = nullptr;
      co_return;
    }
    int64_t now = mono_ms();
    for (Conn* c = w.conns; c; c = c->next) {
      if (!c->alarm.fired && proto::Exchange::expired(c->alarm.deadline, now)) {
        c->expire();
      } else if (c->phase == Conn::Phase::idle && !c->parked &&
                 proto::Exchange::should_park(c->idle_since, now)) {
        c->parked = true;
        c->client.cancel();
      }
    }
    w.flush_log();
    if (now - last_sweep >= 1000) {
      w.pool.sweep(now, w.current().cfg->pool_idle);
      last_sweep = now;
    }
  }
}

}  // namespace edge::detail
