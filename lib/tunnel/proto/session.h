// tunnel::proto::Session — the I/O-free core of one tunnel lane (one TCP connection): the Noise
// IK handshake with Warren's payloads, encrypted records, multiplexed streams with credit-based
// flow control, datagrams, keepalives and rekeying, as specified in warren-tunnel(7).
// The caller owns the socket, the timer and the clock: it feeds received bytes and the current
// time in, writes output() out, and arms a timer for next_tick(). One session is used by one
// thread/strand at a time; it never blocks, reads a clock or touches the network.
//
//   auto s = Session::initiator(cfg, now);            // output() holds the handshake message
//   write(sock, s.output()); s.consume_output(n);
//   auto ev = s.on_bytes(received, now);              // events: handshake_done, stream_open, data…
//   auto buf = s.prepare_data(id, 65536);             // non-blocking read straight into buf,
//   s.commit_data(id, n);                             // sealed in place: no copy on send
// With asynchronous reads use seal_data() on a buffer the caller owns instead (prepare_data()'s
// room lives inside output() and must be committed before the session is used again).
#pragma once

#include <algorithm>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/result.h"
#include "tunnel/proto/buffer.h"
#include "tunnel/proto/frames.h"
#include "tunnel/proto/noise.h"
#include "tunnel/proto/replay.h"
#include "tunnel/proto/wire.h"

namespace tunnel::proto {

// Tunables of one side. The defaults are the ones warren-tunnel(7) describes.
struct Settings {
  uint32_t stream_window = 512 * 1024;  // credit this side grants per stream, re-granted as read
  // Receive-window auto-tuning: a stream whose sender uses a quarter of its window within one
  // round trip (the least recent RTT sample) is window-limited, and its window doubles (up to
  // stream_window_max), as HTTP/2 and QUIC stacks do; the sum of all growth stays within
  // window_budget (the memory this session may promise to buffer; the site's budget, shared evenly
  // by its lanes). stream_window_max == stream_window turns auto-tuning off.
  uint32_t stream_window_max = 16 * 1024 * 1024;
  uint64_t window_budget = 64 * 1024 * 1024;
  Duration rtt_probe = std::chrono::seconds(1);  // a busy receiver re-measures the RTT this often
  // A stream we open must be acknowledged (OPEN_ACK) or reset by the peer within this; else it
  // is reset with a timeout (minor 2 peers only).
  Duration open_timeout = std::chrono::seconds(10);
  uint8_t minor = kMinorVersion;  // the minor version this side speaks (lower: compatibility)
  uint32_t max_streams = 8192;    // concurrent streams the peer may open (more: RST)
  uint64_t rekey_after_records = kRekeyAfterRecords;
  uint64_t rekey_after_bytes = kRekeyAfterBytes;
  Duration rekey_after_time = kRekeyAfterTime;
  Duration handshake_timeout = std::chrono::seconds(10);
  // Responder: announced in the Welcome and used by both sides. Initiator: ignored.
  Duration keepalive = std::chrono::seconds(10);
  Duration idle_timeout = std::chrono::seconds(30);
};

struct InitiatorConfig {
  Suite suite = Suite::ik_chachapoly_blake2b;
  Key static_priv{};
  Key responder_static{};  // the edge's public key
  std::optional<Key> psk;  // required by the IKpsk2 suites
  Hello hello;             // timestamp, lanes and site id; initial_window is filled in
  Settings settings;
  std::optional<Key> ephemeral_priv;  // tests only
};

struct PeerEntry {
  std::optional<Key> psk;  // for the IKpsk2 suites
};

struct ResponderConfig {
  Key static_priv{};
  std::vector<Suite> suites = {Suite::ik_chachapoly_blake2b, Suite::ik_aesgcm_blake2b};
  Settings settings;
  // The initiator's static key -> its entry, or nullopt: unknown key, refused without a reply.
  std::function<std::optional<PeerEntry>(const Key&)> lookup;
  // After the Hello is authenticated and fresh: the session id to announce, or nullopt to refuse
  // (no reply either). Unset: session id 0.
  std::function<std::optional<uint64_t>(const Key&, const Hello&)> accept;
  ReplayGuard* replay = nullptr;      // shared by the daemon's sessions; required
  std::optional<Key> ephemeral_priv;  // tests only
};

enum class EventType : uint8_t {
  handshake_done,  // the session is usable (responder: the initiator proved its keys)
  stream_open,     // the peer opened a stream or UDP flow: id, kind, text = target
  data,            // id, data: stream bytes; call consumed() once they are delivered
  window,          // id: the peer granted credit; send_credit(id) is larger
  fin,             // id: the peer will send no more data on the stream
  reset,           // id, code (ResetCode), text = reason: the stream is gone
  dgram,           // id, data: one datagram of a UDP flow
  pong,            // data: the PONG body (an answer to ping(), or to a keepalive)
  open_ack,        // id: the peer connected the target of a stream we opened (minor >= 2)
  closed,          // code (CloseCode), text: the peer closed the session
};

// Spans and strings point into the session's receive buffer: valid until the next call to
// read_buffer(), on_read() or on_bytes().
struct Event {
  EventType type;
  uint32_t id = 0;
  StreamKind kind = StreamKind::tcp;
  uint16_t code = 0;
  std::span<const uint8_t> data;
  std::string_view text;
};

enum class State : uint8_t {
  handshake,   // initiator: waiting for the Welcome; responder: waiting for the Hello
  confirming,  // responder: Welcome sent, waiting for the initiator's first record
  open,
  closed,  // CLOSE sent or received: nothing more is sent
  failed,  // fault(): the connection must be dropped
};

struct SessionStats {
  uint64_t bytes_in = 0, bytes_out = 0;  // wire bytes
  uint64_t records_in = 0, records_out = 0;
  uint64_t rekeys_sent = 0, rekeys_received = 0;
  uint64_t streams_opened = 0;
  std::optional<Duration> rtt;   // from the last keepalive or probe PING/PONG
  std::optional<Duration> srtt;  // smoothed (7/8 old + 1/8 sample)
  // The least sample of the last 10 s: the path without our own queues, what window growth
  // uses (a smoothed RTT inflated by a backlog would grow the window that made the backlog).
  std::optional<Duration> min_rtt;
  uint64_t window_grows = 0;   // receive windows doubled
  uint64_t budget_denied = 0;  // growth refused by the window budget
  uint64_t window_extra = 0;   // bytes of receive window granted above stream_window, now
};

class Session {
 public:
  // The site side: output() holds the handshake-init message at once.
  static core::Result<Session> initiator(InitiatorConfig cfg, TimePoint now);
  // The edge side: waits for the handshake-init message.
  static core::Result<Session> responder(ResponderConfig cfg, TimePoint now);

  Session(Session&&) noexcept;
  Session& operator=(Session&&) noexcept;
  ~Session();

  // --- input (any chunking works, one byte at a time included) ---------------------------------
  // Zero-copy receive: read the socket straight into this area, then call on_read(n, now).
  std::span<uint8_t> read_buffer(size_t min_free = 64 * 1024);
  core::Result<std::span<const Event>> on_read(size_t n, TimePoint now);
  // Copying receive (the same, for bytes the caller already holds).
  core::Result<std::span<const Event>> on_bytes(std::span<const uint8_t> in, TimePoint now);
  // Timers: handshake and idle timeouts, keepalive PINGs, time-based rekey, open deadlines
  // (reported as reset events).
  core::Result<std::span<const Event>> on_tick(TimePoint now);
  // When on_tick() must run next.
  TimePoint next_tick() const;

  // --- output: sealed records, in order -----------------------------------------------------
  // Valid until the next call that sends; for an asynchronous write, swap_output() instead.
  std::span<const uint8_t> output() const { return tx_.bytes(); }
  void consume_output(size_t n) { tx_.consume(n); }
  // Hands the pending output to the caller (other is cleared first; its storage is reused).
  void swap_output(Buffer& other);
  // Frees idle buffers (call when output() is empty and nothing is pending).
  void release_buffers();

  // --- streams ------------------------------------------------------------------------------
  // Opens a TCP stream to "host:port" on the peer's side; returns its id.
  core::Result<uint32_t> open_stream(std::string_view target);
  // Opens a UDP flow to "host:port"; datagrams then go with send_dgram().
  core::Result<uint32_t> open_flow(std::string_view target);
  // How many bytes the peer lets us send on the stream now.
  size_t send_credit(uint32_t id) const;
  // Zero-copy send, synchronous: returns room for up to min(max, credit, 128 KiB − 8) bytes
  // inside output(); fill it (a non-blocking read) and call commit_data() before any other call
  // on this session. Empty when there is no credit.
  std::span<uint8_t> prepare_data(uint32_t id, size_t max);
  void commit_data(uint32_t id, size_t n);
  // Zero-copy send into a caller-owned buffer (safe with asynchronous reads): `record` holds n
  // data bytes at offset kDataOffset and has kTagLen spare bytes after them; it is sealed in
  // place into one whole record of kDataOffset + n + kTagLen bytes, which is returned.
  // Records must reach the wire in the order they are sealed, so output() must be empty (take
  // it with swap_output() and queue it first); write the record next, then any new output().
  // Errors: no such stream, n above send_credit(id) or 128 KiB − 8, output() not empty.
  core::Result<std::span<const uint8_t>> seal_data(uint32_t id, std::span<uint8_t> record,
                                                   size_t n);
  // Copying send: sends as much of data as credit allows; returns how much.
  size_t send(uint32_t id, std::span<const uint8_t> data);
  // n bytes of received DATA were delivered: grants the peer more credit (growing the window
  // when the sender is window-limited). `now` dates the grant; without it, the last input's.
  void consumed(uint32_t id, size_t n, TimePoint now);
  void consumed(uint32_t id, size_t n) { consumed(id, n, now_); }
  // The receive window of a stream now (its credit size once everything is re-granted).
  uint32_t stream_window(uint32_t id) const;
  // A stream the peer opened is connected to its target: sends OPEN_ACK when the peer speaks
  // minor 2 or later (before that, the opener assumes success). Once per stream.
  void accept_stream(uint32_t id);
  // Whether the peer acknowledges our opens with OPEN_ACK (else: treat an open as accepted).
  bool peer_acks_opens() const { return minor() >= kMinorOpenAck; }
  uint8_t peer_minor() const { return peer_minor_; }
  // The version both sides speak: the lower of the two.
  uint8_t minor() const { return std::min(settings_.minor, peer_minor_); }
  void fin(uint32_t id);  // half-close: no more data from us
  void reset(uint32_t id, ResetCode code, std::string_view reason = {});
  core::Result<void> send_dgram(uint32_t id, std::span<const uint8_t> datagram);
  bool stream_exists(uint32_t id) const { return streams_.count(id) != 0; }
  size_t stream_count() const { return streams_.size(); }

  // --- session ------------------------------------------------------------------------------
  void ping(std::span<const uint8_t> body);  // at most 64 bytes; the peer answers with PONG
  // Sends CLOSE(code, reason); the caller writes output() and then closes the socket.
  void close(CloseCode code, std::string_view reason = {});

  State state() const { return state_; }
  bool is_open() const { return state_ == State::open; }
  Fault fault() const { return fault_; }
  bool is_initiator() const { return initiator_; }
  Suite suite() const { return suite_; }
  const Key& remote_static() const { return remote_static_; }
  const Hash& handshake_hash() const { return handshake_hash_; }
  const Hello& hello() const { return hello_; }        // responder: the site's; initiator: ours
  const Welcome& welcome() const { return welcome_; }  // after the handshake
  const SessionStats& stats() const { return stats_; }

 private:
  struct Stream {
    StreamKind kind = StreamKind::tcp;
    uint64_t send_credit = 0;  // bytes we may still send
    uint64_t recv_credit = 0;  // bytes the peer may still send
    uint64_t unacked = 0;      // delivered but not yet re-granted
    uint64_t buffered = 0;     // received but not yet reported consumed
    TimePoint last_grant{};    // when credit was last granted (auto-tuning)
    uint32_t window = 0;       // receive window (grows toward stream_window_max)
    bool local_fin = false;
    bool remote_fin = false;
    bool acked = false;  // OPEN_ACK sent (peer's stream) or received (ours)
  };

  Session();
  core::Error fail(Fault f, std::string_view detail = {}, bool send_close = false);
  core::Result<std::span<const Event>> process(TimePoint now);
  Fault handle_handshake(uint8_t type, std::span<const uint8_t> body);
  Fault handle_record(uint8_t* hdr, size_t body_len);
  Fault handle_frame(const Frame& f, bool last);
  bool known_closed(uint32_t id) const;
  void start_transport(const TransportKeys& k, TimePoint now);
  void queue_frame_room(size_t frame_len);
  void flush();
  void seal_record(const uint8_t* plain, size_t n);
  void after_seal(size_t plain_len);
  void key_update();
  void send_keepalive();
  void maybe_probe_rtt();
  void on_rtt_sample(Duration d);
  void erase_stream(std::unordered_map<uint32_t, Stream>::iterator it);
  bool peer_owned(uint32_t id) const { return (id & 1) == (initiator_ ? 0u : 1u); }
  core::Result<uint32_t> open(StreamKind kind, std::string_view target);

  bool initiator_ = false;
  Suite suite_ = Suite::ik_chachapoly_blake2b;
  State state_ = State::handshake;
  Fault fault_ = Fault::none;
  Settings settings_;
  std::unique_ptr<Handshake> hs_;
  std::optional<ResponderConfig> rcfg_;
  std::optional<CipherState> send_, recv_;
  Key remote_static_{};
  Hash handshake_hash_{};
  Hello hello_;
  Welcome welcome_;

  Buffer rx_, tx_;
  std::vector<uint8_t> ctl_;  // control frames waiting for the next record
  std::vector<Event> events_;
  size_t pending_data_at_ = SIZE_MAX;  // prepare_data() reservation offset in tx_
  uint32_t pending_data_id_ = 0;
  size_t pending_data_max_ = 0;

  std::unordered_map<uint32_t, Stream> streams_;
  uint64_t next_id_ = 0;       // our next stream id (initiator odd, responder even)
  uint32_t last_peer_id_ = 0;  // highest id the peer opened
  uint32_t peer_window_ = 0;   // the peer's announced per-stream credit
  uint8_t peer_minor_ = 1;     // the peer's minor version, from its handshake payload
  size_t peer_streams_ = 0;    // open streams the peer opened

  TimePoint now_{};
  TimePoint deadline_{};  // handshake deadline
  TimePoint last_sent_{}, last_recv_{}, send_key_since_{};
  Duration keepalive_{}, idle_timeout_{};
  uint64_t send_records_ = 0, send_bytes_ = 0;  // since the last key update we sent
  uint64_t recv_records_ = 0, recv_bytes_ = 0;  // since the last key update we received
  uint64_t keepalive_seq_ = 0;
  std::optional<std::pair<uint64_t, TimePoint>> keepalive_out_;
  TimePoint last_probe_{};
  TimePoint min_rtt_at_{};
  std::deque<std::pair<uint32_t, TimePoint>> open_deadlines_;  // our opens awaiting OPEN_ACK
  void expire_opens();
  std::string open_timeout_text_;
  SessionStats stats_;
};

}  // namespace tunnel::proto
