// Fuzz target: the warren-tunnel(7) codec — the frames of a record plaintext, the Hello and
// Welcome handshake payloads, targets and site ids (all bytes a hostile peer controls once it
// is authenticated), and tunneld's allow-list rules (configuration text).
#include <cstdint>
#include <string_view>

#include "tunnel/config.h"
#include "tunnel/proto/frames.h"

using namespace tunnel::proto;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const uint8_t> in(data, size);
  std::span<const uint8_t> rest = in;
  for (int i = 0; !rest.empty() && i < 100000; ++i) {
    Frame f;
    if (next_frame(rest, f) != Fault::none) break;
    if (f.known && f.type == FrameType::open && !valid_target(f.target)) break;
  }

  // A payload that decodes re-encodes to the same known fields.
  Hello h;
  if (decode(in, h) == Fault::none) {
    std::vector<uint8_t> again;
    encode(h, again);
    Hello h2;
    if (decode(again, h2) != Fault::none || h2.site_id != h.site_id ||
        h2.lane_group != h.lane_group || h2.timestamp != h.timestamp)
      __builtin_trap();
  }
  Welcome w;
  if (decode(in, w) == Fault::none) {
    std::vector<uint8_t> again;
    encode(w, again);
    Welcome w2;
    if (decode(again, w2) != Fault::none || w2.session_id != w.session_id) __builtin_trap();
  }

  std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)valid_target(text);
  (void)valid_site_id(text);
  if (auto r = tunnel::AllowList::parse_rule(text)) {
    tunnel::AllowList a;
    a.add(std::move(*r));
    const uint8_t v4[4] = {10, 1, 2, 3};
    (void)a.allows_addr(v4, 443);
    (void)a.allows_name(text, 443);
  }
  return 0;
}
