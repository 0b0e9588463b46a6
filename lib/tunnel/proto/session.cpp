#include "tunnel/proto/session.h"

#include <algorithm>
#include <cstring>

namespace tunnel::proto {

namespace {

std::vector<uint8_t> prologue() {
  return {kPrologue.begin(), kPrologue.end()};
}

uint32_t to_ms(Duration d) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
  return uint32_t(std::clamp<int64_t>(ms, 0, INT32_MAX));
}

// Keeps the sender's rekey limits inside the receiver's hard limits (warren-tunnel(7)).
void clamp_rekey(Settings& s) {
  s.rekey_after_records = std::clamp<uint64_t>(s.rekey_after_records, 1, kRejectAfterRecords - 1);
  s.rekey_after_bytes = std::clamp<uint64_t>(s.rekey_after_bytes, 1, kRejectAfterBytes / 2);
}

void put_header(uint8_t* p, uint8_t type, size_t body_len) {
  p[0] = type;
  put_u24(p + 1, uint32_t(body_len));
}

CloseCode close_code_for(Fault f) {
  switch (f) {
    case Fault::flow_control:
      return CloseCode::flow_control;
    case Fault::timeout:
      return CloseCode::idle_timeout;
    default:
      return CloseCode::protocol_error;
  }
}

}  // namespace

Session::Session() = default;
Session::Session(Session&&) noexcept = default;
Session& Session::operator=(Session&&) noexcept = default;
Session::~Session() = default;

core::Result<Session> Session::initiator(InitiatorConfig cfg, TimePoint now) {
  crypto::init();
  if (uses_psk(cfg.suite) && !cfg.psk)
    return core::err(core::Errc::config, "tunnel: the IKpsk2 suites need a pre-shared key");
  if (!valid_site_id(cfg.hello.site_id))
    return core::err(core::Errc::config,
                     "tunnel: bad site id: expected up to 64 of [A-Za-z0-9._-]");
  if (cfg.hello.lane_count == 0 || cfg.hello.lane_index >= cfg.hello.lane_count)
    return core::err(core::Errc::config, "tunnel: lane index must be below the lane count");
  Session s;
  s.initiator_ = true;
  s.suite_ = cfg.suite;
  s.settings_ = cfg.settings;
  clamp_rekey(s.settings_);
  s.now_ = s.last_sent_ = s.last_recv_ = now;
  s.deadline_ = now + s.settings_.handshake_timeout;
  s.next_id_ = 1;
  s.remote_static_ = cfg.responder_static;
  s.hello_ = cfg.hello;
  s.hello_.minor = std::clamp<uint8_t>(s.settings_.minor, 1, kMinorVersion);
  s.hello_.initial_window = s.settings_.stream_window;
  s.hs_ = std::make_unique<Handshake>(Handshake::Config{cfg.suite, Handshake::Role::initiator,
                                                        cfg.static_priv, cfg.responder_static,
                                                        prologue(), cfg.ephemeral_priv, cfg.psk});
  crypto::wipe(cfg.static_priv.data(), cfg.static_priv.size());
  std::vector<uint8_t> payload, msg{static_cast<uint8_t>(cfg.suite)};
  encode(s.hello_, payload);
  if (Fault f = s.hs_->write_message1(payload, msg); f != Fault::none) return fault_error(f);
  uint8_t* p = s.tx_.append(kHeaderLen + msg.size());
  put_header(p, kMsgHandshakeInit, msg.size());
  std::memcpy(p + kHeaderLen, msg.data(), msg.size());
  s.stats_.bytes_out += kHeaderLen + msg.size();
  return s;
}

core::Result<Session> Session::responder(ResponderConfig cfg, TimePoint now) {
  crypto::init();
  if (!cfg.replay || !cfg.lookup || cfg.suites.empty())
    return core::err(core::Errc::config,
                     "tunnel: responder needs a replay guard, a key lookup "
                     "and at least one suite");
  if (to_ms(cfg.settings.keepalive) == 0 ||
      to_ms(cfg.settings.idle_timeout) <= to_ms(cfg.settings.keepalive))
    return core::err(core::Errc::config, "tunnel: idle timeout must exceed the keepalive");
  Session s;
  s.initiator_ = false;
  s.settings_ = cfg.settings;
  clamp_rekey(s.settings_);
  s.now_ = s.last_sent_ = s.last_recv_ = now;
  s.deadline_ = now + s.settings_.handshake_timeout;
  s.next_id_ = 2;
  s.rcfg_ = std::move(cfg);
  return s;
}

// --- input ---------------------------------------------------------------------------------

std::span<uint8_t> Session::read_buffer(size_t min_free) {
  uint8_t* p = rx_.prepare(std::max<size_t>(min_free, 1));
  return {p, rx_.room()};
}

core::Result<std::span<const Event>> Session::on_read(size_t n, TimePoint now) {
  rx_.commit(std::min(n, rx_.room()));
  return process(now);
}

core::Result<std::span<const Event>> Session::on_bytes(std::span<const uint8_t> in, TimePoint now) {
  auto buf = read_buffer(in.size());
  if (!in.empty()) std::memcpy(buf.data(), in.data(), in.size());
  return on_read(in.size(), now);
}

core::Result<std::span<const Event>> Session::process(TimePoint now) {
  events_.clear();
  now_ = now;
  if (state_ == State::failed) return fault_error(fault_);
  while (state_ != State::closed) {
    size_t avail = rx_.size();
    if (avail < kHeaderLen) break;
    uint8_t* p = rx_.data();
    uint8_t type = p[0];
    size_t len = get_u24(p + 1);
    bool hs = state_ == State::handshake;
    if (hs) {
      if (type != (initiator_ ? kMsgHandshakeResp : kMsgHandshakeInit))
        return fail(Fault::malformed, "unexpected message type");
      if (len > kMaxHandshakeBody) return fail(Fault::oversized, "handshake message");
    } else {
      if (type != kMsgRecord) return fail(Fault::malformed, "unexpected message type", true);
      if (len > kMaxRecordBody) return fail(Fault::oversized, "record", true);
      if (len < kTagLen) return fail(Fault::malformed, "short record", true);
    }
    if (avail - kHeaderLen < len) break;  // wait for the rest
    stats_.bytes_in += kHeaderLen + len;
    Fault f = hs ? handle_handshake(type, {p + kHeaderLen, len}) : handle_record(p, len);
    rx_.consume(kHeaderLen + len);
    if (f != Fault::none) return fail(f, {}, !hs);
    last_recv_ = now;
  }
  if (state_ == State::closed) rx_.clear();  // bytes after CLOSE are ignored
  flush();
  return std::span<const Event>(events_);
}

Fault Session::handle_handshake(uint8_t type, std::span<const uint8_t> body) {
  std::vector<uint8_t> payload;
  if (!initiator_) {
    if (body.empty()) return Fault::malformed;
    auto suite = suite_from_id(body[0]);
    if (!suite ||
        std::find(rcfg_->suites.begin(), rcfg_->suites.end(), *suite) == rcfg_->suites.end())
      return Fault::refused;
    suite_ = *suite;
    hs_ = std::make_unique<Handshake>(Handshake::Config{suite_, Handshake::Role::responder,
                                                        rcfg_->static_priv, std::nullopt,
                                                        prologue(), rcfg_->ephemeral_priv});
    Fault f = hs_->read_message1(body.subspan(1), payload, [&](const Key& k) {
      auto entry = rcfg_->lookup(k);
      if (!entry) return Fault::unknown_key;
      if (uses_psk(suite_)) {
        if (!entry->psk) return Fault::refused;
        hs_->set_psk(*entry->psk);
      }
      return Fault::none;
    });
    if (f != Fault::none) return f;
    remote_static_ = hs_->remote_static();
    Hello h;
    if (Fault d = decode(payload, h); d != Fault::none) return d;
    if (!rcfg_->replay->accept(remote_static_, h.lane_index, h.timestamp)) return Fault::replay;
    uint64_t sid = 0;
    if (rcfg_->accept) {
      auto r = rcfg_->accept(remote_static_, h);
      if (!r) return Fault::refused;
      sid = *r;
    }
    hello_ = std::move(h);
    peer_window_ = hello_.initial_window;
    peer_minor_ = hello_.minor;
    keepalive_ = settings_.keepalive;
    idle_timeout_ = settings_.idle_timeout;
    welcome_ = Welcome{std::clamp<uint8_t>(settings_.minor, 1, kMinorVersion), sid,
                       settings_.stream_window, to_ms(keepalive_), to_ms(idle_timeout_)};
    std::vector<uint8_t> wp, msg;
    encode(welcome_, wp);
    if (Fault w = hs_->write_message2(wp, msg); w != Fault::none) return w;
    uint8_t* p = tx_.append(kHeaderLen + msg.size());
    put_header(p, kMsgHandshakeResp, msg.size());
    std::memcpy(p + kHeaderLen, msg.data(), msg.size());
    stats_.bytes_out += kHeaderLen + msg.size();
    handshake_hash_ = hs_->handshake_hash();
    start_transport(hs_->split(), now_);
    hs_.reset();
    rcfg_.reset();  // drops the static key copy and the hooks
    state_ = State::confirming;
    return Fault::none;
  }
  (void)type;
  if (Fault f = hs_->read_message2(body, payload); f != Fault::none) return f;
  Welcome w;
  if (Fault d = decode(payload, w); d != Fault::none) return d;
  welcome_ = w;
  peer_window_ = w.initial_window;
  peer_minor_ = w.minor;
  keepalive_ = std::chrono::milliseconds(w.keepalive_ms);
  idle_timeout_ = std::chrono::milliseconds(w.idle_timeout_ms);
  handshake_hash_ = hs_->handshake_hash();
  start_transport(hs_->split(), now_);
  hs_.reset();
  state_ = State::open;
  events_.push_back(Event{EventType::handshake_done});
  send_keepalive();  // key confirmation for the responder, and a first RTT sample
  return Fault::none;
}

void Session::start_transport(const TransportKeys& k, TimePoint now) {
  send_.emplace(cipher_of(suite_));
  recv_.emplace(cipher_of(suite_));
  send_->initialize_key(k.send);
  recv_->initialize_key(k.recv);
  send_key_since_ = last_sent_ = last_recv_ = now;
  send_records_ = send_bytes_ = recv_records_ = recv_bytes_ = 0;
}

Fault Session::handle_record(uint8_t* hdr, size_t body_len) {
  uint8_t* body = hdr + kHeaderLen;
  size_t n = body_len - kTagLen;
  // Decrypted in place: the plaintext replaces the ciphertext in the receive buffer.
  if (!recv_->decrypt({hdr, kHeaderLen}, body, n, body)) return Fault::bad_mac;
  ++stats_.records_in;
  ++recv_records_;
  recv_bytes_ += n;
  if (recv_records_ > kRejectAfterRecords || recv_bytes_ > kRejectAfterBytes)
    return Fault::rekey_overdue;
  if (state_ == State::confirming) {
    state_ = State::open;
    events_.push_back(Event{EventType::handshake_done});
    if (minor() >= 2) send_keepalive();  // the edge's first RTT sample, for window growth
  }
  std::span<const uint8_t> in(body, n);
  while (!in.empty() && state_ == State::open) {
    Frame f;
    if (Fault x = next_frame(in, f); x != Fault::none) return x;
    if (Fault x = handle_frame(f, in.empty()); x != Fault::none) return x;
  }
  return Fault::none;
}

bool Session::known_closed(uint32_t id) const {
  return peer_owned(id) ? id <= last_peer_id_ : id < next_id_;
}

void Session::erase_stream(std::unordered_map<uint32_t, Stream>::iterator it) {
  if (peer_owned(it->first)) --peer_streams_;
  if (it->second.window > settings_.stream_window)
    stats_.window_extra -= it->second.window - settings_.stream_window;
  streams_.erase(it);
}

Fault Session::handle_frame(const Frame& f, bool last) {
  if (!f.known) return Fault::none;  // a later minor version's frame: skipped
  auto find = [&](Fault& missing) {
    auto it = streams_.find(f.id);
    // Frames racing a close are dropped; ids never opened are an error.
    if (it == streams_.end()) missing = known_closed(f.id) ? Fault::none : Fault::protocol;
    return it;
  };
  Fault missing = Fault::none;
  switch (f.type) {
    case FrameType::open: {
      if (!peer_owned(f.id) || f.id <= last_peer_id_) return Fault::protocol;
      last_peer_id_ = f.id;
      if (peer_streams_ >= settings_.max_streams) {
        queue_frame_room(kFrameHeaderLen + 2);
        append_rst(ctl_, f.id, ResetCode::stream_limit, {});
        return Fault::none;
      }
      Stream s;
      s.kind = f.kind;
      if (f.kind == StreamKind::tcp) {
        s.send_credit = f.window;
        s.recv_credit = s.window = settings_.stream_window;
        s.last_grant = now_;
      }
      streams_.emplace(f.id, s);
      ++peer_streams_;
      events_.push_back(Event{EventType::stream_open, f.id, f.kind, 0, {}, f.target});
      return Fault::none;
    }
    case FrameType::data: {
      auto it = find(missing);
      if (it == streams_.end()) return missing;
      Stream& s = it->second;
      if (s.kind != StreamKind::tcp || s.remote_fin) return Fault::protocol;
      if (f.body.size() > s.recv_credit) return Fault::flow_control;
      s.recv_credit -= f.body.size();
      s.buffered += f.body.size();
      if (!f.body.empty()) events_.push_back(Event{EventType::data, f.id, s.kind, 0, f.body});
      return Fault::none;
    }
    case FrameType::window: {
      auto it = find(missing);
      if (it == streams_.end()) return missing;
      Stream& s = it->second;
      if (s.kind != StreamKind::tcp) return Fault::protocol;
      s.send_credit += f.window;
      if (s.send_credit > UINT32_MAX) return Fault::flow_control;
      events_.push_back(Event{EventType::window, f.id, s.kind});
      return Fault::none;
    }
    case FrameType::fin: {
      auto it = find(missing);
      if (it == streams_.end()) return missing;
      Stream& s = it->second;
      if (s.kind != StreamKind::tcp || s.remote_fin) return Fault::protocol;
      s.remote_fin = true;
      events_.push_back(Event{EventType::fin, f.id, s.kind});
      if (s.local_fin) erase_stream(it);
      return Fault::none;
    }
    case FrameType::rst: {
      auto it = find(missing);
      if (it == streams_.end()) return missing;
      events_.push_back(Event{EventType::reset, f.id, it->second.kind, f.code, {}, f.reason});
      erase_stream(it);
      return Fault::none;
    }
    case FrameType::dgram: {
      auto it = find(missing);
      if (it == streams_.end()) return missing;
      if (it->second.kind != StreamKind::udp) return Fault::protocol;
      events_.push_back(Event{EventType::dgram, f.id, StreamKind::udp, 0, f.body});
      return Fault::none;
    }
    case FrameType::ping:
      queue_frame_room(kFrameHeaderLen + f.body.size());
      append_ping(ctl_, FrameType::pong, f.body);
      return Fault::none;
    case FrameType::pong:
      if (keepalive_out_ && f.body.size() == 8 && get_u64(f.body.data()) == keepalive_out_->first) {
        on_rtt_sample(now_ - keepalive_out_->second);
        keepalive_out_.reset();
      }
      events_.push_back(Event{EventType::pong, 0, StreamKind::tcp, 0, f.body});
      return Fault::none;
    case FrameType::close:
      state_ = State::closed;
      fault_ = Fault::peer_closed;
      events_.push_back(Event{EventType::closed, 0, StreamKind::tcp, f.code, {}, f.reason});
      return Fault::none;
    case FrameType::open_ack: {
      if (!peer_acks_opens()) return Fault::none;  // not in the version we speak: skipped
      auto it = find(missing);
      if (it == streams_.end()) return missing;
      Stream& s = it->second;
      if (peer_owned(f.id) || s.acked) return Fault::protocol;  // only for our opens, once
      s.acked = true;
      events_.push_back(Event{EventType::open_ack, f.id, s.kind});
      return Fault::none;
    }
    case FrameType::key_update:
      if (!last) return Fault::protocol;  // must end its record
      recv_->rekey();
      recv_records_ = recv_bytes_ = 0;
      ++stats_.rekeys_received;
      return Fault::none;
  }
  return Fault::none;
}

core::Error Session::fail(Fault f, std::string_view detail, bool send_close) {
  if (send_close && send_ && (state_ == State::open || state_ == State::confirming)) {
    queue_frame_room(kFrameHeaderLen + 2 + 32);
    append_close(ctl_, close_code_for(f), to_string(f));
    flush();
  }
  state_ = State::failed;
  fault_ = f;
  hs_.reset();
  rcfg_.reset();
  return fault_error(f, detail);
}

core::Result<std::span<const Event>> Session::on_tick(TimePoint now) {
  now_ = now;
  events_.clear();
  switch (state_) {
    case State::handshake:
    case State::confirming:
      if (now >= deadline_) return fail(Fault::timeout, "handshake");
      return std::span<const Event>(events_);
    case State::open:
      if (now - last_recv_ >= idle_timeout_) return fail(Fault::timeout, "idle", true);
      expire_opens();
      if (now - send_key_since_ >= settings_.rekey_after_time) key_update();
      if (now - last_sent_ >= keepalive_) send_keepalive();
      return std::span<const Event>(events_);
    case State::closed:
      return std::span<const Event>(events_);
    case State::failed:
      return fault_error(fault_);
  }
  return std::span<const Event>(events_);
}

TimePoint Session::next_tick() const {
  switch (state_) {
    case State::handshake:
    case State::confirming:
      return deadline_;
    case State::open:
      return std::min(
          {last_recv_ + idle_timeout_, last_sent_ + keepalive_,
           send_key_since_ + settings_.rekey_after_time,
           open_deadlines_.empty() ? TimePoint::max() : open_deadlines_.front().second});
    default:
      return TimePoint::max();
  }
}

// --- output --------------------------------------------------------------------------------

void Session::swap_output(Buffer& other) {
  other.clear();
  tx_.swap(other);
}

void Session::release_buffers() {
  rx_.release();
  tx_.release();
  if (ctl_.empty()) std::vector<uint8_t>().swap(ctl_);
}

void Session::queue_frame_room(size_t frame_len) {
  if (ctl_.size() + frame_len > kMaxRecordPlaintext) flush();
}

void Session::flush() {
  if (ctl_.empty() || !send_ || state_ == State::failed) return;
  size_t n = ctl_.size();
  seal_record(ctl_.data(), n);
  ctl_.clear();
  after_seal(n);  // may rekey, which flushes again: ctl_ must be empty by then
}

void Session::seal_record(const uint8_t* plain, size_t n) {
  uint8_t* p = tx_.append(kHeaderLen + n + kTagLen);
  put_header(p, kMsgRecord, n + kTagLen);
  std::memcpy(p + kHeaderLen, plain, n);
  send_->encrypt({p, kHeaderLen}, p + kHeaderLen, n, p + kHeaderLen);
}

void Session::after_seal(size_t plain_len) {
  ++stats_.records_out;
  stats_.bytes_out += kHeaderLen + plain_len + kTagLen;
  ++send_records_;
  send_bytes_ += plain_len;
  last_sent_ = now_;
  if (send_records_ >= settings_.rekey_after_records || send_bytes_ >= settings_.rekey_after_bytes)
    key_update();
}

// The KEY_UPDATE record is the last one under the old key; the next record uses Rekey(k).
void Session::key_update() {
  flush();
  uint8_t* p = tx_.append(kHeaderLen + kFrameHeaderLen + kTagLen);
  put_header(p, kMsgRecord, kFrameHeaderLen + kTagLen);
  put_frame_header(p + kHeaderLen, FrameType::key_update, 0, 0);
  send_->encrypt({p, kHeaderLen}, p + kHeaderLen, kFrameHeaderLen, p + kHeaderLen);
  ++stats_.records_out;
  stats_.bytes_out += kHeaderLen + kFrameHeaderLen + kTagLen;
  send_->rekey();
  send_records_ = send_bytes_ = 0;
  send_key_since_ = last_sent_ = now_;
  ++stats_.rekeys_sent;
}

void Session::send_keepalive() {
  uint8_t body[8];
  put_u64(body, ++keepalive_seq_);
  keepalive_out_ = {keepalive_seq_, now_};
  last_probe_ = now_;
  queue_frame_room(kFrameHeaderLen + sizeof body);
  append_ping(ctl_, FrameType::ping, body);
  flush();
}

void Session::on_rtt_sample(Duration d) {
  stats_.rtt = d;
  stats_.srtt = stats_.srtt ? (*stats_.srtt * 7 + d) / 8 : d;
  if (!stats_.min_rtt || d <= *stats_.min_rtt || now_ - min_rtt_at_ > std::chrono::seconds(10)) {
    stats_.min_rtt = d;
    min_rtt_at_ = now_;
  }
}

// A receiver that is granting credit measures the RTT now and then (its own keepalives do not
// run while it keeps sending WINDOW frames). One probe at a time.
void Session::maybe_probe_rtt() {
  if (keepalive_out_ && now_ - keepalive_out_->second < 4 * settings_.rtt_probe) return;
  if (now_ - last_probe_ < settings_.rtt_probe) return;
  send_keepalive();
}

// --- streams -------------------------------------------------------------------------------

core::Result<uint32_t> Session::open(StreamKind kind, std::string_view target) {
  if (state_ != State::open) return core::err(core::Errc::unavailable, "tunnel: session not open");
  if (!valid_target(target))
    return core::err(core::Errc::usage,
                     "tunnel: bad target \"" + std::string(target) + "\": expected host:port");
  if (next_id_ > UINT32_MAX)
    return core::err(core::Errc::tempfail, "tunnel: stream ids exhausted; open a new lane");
  uint32_t id = uint32_t(next_id_);
  next_id_ += 2;
  Stream s;
  s.kind = kind;
  if (kind == StreamKind::tcp) {
    s.send_credit = peer_window_;
    s.recv_credit = s.window = settings_.stream_window;
    s.last_grant = now_;
  }
  streams_.emplace(id, s);
  ++stats_.streams_opened;
  if (kind == StreamKind::tcp && peer_acks_opens())
    open_deadlines_.emplace_back(id, now_ + settings_.open_timeout);
  queue_frame_room(kFrameHeaderLen + 5 + target.size());
  append_open(ctl_, id, kind, kind == StreamKind::tcp ? settings_.stream_window : 0, target);
  flush();
  return id;
}

core::Result<uint32_t> Session::open_stream(std::string_view target) {
  return open(StreamKind::tcp, target);
}

core::Result<uint32_t> Session::open_flow(std::string_view target) {
  return open(StreamKind::udp, target);
}

size_t Session::send_credit(uint32_t id) const {
  auto it = streams_.find(id);
  if (it == streams_.end() || it->second.kind != StreamKind::tcp || it->second.local_fin) return 0;
  return size_t(it->second.send_credit);
}

std::span<uint8_t> Session::prepare_data(uint32_t id, size_t max) {
  if (state_ != State::open) return {};
  size_t n = std::min({max, send_credit(id), kMaxFrameBody});
  if (n == 0) return {};
  flush();
  uint8_t* p = tx_.prepare(kDataOffset + n + kTagLen);
  pending_data_at_ = tx_.size();
  pending_data_id_ = id;
  pending_data_max_ = n;
  return {p + kDataOffset, n};
}

void Session::commit_data(uint32_t id, size_t n) {
  bool reserved = pending_data_at_ == tx_.size() && id == pending_data_id_;
  pending_data_at_ = SIZE_MAX;
  if (!reserved || n == 0 || state_ != State::open) return;
  n = std::min(n, pending_data_max_);
  // The reservation is still the uncommitted tail of tx_: seal it where it lies.
  uint8_t* p = tx_.data() + tx_.size();
  put_header(p, kMsgRecord, kFrameHeaderLen + n + kTagLen);
  put_frame_header(p + kHeaderLen, FrameType::data, uint32_t(n), id);
  send_->encrypt({p, kHeaderLen}, p + kHeaderLen, kFrameHeaderLen + n, p + kHeaderLen);
  tx_.commit(kDataOffset + n + kTagLen);
  if (auto it = streams_.find(id); it != streams_.end()) it->second.send_credit -= n;
  after_seal(kFrameHeaderLen + n);
}

core::Result<std::span<const uint8_t>> Session::seal_data(uint32_t id, std::span<uint8_t> record,
                                                          size_t n) {
  if (state_ != State::open) return core::err(core::Errc::unavailable, "tunnel: session not open");
  auto it = streams_.find(id);
  if (it == streams_.end() || it->second.kind != StreamKind::tcp || it->second.local_fin)
    return core::err(core::Errc::noinput, "tunnel: no such open stream");
  if (n == 0 || n > it->second.send_credit || n > kMaxFrameBody ||
      record.size() < kDataOffset + n + kTagLen)
    return core::err(core::Errc::usage, "tunnel: seal_data: size beyond credit or buffer");
  flush();
  if (!tx_.empty()) return core::err(core::Errc::usage, "tunnel: seal_data: take output() first");
  uint8_t* p = record.data();
  put_header(p, kMsgRecord, kFrameHeaderLen + n + kTagLen);
  put_frame_header(p + kHeaderLen, FrameType::data, uint32_t(n), id);
  send_->encrypt({p, kHeaderLen}, p + kHeaderLen, kFrameHeaderLen + n, p + kHeaderLen);
  it->second.send_credit -= n;
  after_seal(kFrameHeaderLen + n);  // a KEY_UPDATE, if due, lands in output() after this record
  return std::span<const uint8_t>(p, kDataOffset + n + kTagLen);
}

size_t Session::send(uint32_t id, std::span<const uint8_t> data) {
  size_t sent = 0;
  while (sent < data.size()) {
    auto room = prepare_data(id, data.size() - sent);
    if (room.empty()) break;
    std::memcpy(room.data(), data.data() + sent, room.size());
    commit_data(id, room.size());
    sent += room.size();
  }
  return sent;
}

void Session::consumed(uint32_t id, size_t n, TimePoint now) {
  if (state_ != State::open) return;
  auto it = streams_.find(id);
  if (it == streams_.end() || it->second.kind != StreamKind::tcp) return;
  if (now > now_) now_ = now;
  Stream& s = it->second;
  n = size_t(std::min<uint64_t>(n, s.buffered));
  s.buffered -= n;
  s.unacked += n;
  uint64_t threshold = std::max<uint32_t>(1, s.window / 4);
  if (s.remote_fin || s.unacked < threshold) return;
  maybe_probe_rtt();
  // A quarter of the window came and went within one round trip of the bare path: the sender
  // is limited by the window, not by its data or the path (a window-limited sender moves a
  // quarter in a quarter of a round trip; one limited by its data or the path grows the window
  // to at most four times what it moves per round trip). Until the first sample, 100 ms.
  uint64_t grow = 0;
  Duration rtt = stats_.min_rtt.value_or(std::chrono::milliseconds(100));
  if (s.window < settings_.stream_window_max && now_ - s.last_grant < rtt) {
    uint64_t want =
        std::min<uint64_t>(uint64_t(s.window) * 2, settings_.stream_window_max) - s.window;
    // The budget is the site's: each of its lanes has its share.
    uint64_t budget = settings_.window_budget / std::max<uint16_t>(1, hello_.lane_count);
    uint64_t room = budget > stats_.window_extra ? budget - stats_.window_extra : 0;
    grow = std::min(want, room);
    if (grow < want) ++stats_.budget_denied;
    if (grow > 0) {
      s.window += uint32_t(grow);
      stats_.window_extra += grow;
      ++stats_.window_grows;
    }
  }
  s.last_grant = now_;
  uint64_t credit = s.unacked + grow;
  queue_frame_room(kFrameHeaderLen + 4);
  append_window(ctl_, id, uint32_t(credit));
  s.recv_credit += credit;
  s.unacked = 0;
  flush();
}

uint32_t Session::stream_window(uint32_t id) const {
  auto it = streams_.find(id);
  return it == streams_.end() ? 0 : it->second.window;
}

// Opens the peer neither acknowledged nor reset in time: reset both ways, reported as a reset
// with code unreachable, so the opener's caller hears why.
void Session::expire_opens() {
  while (!open_deadlines_.empty() && open_deadlines_.front().second <= now_) {
    uint32_t id = open_deadlines_.front().first;
    open_deadlines_.pop_front();
    auto it = streams_.find(id);
    if (it == streams_.end() || it->second.acked) continue;
    if (open_timeout_text_.empty())
      open_timeout_text_ =
          "no answer from the peer within " + std::to_string(to_ms(settings_.open_timeout)) + " ms";
    queue_frame_room(kFrameHeaderLen + 2 + 16);
    append_rst(ctl_, id, ResetCode::cancel, "open timed out");
    erase_stream(it);
    events_.push_back(Event{EventType::reset,
                            id,
                            StreamKind::tcp,
                            static_cast<uint16_t>(ResetCode::unreachable),
                            {},
                            open_timeout_text_});
  }
  flush();
}

void Session::accept_stream(uint32_t id) {
  if (state_ != State::open || !peer_acks_opens() || !peer_owned(id)) return;
  auto it = streams_.find(id);
  if (it == streams_.end() || it->second.acked) return;
  it->second.acked = true;
  queue_frame_room(kFrameHeaderLen);
  append_open_ack(ctl_, id);
  flush();
}

void Session::fin(uint32_t id) {
  if (state_ != State::open) return;
  auto it = streams_.find(id);
  if (it == streams_.end() || it->second.kind != StreamKind::tcp || it->second.local_fin) return;
  queue_frame_room(kFrameHeaderLen);
  append_fin(ctl_, id);
  it->second.local_fin = true;
  if (it->second.remote_fin) erase_stream(it);
  flush();
}

void Session::reset(uint32_t id, ResetCode code, std::string_view reason) {
  if (state_ != State::open) return;
  auto it = streams_.find(id);
  if (it == streams_.end()) return;
  queue_frame_room(kFrameHeaderLen + 2 + std::min(reason.size(), kMaxReason));
  append_rst(ctl_, id, code, reason);
  erase_stream(it);
  flush();
}

core::Result<void> Session::send_dgram(uint32_t id, std::span<const uint8_t> datagram) {
  if (state_ != State::open) return core::err(core::Errc::unavailable, "tunnel: session not open");
  if (datagram.size() > kMaxDatagram)
    return core::err(core::Errc::data, "tunnel: datagram larger than 65535 bytes");
  auto it = streams_.find(id);
  if (it == streams_.end() || it->second.kind != StreamKind::udp)
    return core::err(core::Errc::noinput, "tunnel: no such UDP flow");
  queue_frame_room(kFrameHeaderLen + datagram.size());
  append_dgram(ctl_, id, datagram);
  flush();
  return {};
}

void Session::ping(std::span<const uint8_t> body) {
  if (state_ != State::open) return;
  if (body.size() > kMaxPing) body = body.first(kMaxPing);
  queue_frame_room(kFrameHeaderLen + body.size());
  append_ping(ctl_, FrameType::ping, body);
  flush();
}

void Session::close(CloseCode code, std::string_view reason) {
  if (state_ == State::open || state_ == State::confirming) {
    std::string r(reason.substr(0, kMaxReason));
    for (char& c : r)
      if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7e) c = '?';
    queue_frame_room(kFrameHeaderLen + 2 + r.size());
    append_close(ctl_, code, r);
    flush();
  }
  if (state_ != State::failed) {
    state_ = State::closed;
    fault_ = Fault::local_closed;
  }
  hs_.reset();
  rcfg_.reset();
}

}  // namespace tunnel::proto
