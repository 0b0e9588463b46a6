// Flow control on a simulated path (the injected clock stands for the round trip): receive
// windows that grow toward the bandwidth-delay product, the per-site memory budget, idle streams
// that stay at the initial window, OPEN_ACK (success, refused, unreachable, timeout) and
// negotiation with a minor-1 peer.
#include "harness.h"
#include "tunnel/proto/fair.h"

using namespace tunnel_test;

namespace {

std::string filler(size_t n) {
  return std::string(n, 'x');
}

// One round trip on a path of `rtt`: the edge sends what its credit allows on each stream (an
// endless bulk source), the bytes arrive half an RTT later, the site reads them at once, and the
// WINDOW frames arrive back after the other half. Returns the bytes delivered per stream.
struct Path {
  Pair& p;
  Duration rtt;
  std::string chunk = filler(kMaxFrameBody);

  std::vector<size_t> round(const std::vector<uint32_t>& ids, size_t app_limit = SIZE_MAX) {
    std::vector<size_t> sent(ids.size());
    for (size_t i = 0; i < ids.size(); ++i)
      while (sent[i] < app_limit) {
        size_t want = std::min(chunk.size(), app_limit - sent[i]);
        size_t n = p.edge->send(ids[i], bytes(chunk).first(want));
        if (n == 0) break;
        sent[i] += n;
      }
    p.advance(rtt / 2);
    size_t before = p.site_ev.size();
    p.deliver(*p.edge, *p.site, p.site_ev);
    for (size_t k = before; k < p.site_ev.size(); ++k)
      if (p.site_ev[k].type == EventType::data)
        p.site->consumed(p.site_ev[k].id, p.site_ev[k].data.size(), p.now);
    p.advance(rtt / 2);
    p.deliver(*p.site, *p.edge, p.edge_ev);  // WINDOW frames (and PONGs / probes)
    p.deliver(*p.edge, *p.site, p.site_ev);  // the edge's PONGs to probes, at once
    p.site_ev.clear();
    p.edge_ev.clear();
    return sent;
  }
};

// Connects with the clock advancing by one RTT across the handshake, so both sides' first
// PING/PONG measures it.
void connect_over(Pair& p, Duration rtt) {
  p.start();
  for (int i = 0; i < 10; ++i) {
    bool a = p.deliver(*p.site, *p.edge, p.edge_ev);
    p.advance(rtt / 2);
    bool b = p.deliver(*p.edge, *p.site, p.site_ev);
    p.advance(rtt / 2);
    if (!a && !b) break;
  }
  REQUIRE(p.site->is_open());
  REQUIRE(p.edge->is_open());
}

}  // namespace

TEST_CASE("a window-limited stream's window grows toward the path's BDP, within the maximum",
          "[tunnel][flow]") {
  Pair p;
  p.icfg.settings.stream_window = 256 * 1024;
  p.icfg.settings.stream_window_max = 8 * 1024 * 1024;
  connect_over(p, 50ms);
  REQUIRE(p.site->stats().srtt);
  CHECK(*p.site->stats().srtt == 50ms);
  auto id = p.edge->open_stream("10.0.0.1:80");
  REQUIRE(id);
  p.deliver(*p.edge, *p.site, p.site_ev);
  Path path{p, 50ms};

  auto first = path.round({*id});
  CHECK(first[0] == 256 * 1024);  // one initial window per round trip: window-limited
  size_t last = 0;
  for (int i = 0; i < 12; ++i) last = path.round({*id})[0];
  // Doubled round after round until the maximum: 8 MiB per 50 ms is 1.3 Gbit/s.
  CHECK(p.site->stream_window(*id) == 8 * 1024 * 1024);
  CHECK(last >= 6 * 1024 * 1024);
  CHECK(p.site->stats().window_grows >= 5);
  CHECK(p.site->stats().window_extra == 8 * 1024 * 1024 - 256 * 1024);
  // Closing the stream returns its growth to the budget.
  p.edge->reset(*id, ResetCode::cancel);
  p.deliver(*p.edge, *p.site, p.site_ev);
  CHECK(p.site->stats().window_extra == 0);
}

TEST_CASE("a stream limited by its application, not the window, keeps its window",
          "[tunnel][flow]") {
  Pair p;
  p.icfg.settings.stream_window = 256 * 1024;
  connect_over(p, 50ms);
  auto id = p.edge->open_stream("10.0.0.1:80");
  REQUIRE(id);
  p.deliver(*p.edge, *p.site, p.site_ev);
  Path path{p, 50ms};
  for (int i = 0; i < 40; ++i) path.round({*id}, 16 * 1024);  // 16 KiB per RTT: 2.6 Mbit/s
  CHECK(p.site->stream_window(*id) == 256 * 1024);
  CHECK(p.site->stats().window_grows == 0);
}

TEST_CASE("the site's window budget bounds growth across streams and lanes", "[tunnel][flow]") {
  Pair p;  // the harness's site keeps 4 lanes: each lane gets a quarter of the budget
  p.icfg.settings.stream_window = 128 * 1024;
  p.icfg.settings.stream_window_max = 16 * 1024 * 1024;
  p.icfg.settings.window_budget = 8 * 1024 * 1024;
  connect_over(p, 20ms);
  std::vector<uint32_t> ids;
  for (int i = 0; i < 3; ++i) ids.push_back(*p.edge->open_stream("10.0.0.1:80"));
  p.deliver(*p.edge, *p.site, p.site_ev);
  Path path{p, 20ms};
  for (int i = 0; i < 20; ++i) path.round(ids);
  CHECK(p.site->stats().window_extra <= 2 * 1024 * 1024);
  CHECK(p.site->stats().window_extra > 1024 * 1024);
  CHECK(p.site->stats().budget_denied > 0);
  uint64_t sum = 0;
  for (auto id : ids) sum += p.site->stream_window(id) - 128 * 1024;
  CHECK(sum == p.site->stats().window_extra);
  // The transfer still runs at the windows it has: nothing stalls.
  auto sent = path.round(ids);
  for (auto n : sent) CHECK(n >= 128 * 1024);
}

TEST_CASE("a thousand idle streams keep the initial window and cost no budget", "[tunnel][flow]") {
  Pair p;
  p.icfg.settings.stream_window = 64 * 1024;
  connect_over(p, 30ms);
  std::vector<uint32_t> ids;
  for (int i = 0; i < 1000; ++i) ids.push_back(*p.edge->open_stream("10.0.0.1:80"));
  p.pump();
  p.advance(5s);
  p.pump();
  REQUIRE(p.site->stream_count() == 1000);
  CHECK(p.site->stats().window_extra == 0);
  for (auto id : ids) CHECK(p.site->stream_window(id) == 64 * 1024);
}

TEST_CASE("OPEN_ACK: connected, refused, unreachable and no answer", "[tunnel][flow]") {
  Pair p;
  p.rcfg.settings.open_timeout = 3s;
  p.connect();
  REQUIRE(p.edge->peer_acks_opens());
  REQUIRE(p.site->peer_acks_opens());
  auto ok = *p.edge->open_stream("10.0.0.1:80");
  auto refused = *p.edge->open_stream("10.0.0.1:81");
  auto unreachable = *p.edge->open_stream("10.9.9.9:80");
  auto silent = *p.edge->open_stream("10.0.0.1:82");
  p.pump();
  REQUIRE(count(p.site_ev, EventType::stream_open) == 4);

  p.site->accept_stream(ok);
  p.site->accept_stream(ok);  // once only
  p.site->reset(refused, ResetCode::connect_failed, "connect 10.0.0.1:81: Connection refused");
  p.site->reset(unreachable, ResetCode::unreachable, "connect 10.9.9.9:80: No route to host");
  p.pump();
  REQUIRE(count(p.edge_ev, EventType::open_ack) == 1);
  auto find_ev = [&](EventType t, uint32_t id) -> const Ev* {
    for (const auto& e : p.edge_ev)
      if (e.type == t && e.id == id) return &e;
    return nullptr;
  };
  CHECK(find_ev(EventType::open_ack, ok));
  auto* r1 = find_ev(EventType::reset, refused);
  REQUIRE(r1);
  CHECK(r1->code == uint16_t(ResetCode::connect_failed));
  CHECK(r1->text == "connect 10.0.0.1:81: Connection refused");
  auto* r2 = find_ev(EventType::reset, unreachable);
  REQUIRE(r2);
  CHECK(r2->code == uint16_t(ResetCode::unreachable));

  // The silent one times out on the edge's clock: reported as unreachable, reset on the wire.
  CHECK(p.edge->next_tick() <= p.now + 3s);
  p.advance(3s);
  auto t = p.edge->on_tick(p.now);
  REQUIRE(t);
  auto evs = own(*t);
  REQUIRE(evs.size() == 1);
  CHECK(evs[0].type == EventType::reset);
  CHECK(evs[0].id == silent);
  CHECK(evs[0].code == uint16_t(ResetCode::unreachable));
  CHECK(evs[0].text.find("no answer") != std::string::npos);
  CHECK_FALSE(p.edge->stream_exists(silent));
  p.site_ev.clear();
  p.pump();
  CHECK(count(p.site_ev, EventType::reset) == 1);
  CHECK_FALSE(p.site->stream_exists(silent));
  // The acknowledged stream is unaffected and carries data.
  CHECK(p.edge->stream_exists(ok));
  CHECK(p.edge->send(ok, bytes("hello")) == 5);
}

TEST_CASE("OPEN_ACK for a stream the sender opened, or twice, is a protocol error",
          "[tunnel][flow]") {
  SECTION("for the sender's own open") {
    Pair p;
    p.start();
    RawSite raw;
    raw.handshake(p);
    std::vector<uint8_t> plain;
    append_open(plain, 1, StreamKind::tcp, 65536, "10.0.0.1:80");
    append_open_ack(plain, 1);
    REQUIRE_FALSE(p.edge->on_bytes(raw.record(plain), p.now));
    CHECK(p.edge->fault() == Fault::protocol);
  }
  SECTION("twice for one of ours") {
    Pair p;
    p.start();
    RawSite raw;
    raw.handshake(p);
    std::vector<uint8_t> plain;
    append_ping(plain, FrameType::ping, {});
    REQUIRE(p.edge->on_bytes(raw.record(plain), p.now));
    REQUIRE(p.edge->is_open());
    auto id = *p.edge->open_stream("10.0.0.1:80");
    plain.clear();
    append_open_ack(plain, id);
    auto r = p.edge->on_bytes(raw.record(plain), p.now);
    REQUIRE(r);
    CHECK(count(own(*r), EventType::open_ack) == 1);
    REQUIRE_FALSE(p.edge->on_bytes(raw.record(plain), p.now));
    CHECK(p.edge->fault() == Fault::protocol);
  }
}

TEST_CASE("a minor-1 peer: no OPEN_ACK either way, and opens count as accepted", "[tunnel][flow]") {
  SECTION("minor-1 site, current edge") {
    Pair p;
    p.icfg.settings.minor = 1;
    p.connect();
    CHECK(p.site->hello().minor == 1);
    CHECK(p.edge->peer_minor() == 1);
    CHECK(p.edge->minor() == 1);
    CHECK_FALSE(p.edge->peer_acks_opens());
    auto id = *p.edge->open_stream("10.0.0.1:80");
    p.pump();
    p.site->accept_stream(id);  // a minor-1 site would not send it; ours does not either
    p.pump();
    CHECK(count(p.edge_ev, EventType::open_ack) == 0);
    // No deadline either: the open lives until data or a reset says otherwise.
    for (int i = 0; i < 12; ++i) {
      p.advance(5s);
      REQUIRE(p.edge->on_tick(p.now));
      REQUIRE(p.site->on_tick(p.now));
      p.pump();
    }
    CHECK(p.edge->stream_exists(id));
  }
  SECTION("current site, minor-1 edge") {
    Pair p;
    p.rcfg.settings.minor = 1;
    p.connect();
    CHECK(p.edge->welcome().minor == 1);
    CHECK(p.site->minor() == 1);
    auto id = *p.edge->open_stream("10.0.0.1:80");
    p.pump();
    p.site->accept_stream(id);
    p.pump();
    CHECK(count(p.edge_ev, EventType::open_ack) == 0);
    CHECK(p.site->is_open());
    CHECK(p.edge->is_open());
  }
}

TEST_CASE("fair turns: an interactive stream waits for at most one bulk record", "[tunnel][flow]") {
  // The lane's policy (tunnel::Lane): a stream seals records while the queue of sealed bytes is
  // below the limit (4 per turn when nobody waits, else 1); one that finds it full waits in the
  // FairQueue; as the socket drains, waiting streams are served from the front.
  Pair p;
  p.icfg.settings.stream_window = 16 * 1024 * 1024;
  p.connect();
  auto bulk = *p.edge->open_stream("10.0.0.1:1");
  auto chat = *p.edge->open_stream("10.0.0.1:2");
  p.pump();
  const size_t kLimit = 512 * 1024, kDrain = 48 * 1024;
  const std::string record(kMaxFrameBody, 'b'), hello(64, 'c');
  FairQueue fair;
  size_t queued = 0, bulk_sealed = 0, bulk_before_chat = 0;
  bool chat_ready = false, chat_sealed = false;
  auto pump = [&](uint32_t id) {
    for (int i = 0, turns = fair.turn(4); i < turns; ++i) {
      if (queued >= kLimit) {
        fair.wait(id);
        return;
      }
      if (id == chat) {
        if (!chat_ready || chat_sealed) return;
        REQUIRE(p.edge->send(chat, bytes(hello)) == hello.size());
        queued += hello.size();
        chat_sealed = true;
        bulk_before_chat = bulk_sealed;
        return;
      }
      size_t n = p.edge->send(bulk, bytes(record));
      if (n == 0) return;  // no credit
      queued += n;
      bulk_sealed += n;
    }
  };
  size_t bulk_at_ready = 0;
  for (int step = 0; step < 400 && !chat_sealed; ++step) {
    queued -= std::min(queued, kDrain);  // the socket took some
    for (size_t n = fair.size(); n > 0 && queued < kLimit; --n) pump(*fair.next());
    if (!fair.waiting(bulk)) pump(bulk);  // bulk is always readable
    if (step == 50) {                     // the interactive request arrives, mid-transfer
      chat_ready = true;
      bulk_at_ready = bulk_sealed;
      pump(chat);
    }
    p.pump();  // deliver; the site reads everything at once
    for (const auto& e : p.site_ev)
      if (e.type == EventType::data) p.site->consumed(e.id, e.data.size(), p.now);
    p.site_ev.clear();
    p.pump();
  }
  REQUIRE(chat_sealed);
  REQUIRE(bulk_at_ready > 4 * kMaxFrameBody);  // the transfer was in full swing
  // Sealed after it became ready and before it: at most the record the bulk stream was given
  // in the same turn; ahead of it on the wire, at most the queue's limit.
  CHECK(bulk_before_chat - bulk_at_ready <= kMaxFrameBody);
}

TEST_CASE("FairQueue: round robin, each stream once, a served stream goes to the back",
          "[tunnel][flow]") {
  FairQueue q;
  CHECK(q.turn(4) == 4);
  q.wait(3);
  q.wait(5);
  q.wait(3);  // once
  CHECK(q.size() == 2);
  CHECK(q.turn(4) == 1);
  CHECK(*q.next() == 3);
  q.wait(3);  // its turn done, it blocks again: behind 5
  CHECK(*q.next() == 5);
  CHECK(*q.next() == 3);
  CHECK_FALSE(q.next());
  CHECK(q.empty());
}
