// tunnel::proto codec: the handshake payloads (Hello from the site, Welcome from the edge) and the
// frames inside a record, as laid out in warren-tunnel(7). Encoders append to a byte vector;
// decoders take untrusted bytes and return a Fault, never assert. Pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tunnel/proto/wire.h"

namespace tunnel::proto {

// First handshake payload (initiator = site -> responder = edge).
struct Hello {
  uint8_t minor = kMinorVersion;
  Tai64n timestamp;             // replay protection, strictly increasing per (key, lane)
  uint64_t lane_group = 0;      // random per site run: lanes of one group belong together
  uint16_t lane_index = 0;      // 0 .. lane_count-1
  uint16_t lane_count = 1;      // lanes the site keeps up
  uint32_t initial_window = 0;  // credit the site grants per stream the edge sends on
  std::string site_id;          // the site's name as configured (informational; the key decides)
};
inline constexpr size_t kHelloFixedLen = 31;

// Second handshake payload (edge -> site).
struct Welcome {
  uint8_t minor = kMinorVersion;
  uint64_t session_id = 0;       // chosen by the edge; shared by the lanes of one group
  uint32_t initial_window = 0;   // credit the edge grants per stream the site sends on
  uint32_t keepalive_ms = 0;     // both sides send a PING after this long without sending
  uint32_t idle_timeout_ms = 0;  // both sides give up after this long without receiving
};
inline constexpr size_t kWelcomeLen = 22;

void encode(const Hello& h, std::vector<uint8_t>& out);
void encode(const Welcome& w, std::vector<uint8_t>& out);
// Trailing bytes after the known fields are ignored (room for later minor versions).
Fault decode(std::span<const uint8_t> in, Hello& out);
Fault decode(std::span<const uint8_t> in, Welcome& out);

// One decoded frame; spans point into the record plaintext.
struct Frame {
  uint8_t raw_type = 0;
  FrameType type{};
  bool known = false;  // false: a frame type this version does not define (skipped)
  uint32_t id = 0;
  std::span<const uint8_t> body;
  // Fields by type.
  StreamKind kind = StreamKind::tcp;  // OPEN
  uint32_t window = 0;                // OPEN initial window, WINDOW credit
  std::string_view target;            // OPEN
  uint16_t code = 0;                  // RST, CLOSE
  std::string_view reason;            // RST, CLOSE
};

// Decodes the frame at the front of `in` and advances `in` past it. Checks lengths and the
// fields of known types (ids, sizes, kinds); the session checks the state rules.
Fault next_frame(std::span<const uint8_t>& in, Frame& f);

// Frame encoders (append one whole frame).
void put_frame_header(uint8_t* p, FrameType t, uint32_t body_len, uint32_t id);
void append_open(std::vector<uint8_t>& out, uint32_t id, StreamKind kind, uint32_t window,
                 std::string_view target);
void append_data(std::vector<uint8_t>& out, uint32_t id, std::span<const uint8_t> data);
void append_window(std::vector<uint8_t>& out, uint32_t id, uint32_t credit);
void append_fin(std::vector<uint8_t>& out, uint32_t id);
void append_rst(std::vector<uint8_t>& out, uint32_t id, ResetCode code, std::string_view reason);
void append_dgram(std::vector<uint8_t>& out, uint32_t id, std::span<const uint8_t> data);
void append_ping(std::vector<uint8_t>& out, FrameType ping_or_pong, std::span<const uint8_t> body);
void append_close(std::vector<uint8_t>& out, CloseCode code, std::string_view reason);
void append_key_update(std::vector<uint8_t>& out);
void append_open_ack(std::vector<uint8_t>& out, uint32_t id);

// A target is "host:port": 1..255 bytes, printable ASCII without spaces, ending in ":<1-65535>".
bool valid_target(std::string_view t);
// A site id: 0..64 bytes of [A-Za-z0-9._-].
bool valid_site_id(std::string_view s);

}  // namespace tunnel::proto
