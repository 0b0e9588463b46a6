// The load engine: see http_load.h. Level-triggered epoll; EPOLLOUT is armed only while a
// connect, handshake or write is waiting, so a keep-alive request costs one send, one
// epoll_wait and one recv.
#include "bench/http_load.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <thread>

#include "bench/http1.h"
#include "bench/url.h"
#include "bench/util.h"
#include "core/fs.h"
#include "core/text.h"

namespace bench {

namespace {

std::string ssl_error_text() {
  unsigned long e = ERR_get_error();
  std::string s;
  if (e) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    s = buf;
    // Keep the reason ("certificate verify failed"), drop the numeric prefix.
    size_t k = s.rfind(':');
    if (k != std::string::npos && k + 1 < s.size()) s = s.substr(k + 1);
  }
  ERR_clear_error();
  return s.empty() ? "handshake failed" : s;
}

struct Shared {
  const LoadOptions* o = nullptr;
  Address addr;
  std::vector<std::string> requests;
  bool head = false;
  bool tls = false;
  SSL_CTX* ctx = nullptr;
  std::string sni;
  std::string verify_host;
  int64_t t0 = 0, measure_start = 0, measure_end = 0;
  bool open_loop = false;
};

enum class St : uint8_t { closed, connecting, handshaking, writing, reading, idle, backoff };

struct Conn {
  int fd = -1;
  SSL* ssl = nullptr;
  St st = St::closed;
  uint32_t events = 0;
  bool active = false;  // a request is assigned
  const std::string* req = nullptr;
  size_t woff = 0;
  int64_t start = 0;
  int64_t deadline = 0;
  int64_t retry_at = 0;
  Http1Parser parser{Http1Parser::Kind::response};
};

constexpr size_t kReadBuf = 64 * 1024;
constexpr int64_t kCheckNs = 10'000'000;    // timeout / backoff scan period
constexpr int64_t kBackoffNs = 10'000'000;  // closed loop: pause after a connect/TLS error

class Worker {
 public:
  Worker(const Shared& sh, int index, int conns, double rate, uint64_t quota)
      : sh_(sh), index_(index), conns_(static_cast<size_t>(conns)), rate_(rate), quota_(quota) {
    result.threads = 1;
    result.connections = conns;
  }
  ~Worker() {
    for (Conn& c : conns_) close_conn(c);
    if (session_) SSL_SESSION_free(session_);
    if (ep_ >= 0) ::close(ep_);
  }

  void run();
  // --tls-resume: a new session (TLS 1.3 ticket) arrived; keeps the latest. Takes ownership.
  void store_session(SSL_SESSION* s) {
    if (session_) SSL_SESSION_free(session_);
    session_ = s;
  }
  Summary result;
  int64_t last_done = 0;

 private:
  bool measuring(int64_t t) const { return t >= sh_.measure_start && t <= sh_.measure_end; }
  bool can_issue(int64_t now) const {
    return !stopping_ && now < sh_.measure_end && (quota_ == 0 || issued_ < quota_);
  }
  uint32_t idx(const Conn& c) const { return static_cast<uint32_t>(&c - conns_.data()); }
  void set_events(Conn& c, uint32_t ev);
  void issue(Conn& c, int64_t start, int64_t now);
  void open_conn(Conn& c, int64_t now);
  void on_connected(Conn& c, int64_t now);
  void do_handshake(Conn& c, int64_t now);
  void do_write(Conn& c, int64_t now);
  void do_read(Conn& c, int64_t now);
  void drain_idle(Conn& c);
  void complete(Conn& c, int64_t now);
  void fail(Conn& c, ErrorKind kind, const std::string& msg, int64_t now);
  void next(Conn& c, int64_t now);
  void close_conn(Conn& c);
  void check_timers(int64_t now);
  void dispatch_slots(int64_t now);
  Second* second_at(int64_t now);

  const Shared& sh_;
  int index_;
  std::vector<Conn> conns_;
  double rate_;
  uint64_t quota_;
  uint64_t issued_ = 0;
  size_t rr_ = 0;
  int ep_ = -1;
  bool stopping_ = false;
  std::vector<uint32_t> idle_;
  int64_t interval_ns_ = 0;
  uint64_t slot_k_ = 0;
  int64_t slot_base_ = 0;
  std::unique_ptr<char[]> buf_{new char[kReadBuf]};
  SSL_SESSION* session_ = nullptr;  // --tls-resume: the latest resumable session
};

Second* Worker::second_at(int64_t now) {
  if (!sh_.o->timeline || now < sh_.measure_start) return nullptr;
  auto i = static_cast<size_t>((now - sh_.measure_start) / 1'000'000'000);
  if (i >= result.timeline.size()) result.timeline.resize(i + 1);
  return &result.timeline[i];
}

void Worker::set_events(Conn& c, uint32_t ev) {
  if (c.fd < 0 || c.events == ev) return;
  epoll_event e{};
  e.events = ev;
  e.data.u32 = idx(c);
  ::epoll_ctl(ep_, EPOLL_CTL_MOD, c.fd, &e);
  c.events = ev;
}

void Worker::close_conn(Conn& c) {
  if (c.ssl) {
    // Without a recorded shutdown OpenSSL marks the session not resumable.
    SSL_set_shutdown(c.ssl, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
    SSL_free(c.ssl);
    c.ssl = nullptr;
  }
  if (c.fd >= 0) ::close(c.fd);
  c.fd = -1;
  c.events = 0;
  c.st = St::closed;
}

void Worker::issue(Conn& c, int64_t start, int64_t now) {
  c.active = true;
  c.start = start;
  c.req = &sh_.requests[rr_++ % sh_.requests.size()];
  c.woff = 0;
  c.parser.reset(sh_.head);
  c.deadline = now + sh_.o->timeout_ns;
  if (start >= sh_.measure_start) ++issued_;
  if (c.fd < 0) {
    open_conn(c, now);
    return;
  }
  c.st = St::writing;
  do_write(c, now);
}

void Worker::open_conn(Conn& c, int64_t now) {
  int fd = ::socket(sh_.addr.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return fail(c, ErrorKind::connect, "socket: " + core::errno_text(errno), now);
  if (sh_.addr.family != AF_UNIX) {
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  c.fd = fd;
  if (measuring(now)) ++result.connects;
  int rc = ::connect(fd, reinterpret_cast<const sockaddr*>(&sh_.addr.ss), sh_.addr.len);
  if (rc < 0 && errno != EINPROGRESS) {
    return fail(c, ErrorKind::connect, "connect " + sh_.addr.text + ": " + core::errno_text(errno),
                now);
  }
  epoll_event e{};
  e.events = EPOLLIN | EPOLLOUT;
  e.data.u32 = idx(c);
  ::epoll_ctl(ep_, EPOLL_CTL_ADD, fd, &e);
  c.events = e.events;
  if (rc == 0) return on_connected(c, now);
  c.st = St::connecting;
}

void Worker::on_connected(Conn& c, int64_t now) {
  if (!sh_.tls) {
    c.st = St::writing;
    return do_write(c, now);
  }
  c.ssl = SSL_new(sh_.ctx);
  SSL_set_fd(c.ssl, c.fd);
  if (!sh_.sni.empty()) SSL_set_tlsext_host_name(c.ssl, sh_.sni.c_str());
  if (!sh_.o->insecure) {
    if (is_ip_literal(sh_.verify_host))
      X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c.ssl), sh_.verify_host.c_str());
    else
      SSL_set1_host(c.ssl, sh_.verify_host.c_str());
  }
  if (sh_.o->tls_resume) {
    SSL_set_app_data(c.ssl, this);
    if (session_) SSL_set_session(c.ssl, session_);
  }
  SSL_set_connect_state(c.ssl);
  c.st = St::handshaking;
  do_handshake(c, now);
}

void Worker::do_handshake(Conn& c, int64_t now) {
  int r = SSL_do_handshake(c.ssl);
  if (r == 1) {
    if (measuring(now)) {
      ++result.tls_handshakes;
      if (SSL_session_reused(c.ssl)) ++result.tls_resumed;
    }
    c.st = St::writing;
    return do_write(c, now);
  }
  int e = SSL_get_error(c.ssl, r);
  if (e == SSL_ERROR_WANT_READ) return set_events(c, EPOLLIN);
  if (e == SSL_ERROR_WANT_WRITE) return set_events(c, EPOLLIN | EPOLLOUT);
  std::string why;
  long v = SSL_get_verify_result(c.ssl);
  if (v != X509_V_OK) {
    why = std::string("certificate: ") + X509_verify_cert_error_string(v);
    ERR_clear_error();
  } else if (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) {
    why = errno ? core::errno_text(errno) : "connection closed during handshake";
  } else {
    why = ssl_error_text();
  }
  fail(c, ErrorKind::tls, "TLS " + sh_.addr.text + ": " + why, now);
}

void Worker::do_write(Conn& c, int64_t now) {
  const std::string& r = *c.req;
  while (c.woff < r.size()) {
    ssize_t n;
    if (c.ssl) {
      int w = SSL_write(c.ssl, r.data() + c.woff, static_cast<int>(r.size() - c.woff));
      if (w <= 0) {
        int e = SSL_get_error(c.ssl, w);
        if (e == SSL_ERROR_WANT_WRITE) return set_events(c, EPOLLIN | EPOLLOUT);
        if (e == SSL_ERROR_WANT_READ) return set_events(c, EPOLLIN);
        ERR_clear_error();
        return fail(c, ErrorKind::reset, "write: connection reset", now);
      }
      n = w;
    } else {
      n = ::send(c.fd, r.data() + c.woff, r.size() - c.woff, MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EAGAIN || errno == EINTR) return set_events(c, EPOLLIN | EPOLLOUT);
        return fail(c, ErrorKind::reset, "write: " + core::errno_text(errno), now);
      }
    }
    c.woff += static_cast<size_t>(n);
    if (measuring(now)) result.bytes_written += static_cast<uint64_t>(n);
  }
  c.st = St::reading;
  set_events(c, EPOLLIN);
}

void Worker::do_read(Conn& c, int64_t now) {
  char* buf = buf_.get();
  for (;;) {
    ssize_t n;
    bool eof = false;
    if (c.ssl) {
      int r = SSL_read(c.ssl, buf, static_cast<int>(kReadBuf));
      if (r > 0) {
        n = r;
      } else {
        int e = SSL_get_error(c.ssl, r);
        if (e == SSL_ERROR_WANT_READ) return;
        if (e == SSL_ERROR_WANT_WRITE) return set_events(c, EPOLLIN | EPOLLOUT);
        if (e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL && errno == 0)) {
          ERR_clear_error();
          eof = true;
          n = 0;
        } else {
          std::string why = e == SSL_ERROR_SYSCALL ? core::errno_text(errno) : ssl_error_text();
          ERR_clear_error();
          return fail(c, ErrorKind::reset, "read: " + why, now);
        }
      }
    } else {
      n = ::recv(c.fd, buf, kReadBuf, 0);
      if (n < 0) {
        if (errno == EAGAIN || errno == EINTR) return;
        return fail(c, ErrorKind::reset, "read: " + core::errno_text(errno), now);
      }
      eof = n == 0;
    }
    if (eof) {
      if (c.parser.eof() == Http1Parser::Status::done) {
        close_conn(c);
        return complete(c, now);
      }
      return fail(c, ErrorKind::closed, "server " + c.parser.error(), now);
    }
    if (measuring(now)) {
      result.bytes_read += static_cast<uint64_t>(n);
      if (Second* s = second_at(now)) s->bytes += static_cast<uint64_t>(n);
    }
    size_t used = 0;
    auto st = c.parser.feed(buf, static_cast<size_t>(n), &used);
    if (st == Http1Parser::Status::done) return complete(c, now);
    if (st == Http1Parser::Status::error)
      return fail(c, ErrorKind::bad_response, "bad response: " + c.parser.error(), now);
    if (!c.ssl && static_cast<size_t>(n) < kReadBuf) return;  // socket drained
  }
}

void Worker::drain_idle(Conn& c) {
  // An idle keep-alive connection became readable: the server closed it (or sent junk).
  char tmp[512];
  ssize_t n = c.ssl ? SSL_read(c.ssl, tmp, sizeof tmp) : ::recv(c.fd, tmp, sizeof tmp, 0);
  if (c.ssl && n <= 0) {
    int e = SSL_get_error(c.ssl, static_cast<int>(n));
    ERR_clear_error();
    if (e == SSL_ERROR_WANT_READ) return;  // e.g. a session ticket
  } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
    return;
  }
  close_conn(c);
  if (sh_.open_loop) return;  // stays in the idle list, reconnects on its next request
  c.st = St::closed;
}

void Worker::complete(Conn& c, int64_t now) {
  c.active = false;

  if (measuring(c.start) && now <= sh_.measure_end) {
    ++result.requests;
    result.latency.record(static_cast<uint64_t>(now - c.start));
    int code = c.parser.status();
    ++result.status[code];
    if (Second* s = second_at(now)) {
      ++s->requests;
      if (code < 200 || code > 399) ++s->errors;
      s->latency.record(static_cast<uint64_t>(now - c.start));
    }
    last_done = now;
  }
  if (!(sh_.o->keepalive && c.parser.keep_alive())) close_conn(c);
  next(c, now);
}

void Worker::fail(Conn& c, ErrorKind kind, const std::string& msg, int64_t now) {
  c.active = false;
  if (measuring(now)) {
    ++result.errors[static_cast<int>(kind)];
    if (result.first_error.empty()) result.first_error = msg;
    if (Second* s = second_at(now)) ++s->errors;
    last_done = now;
  }
  close_conn(c);
  if (!sh_.open_loop && (kind == ErrorKind::connect || kind == ErrorKind::tls)) {
    c.st = St::backoff;
    c.retry_at = now + kBackoffNs;
    return;
  }
  next(c, now);
}

void Worker::next(Conn& c, int64_t now) {
  if (sh_.open_loop) {
    if (c.fd >= 0) c.st = St::idle;
    idle_.push_back(idx(c));
    return;
  }
  if (can_issue(now)) return issue(c, now, now);
  if (c.fd >= 0) c.st = St::idle;
}

void Worker::check_timers(int64_t now) {
  for (Conn& c : conns_) {
    if (c.active && now >= c.deadline) {
      const char* what = c.st == St::connecting    ? "connect"
                         : c.st == St::handshaking ? "TLS handshake"
                         : c.st == St::writing     ? "write"
                                                   : "response";
      fail(c, ErrorKind::timeout,
           std::string(what) + " timed out after " + std::to_string(sh_.o->timeout_ns / 1'000'000) +
               "ms",
           now);
    } else if (c.st == St::backoff && now >= c.retry_at) {
      c.st = St::closed;
      if (can_issue(now)) issue(c, now, now);
    }
  }
}

void Worker::dispatch_slots(int64_t now) {
  while (!idle_.empty() && can_issue(now)) {
    int64_t slot = slot_base_ + static_cast<int64_t>(static_cast<double>(slot_k_) * 1e9 / rate_);
    if (slot > now) break;
    Conn& c = conns_[idle_.back()];
    idle_.pop_back();
    int64_t lag = now - slot;
    if (measuring(slot)) {
      ++result.scheduled;
      if (lag > kBehindNs) ++result.behind;
      result.max_lag_ns = std::max(result.max_lag_ns, lag);
    }
    ++slot_k_;
    issue(c, slot, now);
  }
}

void Worker::run() {
  ep_ = ::epoll_create1(EPOLL_CLOEXEC);
  std::vector<epoll_event> evs(512);
  int64_t now = now_ns();
  int64_t next_check = now + kCheckNs;
  if (sh_.open_loop) {
    interval_ns_ = static_cast<int64_t>(1e9 / rate_);
    // Stagger the threads' schedules across one interval.
    slot_base_ = sh_.t0 + interval_ns_ * index_ / std::max(1, sh_.o->threads);
    for (size_t i = conns_.size(); i-- > 0;) idle_.push_back(static_cast<uint32_t>(i));
  } else {
    for (Conn& c : conns_)
      if (can_issue(now)) issue(c, now, now);
  }
  for (;;) {
    now = now_ns();
    if (sh_.o->stop && sh_.o->stop->load(std::memory_order_relaxed)) stopping_ = true;
    if (stopping_ || now >= sh_.measure_end) break;
    if (quota_ && issued_ >= quota_) {  // -n: done once nothing is in flight
      bool busy = false;
      for (const Conn& c : conns_)
        if (c.active || c.st == St::backoff) {
          busy = true;
          break;
        }
      if (!busy) break;
    }
    if (sh_.open_loop) dispatch_slots(now);
    if (now >= next_check) {
      check_timers(now);
      next_check = now + kCheckNs;
    }
    int64_t wake = std::min(next_check, sh_.measure_end);
    if (sh_.open_loop && !idle_.empty()) {
      int64_t slot = slot_base_ + static_cast<int64_t>(static_cast<double>(slot_k_) * 1e9 / rate_);
      wake = std::min(wake, slot);
    }
    int64_t wait = std::max<int64_t>(0, wake - now);
    timespec ts = to_timespec(wait);
    int n = ::epoll_pwait2(ep_, evs.data(), static_cast<int>(evs.size()), &ts, nullptr);
    if (n <= 0) continue;
    for (int i = 0; i < n; ++i) {
      now = now_ns();  // per event: a batch of responses must not share one timestamp
      Conn& c = conns_[evs[i].data.u32];
      uint32_t ev = evs[i].events;
      switch (c.st) {
        case St::connecting: {
          int err = 0;
          socklen_t len = sizeof err;
          ::getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len);
          if (err)
            fail(c, ErrorKind::connect, "connect " + sh_.addr.text + ": " + core::errno_text(err),
                 now);
          else if (ev & (EPOLLOUT | EPOLLERR | EPOLLHUP))
            on_connected(c, now);
          break;
        }
        case St::handshaking:
          do_handshake(c, now);
          break;
        case St::writing:
          do_write(c, now);
          break;
        case St::reading:
          do_read(c, now);
          break;
        case St::idle:
          drain_idle(c);
          break;
        default:
          break;
      }
    }
  }
  // Window closed: count what is still in flight and slots never sent.
  for (Conn& c : conns_)
    if (c.active) ++result.unfinished;
  if (sh_.open_loop && !stopping_ && quota_ == 0) {
    // Slots k with slot_base_ + k / rate < end were due; those from slot_k_ on were never sent.
    int64_t end = std::min(now, sh_.measure_end);
    auto due = [&](int64_t t) {
      double k = std::ceil(static_cast<double>(t - slot_base_) * rate_ / 1e9);
      return k > 0 ? static_cast<uint64_t>(k) : uint64_t{0};
    };
    uint64_t first = std::max<uint64_t>(slot_k_, due(sh_.measure_start));
    uint64_t last = due(end);
    if (last > first) {
      result.behind += last - first;
      result.scheduled += last - first;
    }
  }
  if (stopping_ && !quota_) last_done = now;
}

// Builds "METHOD target HTTP/1.1" requests for every URL.
core::Result<std::vector<std::string>> build_requests(const LoadOptions& o,
                                                      const std::vector<Url>& urls) {
  bool has_host = false, has_length = false;
  for (const std::string& h : o.headers) {
    if (std::string why = header_line_error(h); !why.empty())
      return core::Error(core::Errc::usage, why);
    size_t colon = h.find(':');
    std::string name = core::to_lower(h.substr(0, colon));
    if (name == "host") has_host = true;
    if (name == "content-length" || name == "transfer-encoding") has_length = true;
  }
  for (char c : o.method)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_'))
      return core::Error(core::Errc::usage, "bad method \"" + o.method + "\"");
  if (o.method.empty()) return core::Error(core::Errc::usage, "empty method");
  std::vector<std::string> out;
  bool wants_length =
      !o.body.empty() || o.method == "POST" || o.method == "PUT" || o.method == "PATCH";
  for (const Url& u : urls) {
    std::string r = o.method + " " + u.target + " HTTP/1.1\r\n";
    if (!has_host) r += "Host: " + u.host_header + "\r\n";
    for (const std::string& h : o.headers) r += h + "\r\n";
    if (wants_length && !has_length)
      r += "Content-Length: " + std::to_string(o.body.size()) + "\r\n";
    if (!o.keepalive) r += "Connection: close\r\n";
    r += "\r\n";
    r += o.body;
    out.push_back(std::move(r));
  }
  return out;
}

core::Error file_error(const std::string& what, const std::string& path) {
  if (!core::file_exists(path))
    return core::Error(core::Errc::noinput, what + " " + path + ": No such file or directory");
  return core::Error(core::Errc::data, what + " " + path + ": " + ssl_error_text());
}

extern "C" int on_new_session(SSL* ssl, SSL_SESSION* s) {
  auto* w = static_cast<Worker*>(SSL_get_app_data(ssl));
  if (!w) return 0;
  w->store_session(s);
  return 1;  // we keep the reference
}

core::Result<SSL_CTX*> make_tls_context(const LoadOptions& o) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  if (!ctx) return core::Error(core::Errc::internal, "TLS: " + ssl_error_text());
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_mode(ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  if (o.tls_resume) {
    // Sessions are kept per worker thread through the new-session callback, not in the cache.
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(ctx, on_new_session);
  }
  static const unsigned char alpn[] = "\x08http/1.1";
  SSL_CTX_set_alpn_protos(ctx, alpn, sizeof alpn - 1);
  auto bail = [&](core::Error e) {
    SSL_CTX_free(ctx);
    return e;
  };
  if (o.insecure) {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
  } else {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
    if (!o.cacert.empty()) {
      if (SSL_CTX_load_verify_locations(ctx, o.cacert.c_str(), nullptr) != 1)
        return bail(file_error("CA file", o.cacert));
    } else {
      SSL_CTX_set_default_verify_paths(ctx);
    }
  }
  if (!o.cert.empty() || !o.key.empty()) {
    if (o.cert.empty() || o.key.empty())
      return bail(core::Error(core::Errc::usage, "--cert and --key go together"));
    if (SSL_CTX_use_certificate_chain_file(ctx, o.cert.c_str()) != 1)
      return bail(file_error("certificate", o.cert));
    if (SSL_CTX_use_PrivateKey_file(ctx, o.key.c_str(), SSL_FILETYPE_PEM) != 1)
      return bail(file_error("key", o.key));
    if (SSL_CTX_check_private_key(ctx) != 1)
      return bail(
          core::Error(core::Errc::data, "certificate " + o.cert + " does not match key " + o.key));
  }
  return ctx;
}

}  // namespace

core::Result<Summary> run_http(const LoadOptions& o) {
  if (o.urls.empty()) return core::Error(core::Errc::usage, "no URL given");
  if (o.connections < 1) return core::Error(core::Errc::usage, "connections must be at least 1");
  if (o.threads < 1) return core::Error(core::Errc::usage, "threads must be at least 1");
  if (o.threads > o.connections)
    return core::Error(core::Errc::usage, "threads (" + std::to_string(o.threads) +
                                              ") must not exceed connections (" +
                                              std::to_string(o.connections) + ")");
  if (o.duration_ns <= 0 && o.requests == 0)
    return core::Error(core::Errc::usage, "duration must be positive");
  if (o.rate < 0 || !std::isfinite(o.rate)) return core::Error(core::Errc::usage, "bad rate");
  if (o.timeout_ns <= 0) return core::Error(core::Errc::usage, "timeout must be positive");
  if (!o.unix_socket.empty() && !o.connect_to.empty())
    return core::Error(core::Errc::usage, "--unix-socket and --connect-to exclude each other");

  std::vector<Url> urls;
  for (const std::string& s : o.urls) {
    WARREN_TRY(u, parse_url(s));
    if (!urls.empty() && (u.tls != urls[0].tls || u.host != urls[0].host || u.port != urls[0].port))
      return core::Error(core::Errc::usage, "all URLs must share scheme, host and port (" + s +
                                                " differs from " + urls[0].text + ")");
    urls.push_back(std::move(u));
  }
  Shared sh;
  sh.o = &o;
  WARREN_TRY(reqs, build_requests(o, urls));
  sh.requests = std::move(reqs);
  sh.head = o.method == "HEAD";
  sh.tls = urls[0].tls;
  if (!o.unix_socket.empty()) {
    HostPort hp;
    hp.unix_path = o.unix_socket;
    WARREN_TRY(a, resolve(hp));
    sh.addr = a;
  } else if (!o.connect_to.empty()) {
    WARREN_TRY(hp, parse_hostport(o.connect_to));
    WARREN_TRY(a, resolve(hp));
    sh.addr = a;
  } else {
    HostPort hp;
    hp.host = urls[0].host;
    hp.port = urls[0].port;
    WARREN_TRY(a, resolve(hp));
    sh.addr = a;
  }
  std::unique_ptr<SSL_CTX, void (*)(SSL_CTX*)> ctx(nullptr, SSL_CTX_free);
  if (sh.tls) {
    WARREN_TRY(c, make_tls_context(o));
    ctx.reset(c);
    sh.ctx = c;
    sh.sni = !o.sni.empty() ? o.sni : (is_ip_literal(urls[0].host) ? "" : urls[0].host);
    sh.verify_host = !o.sni.empty() ? o.sni : urls[0].host;
  }
  ::signal(SIGPIPE, SIG_IGN);
  raise_fd_limit();

  rusage ru0{}, ru1{};
  ::getrusage(RUSAGE_SELF, &ru0);
  sh.open_loop = o.rate > 0;
  sh.t0 = now_ns();
  sh.measure_start = sh.t0 + o.warmup_ns;
  int64_t dur = o.duration_ns > 0 ? o.duration_ns : int64_t{1} << 62;
  sh.measure_end = sh.measure_start + dur;

  std::vector<std::unique_ptr<Worker>> workers;
  uint64_t quota_left = o.requests;
  for (int i = 0; i < o.threads; ++i) {
    int conns = o.connections / o.threads + (i < o.connections % o.threads ? 1 : 0);
    double share = static_cast<double>(conns) / o.connections;
    uint64_t quota = 0;
    if (o.requests) {
      quota = i + 1 == o.threads ? quota_left
                                 : static_cast<uint64_t>(static_cast<double>(o.requests) * share);
      quota = std::min(quota, quota_left);
      quota_left -= quota;
      if (quota == 0) continue;  // fewer requests than threads
    }
    workers.push_back(std::make_unique<Worker>(sh, i, conns, o.rate * share, quota));
  }
  std::vector<std::thread> threads;
  for (size_t i = 1; i < workers.size(); ++i)
    threads.emplace_back([w = workers[i].get()] { w->run(); });
  workers[0]->run();
  for (auto& t : threads) t.join();
  int64_t end = now_ns();
  ::getrusage(RUSAGE_SELF, &ru1);

  Summary s;
  s.urls = o.urls;
  s.open_loop = sh.open_loop;
  s.rate = o.rate;
  s.threads = o.threads;
  s.connections = o.connections;
  s.keepalive = o.keepalive;
  s.warmup_s = static_cast<double>(o.warmup_ns) / 1e9;
  int64_t last = 0;
  for (auto& w : workers) {
    s.merge(w->result);
    last = std::max(last, w->last_done);
  }
  int64_t window_end = std::min(end, sh.measure_end);
  if (o.requests) window_end = std::max(last, sh.measure_start);
  s.duration_s = static_cast<double>(std::max<int64_t>(0, window_end - sh.measure_start)) / 1e9;
  auto secs = [](const timeval& a, const timeval& b) {
    return static_cast<double>(b.tv_sec - a.tv_sec) +
           static_cast<double>(b.tv_usec - a.tv_usec) / 1e6;
  };
  s.cpu_user_s = secs(ru0.ru_utime, ru1.ru_utime);
  s.cpu_sys_s = secs(ru0.ru_stime, ru1.ru_stime);
  return s;
}

}  // namespace bench
