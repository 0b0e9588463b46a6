// edge::detail — edged's internals (Asio; included only by lib/edge/*.cpp). A Worker is one
// thread with its own io_context, listeners (SO_REUSEPORT), upstream pool, metrics and
// access-log buffer; nothing in it is touched by another thread except the atomics read by the
// control thread and work posted to its io_context. The Daemon owns the workers, the control
// io_context (control socket, health checks, reloads) and the current Snapshot.
#pragma once

#include <boost/asio/posix/stream_descriptor.hpp>

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "edge/config.h"
#include "edge/detail/access.h"
#include "edge/edged.h"
#include "edge/proto/exchange.h"
#include "edge/routes.h"
#include "http/parser.h"
#include "net/net.h"
#include "tls/tls.h"

namespace edge::detail {

namespace asio = net::asio;
using net::error_code;

// Milliseconds on CLOCK_MONOTONIC_COARSE (a few ns to read; same epoch as edge::now_ms()).
int64_t mono_ms();

// A connection's deadline, checked by its worker's tick; when it passes, `fired` is set and
// the connection's pending waits are cancelled.
struct Alarm {
  int64_t deadline = INT64_MAX;
  bool fired = false;
  void after(Millis d) {
    deadline = mono_ms() + d.count();
    fired = false;
  }
  void at(int64_t when) {
    deadline = when;
    fired = false;
  }
  void clear() { deadline = INT64_MAX; }
};

// A non-blocking socket fd, plain or TLS (a tls::Session with memory BIOs: this class moves
// the bytes), read through Asio's reactor read op and written directly with sendmsg.
class Stream {
 public:
  explicit Stream(const asio::any_io_executor& ex) : d_(ex) {}
  Stream(const Stream&) = delete;
  ~Stream() { close(); }

  void assign(int fd);  // takes ownership; the fd must be non-blocking
  int fd() const { return fd_; }
  bool is_open() const { return fd_ >= 0; }
  void close();
  void cancel();  // completes pending waits with operation_aborted

  // EOF -> asio::error::eof; deadline -> asio::error::timed_out; TLS failures -> protocol_error
  // (text in last_error).
  asio::awaitable<std::tuple<error_code, size_t>> read_some(char* p, size_t n);
  asio::awaitable<error_code> write(std::string_view a, std::string_view b = {});
  asio::awaitable<error_code> handshake();
  asio::awaitable<error_code> wait_readable();
  void close_notify();  // TLS: queue and send close_notify, best effort, no waiting
  // Non-blocking connect to a sockaddr, then wait for it (deadline from the alarm).
  asio::awaitable<error_code> connect(const void* sa, unsigned len, int family);

  tls::Session tls;
  Alarm* alarm = nullptr;
  std::string last_error;

 private:
  asio::awaitable<error_code> wait(bool for_write);
  asio::awaitable<std::tuple<error_code, size_t>> read_raw(char* p, size_t n);
  asio::awaitable<error_code> flush_tls();
  asio::posix::stream_descriptor d_;
  std::string tls_backlog_;  // TLS output the socket did not take yet
  int fd_ = -1;
};

// A byte buffer [begin, end) inside [0, cap). Memory comes from the worker's BufferPool.
struct Buffer {
  Buffer() = default;
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  ~Buffer();  // unmaps
  char* data = nullptr;
  size_t cap = 0;
  size_t begin = 0, end = 0;
  size_t size() const { return end - begin; }
  bool empty() const { return begin == end; }
  std::string_view view() const { return {data + begin, end - begin}; }
  char* space() { return data + end; }
  size_t room() const { return cap - end; }
  void consume(size_t n) {
    begin += n;
    if (begin == end) begin = end = 0;
  }
  void compact();
};

class BufferPool {
 public:
  static constexpr size_t kSize = 16 * 1024;
  ~BufferPool();
  void get(Buffer& b);               // no-op when b already has memory
  void put(Buffer& b);               // only when empty; the memory goes back to the pool
  void grow(Buffer& b, size_t cap);  // keeps the bytes
 private:
  static constexpr size_t kKeep = 64;  // free buffers kept per worker
  std::vector<char*> free_;
};

struct Counter {
  std::atomic<uint64_t> v{0};
  void inc(uint64_t n = 1) {
    v.store(v.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  uint64_t get() const { return v.load(std::memory_order_relaxed); }
};

// One worker's counters: written by its thread only, read by the control thread.
struct Metrics {
  static constexpr double kBuckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                        0.1,    0.25,  0.5,    1,     2.5,  5,     10};
  static constexpr size_t kNumBuckets = sizeof(kBuckets) / sizeof(kBuckets[0]);
  Counter status[6];  // [1..5] by class; [0] no response (aborted)
  Counter latency[kNumBuckets + 1];
  Counter latency_sum_us;
  Counter connections, open_connections_up, open_connections_down;
  Counter tls_handshakes, tls_failures, tls_resumed;
  Counter upstream_connects, upstream_connect_errors, upstream_timeouts, upstream_reused;
  Counter bad_requests, websockets, retries;
  Counter bytes_in, bytes_out;
  void observe(int status, int64_t us);
};

struct Snapshot {
  std::shared_ptr<const Config> cfg;
  std::shared_ptr<const RouteTable> routes;
  std::shared_ptr<tls::ServerContext> tls;  // null without HTTPS listeners
  std::shared_ptr<tls::ClientContext> tls_client;
  http::Limits req_limits, resp_limits;
  proto::ExchangeLimits exchange;  // what the exchange core needs of cfg
  uint16_t https_port = 443;       // for redirects
};

struct Daemon;
struct Worker;

// An upstream connection, pooled per target per worker.
struct Upstream {
  explicit Upstream(const asio::any_io_executor& ex) : s(ex) {}
  Stream s;
  Buffer in;
  std::shared_ptr<TargetState> target;
  int64_t idle_since = 0;
  uint32_t uses = 0;
};

class Pool {
 public:
  std::unique_ptr<Upstream> take(TargetState* t, int64_t now, Millis idle_limit);
  void give(std::unique_ptr<Upstream> u, size_t max_per_target, int64_t now);
  void sweep(int64_t now, Millis idle_limit);
  void clear();
  size_t size() const { return count_; }

 private:
  std::unordered_map<TargetState*, std::vector<std::unique_ptr<Upstream>>> idle_;
  size_t count_ = 0;
};

// A client connection (state shared between its coroutine and the worker's tick/drain).
struct Conn {
  Conn(Worker& w, int fd, bool tls, std::string peer);
  ~Conn();
  Worker& w;
  Stream client;
  Alarm alarm;
  bool tls;
  std::string peer_ip;
  std::array<uint8_t, 16> peer_bin{};
  enum class Phase : uint8_t { handshake, idle, request, tunnel } phase = Phase::handshake;
  Upstream* up = nullptr;  // the upstream in use, for cancellation
  int64_t idle_since = 0;  // phase idle: when the wait began
  bool parked = false;     // idle long enough to give its buffer back
  Conn* prev = nullptr;
  Conn* next = nullptr;
  void expire();  // deadline passed or forced close: cancel every wait
};

struct Worker {
  // Reactor I/O is only ever started and cancelled on the worker's own thread (other threads
  // post to it), so per-descriptor locking is off; the scheduler stays thread-safe.
  Worker(Daemon& d, unsigned i) : d(d), index(i), ctx(BOOST_ASIO_CONCURRENCY_HINT_UNSAFE_IO) {}
  Daemon& d;
  unsigned index;
  asio::io_context ctx;
  std::vector<std::pair<std::unique_ptr<net::tcp::acceptor>, bool>> acceptors;  // (acceptor, tls)
  Pool pool;
  Metrics m;
  BufferPool bufs;
  std::string log_buf;
  std::shared_ptr<const Snapshot> snap;
  uint64_t gen = 0;
  Conn* conns = nullptr;  // intrusive list
  size_t nconns = 0;
  bool draining = false;
  bool stopped = false;
  asio::steady_timer* tick_timer = nullptr;
  SessionCache sessions;  // access control: sessions this worker looked up
  std::shared_ptr<const AccessSettings> access_settings;  // refreshed with `sessions`
  uint64_t access_settings_gen = 0;                       // the `gen` they were taken at

  const Snapshot& current();  // refreshes from the daemon when a reload happened
  void link(Conn* c);
  void unlink(Conn* c);
  void flush_log();
};

struct Listener {
  std::string kind;  // http | https
  net::tcp::endpoint ep;
};

struct Daemon {
  RunOptions opt;
  asio::io_context ctl{1};
  std::vector<std::unique_ptr<Worker>> workers;
  // After `workers`: destroyed first, its pool joined while the workers' contexts still exist.
  std::unique_ptr<Access> access;
  std::atomic<std::shared_ptr<const Snapshot>> snap;
  std::atomic<uint64_t> gen{1};
  TargetRegistry registry;
  std::vector<Listener> listeners;
  std::atomic<int> log_fd{-1};
  std::atomic<bool> draining{false};
  std::atomic<int64_t> open_connections{0};
  int64_t started_at = 0;
  uint64_t reloads = 0;
  // Sites as tunneld's `status` last reported them (control thread only): polled while some
  // target is behind a site. state: "online", "offline" or "disabled".
  struct SiteView {
    std::string state;
    size_t targets = 0;  // targets of the current routes at this site
  };
  bool tunneld_polled = false;     // some target is behind a site: tunneld is asked
  bool tunneld_reachable = false;  // its last answer was a good status
  std::string tunneld_error;       // why not ("tunneld unreachable: …")
  std::map<std::string, SiteView> sites;
  std::string last_reload_error;
  std::vector<std::string> conflicts;

  std::shared_ptr<const Snapshot> current() const { return snap.load(); }
  void publish(std::shared_ptr<const Snapshot> s);
};

// proxy.cpp: serves one accepted client connection until it closes.
asio::awaitable<void> serve(Worker& w, int fd, bool tls, std::string peer);
// worker.cpp: a worker's accept loop (each connection goes to `serve`, so the worker does not
// depend on the proxy) and its 250 ms tick.
using ServeFn = asio::awaitable<void> (*)(Worker& w, int fd, bool tls, std::string peer);
asio::awaitable<void> accept_loop(Worker& w, net::tcp::acceptor& acc, bool tls, ServeFn serve);
asio::awaitable<void> tick(Worker& w);
// upstream.cpp: a connected (and TLS-established) upstream for a target: direct TCP, or a
// stream through tunneld's `dial`. Errors carry a short reason for the 502 page.
struct ConnectError {
  bool timeout = false;
  std::string what;
};
asio::awaitable<std::tuple<std::unique_ptr<Upstream>, ConnectError>> connect_upstream(
    const asio::any_io_executor& ex, BufferPool& bufs, std::shared_ptr<TargetState> t,
    const Snapshot& snap, Alarm* alarm);

// metrics.cpp: the Prometheus text of all workers' metrics plus targets and the route table,
// and the [metrics] listener serving it (control thread).
std::string render_metrics(Daemon& d);
asio::awaitable<void> serve_metrics(Daemon& d, net::tcp::acceptor acc);

}  // namespace edge::detail
