// tunnel::Lane — one tunnel TCP connection driven by a proto::Session, and the relays of its
// streams: each stream's local end is a file descriptor (a TCP or Unix socket, or a connected
// UDP socket) or, for the edge's UDP forwards, a datagram sink. tunnel::Workers — one
// io_context per thread. A Lane and its relays live on one worker's thread: every member
// function is called there (post to lane.executor() from elsewhere); stats() is readable from
// any thread. Includes Asio: daemon code only.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "core/result.h"
#include "tunnel/proto/fair.h"
#include "tunnel/proto/session.h"

namespace spdlog {
class logger;
}

namespace tunnel {

namespace asio = boost::asio;

// N single-threaded io_contexts (thread per core: a lane never needs a strand or a lock).
class Workers {
 public:
  explicit Workers(unsigned n);
  ~Workers();
  size_t size() const { return ctx_.size(); }
  asio::io_context& at(size_t i) { return *ctx_[i % ctx_.size()]; }
  asio::io_context& next();  // round robin
  // Runs every context, one thread each (the caller runs context 0); returns after stop().
  void run();
  void stop();

 private:
  std::vector<std::unique_ptr<asio::io_context>> ctx_;
  std::vector<std::optional<asio::executor_work_guard<asio::io_context::executor_type>>> guards_;
  std::atomic<size_t> rr_{0};
};

// Counters of a lane, readable from any thread (relaxed atomics).
struct LaneStats {
  std::atomic<bool> open{false};
  std::atomic<uint64_t> bytes_in{0}, bytes_out{0};  // wire bytes
  std::atomic<uint32_t> streams{0};
  std::atomic<int64_t> rtt_us{-1};   // last sample
  std::atomic<int64_t> srtt_us{-1};  // smoothed
  std::atomic<uint64_t> queued{0};   // sealed bytes waiting for the socket (the lane's queue)
  std::atomic<uint64_t> rate{0};     // wire bytes per second, both ways (recent average)
  std::atomic<uint64_t> window_grows{0}, window_extra{0}, budget_denied{0};
  std::atomic<int64_t> handshake_unix_ms{0};
};

using DgramSink = std::function<void(std::span<const uint8_t>)>;
// How an open ends: ok once the peer connected the target (OPEN_ACK, or at once when the peer
// predates it), else the reason (the peer's RST, the lane going away, the deadline).
using OpenDone = std::function<void(core::Result<void>)>;

// Socket settings of a lane (tunneld.toml [tunnel]).
struct LaneOptions {
  std::string congestion;  // TCP_CONGESTION ("" = the kernel's default)
  int notsent_lowat = 0;   // TCP_NOTSENT_LOWAT in bytes (0 = leave the kernel's)
};

class Lane : public std::enable_shared_from_this<Lane> {
 public:
  // Called on the lane's thread.
  struct Hooks {
    virtual ~Hooks() = default;
    // The handshake completed (edge: the site's first record arrived).
    virtual void lane_open(Lane& lane) = 0;
    // The peer opened a stream or flow; answer later with attach*() or refuse().
    virtual void lane_stream(Lane& lane, uint32_t id, proto::StreamKind kind,
                             std::string_view target) = 0;
    // The lane is gone (after lane_open or not); reason for logs.
    virtual void lane_closed(Lane& lane, const std::string& reason) = 0;
  };

  // `handshake_mu` (edge) serialises handshake processing across workers, because the
  // session's ReplayGuard is shared by all of them.
  Lane(asio::io_context& ctx, asio::ip::tcp::socket sock, proto::Session session, Hooks& hooks,
       std::string name, std::mutex* handshake_mu = nullptr);
  ~Lane();
  Lane(const Lane&) = delete;
  Lane& operator=(const Lane&) = delete;

  void start();
  asio::io_context& context() { return ctx_; }
  asio::io_context::executor_type executor() { return ctx_.get_executor(); }
  const std::string& name() const { return name_; }
  const std::string& peer() const { return peer_; }
  proto::Session& session() { return s_; }
  const LaneStats& stats() const { return stats_; }
  bool is_open() const { return s_.is_open() && !closing_ && !done_; }
  bool done() const { return done_; }

  // Opens a stream to the peer's target; its local end comes later with attach(). `done`
  // (optional) learns whether the peer reached the target (called once, on this thread).
  core::Result<uint32_t> open_stream(std::string_view target, OpenDone done = {});
  // Opens a UDP flow whose datagrams from the peer go to `sink`.
  core::Result<uint32_t> open_flow(std::string_view target, DgramSink sink);
  // Gives a stream its local end: a connected stream socket (taken over: closed by the lane).
  // `pending` bytes are sent first. An fd for a stream that is gone is closed. `token` is
  // kept as long as the stream's local end (the edge's forwards count connections by it).
  void attach(uint32_t id, int fd, std::string_view pending = {}, std::shared_ptr<void> token = {});
  // Gives a UDP flow its local end: a connected datagram socket.
  void attach_dgram(uint32_t id, int fd);
  // Sends one datagram of a flow (dropped when the lane's backlog is high); false when the
  // flow is gone (reset by the peer or idle), so the caller opens a new one.
  bool send_dgram(uint32_t id, std::span<const uint8_t> data);
  // Resets a stream (RST with code and reason) and drops its local end.
  void refuse(uint32_t id, proto::ResetCode code, std::string_view reason);
  bool has_stream(uint32_t id) const { return relays_.count(id) != 0; }
  size_t stream_count() const { return relays_.size(); }

  // Asks the peer for a PONG: done(true) when one comes within `timeout`, else done(false)
  // (also when the lane ends first). Called back on this thread.
  void probe(proto::Duration timeout, std::function<void(bool)> done);
  // The code of the CLOSE the peer sent, if it sent one.
  std::optional<proto::CloseCode> peer_close() const { return peer_close_; }

  // Sends CLOSE, writes what is queued (for at most 2 s), then closes the connection.
  void close(proto::CloseCode code, std::string_view reason);
  // Cancelled when the lane is done: check done() first, then wait on it (lane's thread).
  asio::steady_timer& done_signal() { return done_sig_; }

  // Set by the owner after the handshake.
  std::string site;    // edge: the site's name
  std::string source;  // edge: the peer's address (handshake slots are counted by it)
  uint64_t group = 0;
  uint16_t index = 0;
  std::chrono::milliseconds udp_idle{0};  // UDP flows idle this long are reset (0: never)
  LaneOptions options;                    // before start()
  std::chrono::steady_clock::time_point created = std::chrono::steady_clock::now();

 private:
  struct Relay;
  using RelayMap = std::unordered_map<uint32_t, std::unique_ptr<Relay>>;

  void read_lane();
  void on_lane_read(const boost::system::error_code& ec, size_t n);
  void handle(std::span<const proto::Event> events);
  void kick_write();
  bool backlog_high() const;
  size_t queued() const { return wbuf_.size() - wpos_ + s_.output().size(); }
  void apply_socket_options();
  void unblock();
  void arm_tick();
  void arm_sweep();
  void fail(const std::string& reason);
  void finish(const std::string& reason);
  void sync_stats();
  void end_probe(bool alive);

  Relay* find(uint32_t id);
  Relay& add_relay(uint32_t id, proto::StreamKind kind);
  // Drops a stream's local end; `abort`: with a TCP reset (SO_LINGER 0), not a clean close, so
  // an aborted transfer never looks complete to the other side.
  void erase(uint32_t id, bool abort = false);
  void opened(Relay& r, core::Result<void> result);
  void close_local(Relay& r, bool abort);
  void drop_all(const std::string& why);
  void maybe_finish(Relay& r);
  void relay_data(Relay& r, std::span<const proto::Event> run);
  void relay_dgram(Relay& r, std::span<const uint8_t> data);
  void pump_read(uint32_t id);
  void pump_dgrams(Relay& r);
  void continue_later(Relay& r);
  void arm(Relay& r, bool write);
  void on_writable(uint32_t id);
  void local_error(Relay& r, int err, const char* what);

  asio::io_context& ctx_;
  asio::ip::tcp::socket sock_;
  proto::Session s_;
  Hooks& hooks_;
  std::string name_, peer_;
  std::mutex* hs_mu_;
  std::shared_ptr<spdlog::logger> log_;
  asio::steady_timer tick_, sweep_, probe_t_, done_sig_;
  std::vector<std::function<void(bool)>> probes_;
  uint64_t probe_seq_ = 0;
  std::optional<proto::CloseCode> peer_close_;
  proto::TimePoint rate_at_{};
  uint64_t rate_bytes_ = 0;
  bool sweeping_ = false;
  proto::Buffer wbuf_;  // records being written, from wpos_ on
  size_t wpos_ = 0;
  bool writing_ = false;
  bool closing_ = false, done_ = false, reported_open_ = false;
  std::string close_reason_;
  RelayMap relays_;
  proto::FairQueue blocked_;      // relays paused while the lane's backlog is high, in turn order
  std::vector<uint8_t> scratch_;  // datagram receive buffer
  LaneStats stats_;
};

// Where a connect error leaves a stream: RST code and a short reason.
proto::ResetCode reset_code_for(const boost::system::error_code& ec);

// The congestion control for lanes: "auto" is bbr when the kernel offers it (else ""), other
// names are kept ("" = the kernel's default). Reads /proc once per process.
std::string resolve_congestion(std::string_view want);

struct Config;
// The lane socket settings of tunneld.toml.
LaneOptions lane_options(const Config& c);

// Raises RLIMIT_NOFILE to its hard limit (a tunnel holds two descriptors per stream).
void raise_fd_limit();

}  // namespace tunnel
