// `netbench serve`: see server.h. Level-triggered epoll, one loop per thread. Fixed replies are
// built once and shared by pointer; output goes out with writev.
#include "bench/server.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>

#include "bench/http1.h"
#include "bench/url.h"
#include "bench/util.h"
#include "core/fs.h"
#include "core/text.h"

namespace bench {

namespace {

const char* reason(int code) {
  switch (code) {
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 204:
      return "No Content";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 304:
      return "Not Modified";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 413:
      return "Content Too Large";
    case 429:
      return "Too Many Requests";
    case 500:
      return "Internal Server Error";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    default:
      return "Status";
  }
}

std::string chunk_body(std::string_view body, uint64_t chunk) {
  std::string out;
  char hex[32];
  for (size_t i = 0; i < body.size(); i += chunk) {
    size_t n = std::min<size_t>(chunk, body.size() - i);
    std::snprintf(hex, sizeof hex, "%zx\r\n", n);
    out += hex;
    out.append(body.substr(i, n));
    out += "\r\n";
  }
  out += "0\r\n\r\n";
  return out;
}

enum class ConnHdr { none, close, keep_alive };

// Builds a whole response. HEAD gets the same head and no body.
std::string build_response(const ServeOptions& o, std::string_view body, ConnHdr ch, bool head) {
  bool bodyless = o.status == 204 || o.status == 304 || o.status < 200;
  std::string r = "HTTP/1.1 " + std::to_string(o.status) + " " + reason(o.status) + "\r\n";
  r += "Server: netbench\r\n";
  if (!bodyless) {
    r += "Content-Type: text/plain\r\n";
    if (o.chunked)
      r += "Transfer-Encoding: chunked\r\n";
    else
      r += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  }
  for (const std::string& h : o.headers) r += h + "\r\n";
  if (ch == ConnHdr::close) r += "Connection: close\r\n";
  if (ch == ConnHdr::keep_alive) r += "Connection: keep-alive\r\n";
  r += "\r\n";
  if (!bodyless && !head) r += o.chunked ? chunk_body(body, o.chunk_size) : std::string(body);
  return r;
}

struct Seg {
  std::shared_ptr<const std::string> shared;
  std::string own;
  size_t off = 0;
  const std::string& data() const { return shared ? *shared : own; }
};

struct SConn {
  int fd = -1;
  Http1Parser parser{Http1Parser::Kind::request};
  std::deque<Seg> out;
  size_t out_bytes = 0;
  std::string body;          // echo
  bool close_after = false;  // close once `out` drains
  bool failed = false;       // stop reading (bad request)
  bool sent_continue = false;
  uint32_t events = 0;
  size_t pending = 0;  // delayed responses not yet queued
  bool dead = false;
};

struct Delayed {
  int64_t due;
  SConn* conn;
  std::shared_ptr<const std::string> shared;
  std::string own;
  bool close;
};

constexpr size_t kBuf = 64 * 1024;
constexpr size_t kMaxOut = 4u << 20;  // stop reading while this much output is queued

struct Responses {
  std::shared_ptr<const std::string> plain, close, keep10;
};

class Loop {
 public:
  Loop(const ServeOptions& o, const Responses& r, int listen_fd, bool exclusive, int64_t t0,
       ServeStats& stats)
      : o_(o), r_(r), lfd_(listen_fd), exclusive_(exclusive), t0_(t0), stats_(stats) {}
  void run();

 private:
  void accept_all();
  void on_readable(SConn* c, int64_t now);
  void on_request(SConn* c, int64_t now);
  void queue(SConn* c, Seg s);
  void flush(SConn* c);
  void set_events(SConn* c, uint32_t ev);
  void close_conn(SConn* c);
  void release(SConn* c);

  const ServeOptions& o_;
  const Responses& r_;
  int lfd_;
  bool exclusive_;
  int64_t t0_;
  ServeStats& stats_;
  ServeStats local_;
  int ep_ = -1;
  std::deque<Delayed> delayed_;
  std::unique_ptr<char[]> buf_{new char[kBuf]};
};

void Loop::set_events(SConn* c, uint32_t ev) {
  if (c->events == ev || c->fd < 0) return;
  epoll_event e{};
  e.events = ev;
  e.data.ptr = c;
  ::epoll_ctl(ep_, EPOLL_CTL_MOD, c->fd, &e);
  c->events = ev;
}

void Loop::release(SConn* c) {
  if (c->pending == 0)
    delete c;
  else
    c->dead = true;
}

void Loop::close_conn(SConn* c) {
  if (c->fd >= 0) ::close(c->fd);
  c->fd = -1;
  release(c);
}

void Loop::accept_all() {
  for (;;) {
    int fd = ::accept4(lfd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;  // EAGAIN, or a transient error (EMFILE, ECONNABORTED)
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    auto* c = new SConn;
    c->fd = fd;
    c->events = EPOLLIN | EPOLLRDHUP;
    epoll_event e{};
    e.events = c->events;
    e.data.ptr = c;
    ::epoll_ctl(ep_, EPOLL_CTL_ADD, fd, &e);
    ++local_.connections;
  }
}

void Loop::queue(SConn* c, Seg s) {
  c->out_bytes += s.data().size() - s.off;
  c->out.push_back(std::move(s));
}

void Loop::flush(SConn* c) {
  while (!c->out.empty()) {
    iovec iov[64];
    int n = 0;
    for (auto it = c->out.begin(); it != c->out.end() && n < 64; ++it, ++n) {
      const std::string& d = it->data();
      iov[n].iov_base = const_cast<char*>(d.data() + it->off);
      iov[n].iov_len = d.size() - it->off;
    }
    msghdr mh{};
    mh.msg_iov = iov;
    mh.msg_iovlen = static_cast<size_t>(n);
    ssize_t w = ::sendmsg(c->fd, &mh, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EAGAIN || errno == EINTR) break;
      return close_conn(c);
    }
    c->out_bytes -= static_cast<size_t>(w);
    auto left = static_cast<size_t>(w);
    while (left && !c->out.empty()) {
      Seg& s = c->out.front();
      size_t rest = s.data().size() - s.off;
      if (left >= rest) {
        left -= rest;
        c->out.pop_front();
      } else {
        s.off += left;
        left = 0;
      }
    }
  }
  if (c->out.empty() && c->close_after && c->pending == 0) return close_conn(c);
  uint32_t ev = EPOLLRDHUP;
  if (!c->failed && c->out_bytes < kMaxOut && !c->close_after) ev |= EPOLLIN;
  if (!c->out.empty()) ev |= EPOLLOUT;
  set_events(c, ev);
}

void Loop::on_request(SConn* c, int64_t now) {
  ++local_.requests;
  const Http1Parser& p = c->parser;
  bool keep = p.keep_alive() && !o_.close;
  ConnHdr ch =
      !keep ? ConnHdr::close : (p.version_minor() == 0 ? ConnHdr::keep_alive : ConnHdr::none);
  bool head = p.method() == "HEAD";
  Seg s;
  if (o_.echo || head) {
    s.own = build_response(
        o_, o_.echo ? std::string_view(c->body) : (o_.size >= 0 ? std::string_view() : o_.reply),
        ch, head);
    if (head && !o_.echo && !o_.chunked) {
      // HEAD reports the length the GET would have.
      size_t len = o_.size >= 0 ? static_cast<size_t>(o_.size) : o_.reply.size();
      size_t k = s.own.find("Content-Length: 0\r\n");
      if (k != std::string::npos)
        s.own.replace(k, 19, "Content-Length: " + std::to_string(len) + "\r\n");
    }
  } else {
    s.shared = ch == ConnHdr::none ? r_.plain : ch == ConnHdr::close ? r_.close : r_.keep10;
  }
  c->body.clear();
  if (!keep) c->failed = true;  // read nothing more on this connection
  if (o_.delay_ns > 0) {
    ++c->pending;
    delayed_.push_back(Delayed{now + o_.delay_ns, c, std::move(s.shared), std::move(s.own), !keep});
    return;
  }
  if (!keep) c->close_after = true;
  queue(c, std::move(s));
}

void Loop::on_readable(SConn* c, int64_t now) {
  char* buf = buf_.get();
  for (;;) {
    ssize_t n = ::recv(c->fd, buf, kBuf, 0);
    if (n == 0) {
      // Peer half-closed: finish what is queued, then close.
      if (c->out.empty() && c->pending == 0) return close_conn(c);
      c->close_after = true;
      c->failed = true;
      return flush(c);
    }
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) break;
      return close_conn(c);
    }
    size_t off = 0;
    while (off < static_cast<size_t>(n) && !c->failed) {
      c->parser.set_body_sink(o_.echo ? &c->body : nullptr);
      size_t used = 0;
      auto st = c->parser.feed(buf + off, static_cast<size_t>(n) - off, &used);
      off += used;
      if (st == Http1Parser::Status::done) {
        on_request(c, now);
        c->parser.reset();
        c->sent_continue = false;
      } else if (st == Http1Parser::Status::error) {
        ++local_.bad_requests;
        Seg s;
        std::string msg = "bad request: " + c->parser.error() + "\n";
        s.own =
            "HTTP/1.1 400 Bad Request\r\nServer: netbench\r\nContent-Type: text/plain\r\n"
            "Content-Length: " +
            std::to_string(msg.size()) + "\r\nConnection: close\r\n\r\n" + msg;
        c->failed = true;
        c->close_after = true;
        queue(c, std::move(s));
      } else {
        if (c->parser.head_complete() && c->parser.expect_continue() && !c->sent_continue) {
          Seg s;
          s.own = "HTTP/1.1 100 Continue\r\n\r\n";
          queue(c, std::move(s));
          c->sent_continue = true;
        }
        break;
      }
    }
    if (c->failed || static_cast<size_t>(n) < kBuf || c->out_bytes >= kMaxOut) break;
  }
  flush(c);
}

void Loop::run() {
  ep_ = ::epoll_create1(EPOLL_CLOEXEC);
  epoll_event le{};
  le.events = EPOLLIN | (exclusive_ ? static_cast<uint32_t>(EPOLLEXCLUSIVE) : 0u);
  le.data.ptr = nullptr;
  ::epoll_ctl(ep_, EPOLL_CTL_ADD, lfd_, &le);
  std::vector<epoll_event> evs(512);
  int64_t end = o_.duration_ns > 0 ? t0_ + o_.duration_ns : INT64_MAX;
  for (;;) {
    int64_t now = now_ns();
    if ((o_.stop && o_.stop->load(std::memory_order_relaxed)) || now >= end) break;
    if (o_.stall_ns > 0 && o_.stall_every_ns > 0) {
      int64_t phase = (now - t0_) % o_.stall_every_ns;
      int64_t start = o_.stall_every_ns - o_.stall_ns;  // stall at the end of each period
      if (phase >= start) {
        int64_t left = o_.stall_every_ns - phase;
        timespec ts = to_timespec(left);
        ::nanosleep(&ts, nullptr);
        now = now_ns();
      }
    }
    while (!delayed_.empty() && delayed_.front().due <= now) {
      Delayed d = std::move(delayed_.front());
      delayed_.pop_front();
      SConn* c = d.conn;
      --c->pending;
      if (c->dead) {
        if (c->pending == 0) delete c;
        continue;
      }
      Seg s;
      s.shared = std::move(d.shared);
      s.own = std::move(d.own);
      if (d.close) c->close_after = true;
      queue(c, std::move(s));
      flush(c);
    }
    int64_t wake = now + 100'000'000;  // poll the stop flag at least every 100 ms
    if (!delayed_.empty()) wake = std::min(wake, delayed_.front().due);
    if (end != INT64_MAX) wake = std::min(wake, end);
    if (o_.stall_ns > 0 && o_.stall_every_ns > 0)
      wake =
          std::min(wake, now + (o_.stall_every_ns - o_.stall_ns) - (now - t0_) % o_.stall_every_ns);
    int64_t wait = std::max<int64_t>(0, wake - now);
    timespec ts = to_timespec(wait);
    int n = ::epoll_pwait2(ep_, evs.data(), static_cast<int>(evs.size()), &ts, nullptr);
    if (n <= 0) continue;
    now = now_ns();
    for (int i = 0; i < n; ++i) {
      auto* c = static_cast<SConn*>(evs[i].data.ptr);
      if (!c) {
        accept_all();
        continue;
      }
      if (c->fd < 0) continue;
      uint32_t ev = evs[i].events;
      if (ev & EPOLLOUT) flush(c);
      if (c->fd >= 0 && (ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) && !c->failed)
        on_readable(c, now);
      else if (c->fd >= 0 && (ev & (EPOLLHUP | EPOLLERR)))
        close_conn(c);
    }
  }
  ::close(ep_);
  // Connections still open are closed by process exit; count what we did.
  static std::mutex m;
  std::lock_guard<std::mutex> lock(m);
  stats_.connections += local_.connections;
  stats_.requests += local_.requests;
  stats_.bad_requests += local_.bad_requests;
}

core::Error listen_error(const std::string& addr, int e) {
  core::Errc code = e == EACCES || e == EPERM ? core::Errc::noperm : core::Errc::unavailable;
  return core::Error(code, "cannot listen on " + addr + ": " + core::errno_text(e));
}

}  // namespace

core::Result<ServeStats> serve(const ServeOptions& o) {
  if (o.threads < 1 || o.threads > 256)
    return core::Error(core::Errc::usage, "threads must be 1..256");
  if (o.echo && o.size >= 0)
    return core::Error(core::Errc::usage, "--echo and --size exclude each other");
  if (o.size > (int64_t{1} << 30)) return core::Error(core::Errc::usage, "--size is at most 1G");
  if (o.status < 100 || o.status > 999)
    return core::Error(core::Errc::usage, "status must be 100..999");
  if (o.chunk_size == 0) return core::Error(core::Errc::usage, "chunk size must be positive");
  if (o.stall_ns < 0 || o.delay_ns < 0) return core::Error(core::Errc::usage, "negative duration");
  if (o.stall_ns > 0 && (o.stall_every_ns <= o.stall_ns))
    return core::Error(core::Errc::usage, "--stall-every must be longer than --stall");
  for (const std::string& h : o.headers)
    if (std::string why = header_line_error(h); !why.empty())
      return core::Error(core::Errc::usage, why);
  WARREN_TRY(hp, parse_hostport(o.listen));
  WARREN_TRY(addr, resolve(hp));
  ::signal(SIGPIPE, SIG_IGN);
  raise_fd_limit();

  std::string body = o.size >= 0 ? std::string(static_cast<size_t>(o.size), 'x') : o.reply;
  if (o.size > 0)
    for (int64_t i = 63; i < o.size; i += 64) body[static_cast<size_t>(i)] = '\n';
  Responses r;
  r.plain = std::make_shared<const std::string>(build_response(o, body, ConnHdr::none, false));
  r.close = std::make_shared<const std::string>(build_response(o, body, ConnHdr::close, false));
  r.keep10 =
      std::make_shared<const std::string>(build_response(o, body, ConnHdr::keep_alive, false));

  std::vector<int> fds;
  auto cleanup = [&] {
    for (int fd : fds) ::close(fd);
  };
  bool unix_sock = addr.family == AF_UNIX;
  int nfds = unix_sock ? 1 : o.threads;
  std::string bound;
  for (int i = 0; i < nfds; ++i) {
    int fd = ::socket(addr.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      cleanup();
      return listen_error(addr.text, errno);
    }
    fds.push_back(fd);
    if (!unix_sock) {
      int one = 1;
      ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
      ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    } else {
      struct stat st;
      if (::lstat(hp.unix_path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode))
        ::unlink(hp.unix_path.c_str());
    }
    if (::bind(fd, reinterpret_cast<const sockaddr*>(&addr.ss), addr.len) < 0 ||
        ::listen(fd, 4096) < 0) {
      int e = errno;
      cleanup();
      return listen_error(addr.text, e);
    }
    if (i == 0) {
      // Port 0: the kernel chose a port; every other listener binds the same one.
      sockaddr_storage ss{};
      socklen_t len = sizeof ss;
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
      bound = unix_sock ? addr.text : address_text(reinterpret_cast<sockaddr*>(&ss), len);
      if (!unix_sock) {
        std::memcpy(&addr.ss, &ss, len);
        addr.len = len;
      }
    }
  }
  if (o.on_listening) o.on_listening(bound);

  ServeStats stats;
  int64_t t0 = now_ns();
  std::vector<std::unique_ptr<Loop>> loops;
  for (int i = 0; i < o.threads; ++i)
    loops.push_back(std::make_unique<Loop>(o, r, fds[unix_sock ? 0 : static_cast<size_t>(i)],
                                           unix_sock, t0, stats));
  std::vector<std::thread> threads;
  for (size_t i = 1; i < loops.size(); ++i)
    threads.emplace_back([l = loops[i].get()] { l->run(); });
  loops[0]->run();
  for (auto& t : threads) t.join();
  cleanup();
  if (unix_sock) ::unlink(hp.unix_path.c_str());
  return stats;
}

}  // namespace bench
