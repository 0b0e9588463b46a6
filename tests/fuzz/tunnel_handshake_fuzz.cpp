// Fuzz target: tunnel::proto::Session fed hostile bytes, as tunneld's edge and site are.
// The first input byte picks the victim:
//   0: a responder (the edge) reading a handshake-init message and whatever follows;
//   1: an initiator (the site) that sent its init, reading the "response";
//   2: a responder after a real handshake with fixed keys: the rest is a sequence of
//      [2-byte length][plaintext] records, each sealed with the right key, so every frame
//      reaches the session's state machine (streams, windows, FIN/RST, datagrams, rekey).
// Keys and ephemerals are fixed, so a corpus of valid messages stays valid.
#include <cstdint>
#include <cstring>
#include <optional>
#include <vector>

#include "tunnel/proto/session.h"

using namespace tunnel::proto;

namespace {

Key key_of(uint8_t seed) {
  Key k{};
  for (size_t i = 0; i < k.size(); ++i) k[i] = uint8_t(seed * 31 + i * 7 + 1);
  k[0] &= 248;
  k[31] = uint8_t((k[31] & 127) | 64);
  return k;
}

struct Keys {
  Key site_priv = key_of(1), edge_priv = key_of(2), site_eph = key_of(3), edge_eph = key_of(4);
  Key site_pub = crypto::public_from_private(site_priv);
  Key edge_pub = crypto::public_from_private(edge_priv);
};

const Keys& keys() {
  static const Keys k = [] {
    crypto::init();
    return Keys{};
  }();
  return k;
}

std::optional<Session> responder(ReplayGuard& guard, TimePoint now) {
  ResponderConfig rc;
  rc.static_priv = keys().edge_priv;
  rc.ephemeral_priv = keys().edge_eph;
  rc.replay = &guard;
  rc.lookup = [](const Key& k) -> std::optional<PeerEntry> {
    if (k == keys().site_pub) return PeerEntry{};
    return std::nullopt;
  };
  rc.accept = [](const Key&, const Hello&) { return std::optional<uint64_t>(7); };
  rc.settings.stream_window = 65536;
  rc.settings.max_streams = 64;
  auto s = Session::responder(std::move(rc), now);
  if (!s) __builtin_trap();
  return std::move(*s);
}

// Reacts to events the way tunneld does, so the fuzzer also drives the sending side.
void react(Session& s, std::span<const Event> evs) {
  for (const auto& e : evs) {
    switch (e.type) {
      case EventType::data:
        s.consumed(e.id, e.data.size());
        break;
      case EventType::stream_open:
        if (e.id % 3 == 0) s.reset(e.id, ResetCode::refused, "no");
        break;
      case EventType::window: {
        uint8_t b[300] = {};
        (void)s.send(e.id, b);
        break;
      }
      case EventType::fin:
        s.fin(e.id);
        break;
      case EventType::dgram:
        (void)s.send_dgram(e.id, e.data);
        break;
      default:
        break;
    }
  }
  Buffer out;
  s.swap_output(out);
}

void feed(Session& s, std::span<const uint8_t> in, TimePoint now) {
  auto r = s.on_bytes(in, now);
  if (r) react(s, *r);
  (void)s.on_tick(now + std::chrono::seconds(11));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const TimePoint now = TimePoint{} + std::chrono::hours(1);
  std::span<const uint8_t> body(data + 1, size - 1);
  ReplayGuard guard;
  switch (data[0] % 3) {
    case 0: {
      auto s = responder(guard, now);
      feed(*s, body, now);
      return 0;
    }
    case 1: {
      InitiatorConfig ic;
      ic.static_priv = keys().site_priv;
      ic.responder_static = keys().edge_pub;
      ic.ephemeral_priv = keys().site_eph;
      ic.hello.site_id = "fuzz";
      ic.hello.timestamp = tai64n_from_unix(1'800'000'000, 0);
      auto s = Session::initiator(std::move(ic), now);
      if (!s) __builtin_trap();
      Buffer out;
      s->swap_output(out);
      feed(*s, body, now);
      return 0;
    }
    default: {
      auto edge = responder(guard, now);
      Handshake hs({Suite::ik_chachapoly_blake2b, Handshake::Role::initiator, keys().site_priv,
                    keys().edge_pub, std::vector<uint8_t>(kPrologue.begin(), kPrologue.end()),
                    keys().site_eph});
      Hello h;
      h.timestamp = tai64n_from_unix(1'800'000'000, 0);
      h.initial_window = 65536;
      h.site_id = "fuzz";
      std::vector<uint8_t> payload, m1{uint8_t(Suite::ik_chachapoly_blake2b)};
      encode(h, payload);
      if (hs.write_message1(payload, m1) != Fault::none) __builtin_trap();
      std::vector<uint8_t> msg(kHeaderLen);
      msg[0] = kMsgHandshakeInit;
      put_u24(msg.data() + 1, uint32_t(m1.size()));
      msg.insert(msg.end(), m1.begin(), m1.end());
      if (!edge->on_bytes(msg, now)) __builtin_trap();
      Buffer reply;
      edge->swap_output(reply);
      std::vector<uint8_t> welcome;
      if (reply.size() < kHeaderLen ||
          hs.read_message2(reply.bytes().subspan(kHeaderLen), welcome) != Fault::none)
        __builtin_trap();
      CipherState send(Cipher::chachapoly);
      send.initialize_key(hs.split().send);
      while (body.size() >= 2) {
        size_t n = std::min<size_t>(get_u16(body.data()), body.size() - 2);
        std::vector<uint8_t> rec(kHeaderLen + n + kTagLen);
        rec[0] = kMsgRecord;
        put_u24(rec.data() + 1, uint32_t(n + kTagLen));
        send.encrypt({rec.data(), kHeaderLen}, body.data() + 2, n, rec.data() + kHeaderLen);
        uint64_t rekeys = edge->stats().rekeys_received;
        auto r = edge->on_bytes(rec, now);
        if (!r) break;
        if (edge->stats().rekeys_received != rekeys) send.rekey();  // a KEY_UPDATE went in
        react(*edge, *r);
        body = body.subspan(2 + n);
      }
      (void)edge->on_tick(now + std::chrono::minutes(5));
      return 0;
    }
  }
}
