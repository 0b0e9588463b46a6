#include "tunnel/relay.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>

#include <cerrno>
#include <cstring>

#include "core/fs.h"
#include "log/log.h"
#include "tunnel/config.h"

namespace tunnel {

using proto::Clock;
using proto::EventType;
using proto::ResetCode;
using proto::State;
using proto::StreamKind;
using namespace std::chrono_literals;

namespace {

constexpr size_t kLaneRead = 256 * 1024;         // lane socket reads
constexpr size_t kChunk = proto::kMaxFrameBody;  // one DATA record per local read (128 KiB - 8)
// Sealed output waiting for the lane's socket. Small, so that with TCP_NOTSENT_LOWAT the queue
// that decides which stream goes next is ours (round robin), not a deep FIFO in front of it.
constexpr size_t kMaxBacklog = 512 * 1024;
constexpr int kReadsPerTurn = 4;       // local reads before yielding to other work
constexpr auto kCloseFlush = 2s;       // time to write CLOSE before dropping
constexpr auto kAttachDeadline = 15s;  // a stream we opened must get its local end
constexpr auto kSweepEvery = 1s;
constexpr size_t kMaxEarlyDgrams = 32;  // per UDP flow, until its socket is connected
constexpr size_t kMaxIov = 16;          // DATA frames of one stream per sendmsg(2)

bool would_block(int e) {
  return e == EAGAIN || e == EWOULDBLOCK;
}

}  // namespace

// --- Workers ---------------------------------------------------------------------------------

Workers::Workers(unsigned n) {
  if (n == 0) n = 1;
  for (unsigned i = 0; i < n; ++i) {
    ctx_.push_back(std::make_unique<asio::io_context>(1));
    guards_.emplace_back(asio::make_work_guard(*ctx_.back()));
  }
}

Workers::~Workers() {
  stop();
}

asio::io_context& Workers::next() {
  return *ctx_[rr_.fetch_add(1, std::memory_order_relaxed) % ctx_.size()];
}

void Workers::run() {
  std::vector<std::thread> threads;
  for (size_t i = 1; i < ctx_.size(); ++i) threads.emplace_back([c = ctx_[i].get()] { c->run(); });
  ctx_[0]->run();
  for (auto& t : threads) t.join();
}

void Workers::stop() {
  for (auto& c : ctx_) c->stop();
}

// --- Relay -----------------------------------------------------------------------------------

struct Lane::Relay {
  uint32_t id = 0;
  StreamKind kind = StreamKind::tcp;
  std::optional<asio::posix::stream_descriptor> sd;  // the local end, once attached
  proto::Buffer out;                                 // peer -> local bytes not yet written
  DgramSink sink;                                    // edge UDP flows: datagrams from the peer
  std::vector<std::vector<uint8_t>> early;           // UDP datagrams that came before the local end
  bool ours = false;        // opened by this side: must be attached before kAttachDeadline
  bool wait_read = false;   // a readable wait or a read continuation is pending
  bool wait_write = false;  // a writable wait is pending
  bool read_eof = false;    // the local end sent EOF; FIN went out
  bool peer_fin = false;    // the peer sent FIN: shut down our write side once out is empty
  bool shut_wr = false;
  bool blocked = false;                    // in blocked_: waiting for the lane's backlog to drain
  Clock::time_point since = Clock::now();  // creation, then last datagram (UDP idle)
  std::shared_ptr<void> token;             // from attach(): released with the relay
  OpenDone on_open;                        // ours: waiting for OPEN_ACK
  int fd() { return sd ? sd->native_handle() : -1; }
};

// --- Lane ------------------------------------------------------------------------------------

Lane::Lane(asio::io_context& ctx, asio::ip::tcp::socket sock, proto::Session session, Hooks& hooks,
           std::string name, std::mutex* handshake_mu)
    : ctx_(ctx),
      sock_(std::move(sock)),
      s_(std::move(session)),
      hooks_(hooks),
      name_(std::move(name)),
      hs_mu_(handshake_mu),
      log_(wlog::get("tunnel")),
      tick_(ctx),
      sweep_(ctx),
      probe_t_(ctx),
      done_sig_(ctx, asio::steady_timer::time_point::max()) {
  boost::system::error_code ec;
  auto ep = sock_.remote_endpoint(ec);
  if (!ec) {
    std::string host = ep.address().to_string();
    peer_ = (ep.address().is_v6() ? "[" + host + "]" : host) + ":" + std::to_string(ep.port());
  }
}

Lane::~Lane() = default;

void Lane::start() {
  boost::system::error_code ec;
  sock_.set_option(asio::ip::tcp::no_delay(true), ec);
  apply_socket_options();
  kick_write();  // the site's handshake-init message
  read_lane();
  arm_tick();
}

void Lane::read_lane() {
  auto buf = s_.read_buffer(kLaneRead);
  sock_.async_read_some(asio::buffer(buf.data(), buf.size()),
                        [self = shared_from_this()](const boost::system::error_code& ec, size_t n) {
                          self->on_lane_read(ec, n);
                        });
}

void Lane::on_lane_read(const boost::system::error_code& ec, size_t n) {
  if (done_) return;
  if (ec) {
    finish(ec == asio::error::eof ? "connection closed by peer" : "read: " + ec.message());
    return;
  }
  bool handshaking = s_.state() == State::handshake;
  auto r = [&] {
    if (handshaking && hs_mu_) {
      std::lock_guard lk(*hs_mu_);
      return s_.on_read(n, Clock::now());
    }
    return s_.on_read(n, Clock::now());
  }();
  if (!r) {
    fail(r.error().message);
    return;
  }
  handle(*r);
  if (done_) return;
  if (s_.state() == State::closed || closing_) {
    if (!closing_) {
      closing_ = true;
      close_reason_ = "closed by peer";
      tick_.expires_after(kCloseFlush);
      tick_.async_wait([self = shared_from_this()](const boost::system::error_code& e) {
        if (!e) self->finish(self->close_reason_);
      });
    }
    kick_write();
    return;
  }
  kick_write();
  if (handshaking && s_.state() != State::handshake) arm_tick();
  read_lane();
}

void Lane::handle(std::span<const proto::Event> events) {
  for (size_t i = 0; i < events.size(); ++i) {
    const auto& e = events[i];
    if (done_) return;
    switch (e.type) {
      case EventType::handshake_done: {
        stats_.open = true;
        stats_.handshake_unix_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                       std::chrono::system_clock::now().time_since_epoch())
                                       .count();
        reported_open_ = true;
        hooks_.lane_open(*this);
        arm_tick();
        break;
      }
      case EventType::stream_open: {
        if (relays_.count(e.id)) break;
        if (closing_) {
          s_.reset(e.id, ResetCode::refused, "lane closing");
          break;
        }
        add_relay(e.id, e.kind);
        hooks_.lane_stream(*this, e.id, e.kind, e.text);
        break;
      }
      case EventType::data: {  // a run of DATA for one stream goes out in one sendmsg(2)
        size_t j = i + 1;
        while (j < events.size() && j - i < kMaxIov && events[j].type == EventType::data &&
               events[j].id == e.id)
          ++j;
        if (Relay* r = find(e.id)) relay_data(*r, events.subspan(i, j - i));
        i = j - 1;
        break;
      }
      case EventType::window:
        pump_read(e.id);
        break;
      case EventType::fin:
        if (Relay* r = find(e.id)) {
          r->peer_fin = true;
          if (r->sd && r->out.empty() && !r->shut_wr) {
            ::shutdown(r->fd(), SHUT_WR);
            r->shut_wr = true;
          }
          maybe_finish(*r);
        }
        break;
      case EventType::reset:
        log_->debug("event=stream_reset lane={} stream={} code={} reason=\"{}\"", name_, e.id,
                    proto::to_string(ResetCode(e.code)), e.text);
        if (Relay* r = find(e.id); r && r->on_open) {
          auto code = ResetCode(e.code);
          auto errc = code == ResetCode::refused        ? core::Errc::noperm
                      : code == ResetCode::stream_limit ? core::Errc::tempfail
                                                        : core::Errc::unavailable;
          std::string why =
              e.text.empty() ? std::string(proto::to_string(code)) : std::string(e.text);
          opened(*r, core::err(errc, why));
        }
        erase(e.id, true);
        break;
      case EventType::dgram:
        if (Relay* r = find(e.id)) relay_dgram(*r, e.data);
        break;
      case EventType::pong:
        if (!probes_.empty() && e.data.size() == 8 && proto::get_u64(e.data.data()) == probe_seq_)
          end_probe(true);
        break;
      case EventType::open_ack:
        if (Relay* r = find(e.id)) opened(*r, {});
        break;
      case EventType::closed:
        peer_close_ = proto::CloseCode(e.code);
        close_reason_ = std::string("closed by peer: ") +
                        proto::to_string(proto::CloseCode(e.code)) +
                        (e.text.empty() ? "" : " (" + std::string(e.text) + ")");
        closing_ = true;
        tick_.expires_after(kCloseFlush);
        tick_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
          if (!ec) self->finish(self->close_reason_);
        });
        break;
    }
  }
  sync_stats();
}

// --- writing the lane --------------------------------------------------------------------------

bool Lane::backlog_high() const {
  return queued() >= kMaxBacklog;
}

// Congestion control and the unsent-queue limit. Never SO_SNDBUF/SO_RCVBUF: pinning them turns
// off the kernel's buffer auto-tuning, which a long fat path needs.
void Lane::apply_socket_options() {
  int fd = sock_.native_handle();
  if (!options.congestion.empty() &&
      ::setsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, options.congestion.data(),
                   socklen_t(options.congestion.size())) != 0)
    log_->debug("event=congestion_unavailable lane={} algorithm={} error=\"{}\"", name_,
                options.congestion, core::errno_text(errno));
  if (options.notsent_lowat > 0)
    (void)::setsockopt(fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &options.notsent_lowat,
                       sizeof options.notsent_lowat);
}

// Writes sealed output straight from the session's buffer with non-blocking send(2) calls of
// everything queued (not Asio's 64 KiB write_some steps); waits for writability only when the
// socket is full. Records reach the wire in the order they were sealed.
void Lane::kick_write() {
  if (writing_ || done_) return;
  int fd = sock_.native_handle();
  for (;;) {
    if (wpos_ == wbuf_.size()) {
      wbuf_.clear();
      wpos_ = 0;
      if (s_.output().empty()) break;
      s_.swap_output(wbuf_);
    }
    ssize_t n = ::send(fd, wbuf_.data() + wpos_, wbuf_.size() - wpos_, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n > 0) {
      wpos_ += size_t(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && would_block(errno)) {
      writing_ = true;
      sock_.async_wait(asio::ip::tcp::socket::wait_write,
                       [self = shared_from_this()](const boost::system::error_code& ec) {
                         self->writing_ = false;
                         if (self->done_) return;
                         if (ec) {
                           self->finish("write: " + ec.message());
                           return;
                         }
                         self->kick_write();
                         self->unblock();
                         self->sync_stats();
                       });
      return;
    }
    finish(std::string("write: ") + core::errno_text(n < 0 ? errno : EPIPE));
    return;
  }
  if (closing_) finish(close_reason_);
}

// Round robin: each waiting stream gets one record in turn while the backlog has room; those
// not reached keep their place ahead of the ones that just had a turn (they block again at
// the back), so a bulk stream never makes an interactive one wait more than a record per turn.
void Lane::unblock() {
  for (size_t n = blocked_.size(); n > 0 && !backlog_high(); --n) {
    auto id = blocked_.next();
    if (Relay* r = find(*id)) {
      r->blocked = false;
      pump_read(*id);
    }
  }
}

void Lane::sync_stats() {
  const auto& st = s_.stats();
  stats_.bytes_in.store(st.bytes_in, std::memory_order_relaxed);
  stats_.bytes_out.store(st.bytes_out, std::memory_order_relaxed);
  stats_.streams.store(uint32_t(relays_.size()), std::memory_order_relaxed);
  stats_.queued.store(queued(), std::memory_order_relaxed);
  // The lane's recent traffic (both ways, averaged over ~0.5 s): where a bulk transfer runs.
  auto now = Clock::now();
  if (now - rate_at_ >= std::chrono::milliseconds(100)) {
    uint64_t total = st.bytes_in + st.bytes_out;
    if (rate_at_ != proto::TimePoint{}) {
      double secs = std::chrono::duration<double>(now - rate_at_).count();
      double sample = double(total - rate_bytes_) / secs;
      double old = double(stats_.rate.load(std::memory_order_relaxed));
      stats_.rate.store(uint64_t(old + (sample - old) * std::min(1.0, secs / 0.5)),
                        std::memory_order_relaxed);
    }
    rate_at_ = now;
    rate_bytes_ = total;
  }
  using std::chrono::microseconds, std::chrono::duration_cast;
  if (st.rtt) stats_.rtt_us.store(duration_cast<microseconds>(*st.rtt).count());
  if (st.srtt) stats_.srtt_us.store(duration_cast<microseconds>(*st.srtt).count());
  stats_.window_grows.store(st.window_grows, std::memory_order_relaxed);
  stats_.window_extra.store(st.window_extra, std::memory_order_relaxed);
  stats_.budget_denied.store(st.budget_denied, std::memory_order_relaxed);
}

// --- timers ----------------------------------------------------------------------------------

void Lane::arm_tick() {
  if (done_ || closing_) return;
  auto t = s_.next_tick();
  if (t == proto::TimePoint::max()) return;
  tick_.expires_at(t);
  tick_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
    if (ec || self->done_) return;
    if (self->closing_) {
      self->finish(self->close_reason_);
      return;
    }
    auto r = self->s_.on_tick(Clock::now());
    if (!r) {
      self->fail(r.error().message);
      return;
    }
    self->handle(*r);  // opens that timed out
    if (self->done_) return;
    self->kick_write();
    self->sync_stats();
    self->arm_tick();
  });
}

void Lane::arm_sweep() {
  if (sweeping_ || done_) return;
  sweeping_ = true;
  sweep_.expires_after(kSweepEvery);
  sweep_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
    self->sweeping_ = false;
    if (ec || self->done_) return;
    auto now = Clock::now();
    std::vector<std::pair<uint32_t, const char*>> expired;
    bool again = false;
    for (auto& [id, r] : self->relays_) {
      if (r->kind == StreamKind::udp && self->udp_idle.count() > 0) {
        again = true;
        if (now - r->since >= self->udp_idle) expired.emplace_back(id, "idle");
      } else if (r->ours && !r->sd && !r->sink) {
        again = true;
        if (now - r->since >= kAttachDeadline) expired.emplace_back(id, "never attached");
      }
    }
    for (auto& [id, why] : expired) self->refuse(id, ResetCode::cancel, why);
    if (again) self->arm_sweep();
  });
}

// --- liveness probe --------------------------------------------------------------------------

void Lane::probe(proto::Duration timeout, std::function<void(bool)> done) {
  if (done_ || closing_ || !s_.is_open()) {
    asio::post(ctx_, [done = std::move(done)] { done(false); });
    return;
  }
  probes_.push_back(std::move(done));
  if (probes_.size() > 1) return;  // one PING answers them all
  uint8_t body[8];
  proto::put_u64(body, ++probe_seq_ | (uint64_t{1} << 63));  // apart from the session's keepalives
  probe_seq_ = proto::get_u64(body);
  s_.ping(body);
  kick_write();
  probe_t_.expires_after(timeout);
  probe_t_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
    if (!ec) self->end_probe(false);
  });
}

void Lane::end_probe(bool alive) {
  probe_t_.cancel();
  auto waiting = std::move(probes_);
  probes_.clear();
  for (auto& f : waiting) f(alive);
}

// --- closing ---------------------------------------------------------------------------------

void Lane::close(proto::CloseCode code, std::string_view reason) {
  if (done_ || closing_) return;
  s_.close(code, reason);
  close_reason_ = std::string("closed: ") + std::string(reason);
  closing_ = true;
  drop_all("lane closed: " + std::string(reason));
  blocked_.clear();
  sync_stats();
  tick_.expires_after(kCloseFlush);
  tick_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
    if (!ec) self->finish(self->close_reason_);
  });
  kick_write();
}

void Lane::fail(const std::string& reason) {
  if (done_) return;
  close_reason_ = reason;
  closing_ = true;
  tick_.expires_after(kCloseFlush);
  tick_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
    if (!ec) self->finish(self->close_reason_);
  });
  kick_write();  // a CLOSE the session queued, if any; then finish()
}

void Lane::finish(const std::string& reason) {
  if (done_) return;
  done_ = true;
  boost::system::error_code ec;
  sock_.shutdown(asio::ip::tcp::socket::shutdown_both, ec);
  sock_.close(ec);
  tick_.cancel();
  sweep_.cancel();
  drop_all("lane down: " + reason);
  end_probe(false);
  stats_.open = false;
  sync_stats();
  stats_.streams = 0;
  done_sig_.cancel();
  wbuf_.release();
  hooks_.lane_closed(*this, reason);
}

// --- streams ---------------------------------------------------------------------------------

Lane::Relay* Lane::find(uint32_t id) {
  auto it = relays_.find(id);
  return it == relays_.end() ? nullptr : it->second.get();
}

Lane::Relay& Lane::add_relay(uint32_t id, StreamKind kind) {
  auto r = std::make_unique<Relay>();
  r->id = id;
  r->kind = kind;
  Relay& ref = *r;
  relays_[id] = std::move(r);
  if (kind == StreamKind::udp && udp_idle.count() > 0) arm_sweep();
  stats_.streams.store(uint32_t(relays_.size()), std::memory_order_relaxed);
  return ref;
}

void Lane::erase(uint32_t id, bool abort) {
  auto it = relays_.find(id);
  if (it == relays_.end()) return;
  Relay& r = *it->second;
  if (r.on_open) opened(r, core::err(core::Errc::unavailable, "stream closed before it opened"));
  close_local(r, abort);
  relays_.erase(it);
  stats_.streams.store(uint32_t(relays_.size()), std::memory_order_relaxed);
}

// A TCP peer of an aborted stream gets a reset, not a FIN: a download cut short by a dead site
// or a reset target must not look complete. (A Unix socket has no reset; edged checks lengths.)
void Lane::close_local(Relay& r, bool abort) {
  if (!r.sd) return;
  if (abort) {
    linger l{1, 0};
    (void)::setsockopt(r.fd(), SOL_SOCKET, SO_LINGER, &l, sizeof l);
  }
  boost::system::error_code ec;
  r.sd->close(ec);
}

// The lane ends with streams still open: every one of them was cut short.
void Lane::drop_all(const std::string& why) {
  auto relays = std::move(relays_);
  relays_.clear();
  blocked_.clear();
  for (auto& [id, r] : relays) {
    if (r->on_open) opened(*r, core::err(core::Errc::unavailable, why));
    close_local(*r, true);
  }
}

void Lane::opened(Relay& r, core::Result<void> result) {
  if (!r.on_open) return;
  auto done = std::move(r.on_open);
  r.on_open = nullptr;
  done(std::move(result));
}

void Lane::maybe_finish(Relay& r) {
  if (s_.stream_exists(r.id)) return;  // still open in the session
  if (r.sd && !r.out.empty()) return;  // still delivering to the local end
  erase(r.id);
}

core::Result<uint32_t> Lane::open_stream(std::string_view target, OpenDone done) {
  if (!is_open()) return core::err(core::Errc::unavailable, "lane is not open");
  WARREN_TRY(id, s_.open_stream(target));
  Relay& r = add_relay(id, StreamKind::tcp);
  r.ours = true;
  arm_sweep();
  kick_write();
  if (s_.next_tick() < tick_.expiry()) arm_tick();  // the open's deadline comes first
  if (done) {
    if (s_.peer_acks_opens())
      r.on_open = std::move(done);
    else  // a minor-1 peer: no OPEN_ACK will come; the first data or an RST tells
      asio::post(ctx_, [done = std::move(done)] { done({}); });
  }
  return id;
}

core::Result<uint32_t> Lane::open_flow(std::string_view target, DgramSink sink) {
  if (!is_open()) return core::err(core::Errc::unavailable, "lane is not open");
  WARREN_TRY(id, s_.open_flow(target));
  Relay& r = add_relay(id, StreamKind::udp);
  r.ours = true;
  r.sink = std::move(sink);
  kick_write();
  return id;
}

void Lane::attach(uint32_t id, int fd, std::string_view pending, std::shared_ptr<void> token) {
  Relay* r = find(id);
  if (!r || r->sd || done_ || closing_ || r->kind != StreamKind::tcp) {
    ::close(fd);
    return;
  }
  r->token = std::move(token);
  if (!r->ours) s_.accept_stream(id);  // the target is connected: OPEN_ACK
  boost::system::error_code ec;
  r->sd.emplace(ctx_);
  r->sd->assign(fd, ec);
  if (!ec) r->sd->non_blocking(true, ec);
  if (ec) {
    r->sd.reset();
    ::close(fd);
    refuse(id, ResetCode::internal, "attach: " + ec.message());
    return;
  }
  if (!pending.empty() && s_.send(id, {reinterpret_cast<const uint8_t*>(pending.data()),
                                       pending.size()}) != pending.size()) {
    refuse(id, ResetCode::internal, "early data above the stream window");
    return;
  }
  if (!r->out.empty()) {
    on_writable(id);  // bytes the peer sent before the local end existed
    r = find(id);
    if (!r) return;
  } else if (r->peer_fin && !r->shut_wr) {
    ::shutdown(fd, SHUT_WR);
    r->shut_wr = true;
    maybe_finish(*r);
    if (!find(id)) return;
  }
  pump_read(id);
  kick_write();
}

void Lane::attach_dgram(uint32_t id, int fd) {
  Relay* r = find(id);
  if (!r || r->sd || done_ || closing_ || r->kind != StreamKind::udp) {
    ::close(fd);
    return;
  }
  boost::system::error_code ec;
  r->sd.emplace(ctx_);
  r->sd->assign(fd, ec);
  if (!ec) r->sd->non_blocking(true, ec);
  if (ec) {
    r->sd.reset();
    ::close(fd);
    refuse(id, ResetCode::internal, "attach: " + ec.message());
    return;
  }
  for (const auto& d : r->early)
    (void)::send(r->fd(), d.data(), d.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  r->early.clear();
  r->early.shrink_to_fit();
  pump_read(id);
}

bool Lane::send_dgram(uint32_t id, std::span<const uint8_t> data) {
  Relay* r = find(id);
  if (!r || r->kind != StreamKind::udp || done_ || closing_) return false;
  r->since = Clock::now();
  if (backlog_high()) return true;  // dropped: datagrams have no flow control
  if (!s_.send_dgram(id, data)) return false;
  kick_write();
  return true;
}

void Lane::refuse(uint32_t id, ResetCode code, std::string_view reason) {
  if (s_.stream_exists(id)) s_.reset(id, code, reason);
  if (Relay* r = find(id)) opened(*r, core::err(core::Errc::unavailable, std::string(reason)));
  erase(id, true);
  kick_write();
}

void Lane::local_error(Relay& r, int err, const char* what) {
  uint32_t id = r.id;
  std::string reason = std::string(what) + ": " + core::errno_text(err);
  log_->debug("event=stream_error lane={} stream={} error=\"{}\"", name_, id, reason);
  if (s_.stream_exists(id))
    s_.reset(id, err == ECONNRESET || err == EPIPE ? ResetCode::target_reset : ResetCode::internal,
             reason);
  erase(id, true);
}

// Peer -> local: write straight from the session's receive buffer (one sendmsg(2) for a run
// of DATA frames, so a 64 KiB-MSS loopback sends no small tail segment per record) when the
// local end keeps up; otherwise keep the rest (bounded by the window we granted) until it is
// writable.
void Lane::relay_data(Relay& r, std::span<const proto::Event> run) {
  size_t sent = 0;
  if (r.sd && r.out.empty()) {
    iovec iov[kMaxIov];
    size_t k = 0;
    for (const auto& ev : run) iov[k++] = {const_cast<uint8_t*>(ev.data.data()), ev.data.size()};
    msghdr mh{};
    mh.msg_iov = iov;
    mh.msg_iovlen = k;
    ssize_t n = ::sendmsg(r.fd(), &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      s_.consumed(r.id, size_t(n));
      sent = size_t(n);
    } else if (n < 0 && !would_block(errno) && errno != EINTR) {
      local_error(r, errno, "write");
      return;
    }
  }
  for (const auto& ev : run) {
    auto d = ev.data;
    if (sent >= d.size()) {
      sent -= d.size();
      continue;
    }
    r.out.append(d.subspan(sent));
    sent = 0;
  }
  if (!r.out.empty() && r.sd) arm(r, true);
}

// Waits for the local end to become writable (then on_writable) or readable (then pump_read).
// Armed only after a short read/write or EAGAIN: with edge-triggered epoll an earlier wait
// could miss its edge.
void Lane::arm(Relay& r, bool write) {
  bool& waiting = write ? r.wait_write : r.wait_read;
  if (waiting || !r.sd) return;
  waiting = true;
  r.sd->async_wait(
      write ? asio::posix::descriptor_base::wait_write : asio::posix::descriptor_base::wait_read,
      [self = shared_from_this(), id = r.id, write](const boost::system::error_code& ec) {
        Relay* x = self->find(id);
        if (!x) return;
        (write ? x->wait_write : x->wait_read) = false;
        if (ec || self->done_) return;
        if (write)
          self->on_writable(id);
        else
          self->pump_read(id);
      });
}

void Lane::on_writable(uint32_t id) {
  Relay* r = find(id);
  if (!r || !r->sd || r->wait_write) return;
  while (!r->out.empty()) {
    ssize_t n = ::send(r->fd(), r->out.data(), r->out.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      s_.consumed(id, size_t(n), Clock::now());  // (later than the last input: date it now)
      r->out.consume(size_t(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && would_block(errno)) {
      arm(*r, true);
      kick_write();
      return;
    }
    local_error(*r, n < 0 ? errno : EPIPE, "write");
    kick_write();
    return;
  }
  if (r->out.capacity() > kChunk) r->out.release();
  if (r->peer_fin && !r->shut_wr) {
    ::shutdown(r->fd(), SHUT_WR);
    r->shut_wr = true;
  }
  maybe_finish(*r);
  kick_write();  // WINDOW frames for what was delivered
}

// Local -> peer: read straight into the session's output (prepare_data/commit_data), where the
// record is sealed in place. Stops when the stream has no credit (a WINDOW event resumes it),
// when the lane's backlog is high (unblock() resumes it) or when the socket is drained.
void Lane::pump_read(uint32_t id) {
  Relay* r = find(id);
  if (!r || !r->sd || r->read_eof || r->wait_read || r->blocked || done_ || closing_) return;
  if (r->kind == StreamKind::udp) {
    pump_dgrams(*r);
    return;
  }
  int fd = r->fd();
  // Others waiting for the backlog: one record per turn, then the back of the queue.
  int turns = blocked_.turn(kReadsPerTurn);
  for (int i = 0; i < turns; ++i) {
    if (backlog_high()) {
      r->blocked = true;
      blocked_.wait(id);
      kick_write();
      return;
    }
    auto room = s_.prepare_data(id, kChunk);
    if (room.empty()) {  // no credit
      kick_write();
      return;
    }
    ssize_t n = ::recv(fd, room.data(), room.size(), MSG_DONTWAIT);
    if (n > 0) {  // sealed in place; sent with the rest of this turn's records
      s_.commit_data(id, size_t(n));
      if (size_t(n) < room.size()) {  // drained: the next data raises a fresh readiness edge
        arm(*r, false);
        kick_write();
        return;
      }
      continue;
    }
    int e = errno;
    s_.commit_data(id, 0);
    if (n == 0) {
      r->read_eof = true;
      s_.fin(id);
      kick_write();
      maybe_finish(*r);
      return;
    }
    if (would_block(e)) {
      arm(*r, false);
      kick_write();
      return;
    }
    if (e == EINTR) continue;
    local_error(*r, e, "read");
    kick_write();
    return;
  }
  // Still readable: let other streams and the lane run, then go on.
  continue_later(*r);
}

// The local end is still readable but this relay has had its turn: queue a continuation
// behind other work (no readiness wait: with edge-triggered epoll it would never fire).
void Lane::continue_later(Relay& r) {
  kick_write();
  r.wait_read = true;
  asio::post(ctx_, [self = shared_from_this(), id = r.id] {
    Relay* x = self->find(id);
    if (!x) return;
    x->wait_read = false;
    self->pump_read(id);
  });
}

void Lane::pump_dgrams(Relay& r) {
  if (scratch_.empty()) scratch_.resize(proto::kMaxDatagram);
  uint32_t id = r.id;
  for (int i = 0; i < 64; ++i) {
    ssize_t n = ::recv(r.fd(), scratch_.data(), scratch_.size(), MSG_DONTWAIT);
    if (n >= 0) {
      r.since = Clock::now();
      if (!backlog_high()) (void)s_.send_dgram(id, {scratch_.data(), size_t(n)});
      continue;
    }
    int e = errno;
    if (would_block(e)) {
      arm(r, false);
      kick_write();
      return;
    }
    if (e == EINTR || e == ECONNREFUSED) continue;  // ICMP port unreachable: keep the flow
    local_error(r, e, "udp read");
    kick_write();
    return;
  }
  continue_later(r);
}

void Lane::relay_dgram(Relay& r, std::span<const uint8_t> data) {
  r.since = Clock::now();
  if (r.sink) {
    r.sink(data);
  } else if (r.sd) {
    (void)::send(r.fd(), data.data(), data.size(), MSG_NOSIGNAL | MSG_DONTWAIT);  // or dropped
  } else if (r.early.size() < kMaxEarlyDgrams) {
    r.early.emplace_back(data.begin(), data.end());  // the flow's socket is being set up
  }
}

// --- helpers ---------------------------------------------------------------------------------

ResetCode reset_code_for(const boost::system::error_code& ec) {
  namespace e = asio::error;
  if (ec == e::connection_refused) return ResetCode::connect_failed;
  if (ec == e::timed_out || ec == e::host_not_found || ec == e::host_not_found_try_again ||
      ec == e::network_unreachable || ec == e::host_unreachable || ec == e::no_data ||
      ec == e::no_recovery)
    return ResetCode::unreachable;
  if (ec == e::connection_reset) return ResetCode::target_reset;
  return ResetCode::connect_failed;
}

std::string resolve_congestion(std::string_view want) {
  if (want != "auto") return std::string(want);
  // Read once per process: lanes are made on every accept and reconnect, and what the kernel
  // offers does not change under a running daemon.
  static const std::string best = [] {
    auto avail = core::read_file("/proc/sys/net/ipv4/tcp_available_congestion_control");
    if (!avail) return std::string();
    std::string_view v = *avail;
    for (size_t at = 0; at < v.size();) {
      size_t end = v.find_first_of(" \n", at);
      if (end == std::string_view::npos) end = v.size();
      if (v.substr(at, end - at) == "bbr") return std::string("bbr");
      at = end + 1;
    }
    return std::string();
  }();
  return best;
}

LaneOptions lane_options(const Config& c) {
  return LaneOptions{resolve_congestion(c.congestion), int(c.notsent_lowat)};
}

void raise_fd_limit() {
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    (void)::setrlimit(RLIMIT_NOFILE, &rl);
  }
}

}  // namespace tunnel
