// The byte layouts of warren-tunnel(7): frame and payload encodings, and a whole deterministic
// session (fixed static and ephemeral keys) whose wire bytes the man page prints as test vectors.
// Also: the decoders survive random input.
#include "harness.h"

#include "core/text.h"

using namespace tunnel_test;

namespace {

std::string hexv(const std::vector<uint8_t>& v) {
  return core::hex(v);
}

Key key(const char* h) {
  auto b = core::unhex(h);
  REQUIRE(b);
  Key k;
  std::copy(b->begin(), b->end(), k.begin());
  return k;
}

// The vectors are minor version 1's (a minor-2 pair differs in the version bytes and sends an
// RTT probe after confirming).
Hello man_hello() {
  Hello h;
  h.minor = 1;
  h.timestamp = tai64n_from_unix(1800000000, 123456789);
  h.lane_group = 0x0123456789abcdef;
  h.lane_index = 0;
  h.lane_count = 2;
  h.initial_window = 524288;
  h.site_id = "homelab";
  return h;
}

}  // namespace

TEST_CASE("frame encodings match warren-tunnel(7)", "[tunnel][codec]") {
  std::vector<uint8_t> v;
  auto take = [&] {
    auto s = hexv(v);
    v.clear();
    return s;
  };
  append_open(v, 2, StreamKind::tcp, 524288, "192.168.1.10:8080");
  REQUIRE(take() == "010000160000000200000800003139322e3136382e312e31303a38303830");
  append_data(v, 2, bytes("hello"));
  REQUIRE(take() == "020000050000000268656c6c6f");
  append_window(v, 2, 131072);
  REQUIRE(take() == "030000040000000200020000");
  append_fin(v, 2);
  REQUIRE(take() == "0400000000000002");
  append_rst(v, 3, ResetCode::connect_failed, "refused");
  REQUIRE(take() == "0500000900000003000272656675736564");
  append_dgram(v, 5, bytes("dns?"));
  REQUIRE(take() == "0600000400000005646e733f");
  uint8_t one[8] = {0, 0, 0, 0, 0, 0, 0, 1};
  append_ping(v, FrameType::ping, one);
  REQUIRE(take() == "07000008000000000000000000000001");
  append_ping(v, FrameType::pong, one);
  REQUIRE(take() == "08000008000000000000000000000001");
  append_close(v, CloseCode::going_away, "shutdown");
  REQUIRE(take() == "0900000a00000000000273687574646f776e");
  append_key_update(v);
  REQUIRE(take() == "0a00000000000000");
}

TEST_CASE("handshake payloads round-trip and match warren-tunnel(7)", "[tunnel][codec]") {
  std::vector<uint8_t> v;
  encode(man_hello(), v);
  REQUIRE(hexv(v) ==
          "0100400000006b49d20a075bcd150123456789abcdef000000020008000007686f6d656c6162");
  Hello h;
  REQUIRE(decode(v, h) == Fault::none);
  REQUIRE(h.site_id == "homelab");
  REQUIRE(h.timestamp == man_hello().timestamp);
  REQUIRE(h.lane_count == 2);
  v.push_back(0xee);  // a later minor version's extra field is ignored
  REQUIRE(decode(v, h) == Fault::none);
  v.pop_back();
  v[30] = 8;  // site id longer than the payload
  REQUIRE(decode(v, h) == Fault::malformed);

  v.clear();
  encode(Welcome{1, 42, 524288, 10000, 30000}, v);
  REQUIRE(hexv(v) == "0100000000000000002a000800000000271000007530");
  Welcome w;
  REQUIRE(decode(v, w) == Fault::none);
  REQUIRE(w.session_id == 42);
  REQUIRE(w.idle_timeout_ms == 30000);
  put_u32(v.data() + 18, 10000);  // idle timeout not above the keepalive
  REQUIRE(decode(v, w) == Fault::malformed);

  REQUIRE(valid_target("192.168.1.10:8080"));
  REQUIRE(valid_target("[::1]:443"));
  REQUIRE(valid_target("db.internal:5432"));
  REQUIRE_FALSE(valid_target(":80"));
  REQUIRE_FALSE(valid_target("host:0"));
  REQUIRE_FALSE(valid_target("host:65536"));
  REQUIRE_FALSE(valid_target("host name:80"));
  REQUIRE_FALSE(valid_target("host:"));
  REQUIRE(tai64n_from(std::chrono::system_clock::time_point{} + std::chrono::seconds(5)) ==
          tai64n_from_unix(5, 0));
}

TEST_CASE("a whole deterministic session matches the vectors in warren-tunnel(7)",
          "[tunnel][codec]") {
  // The cacophony IK keys, with Warren's prologue and payloads.
  ReplayGuard guard;
  TimePoint now{};
  InitiatorConfig ic;
  ic.static_priv = key("e61ef9919cde45dd5f82166404bd08e38bceb5dfdfded0a34c8df7ed542214d1");
  ic.ephemeral_priv = key("893e28b9dc6ca8d611ab664754b8ceb7bac5117349a4439a6b0569da977c464a");
  Key edge_priv = key("4a3acbfdb163dec651dfa3194dece676d437029c62a408b4c5ea9114246e4893");
  ic.responder_static = crypto::public_from_private(edge_priv);
  ic.hello = man_hello();
  ic.settings.minor = 1;
  ResponderConfig rc;
  rc.settings.minor = 1;
  rc.static_priv = edge_priv;
  rc.ephemeral_priv = key("bbdb4cdbd309f1a1f2e1456967fe288cadd6f712d65dc7b7793d5e63da6b375b");
  rc.replay = &guard;
  rc.lookup = [](const Key&) { return std::optional<PeerEntry>(PeerEntry{}); };
  rc.accept = [](const Key&, const Hello&) { return std::optional<uint64_t>(42); };
  auto site = Session::initiator(ic, now);
  auto edge = Session::responder(rc, now);
  REQUIRE(site);
  REQUIRE(edge);
  REQUIRE(core::hex(crypto::public_from_private(ic.static_priv)) ==
          "6bc3822a2aa7f4e6981d6538692b3cdf3e6df9eea6ed269eb41d93c22757b75a");

  auto step = [&](Session& from, Session& to) {
    std::string h = core::hex(from.output());
    REQUIRE(to.on_bytes(from.output(), now));
    from.consume_output(from.output().size());
    return h;
  };
  REQUIRE(step(*site, *edge) ==
          "0100008701ca35def5ae56cec33dc2036731ab14896bc4c75dbb07a61f879f8e3afa4c7944ba83a447b38c8"
          "3e327ad936929812f624884847b7831e95e197b2f797088efdd79a0ee600cab2421fd71fb342aec153cab3b"
          "6378220886ad25aa2c405a469c3e135e8f41f021a3a8e5ddd6e0265ee1a82a0e3f7ce391068ad4e9071ff1b"
          "5f326769a7991c3b5");
  REQUIRE(step(*edge, *site) ==
          "0200004695ebc60d2b1fa672c1f46a8aa265ef51bfe38e7ccb39ec5be34069f144808843d373e9541b7f938"
          "c51957829ddc2fc8099874caa50f019a9187c7d5f4be9c4e2443b143c4212");
  REQUIRE(core::hex(site->handshake_hash()) ==
          "c1ece9eeca398b105a541d16a52ef84e6206944abdf02da592022bd864eed4edb02bd115b3ef0538566bfa4"
          "5bafcbc2db57e7fb993bfc19ce43a89ef41def564");
  // Site record 0: PING(00..01). Edge record 0: PONG; 1: OPEN(2, 192.168.1.10:8080); 2: DATA.
  REQUIRE(step(*site, *edge) ==
          "030000208c7a18794ec7eae54da9c95a777dd9487c2f7ea0b33ed4fc54a608f27d59afda");
  REQUIRE(step(*edge, *site) ==
          "03000020e337a1db220bdaaa11a327281b5e70e9d02b06dda29ea3ccd2c7bb12e74785a2");
  auto id = edge->open_stream("192.168.1.10:8080");
  REQUIRE(id);
  REQUIRE(*id == 2);
  REQUIRE(step(*edge, *site) ==
          "0300002ecfe26ea15567a697f59a4ffb157e6d6ef508a2a383e9cc9733f454a42e28ce770259d8402cd890e"
          "1eccc50aaef32");
  REQUIRE(edge->send(*id, bytes("hello")) == 5);
  REQUIRE(step(*edge, *site) ==
          "0300001d06ba1530cbb1de46cf66528879a60d4e63ad57382462cc873164e91270");
}

TEST_CASE("the frame and payload decoders survive random input", "[tunnel][codec]") {
  std::mt19937_64 rng(777);
  size_t frames = 0, faults = 0;
  for (int i = 0; i < 20000; ++i) {
    std::vector<uint8_t> buf(rng() % 64);
    for (auto& b : buf) b = uint8_t(rng());
    if (!buf.empty() && i % 2) buf[0] = uint8_t(1 + rng() % 10);  // mostly known types
    if (buf.size() >= 4 && i % 3 == 0) put_u24(buf.data() + 1, uint32_t(buf.size() - 8));
    std::span<const uint8_t> in(buf);
    for (int guard = 0; guard < 100 && !in.empty(); ++guard) {
      Frame f;
      size_t before = in.size();
      if (next_frame(in, f) != Fault::none) {
        ++faults;
        break;
      }
      REQUIRE(in.size() < before);  // always progresses
      ++frames;
    }
    Hello h;
    Welcome w;
    (void)decode(buf, h);
    (void)decode(buf, w);
  }
  REQUIRE(frames > 0);
  REQUIRE(faults > 0);
}
