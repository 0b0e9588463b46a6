#include "tunnel/proto/frames.h"

#include <cstring>

namespace tunnel::proto {

namespace {

uint8_t* grow(std::vector<uint8_t>& out, size_t n) {
  size_t at = out.size();
  out.resize(at + n);
  return out.data() + at;
}

std::string_view as_text(std::span<const uint8_t> b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

bool printable(std::string_view s) {
  for (char c : s)
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7e) return false;
  return true;
}

}  // namespace

bool valid_target(std::string_view t) {
  if (t.empty() || t.size() > kMaxTarget) return false;
  for (char c : t)
    if (static_cast<unsigned char>(c) <= 0x20 || static_cast<unsigned char>(c) > 0x7e) return false;
  auto colon = t.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return false;
  auto port = t.substr(colon + 1);
  if (port.empty() || port.size() > 5) return false;
  uint32_t v = 0;
  for (char c : port) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + uint32_t(c - '0');
  }
  return v >= 1 && v <= 65535;
}

bool valid_site_id(std::string_view s) {
  if (s.size() > kMaxSiteId) return false;
  for (char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

// --- handshake payloads --------------------------------------------------------------------

void encode(const Hello& h, std::vector<uint8_t>& out) {
  uint8_t* p = grow(out, kHelloFixedLen + h.site_id.size());
  p[0] = h.minor;
  p[1] = 0;  // flags
  put_u64(p + 2, h.timestamp.seconds);
  put_u32(p + 10, h.timestamp.nanos);
  put_u64(p + 14, h.lane_group);
  put_u16(p + 22, h.lane_index);
  put_u16(p + 24, h.lane_count);
  put_u32(p + 26, h.initial_window);
  p[30] = uint8_t(h.site_id.size());
  if (!h.site_id.empty()) std::memcpy(p + 31, h.site_id.data(), h.site_id.size());
}

Fault decode(std::span<const uint8_t> in, Hello& h) {
  if (in.size() < kHelloFixedLen) return Fault::malformed;
  const uint8_t* p = in.data();
  h.minor = p[0];
  if (h.minor < 1) return Fault::malformed;
  h.timestamp = {get_u64(p + 2), get_u32(p + 10)};
  if (h.timestamp.nanos >= 1000000000) return Fault::malformed;
  h.lane_group = get_u64(p + 14);
  h.lane_index = get_u16(p + 22);
  h.lane_count = get_u16(p + 24);
  h.initial_window = get_u32(p + 26);
  size_t n = p[30];
  if (h.lane_count == 0 || h.lane_index >= h.lane_count) return Fault::malformed;
  if (in.size() < kHelloFixedLen + n) return Fault::malformed;
  h.site_id.assign(reinterpret_cast<const char*>(p + 31), n);
  if (!valid_site_id(h.site_id)) return Fault::malformed;
  return Fault::none;
}

void encode(const Welcome& w, std::vector<uint8_t>& out) {
  uint8_t* p = grow(out, kWelcomeLen);
  p[0] = w.minor;
  p[1] = 0;  // flags
  put_u64(p + 2, w.session_id);
  put_u32(p + 10, w.initial_window);
  put_u32(p + 14, w.keepalive_ms);
  put_u32(p + 18, w.idle_timeout_ms);
}

Fault decode(std::span<const uint8_t> in, Welcome& w) {
  if (in.size() < kWelcomeLen) return Fault::malformed;
  const uint8_t* p = in.data();
  w.minor = p[0];
  w.session_id = get_u64(p + 2);
  w.initial_window = get_u32(p + 10);
  w.keepalive_ms = get_u32(p + 14);
  w.idle_timeout_ms = get_u32(p + 18);
  if (w.minor < 1 || w.keepalive_ms == 0 || w.idle_timeout_ms <= w.keepalive_ms)
    return Fault::malformed;
  return Fault::none;
}

// --- frames --------------------------------------------------------------------------------

void put_frame_header(uint8_t* p, FrameType t, uint32_t body_len, uint32_t id) {
  p[0] = static_cast<uint8_t>(t);
  put_u24(p + 1, body_len);
  put_u32(p + 4, id);
}

static uint8_t* frame(std::vector<uint8_t>& out, FrameType t, uint32_t id, size_t body_len) {
  uint8_t* p = grow(out, kFrameHeaderLen + body_len);
  put_frame_header(p, t, uint32_t(body_len), id);
  return p + kFrameHeaderLen;
}

void append_open(std::vector<uint8_t>& out, uint32_t id, StreamKind kind, uint32_t window,
                 std::string_view target) {
  uint8_t* p = frame(out, FrameType::open, id, 5 + target.size());
  p[0] = static_cast<uint8_t>(kind);
  put_u32(p + 1, window);
  if (!target.empty()) std::memcpy(p + 5, target.data(), target.size());
}

void append_data(std::vector<uint8_t>& out, uint32_t id, std::span<const uint8_t> data) {
  uint8_t* p = frame(out, FrameType::data, id, data.size());
  if (!data.empty()) std::memcpy(p, data.data(), data.size());
}

void append_window(std::vector<uint8_t>& out, uint32_t id, uint32_t credit) {
  put_u32(frame(out, FrameType::window, id, 4), credit);
}

void append_fin(std::vector<uint8_t>& out, uint32_t id) {
  frame(out, FrameType::fin, id, 0);
}

static void append_coded(std::vector<uint8_t>& out, FrameType t, uint32_t id, uint16_t code,
                         std::string_view reason) {
  if (reason.size() > kMaxReason) reason = reason.substr(0, kMaxReason);
  uint8_t* p = frame(out, t, id, 2 + reason.size());
  put_u16(p, code);
  if (!reason.empty()) std::memcpy(p + 2, reason.data(), reason.size());
}

void append_rst(std::vector<uint8_t>& out, uint32_t id, ResetCode code, std::string_view reason) {
  append_coded(out, FrameType::rst, id, static_cast<uint16_t>(code), reason);
}

void append_dgram(std::vector<uint8_t>& out, uint32_t id, std::span<const uint8_t> data) {
  uint8_t* p = frame(out, FrameType::dgram, id, data.size());
  if (!data.empty()) std::memcpy(p, data.data(), data.size());
}

void append_ping(std::vector<uint8_t>& out, FrameType t, std::span<const uint8_t> body) {
  uint8_t* p = frame(out, t, 0, body.size());
  if (!body.empty()) std::memcpy(p, body.data(), body.size());
}

void append_close(std::vector<uint8_t>& out, CloseCode code, std::string_view reason) {
  append_coded(out, FrameType::close, 0, static_cast<uint16_t>(code), reason);
}

void append_open_ack(std::vector<uint8_t>& out, uint32_t id) {
  frame(out, FrameType::open_ack, id, 0);
}

void append_key_update(std::vector<uint8_t>& out) {
  frame(out, FrameType::key_update, 0, 0);
}

Fault next_frame(std::span<const uint8_t>& in, Frame& f) {
  if (in.size() < kFrameHeaderLen) return Fault::malformed;
  f = Frame{};
  f.raw_type = in[0];
  size_t len = get_u24(in.data() + 1);
  f.id = get_u32(in.data() + 4);
  if (len > in.size() - kFrameHeaderLen) return Fault::malformed;
  f.body = in.subspan(kFrameHeaderLen, len);
  in = in.subspan(kFrameHeaderLen + len);
  if (f.raw_type < 0x01 || f.raw_type > 0x0b) return Fault::none;  // unknown: skipped
  f.known = true;
  f.type = static_cast<FrameType>(f.raw_type);
  const auto& b = f.body;
  bool stream_frame = f.type <= FrameType::dgram || f.type == FrameType::open_ack;
  if (stream_frame ? f.id == 0 : f.id != 0) return Fault::malformed;
  switch (f.type) {
    case FrameType::open:
      if (b.size() < 6 || b[0] > 1) return Fault::malformed;
      f.kind = static_cast<StreamKind>(b[0]);
      f.window = get_u32(b.data() + 1);
      f.target = as_text(b.subspan(5));
      if (!valid_target(f.target)) return Fault::malformed;
      break;
    case FrameType::data:
      break;
    case FrameType::window:
      if (b.size() != 4) return Fault::malformed;
      f.window = get_u32(b.data());
      if (f.window == 0) return Fault::malformed;
      break;
    case FrameType::fin:
    case FrameType::key_update:
    case FrameType::open_ack:
      if (!b.empty()) return Fault::malformed;
      break;
    case FrameType::rst:
    case FrameType::close:
      if (b.size() < 2 || b.size() > 2 + kMaxReason) return Fault::malformed;
      f.code = get_u16(b.data());
      f.reason = as_text(b.subspan(2));
      if (!printable(f.reason)) return Fault::malformed;
      break;
    case FrameType::dgram:
      if (b.size() > kMaxDatagram) return Fault::oversized;
      break;
    case FrameType::ping:
    case FrameType::pong:
      if (b.size() > kMaxPing) return Fault::oversized;
      break;
  }
  return Fault::none;
}

}  // namespace tunnel::proto
