// tunnel::proto wire basics: the constants of warren-tunnel(7), big-endian byte helpers, the
// fault codes a session can end with, and the close/reset code tables. Pure values and functions,
// no I/O; usable from any thread.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "core/error.h"

namespace tunnel::proto {

using Clock = std::chrono::steady_clock;
using TimePoint = Clock::time_point;  // injected by the caller; the core never reads a clock
using Duration = Clock::duration;

// Prologue mixed into every handshake: protocol name and major version.
inline constexpr std::string_view kPrologue = "warren-tunnel/1";
// Carried in both handshake payloads. 2 added OPEN_ACK; a session speaks min(ours, peer's).
inline constexpr uint8_t kMinorVersion = 2;
inline constexpr uint8_t kMinorOpenAck = 2;  // first minor version with OPEN_ACK

// Outer message header: type (1 byte) + body length (3 bytes, big-endian).
inline constexpr size_t kHeaderLen = 4;
inline constexpr uint8_t kMsgHandshakeInit = 0x01;
inline constexpr uint8_t kMsgHandshakeResp = 0x02;
inline constexpr uint8_t kMsgRecord = 0x03;
inline constexpr size_t kMaxHandshakeBody = 1024;

inline constexpr size_t kTagLen = 16;
// Largest record plaintext: 128 KiB, so one 64 KiB (or up to 128 KiB − 8) socket read is sealed
// as a single DATA frame with one AEAD call, while a receiver buffers at most one record.
inline constexpr size_t kMaxRecordPlaintext = 128 * 1024;
inline constexpr size_t kMaxRecordBody = kMaxRecordPlaintext + kTagLen;

// Frame header inside a record: type (1) + body length (3, big-endian) + id (4, big-endian).
inline constexpr size_t kFrameHeaderLen = 8;
inline constexpr size_t kMaxFrameBody = kMaxRecordPlaintext - kFrameHeaderLen;
// Where DATA bytes start in a sealed record: record header + frame header.
inline constexpr size_t kDataOffset = kHeaderLen + kFrameHeaderLen;

enum class FrameType : uint8_t {
  open = 0x01,
  data = 0x02,
  window = 0x03,
  fin = 0x04,
  rst = 0x05,
  dgram = 0x06,
  ping = 0x07,
  pong = 0x08,
  close = 0x09,
  key_update = 0x0a,
  open_ack = 0x0b,  // minor 2: the stream's target is connected (sent by the side that accepted)
};

enum class StreamKind : uint8_t { tcp = 0, udp = 1 };

inline constexpr size_t kMaxTarget = 255;      // "host:port" in OPEN
inline constexpr size_t kMaxDatagram = 65535;  // DGRAM payload
inline constexpr size_t kMaxPing = 64;         // PING/PONG opaque payload
inline constexpr size_t kMaxReason = 255;      // text in RST/CLOSE
inline constexpr size_t kMaxSiteId = 64;

// Rekey defaults (sender side; configurable) and the receiver's hard limits (fixed by the spec).
inline constexpr uint64_t kRekeyAfterRecords = uint64_t{1} << 20;
inline constexpr uint64_t kRekeyAfterBytes = uint64_t{1} << 34;
inline constexpr Duration kRekeyAfterTime = std::chrono::seconds(120);
inline constexpr uint64_t kRejectAfterRecords = uint64_t{1} << 21;
inline constexpr uint64_t kRejectAfterBytes = uint64_t{1} << 35;

// RST codes (per stream).
enum class ResetCode : uint16_t {
  cancel = 0,          // the application gave up on the stream; no error
  refused = 1,         // target not allowed by policy
  connect_failed = 2,  // the target refused the connection
  unreachable = 3,     // no route / DNS failure / connect timeout
  target_reset = 4,    // the target reset the connection
  stream_limit = 5,    // too many open streams
  internal = 6,
};

// CLOSE codes (whole session).
enum class CloseCode : uint16_t {
  normal = 0,
  protocol_error = 1,
  going_away = 2,  // daemon shutting down or reloading
  replaced = 3,    // a newer session from the same key took over
  idle_timeout = 4,
  internal = 5,
  flow_control = 6,
  duplicate = 7,  // another process with the same site key holds the session (back off)
};

// Why a session ended (or a message was refused). Never asserted on: network bytes only ever
// produce one of these.
enum class Fault : uint8_t {
  none = 0,
  malformed,      // a header, payload or frame does not parse
  oversized,      // a length above the spec's maximum
  bad_mac,        // AEAD authentication failed (tampered, wrong key, wrong suite)
  bad_key,        // a DH result of zero (low-order public key)
  unknown_key,    // the initiator's static key is not known
  replay,         // handshake timestamp not newer than the last accepted one
  refused,        // the accept hook said no, or the suite is not allowed
  protocol,       // a frame that is not allowed in the current state
  flow_control,   // the peer sent more than its credit
  rekey_overdue,  // the peer did not update its key within the hard limits
  timeout,        // handshake or idle timeout (from on_tick)
  peer_closed,    // the peer sent CLOSE
  local_closed,   // close() was called
  nonce_exhausted,
};

const char* to_string(Fault f);
const char* to_string(ResetCode c);
const char* to_string(CloseCode c);
const char* to_string(FrameType t);
// The error value a failed call returns: Errc::noperm for key/replay/refused, Errc::tempfail for
// timeouts, Errc::data otherwise; message "tunnel: <fault>[: detail]".
core::Error fault_error(Fault f, std::string_view detail = {});

// Big-endian helpers (no alignment requirements).
inline void put_u16(uint8_t* p, uint16_t v) {
  p[0] = uint8_t(v >> 8);
  p[1] = uint8_t(v);
}
inline void put_u24(uint8_t* p, uint32_t v) {
  p[0] = uint8_t(v >> 16);
  p[1] = uint8_t(v >> 8);
  p[2] = uint8_t(v);
}
inline void put_u32(uint8_t* p, uint32_t v) {
  p[0] = uint8_t(v >> 24);
  p[1] = uint8_t(v >> 16);
  p[2] = uint8_t(v >> 8);
  p[3] = uint8_t(v);
}
inline void put_u64(uint8_t* p, uint64_t v) {
  put_u32(p, uint32_t(v >> 32));
  put_u32(p + 4, uint32_t(v));
}
inline uint16_t get_u16(const uint8_t* p) {
  return uint16_t((p[0] << 8) | p[1]);
}
inline uint32_t get_u24(const uint8_t* p) {
  return (uint32_t(p[0]) << 16) | (uint32_t(p[1]) << 8) | p[2];
}
inline uint32_t get_u32(const uint8_t* p) {
  return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | p[3];
}
inline uint64_t get_u64(const uint8_t* p) {
  return (uint64_t(get_u32(p)) << 32) | get_u32(p + 4);
}

// TAI64N label: 8 bytes (2^62 + 10 + Unix seconds, as WireGuard does) + 4 bytes nanoseconds,
// both big-endian; ordered bytewise. Built from a wall-clock time the caller passes in.
struct Tai64n {
  uint64_t seconds = 0;  // the TAI64 label, not Unix seconds
  uint32_t nanos = 0;
  auto operator<=>(const Tai64n&) const = default;
};
Tai64n tai64n_from_unix(int64_t unix_seconds, uint32_t nanos);
Tai64n tai64n_from(std::chrono::system_clock::time_point wall);

}  // namespace tunnel::proto
