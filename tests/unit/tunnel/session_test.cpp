// Two Session cores back to back in memory: handshake, streams, flow control, datagrams,
// keepalives, rekeying, and the failure cases (replay, wrong key, tampering, garbage, timeouts).
#include "harness.h"

using namespace tunnel_test;

namespace {

std::string pattern(size_t n, uint8_t seed = 0) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = char((i * 131 + seed) & 0xff);
  return s;
}

// Concatenated DATA for one stream, in order.
std::string received(const std::vector<Ev>& evs, uint32_t id) {
  std::string s;
  for (const auto& e : evs)
    if (e.type == EventType::data && e.id == id) s += e.data;
  return s;
}

const Ev* find(const std::vector<Ev>& evs, EventType t, uint32_t id = 0) {
  for (const auto& e : evs)
    if (e.type == t && (id == 0 || e.id == id)) return &e;
  return nullptr;
}

}  // namespace

TEST_CASE("handshake: site and edge agree, payloads arrive, the edge waits for confirmation",
          "[tunnel][session]") {
  Pair p;
  std::optional<Hello> seen;
  p.rcfg.accept = [&](const Key& k, const Hello& h) -> std::optional<uint64_t> {
    REQUIRE(k == p.site_key.pub);
    seen = h;
    return 77;
  };
  p.start();
  REQUIRE(p.site->state() == State::handshake);
  auto init = p.site->output();
  REQUIRE(init[0] == kMsgHandshakeInit);
  REQUIRE(init[4] == uint8_t(Suite::ik_chachapoly_blake2b));

  p.deliver(*p.site, *p.edge, p.edge_ev);
  REQUIRE(p.edge->state() == State::confirming);  // no stream may be opened yet
  REQUIRE_FALSE(p.edge->open_stream("10.0.0.1:80"));
  REQUIRE(p.edge_ev.empty());
  p.deliver(*p.edge, *p.site, p.site_ev);
  REQUIRE(p.site->is_open());
  REQUIRE(count(p.site_ev, EventType::handshake_done) == 1);
  p.deliver(*p.site, *p.edge, p.edge_ev);  // the site's first record (a PING) confirms
  REQUIRE(p.edge->is_open());
  REQUIRE(count(p.edge_ev, EventType::handshake_done) == 1);
  p.pump();

  REQUIRE(seen);
  REQUIRE(seen->site_id == "homelab");
  REQUIRE(seen->lane_index == 1);
  REQUIRE(seen->lane_count == 4);
  REQUIRE(seen->lane_group == 0x1122334455667788);
  REQUIRE(seen->timestamp == p.stamp);
  REQUIRE(p.edge->hello().site_id == "homelab");
  REQUIRE(p.site->welcome().session_id == 77);
  REQUIRE(p.site->welcome().keepalive_ms == 10000);
  REQUIRE(p.site->welcome().idle_timeout_ms == 30000);
  REQUIRE(p.edge->remote_static() == p.site_key.pub);
  REQUIRE(p.site->handshake_hash() == p.edge->handshake_hash());
  REQUIRE(p.site->stats().rtt);  // the keepalive PONG came back
}

TEST_CASE("every suite connects: ChaChaPoly, AESGCM, and IKpsk2 with the peer's PSK",
          "[tunnel][session]") {
  Key psk;
  psk.fill(7);
  for (Suite s : {Suite::ik_chachapoly_blake2b, Suite::ik_aesgcm_blake2b,
                  Suite::ikpsk2_chachapoly_blake2b, Suite::ikpsk2_aesgcm_blake2b}) {
    INFO(protocol_name(s));
    Pair p;
    p.icfg.suite = s;
    p.rcfg.suites = {s};
    if (uses_psk(s)) {
      p.icfg.psk = psk;
      p.rcfg.lookup = [&](const Key&) { return std::optional<PeerEntry>(PeerEntry{psk}); };
    }
    p.connect();
    REQUIRE(p.site->suite() == s);
    REQUIRE(p.edge->suite() == s);
    auto id = p.edge->open_stream("127.0.0.1:22");
    REQUIRE(id);
    REQUIRE(p.edge->send(*id, bytes("hello")) == 5);
    p.pump();
    REQUIRE(received(p.site_ev, *id) == "hello");
  }
}

TEST_CASE("a wrong PSK, a wrong edge key, an unknown site key and a refusal get no reply",
          "[tunnel][session]") {
  Pair p;
  SECTION("wrong edge public key: bad MAC") {
    p.icfg.responder_static = crypto::generate_keypair().pub;
    p.start();
    auto r = p.edge->on_bytes(p.site->output(), p.now);
    REQUIRE_FALSE(r);
    REQUIRE(p.edge->fault() == Fault::bad_mac);
  }
  SECTION("unknown site key") {
    p.icfg.static_priv = crypto::generate_keypair().priv;
    p.start();
    auto r = p.edge->on_bytes(p.site->output(), p.now);
    REQUIRE_FALSE(r);
    REQUIRE(p.edge->fault() == Fault::unknown_key);
    REQUIRE(r.error().code == core::Errc::noperm);
  }
  SECTION("accept hook refuses") {
    p.session_id.reset();
    p.start();
    REQUIRE_FALSE(p.edge->on_bytes(p.site->output(), p.now));
    REQUIRE(p.edge->fault() == Fault::refused);
  }
  SECTION("suite not allowed by the edge") {
    p.icfg.suite = Suite::ik_aesgcm_blake2b;
    p.rcfg.suites = {Suite::ik_chachapoly_blake2b};
    p.start();
    REQUIRE_FALSE(p.edge->on_bytes(p.site->output(), p.now));
    REQUIRE(p.edge->fault() == Fault::refused);
  }
  SECTION("wrong PSK: the site sees a bad MAC in the reply") {
    Key a, b;
    a.fill(1);
    b.fill(2);
    p.icfg.suite = Suite::ikpsk2_chachapoly_blake2b;
    p.icfg.psk = a;
    p.rcfg.suites = {p.icfg.suite};
    p.rcfg.lookup = [&](const Key&) { return std::optional<PeerEntry>(PeerEntry{b}); };
    p.start();
    REQUIRE(p.edge->on_bytes(p.site->output(), p.now));
    auto r = p.site->on_bytes(p.edge->output(), p.now);
    REQUIRE_FALSE(r);
    REQUIRE(p.site->fault() == Fault::bad_mac);
    return;
  }
  REQUIRE(p.edge->output().empty());  // nothing leaks back to the dialer
  REQUIRE(p.edge->state() == State::failed);
}

TEST_CASE("replayed and stale handshakes are rejected per key and lane", "[tunnel][session]") {
  Pair p;
  p.start();
  std::vector<uint8_t> init(p.site->output().begin(), p.site->output().end());
  REQUIRE(p.edge->on_bytes(init, p.now));
  REQUIRE(p.edge->state() == State::confirming);

  // The same bytes again, to a fresh responder sharing the daemon's guard.
  auto again = Session::responder(p.rcfg, p.now);
  REQUIRE(again);
  auto r = again->on_bytes(init, p.now);
  REQUIRE_FALSE(r);
  REQUIRE(again->fault() == Fault::replay);
  REQUIRE(again->output().empty());

  // A new handshake from the same key and lane with an older or equal timestamp: stale.
  auto older = p.icfg;
  older.hello.timestamp = tai64n_from_unix(1'799'999'999, 999'999'999);
  auto s2 = Session::initiator(older, p.now);
  auto e2 = Session::responder(p.rcfg, p.now);
  REQUIRE_FALSE(e2->on_bytes(s2->output(), p.now));
  REQUIRE(e2->fault() == Fault::replay);

  // Another lane with the same timestamp, and the same lane with a newer one: accepted.
  auto lane2 = p.icfg;
  lane2.hello.lane_index = 2;
  auto s3 = Session::initiator(lane2, p.now);
  auto e3 = Session::responder(p.rcfg, p.now);
  REQUIRE(e3->on_bytes(s3->output(), p.now));
  auto newer = p.icfg;
  newer.hello.timestamp.nanos = 1;
  auto s4 = Session::initiator(newer, p.now);
  auto e4 = Session::responder(p.rcfg, p.now);
  REQUIRE(e4->on_bytes(s4->output(), p.now));
  REQUIRE(e4->state() == State::confirming);
}

TEST_CASE("streams: open with target, data both ways, half-close, reset", "[tunnel][session]") {
  Pair p;
  p.connect();
  auto id = p.edge->open_stream("192.168.1.10:8080");
  REQUIRE(id);
  REQUIRE(*id % 2 == 0);  // the edge (responder) opens even ids
  REQUIRE(p.edge->send(*id, bytes("GET / HTTP/1.1\r\n\r\n")) == 18);
  p.edge->fin(*id);
  p.pump();
  auto open = find(p.site_ev, EventType::stream_open, *id);
  REQUIRE(open);
  REQUIRE(open->text == "192.168.1.10:8080");
  REQUIRE(open->kind == StreamKind::tcp);
  REQUIRE(received(p.site_ev, *id) == "GET / HTTP/1.1\r\n\r\n");
  REQUIRE(find(p.site_ev, EventType::fin, *id));
  REQUIRE(p.site->send_credit(*id) > 0);  // the site may still answer after the edge's FIN

  std::string body = pattern(300000);
  size_t sent = 0;
  for (int i = 0; i < 100 && sent < body.size(); ++i) {
    sent += p.site->send(*id, bytes(body).subspan(sent));
    p.pump();
    p.edge->consumed(*id, received(p.edge_ev, *id).size());
    p.pump();
  }
  REQUIRE(sent == body.size());
  p.site->fin(*id);
  p.pump();
  REQUIRE(received(p.edge_ev, *id) == body);
  REQUIRE(find(p.edge_ev, EventType::fin, *id));
  REQUIRE_FALSE(p.site->stream_exists(*id));  // both directions finished
  REQUIRE_FALSE(p.edge->stream_exists(*id));

  // The site opens too (odd ids); the edge resets it with a code and reason.
  auto sid = p.site->open_stream("[::1]:443");
  REQUIRE(sid);
  REQUIRE(*sid % 2 == 1);
  p.pump();
  REQUIRE(find(p.edge_ev, EventType::stream_open, *sid));
  p.edge->reset(*sid, ResetCode::connect_failed, "connection refused");
  p.pump();
  auto rst = find(p.site_ev, EventType::reset, *sid);
  REQUIRE(rst);
  REQUIRE(rst->code == uint16_t(ResetCode::connect_failed));
  REQUIRE(rst->text == "connection refused");
  REQUIRE_FALSE(p.site->stream_exists(*sid));
  // Data racing the reset is dropped, not an error.
  REQUIRE(p.site->send(*sid, bytes("late")) == 0);
  REQUIRE_FALSE(p.edge->open_stream("no-port"));
}

TEST_CASE("flow control: an unread stream stops its sender and never blocks the others",
          "[tunnel][session]") {
  Pair p;
  p.icfg.settings.stream_window = 64 * 1024;      // the site's receive window per stream
  p.icfg.settings.stream_window_max = 64 * 1024;  // fixed: no auto-tuning here
  p.connect();
  auto slow = p.edge->open_stream("10.0.0.1:1");
  auto fast = p.edge->open_stream("10.0.0.1:2");
  REQUIRE(slow);
  REQUIRE(fast);
  std::string big = pattern(1 << 20, 3);

  // The slow stream is never consumed by the site: exactly one window gets through.
  REQUIRE(p.edge->send(*slow, bytes(big)) == 64 * 1024);
  REQUIRE(p.edge->send_credit(*slow) == 0);
  REQUIRE(p.edge->prepare_data(*slow, 1000).empty());

  // The fast stream moves 1 MiB while the slow one stays stuck.
  size_t sent = 0, delivered = 0;
  for (int i = 0; i < 200 && delivered < big.size(); ++i) {
    sent += p.edge->send(*fast, bytes(big).subspan(sent));
    p.pump();
    size_t now = received(p.site_ev, *fast).size();
    p.site->consumed(*fast, now - delivered);
    delivered = now;
    p.pump();
  }
  REQUIRE(received(p.site_ev, *fast) == big);
  REQUIRE(received(p.site_ev, *slow) == big.substr(0, 64 * 1024));
  REQUIRE(p.edge->send_credit(*slow) == 0);
  REQUIRE(count(p.edge_ev, EventType::window) > 0);

  // Reading the slow stream lets it go on.
  p.edge_ev.clear();
  p.site->consumed(*slow, 64 * 1024);
  p.pump();
  REQUIRE(find(p.edge_ev, EventType::window, *slow));
  REQUIRE(p.edge->send_credit(*slow) == 64 * 1024);
}

TEST_CASE("zero-copy send: a 64 KiB read is sealed in place inside output()", "[tunnel][session]") {
  Pair p;
  p.connect();
  auto id = p.edge->open_stream("10.0.0.1:9");
  REQUIRE(id);
  p.pump();
  size_t before = p.edge->output().size();
  REQUIRE(before == 0);
  auto room = p.edge->prepare_data(*id, 64 * 1024);
  REQUIRE(room.size() == 64 * 1024);
  std::string chunk = pattern(room.size(), 9);
  std::memcpy(room.data(), chunk.data(), chunk.size());  // stands in for recv() into room
  const uint8_t* where = room.data();
  p.edge->commit_data(*id, room.size());
  auto out = p.edge->output();
  REQUIRE(out.size() == kDataOffset + 64 * 1024 + kTagLen);  // one record, one AEAD call
  REQUIRE(out.data() + kDataOffset == where);                // sealed where it was read
  p.pump();
  REQUIRE(received(p.site_ev, *id) == chunk);

  // A reservation can be given back unused, and commit_data without one is ignored.
  auto r2 = p.edge->prepare_data(*id, 100);
  REQUIRE(r2.size() == 100);
  p.edge->commit_data(*id, 0);
  p.edge->commit_data(*id, 50);
  REQUIRE(p.edge->output().empty());
}

TEST_CASE("datagrams travel on UDP flows", "[tunnel][session]") {
  Pair p;
  p.connect();
  auto flow = p.edge->open_flow("10.0.0.53:53");
  REQUIRE(flow);
  for (int i = 0; i < 3; ++i)
    REQUIRE(p.edge->send_dgram(*flow, bytes("query" + std::to_string(i))));
  p.pump();
  auto open = find(p.site_ev, EventType::stream_open, *flow);
  REQUIRE(open);
  REQUIRE(open->kind == StreamKind::udp);
  std::vector<std::string> got;
  for (const auto& e : p.site_ev)
    if (e.type == EventType::dgram) got.push_back(e.data);
  REQUIRE(got == std::vector<std::string>{"query0", "query1", "query2"});
  REQUIRE(p.site->send_dgram(*flow, bytes(std::string(65535, 'x'))));
  REQUIRE_FALSE(p.site->send_dgram(*flow, bytes(std::string(65536, 'x'))));
  REQUIRE(p.site->send(*flow, bytes("no")) == 0);  // DATA does not go on a flow
  p.pump();
  REQUIRE(count(p.edge_ev, EventType::dgram) == 1);
  p.site->reset(*flow, ResetCode::cancel);
  p.pump();
  REQUIRE(find(p.edge_ev, EventType::reset, *flow));
  REQUIRE_FALSE(p.edge->send_dgram(*flow, bytes("gone")));
}

TEST_CASE("ping/pong, keepalives and the idle timeout run on the injected clock",
          "[tunnel][session]") {
  Pair p;
  p.rcfg.settings.keepalive = 5s;
  p.rcfg.settings.idle_timeout = 15s;
  p.connect();
  p.edge->ping(bytes("opaque"));
  p.pump();
  REQUIRE(count(p.edge_ev, EventType::pong) == 2);  // the edge's first RTT probe, then ours
  REQUIRE(p.edge_ev.back().type == EventType::pong);
  REQUIRE(p.edge_ev.back().data == "opaque");
  REQUIRE(p.edge->stats().rtt);

  // Quiet for a keepalive interval: each side pings; with the pongs flowing nobody times out.
  REQUIRE(p.site->next_tick() == p.now + 5s);
  for (int i = 0; i < 10; ++i) {
    p.advance(5s);
    REQUIRE(p.site->on_tick(p.now));
    REQUIRE(p.edge->on_tick(p.now));
    p.pump();
  }
  REQUIRE(p.site->is_open());
  REQUIRE(p.edge->is_open());
  REQUIRE(p.site->stats().rtt);

  // Now the site goes silent (kill -9): the edge gives up after the idle timeout.
  p.advance(10s);
  REQUIRE(p.edge->on_tick(p.now));
  p.advance(5s);
  auto r = p.edge->on_tick(p.now);
  REQUIRE_FALSE(r);
  REQUIRE(p.edge->fault() == Fault::timeout);
  REQUIRE(r.error().code == core::Errc::tempfail);
  // Its last words: CLOSE(idle_timeout), which the site reads as a clean close.
  REQUIRE_FALSE(p.edge->output().empty());
  p.deliver(*p.edge, *p.site, p.site_ev);
  auto closed = find(p.site_ev, EventType::closed);
  REQUIRE(closed);
  REQUIRE(closed->code == uint16_t(CloseCode::idle_timeout));
  REQUIRE(p.site->state() == State::closed);
}

TEST_CASE("handshake timeout", "[tunnel][session]") {
  Pair p;
  p.start();
  REQUIRE(p.edge->next_tick() == p.now + 10s);
  p.advance(9s);
  REQUIRE(p.edge->on_tick(p.now));
  p.advance(1s);
  REQUIRE_FALSE(p.edge->on_tick(p.now));
  REQUIRE(p.edge->fault() == Fault::timeout);
  REQUIRE_FALSE(p.site->on_tick(p.now));
}

TEST_CASE("rekey: after N records, after N bytes and after T, both sides in lockstep",
          "[tunnel][session]") {
  Pair p;
  SECTION("after N records") {
    p.rcfg.settings.rekey_after_records = 5;
    p.connect();
    auto id = p.edge->open_stream("10.0.0.1:7");
    REQUIRE(id);
    std::string all;
    for (int i = 0; i < 50; ++i) {
      std::string m = "message " + std::to_string(i) + ";";
      REQUIRE(p.edge->send(*id, bytes(m)) == m.size());
      all += m;
    }
    p.pump();
    REQUIRE(received(p.site_ev, *id) == all);
    // 51 records (OPEN + 50 DATA), a KEY_UPDATE after every 5th.
    REQUIRE(p.edge->stats().rekeys_sent == 10);
    REQUIRE(p.site->stats().rekeys_received == 10);
    REQUIRE(p.site->stats().rekeys_sent == 0);  // each direction rekeys on its own
    // Control-only records count too (PINGs here), and rekeying from inside a flush works.
    for (int i = 0; i < 20; ++i) p.edge->ping(bytes("p"));
    p.pump();
    REQUIRE(p.edge->stats().rekeys_sent == 14);
    REQUIRE(p.site->stats().rekeys_received == 14);
    REQUIRE(count(p.edge_ev, EventType::pong) == 21);  // and the RTT probe after confirming
  }
  SECTION("after N bytes") {
    p.icfg.settings.rekey_after_bytes = 100000;
    p.connect();
    auto id = p.site->open_stream("10.0.0.1:7");
    REQUIRE(id);
    std::string big = pattern(400000, 5);
    size_t sent = 0;
    for (int i = 0; i < 100 && sent < big.size(); ++i) {
      sent += p.site->send(*id, bytes(big).subspan(sent));
      p.pump();
      p.edge->consumed(*id, 1 << 20);
      p.pump();
    }
    REQUIRE(received(p.edge_ev, *id) == big);
    REQUIRE(p.site->stats().rekeys_sent >= 3);
    REQUIRE(p.edge->stats().rekeys_received == p.site->stats().rekeys_sent);
  }
  SECTION("after T, driven by on_tick") {
    p.rcfg.settings.keepalive = 200s;
    p.rcfg.settings.idle_timeout = 600s;
    p.connect();
    REQUIRE(p.edge->next_tick() == p.now + kRekeyAfterTime);
    p.advance(kRekeyAfterTime);
    REQUIRE(p.edge->on_tick(p.now));
    REQUIRE(p.site->on_tick(p.now));
    p.pump();
    REQUIRE(p.edge->stats().rekeys_sent == 1);
    REQUIRE(p.site->stats().rekeys_sent == 1);
    REQUIRE(p.edge->stats().rekeys_received == 1);
    auto id = p.edge->open_stream("10.0.0.1:7");
    REQUIRE(id);
    REQUIRE(p.edge->send(*id, bytes("after rekey")) == 11);
    p.pump();
    REQUIRE(received(p.site_ev, *id) == "after rekey");
  }
}

TEST_CASE("chunked input: everything works one byte at a time", "[tunnel][session]") {
  Pair p;
  p.chunk = 1;
  p.rcfg.settings.rekey_after_records = 3;
  p.connect();
  auto id = p.edge->open_stream("10.1.2.3:4567");
  REQUIRE(id);
  std::string msg = pattern(3000, 1);
  REQUIRE(p.edge->send(*id, bytes(msg)) == msg.size());
  p.edge->fin(*id);
  auto flow = p.site->open_flow("10.0.0.53:53");
  REQUIRE(p.site->send_dgram(*flow, bytes("dns")));
  p.pump();
  REQUIRE(received(p.site_ev, *id) == msg);
  REQUIRE(find(p.site_ev, EventType::fin, *id));
  REQUIRE(find(p.edge_ev, EventType::dgram, *flow)->data == "dns");
  REQUIRE(p.site->stats().rekeys_received >= 1);

  // Odd chunk sizes too.
  for (size_t c : {2u, 3u, 7u, 1000u, 4097u}) {
    Pair q;
    q.chunk = c;
    q.connect();
    auto s = q.site->open_stream("h:1");
    REQUIRE(q.site->send(*s, bytes(msg)) == msg.size());
    q.pump();
    REQUIRE(received(q.edge_ev, *s) == msg);
  }
}

TEST_CASE("tampered ciphertext and headers are rejected", "[tunnel][session]") {
  Pair p;
  p.connect();
  auto id = p.edge->open_stream("10.0.0.1:80");
  REQUIRE(id);
  p.pump();
  REQUIRE(p.edge->send(*id, bytes("secret payload")) == 14);
  std::vector<uint8_t> rec(p.edge->output().begin(), p.edge->output().end());
  p.edge->consume_output(rec.size());

  SECTION("a flipped ciphertext bit") {
    rec[kDataOffset + 3] ^= 0x40;
    auto r = p.site->on_bytes(rec, p.now);
    REQUIRE_FALSE(r);
    REQUIRE(p.site->fault() == Fault::bad_mac);
    REQUIRE(received(p.site_ev, *id).empty());
  }
  SECTION("a flipped tag bit") {
    rec.back() ^= 1;
    REQUIRE_FALSE(p.site->on_bytes(rec, p.now));
    REQUIRE(p.site->fault() == Fault::bad_mac);
  }
  SECTION("a changed length (authenticated as associated data)") {
    rec.push_back(0);
    put_u24(rec.data() + 1, get_u24(rec.data() + 1) + 1);
    REQUIRE_FALSE(p.site->on_bytes(rec, p.now));
    REQUIRE(p.site->fault() == Fault::bad_mac);
  }
  SECTION("a replayed record") {
    REQUIRE(p.site->on_bytes(rec, p.now));
    REQUIRE_FALSE(p.site->on_bytes(rec, p.now));
    REQUIRE(p.site->fault() == Fault::bad_mac);
  }
  SECTION("an oversized length is refused from the header alone") {
    std::vector<uint8_t> hdr = {kMsgRecord, 0x02, 0x00, 0x11};  // 131089 > 128 KiB + 16
    REQUIRE_FALSE(p.site->on_bytes(hdr, p.now));
    REQUIRE(p.site->fault() == Fault::oversized);
  }
  // The failed session says why (CLOSE) and refuses everything after.
  REQUIRE(p.site->state() == State::failed);
  REQUIRE_FALSE(p.site->on_bytes(std::vector<uint8_t>{1}, p.now));
  p.deliver(*p.site, *p.edge, p.edge_ev);
  auto closed = find(p.edge_ev, EventType::closed);
  REQUIRE(closed);
  REQUIRE(closed->code == uint16_t(CloseCode::protocol_error));
}

TEST_CASE("random garbage returns an error, never a crash", "[tunnel][session]") {
  std::mt19937_64 rng(12345);
  auto garbage = [&](size_t n) {
    std::vector<uint8_t> g(n);
    for (auto& b : g) b = uint8_t(rng());
    return g;
  };
  for (int i = 0; i < 200; ++i) {
    Pair p;
    p.start();
    // A fresh edge: 2000 bytes always complete a header and (if the type fits) a body.
    auto r = p.edge->on_bytes(garbage(2000), p.now);
    REQUIRE_FALSE(r);
    REQUIRE(p.edge->output().empty());
    // A site waiting for the Welcome.
    REQUIRE_FALSE(p.site->on_bytes(garbage(2000), p.now));
  }
  for (int i = 0; i < 50; ++i) {
    Pair p;
    p.connect();
    auto g = garbage(200 * 1024);  // more than a whole record of any legal length
    if (i % 2) g[0] = kMsgRecord;
    REQUIRE_FALSE(p.site->on_bytes(g, p.now));
    REQUIRE(p.site->state() == State::failed);
    // Garbage fed in small pieces fails the same way.
    Pair q;
    q.connect();
    bool failed = false;
    for (size_t at = 0; at < g.size() && !failed; at += 17)
      failed =
          !q.edge->on_bytes(std::span(g).subspan(at, std::min<size_t>(17, g.size() - at)), q.now);
    REQUIRE(failed);
  }
}

TEST_CASE("protocol violations from a hand-driven peer", "[tunnel][session]") {
  Pair p;
  p.rcfg.settings.stream_window = 1000;
  p.start();
  RawSite raw;
  raw.handshake(p);
  auto send = [&](std::vector<uint8_t> plain) {
    auto r = p.edge->on_bytes(raw.record(plain), p.now);
    if (r) p.edge_ev = own(*r);
    return bool(r);
  };
  auto frames = [](auto&&... appenders) {
    std::vector<uint8_t> v;
    (appenders(v), ...);
    return v;
  };
  auto open1 = [](std::vector<uint8_t>& v) { append_open(v, 1, StreamKind::tcp, 5000, "a:1"); };

  SECTION("a valid first record confirms; unknown frame types are skipped") {
    std::vector<uint8_t> unknown(kFrameHeaderLen + 3);
    put_frame_header(unknown.data(), FrameType(0x40), 3, 9);
    REQUIRE(send(frames(
        open1, [&](auto& v) { v.insert(v.end(), unknown.begin(), unknown.end()); },
        [](auto& v) { append_data(v, 1, bytes("abc")); })));
    REQUIRE(p.edge->is_open());
    REQUIRE(count(p.edge_ev, EventType::handshake_done) == 1);
    REQUIRE(received(p.edge_ev, 1) == "abc");
    return;
  }
  SECTION("more DATA than the window") {
    REQUIRE_FALSE(
        send(frames(open1, [](auto& v) { append_data(v, 1, bytes(std::string(1001, 'x'))); })));
    REQUIRE(p.edge->fault() == Fault::flow_control);
  }
  SECTION("DATA on a stream that was never opened") {
    REQUIRE_FALSE(send(frames([](auto& v) { append_data(v, 5, bytes("x")); })));
    REQUIRE(p.edge->fault() == Fault::protocol);
  }
  SECTION("OPEN with the edge's parity") {
    REQUIRE_FALSE(send(frames([](auto& v) { append_open(v, 2, StreamKind::tcp, 1, "a:1"); })));
    REQUIRE(p.edge->fault() == Fault::protocol);
  }
  SECTION("OPEN ids must grow") {
    REQUIRE_FALSE(send(frames([](auto& v) { append_open(v, 3, StreamKind::tcp, 1, "a:1"); },
                              [](auto& v) { append_open(v, 1, StreamKind::tcp, 1, "a:1"); })));
    REQUIRE(p.edge->fault() == Fault::protocol);
  }
  SECTION("DATA after FIN") {
    REQUIRE_FALSE(send(frames(
        open1, [](auto& v) { append_fin(v, 1); }, [](auto& v) { append_data(v, 1, bytes("x")); })));
    REQUIRE(p.edge->fault() == Fault::protocol);
  }
  SECTION("KEY_UPDATE not at the end of its record") {
    REQUIRE_FALSE(send(frames([](auto& v) { append_key_update(v); },
                              [](auto& v) { append_ping(v, FrameType::ping, {}); })));
    REQUIRE(p.edge->fault() == Fault::protocol);
  }
  SECTION("WINDOW overflowing 2^32 - 1") {
    REQUIRE_FALSE(send(frames(open1, [](auto& v) { append_window(v, 1, 0xffffffff); })));
    REQUIRE(p.edge->fault() == Fault::flow_control);
  }
  SECTION("a truncated frame") {
    auto v = frames(open1);
    v.pop_back();
    REQUIRE_FALSE(send(v));
    REQUIRE(p.edge->fault() == Fault::malformed);
  }
  SECTION("a bad target in OPEN") {
    REQUIRE_FALSE(send(frames([](auto& v) { append_open(v, 1, StreamKind::tcp, 1, "nocolon"); })));
    REQUIRE(p.edge->fault() == Fault::malformed);
  }
  SECTION("a session frame with a stream id") {
    std::vector<uint8_t> v(kFrameHeaderLen);
    put_frame_header(v.data(), FrameType::ping, 0, 7);
    REQUIRE_FALSE(send(v));
    REQUIRE(p.edge->fault() == Fault::malformed);
  }
  REQUIRE(p.edge->state() == State::failed);
}

TEST_CASE("the peer's stream limit resets extra streams", "[tunnel][session]") {
  Pair p;
  p.icfg.settings.max_streams = 2;
  p.connect();
  auto a = p.edge->open_stream("h:1");
  auto b = p.edge->open_stream("h:2");
  auto c = p.edge->open_stream("h:3");
  p.pump();
  REQUIRE(count(p.site_ev, EventType::stream_open) == 2);
  auto rst = find(p.edge_ev, EventType::reset, *c);
  REQUIRE(rst);
  REQUIRE(rst->code == uint16_t(ResetCode::stream_limit));
  p.edge->reset(*a, ResetCode::cancel);
  p.pump();
  auto d = p.edge->open_stream("h:4");  // a slot is free again
  p.pump();
  REQUIRE(find(p.site_ev, EventType::stream_open, *d));
  REQUIRE(p.site->stream_count() == 2);
  (void)b;
}

TEST_CASE("close: a clean close with a reason", "[tunnel][session]") {
  Pair p;
  p.connect();
  p.edge->close(CloseCode::replaced, "a newer session took over");
  REQUIRE(p.edge->state() == State::closed);
  p.pump();
  auto c = find(p.site_ev, EventType::closed);
  REQUIRE(c);
  REQUIRE(c->code == uint16_t(CloseCode::replaced));
  REQUIRE(c->text == "a newer session took over");
  REQUIRE(p.site->state() == State::closed);
  REQUIRE(p.site->fault() == Fault::peer_closed);
  REQUIRE_FALSE(p.site->open_stream("h:1"));
  REQUIRE(p.site->next_tick() == TimePoint::max());
}

TEST_CASE("bad configurations are errors", "[tunnel][session]") {
  Pair p;
  p.icfg.hello.site_id = "bad id!";
  REQUIRE_FALSE(Session::initiator(p.icfg, p.now));
  p.icfg.hello.site_id = "ok";
  p.icfg.hello.lane_index = 4;
  REQUIRE_FALSE(Session::initiator(p.icfg, p.now));
  p.icfg.hello.lane_index = 0;
  p.icfg.suite = Suite::ikpsk2_aesgcm_blake2b;
  REQUIRE_FALSE(Session::initiator(p.icfg, p.now));
  p.rcfg.replay = nullptr;
  REQUIRE_FALSE(Session::responder(p.rcfg, p.now));
  p.rcfg.replay = &p.guard;
  p.rcfg.settings.idle_timeout = p.rcfg.settings.keepalive;
  auto r = Session::responder(p.rcfg, p.now);
  REQUIRE_FALSE(r);
  REQUIRE(r.error().code == core::Errc::config);
}

TEST_CASE("zero-copy send into caller buffers keeps record order across rekeys",
          "[tunnel][session]") {
  Pair p;
  p.rcfg.settings.rekey_after_records = 2;
  p.connect();
  auto id = p.edge->open_stream("10.0.0.1:9");
  REQUIRE(id);
  p.pump();
  auto to_site = [&](std::span<const uint8_t> b) {
    auto r = p.site->on_bytes(b, p.now);
    REQUIRE(r);
    auto evs = own(*r);
    p.site_ev.insert(p.site_ev.end(), evs.begin(), evs.end());
  };
  std::string expect;
  for (int i = 0; i < 7; ++i) {
    std::string chunk = pattern(1000 + i, uint8_t(i));
    std::vector<uint8_t> rec(kDataOffset + chunk.size() + kTagLen);
    std::memcpy(rec.data() + kDataOffset, chunk.data(), chunk.size());  // an async read
    p.edge->ping(bytes("x"));  // something else is pending in output()
    REQUIRE_FALSE(p.edge->seal_data(*id, rec, chunk.size()));  // output() must be taken first
    Buffer before;
    p.edge->swap_output(before);
    auto sealed = p.edge->seal_data(*id, rec, chunk.size());
    REQUIRE(sealed);
    REQUIRE(sealed->data() == rec.data());  // sealed in the caller's buffer
    REQUIRE(sealed->size() == rec.size());
    to_site(before.bytes());
    to_site(*sealed);
    to_site(p.edge->output());  // a KEY_UPDATE may follow the record
    p.edge->consume_output(p.edge->output().size());
    expect += chunk;
  }
  REQUIRE(received(p.site_ev, *id) == expect);
  REQUIRE(p.site->stats().rekeys_received >= 5);
  std::vector<uint8_t> small(kDataOffset + 10);
  REQUIRE_FALSE(p.edge->seal_data(*id, small, 10));     // no room for the tag
  REQUIRE_FALSE(p.edge->seal_data(*id + 2, small, 1));  // no such stream
}
