// Test harness: a site (initiator) and an edge (responder) Session wired back to back in memory,
// with an injected clock, plus a "raw peer" that speaks the protocol by hand (Handshake,
// CipherState and the frame encoders) to send what a correct Session never would.
#pragma once

#include "../support.h"

#include <optional>
#include <random>
#include <string>
#include <vector>

#include "tunnel/proto/session.h"

namespace tunnel_test {

using namespace tunnel::proto;
using namespace std::chrono_literals;

// Events with owned bytes (a Session's spans die at its next input call).
struct Ev {
  EventType type;
  uint32_t id = 0;
  StreamKind kind = StreamKind::tcp;
  uint16_t code = 0;
  std::string data;
  std::string text;
};

inline std::vector<Ev> own(std::span<const Event> evs) {
  std::vector<Ev> out;
  for (const auto& e : evs)
    out.push_back(Ev{e.type, e.id, e.kind, e.code,
                     std::string(reinterpret_cast<const char*>(e.data.data()), e.data.size()),
                     std::string(e.text)});
  return out;
}

inline std::span<const uint8_t> bytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

inline size_t count(const std::vector<Ev>& evs, EventType t) {
  size_t n = 0;
  for (const auto& e : evs) n += e.type == t;
  return n;
}

struct Pair {
  crypto::KeyPair site_key = crypto::generate_keypair();
  crypto::KeyPair edge_key = crypto::generate_keypair();
  ReplayGuard guard;
  TimePoint now = TimePoint{} + 1000s;
  InitiatorConfig icfg;
  ResponderConfig rcfg;
  std::optional<Session> site, edge;
  std::vector<Ev> site_ev, edge_ev;  // everything each side reported
  size_t chunk = 0;                  // 0: deliver whole outputs; n: n bytes per on_bytes call
  std::optional<uint64_t> session_id = 42;
  Tai64n stamp = tai64n_from_unix(1'800'000'000, 0);

  Pair() {
    icfg.static_priv = site_key.priv;
    icfg.responder_static = edge_key.pub;
    icfg.hello.site_id = "homelab";
    icfg.hello.lane_group = 0x1122334455667788;
    icfg.hello.lane_index = 1;
    icfg.hello.lane_count = 4;
    rcfg.static_priv = edge_key.priv;
    rcfg.replay = &guard;
    rcfg.lookup = [this](const Key& k) -> std::optional<PeerEntry> {
      if (k == site_key.pub) return PeerEntry{};
      return std::nullopt;
    };
    rcfg.accept = [this](const Key&, const Hello&) { return session_id; };
  }

  // Creates both sessions (the site's handshake-init is then in its output()).
  void start() {
    icfg.hello.timestamp = stamp;
    auto s = Session::initiator(icfg, now);
    REQUIRE(s);
    site.emplace(std::move(*s));
    auto e = Session::responder(rcfg, now);
    REQUIRE(e);
    edge.emplace(std::move(*e));
  }

  // Moves one side's output into the other; false if there was nothing to move.
  bool deliver(Session& from, Session& to, std::vector<Ev>& to_ev) {
    if (from.output().empty()) return false;
    Buffer out;
    from.swap_output(out);
    auto all = out.bytes();
    size_t step = chunk ? chunk : all.size();
    for (size_t at = 0; at < all.size(); at += step) {
      auto r = to.on_bytes(all.subspan(at, std::min(step, all.size() - at)), now);
      REQUIRE(r);
      auto evs = own(*r);
      to_ev.insert(to_ev.end(), evs.begin(), evs.end());
    }
    return true;
  }

  // Delivers until both outputs are empty (bounded).
  void pump() {
    for (int i = 0; i < 1000; ++i) {
      bool a = deliver(*site, *edge, edge_ev);
      bool b = deliver(*edge, *site, site_ev);
      if (!a && !b) return;
    }
    FAIL("pump did not settle");
  }

  void connect() {
    start();
    pump();
    REQUIRE(site->is_open());
    REQUIRE(edge->is_open());
  }

  void advance(Duration d) { now += d; }
};

// A hand-driven initiator: completes the handshake against a responder Session and then seals
// arbitrary plaintext records.
struct RawSite {
  std::optional<Handshake> hs;
  std::optional<CipherState> send, recv;
  Suite suite = Suite::ik_chachapoly_blake2b;

  std::vector<uint8_t> hello_msg(const Pair& p, const Hello& h) {
    hs.emplace(Handshake::Config{suite,
                                 Handshake::Role::initiator,
                                 p.site_key.priv,
                                 p.edge_key.pub,
                                 {kPrologue.begin(), kPrologue.end()}});
    std::vector<uint8_t> payload, body{uint8_t(suite)};
    encode(h, payload);
    REQUIRE(hs->write_message1(payload, body) == Fault::none);
    return framed(kMsgHandshakeInit, body);
  }

  static std::vector<uint8_t> framed(uint8_t type, const std::vector<uint8_t>& body) {
    std::vector<uint8_t> m(kHeaderLen);
    m[0] = type;
    put_u24(m.data() + 1, uint32_t(body.size()));
    m.insert(m.end(), body.begin(), body.end());
    return m;
  }

  // Runs the handshake against p.edge (created by p.start()); leaves the edge confirming.
  void handshake(Pair& p) {
    Hello h;
    h.timestamp = p.stamp;
    h.site_id = "raw";
    h.initial_window = 65536;
    auto m1 = hello_msg(p, h);
    REQUIRE(p.edge->on_bytes(m1, p.now));
    Buffer out;
    p.edge->swap_output(out);
    auto m2 = out.bytes();
    REQUIRE(m2.size() > kHeaderLen);
    REQUIRE(m2[0] == kMsgHandshakeResp);
    std::vector<uint8_t> payload;
    REQUIRE(hs->read_message2(m2.subspan(kHeaderLen), payload) == Fault::none);
    auto k = hs->split();
    send.emplace(cipher_of(suite));
    recv.emplace(cipher_of(suite));
    send->initialize_key(k.send);
    recv->initialize_key(k.recv);
  }

  std::vector<uint8_t> record(const std::vector<uint8_t>& plain) {
    std::vector<uint8_t> r(kHeaderLen + plain.size() + kTagLen);
    r[0] = kMsgRecord;
    put_u24(r.data() + 1, uint32_t(plain.size() + kTagLen));
    REQUIRE(
        send->encrypt({r.data(), kHeaderLen}, plain.data(), plain.size(), r.data() + kHeaderLen));
    return r;
  }
};

}  // namespace tunnel_test
