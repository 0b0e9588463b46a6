#include "tunnel/site.h"

#include <arpa/inet.h>
#include <unistd.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/post.hpp>
#include <boost/json.hpp>

#include <cmath>

#include "core/fs.h"
#include "log/log.h"
#include "net/net.h"

// GCC 12 false positive on Asio's awaitable frame allocator (operator new/delete are a matched
// pair in awaitable_frame_base); it fires for some coroutines after inlining.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

namespace tunnel {

using namespace std::chrono_literals;
using asio::ip::tcp;
using asio::ip::udp;
using proto::Clock;
using proto::ResetCode;

namespace {

std::shared_ptr<spdlog::logger> logger() {
  static auto l = wlog::get("tunnel");
  return l;
}

constexpr std::string_view kDuplicate =
    "the edge refused this lane: another process with this site's key is connected";

}  // namespace

milliseconds backoff_delay(unsigned attempt, milliseconds min, milliseconds max, double u) {
  double d = double(min.count()) * std::ldexp(1.0, int(std::min(attempt, 40u)));
  d = std::min(d, double(max.count()));
  u = std::clamp(u, 0.0, 1.0);
  return milliseconds(int64_t(d / 2 + u * d / 2));
}

proto::Tai64n next_timestamp(const proto::Tai64n& last, const proto::Tai64n& wall) {
  if (wall > last) return wall;
  proto::Tai64n t = last;
  if (++t.nanos >= 1'000'000'000u) {
    t.nanos = 0;
    ++t.seconds;
  }
  return t;
}

Site::Site(Workers& w, std::shared_ptr<const Config> cfg) : w_(w), cfg_(std::move(cfg)) {
  uint64_t seed = 0;
  crypto::random_bytes({reinterpret_cast<uint8_t*>(&seed), sizeof seed});
  rng_.seed(seed);
}

Site::~Site() {
  auto cfg = config();
  if (!cfg->site.health_file.empty()) ::unlink(cfg->resolve(cfg->site.health_file).c_str());
}

std::shared_ptr<const Config> Site::config() {
  std::lock_guard lk(cfg_mu_);
  return cfg_;
}

core::Result<void> Site::start(ipc::Server&) {
  auto cfg = config();
  do {
    crypto::random_bytes({reinterpret_cast<uint8_t*>(&group_), sizeof group_});
  } while (group_ == 0);
  slots_.resize(cfg->site.lanes);
  if (!cfg->site.health_file.empty()) ::unlink(cfg->resolve(cfg->site.health_file).c_str());
  for (size_t i = 0; i < slots_.size(); ++i)
    asio::co_spawn(w_.at(i), lane_loop(i), net::log_errors("site lane"));
  logger()->info("event=starting role=site site={} edge={} lanes={} public_key={} allow={}",
                 cfg->site.name, cfg->site.edge, cfg->site.lanes,
                 crypto::key_to_base64(crypto::public_from_private(cfg->site.private_key)),
                 cfg->site.allow.unrestricted()
                     ? "any"
                     : std::to_string(cfg->site.allow.rules().size()) + "_rules");
  return {};
}

asio::awaitable<void> Site::lane_loop(size_t i) {
  auto ex = co_await asio::this_coro::executor;
  auto& ctx = w_.at(i);
  asio::steady_timer timer(ex);
  unsigned attempt = 0;
  std::string last_logged;
  while (!stopping_) {
    auto cfg = config();
    const SiteConfig& sc = cfg->site;
    {
      std::lock_guard lk(mu_);
      slots_[i].state = "connecting";
    }
    auto hp = net::parse_host_port(sc.edge);
    std::string err;
    if (!hp) {
      err = hp.error().message;
    } else {
      auto [ec, sock] = co_await net::connect_tcp(*hp, sc.connect_timeout);
      if (stopping_) break;
      if (ec) {
        err = "connect " + sc.edge + ": " + ec.message();
      } else {
        proto::InitiatorConfig ic;
        ic.suite = sc.suite;
        ic.static_priv = sc.private_key;
        ic.responder_static = sc.edge_public_key;
        ic.hello.lane_group = group_;
        ic.hello.lane_index = uint16_t(i);
        ic.hello.lane_count = uint16_t(slots_.size());
        ic.hello.site_id = sc.name;
        ic.settings = session_settings(*cfg);
        ic.settings.handshake_timeout = std::max<Clock::duration>(sc.connect_timeout, 1s);
        {
          std::lock_guard lk(mu_);
          Slot& s = slots_[i];
          s.last_ts =
              next_timestamp(s.last_ts, proto::tai64n_from(std::chrono::system_clock::now()));
          ic.hello.timestamp = s.last_ts;
        }
        auto sess = proto::Session::initiator(std::move(ic), Clock::now());
        if (!sess) {
          err = sess.error().message;
        } else {
          auto lane = std::make_shared<Lane>(ctx, std::move(sock), std::move(*sess), *this,
                                             "lane" + std::to_string(i));
          lane->index = uint16_t(i);
          lane->options = lane_options(*cfg);
          lane->group = group_;
          {
            std::lock_guard lk(mu_);
            slots_[i].lane = lane;
            slots_[i].state = "handshake";
            slots_[i].was_open = false;
          }
          lane->start();
          if (!lane->done()) co_await lane->done_signal().async_wait(net::use_tuple);
          std::lock_guard lk(mu_);
          if (lane->peer_close() == proto::CloseCode::duplicate) {
            // Another process with our key holds the session: keep out of its way, at the
            // longest backoff, and say so where the operator looks.
            err = kDuplicate;
            attempt = 62;
          } else if (slots_[i].was_open) {
            attempt = 0;
          }
          slots_[i].lane.reset();
        }
      }
    }
    if (stopping_) break;
    if (!err.empty()) {
      std::lock_guard lk(mu_);
      slots_[i].last_error = err;
      if (err != last_logged)
        logger()->log(err == kDuplicate ? spdlog::level::err : spdlog::level::warn,
                      "event=connect_failed lane={} error=\"{}\"", i, err);
      else
        logger()->debug("event=connect_failed lane={} error=\"{}\"", i, err);
      last_logged = err;
    } else {
      last_logged.clear();
    }
    double u;
    {
      std::lock_guard lk(rng_mu_);
      u = std::uniform_real_distribution<double>(0, 1)(rng_);
    }
    auto delay = backoff_delay(attempt, sc.reconnect_min, sc.reconnect_max, u);
    if (attempt < 62) ++attempt;
    {
      std::lock_guard lk(mu_);
      slots_[i].state = "backoff";
      slots_[i].backoff = &timer;
    }
    logger()->debug("event=reconnect_wait lane={} delay_ms={}", i, delay.count());
    timer.expires_after(delay);
    co_await timer.async_wait(net::use_tuple);
    std::lock_guard lk(mu_);
    slots_[i].backoff = nullptr;
  }
  std::lock_guard lk(mu_);
  slots_[i].state = "stopped";
  slots_[i].backoff = nullptr;
}

// --- lane hooks ------------------------------------------------------------------------------

void Site::lane_open(Lane& lane) {
  size_t n;
  {
    std::lock_guard lk(mu_);
    Slot& s = slots_[lane.index];
    s.was_open = true;
    s.state = "up";
    if (++s.connects > 1) ++s.reconnects;
    s.last_handshake_ms = unix_ms_now();
    s.last_error.clear();
    n = slots_.size();
  }
  logger()->info("event=lane_up lane={}/{} edge={} session={} suite={}", lane.index, n, lane.peer(),
                 lane.session().welcome().session_id, suite_name(lane.session().suite()));
  write_health();
}

void Site::lane_closed(Lane& lane, const std::string& reason) {
  bool was_open;
  {
    std::lock_guard lk(mu_);
    Slot& s = slots_[lane.index];
    was_open = s.was_open;
    s.state = "down";
    s.last_error = reason;
  }
  if (was_open) {
    logger()->warn("event=lane_down lane={} reason=\"{}\"", lane.index, reason);
  } else {
    logger()->warn("event=handshake_failed lane={} edge={} reason=\"{}\"{}", lane.index,
                   lane.peer(), reason,
                   reason.find("timeout") != std::string::npos ||
                           reason.find("closed by peer") != std::string::npos
                       ? " hint=\"the edge drops unknown keys silently: check edge_public_key "
                         "and that this site's key is in the edge's store (peerctl site show)\""
                       : "");
  }
  write_health();
}

void Site::lane_stream(Lane& lane, uint32_t id, proto::StreamKind kind, std::string_view target) {
  if (draining_ || stopping_) {
    lane.refuse(id, ResetCode::refused, "site is shutting down");
    return;
  }
  auto cfg = config();
  auto hp = net::parse_host_port(target);
  if (!hp || hp->port == 0) {
    lane.refuse(id, ResetCode::unreachable, "bad target");
    return;
  }
  const AllowList& allow = cfg->site.allow;
  bool by_name = allow.unrestricted() || allow.allows_name(hp->host, hp->port);
  if (!by_name) {
    uint8_t a[16];
    bool literal4 = ::inet_pton(AF_INET, hp->host.c_str(), a) == 1;
    bool literal6 = !literal4 && ::inet_pton(AF_INET6, hp->host.c_str(), a) == 1;
    if ((literal4 || literal6) && !allow.allows_addr({a, size_t(literal4 ? 4 : 16)}, hp->port)) {
      logger()->warn("event=stream_refused lane={} stream={} target=\"{}\" reason=not_allowed",
                     lane.index, id, target);
      lane.refuse(id, ResetCode::refused, "target not allowed by the site");
      return;
    }
  }
  asio::co_spawn(
      lane.executor(),
      connect_target(lane.shared_from_this(), id, kind, hp->host, hp->port, by_name, cfg),
      net::log_errors("site connect"));
}

asio::awaitable<void> Site::connect_target(std::shared_ptr<Lane> lane, uint32_t id,
                                           proto::StreamKind kind, std::string host, uint16_t port,
                                           bool by_name, std::shared_ptr<const Config> cfg) {
  auto ex = co_await asio::this_coro::executor;
  auto timeout = cfg->site.connect_timeout;
  std::string target = net::HostPort(host, port).str();
  auto refuse = [&](ResetCode code, const std::string& why) {
    logger()->info("event=stream_failed lane={} stream={} target=\"{}\" code={} error=\"{}\"",
                   lane->index, id, target, proto::to_string(code), why);
    if (!lane->done()) lane->refuse(id, code, why);
  };
  std::vector<tcp::endpoint> found;
  boost::system::error_code aec;
  auto literal = asio::ip::make_address(host, aec);
  if (!aec) {
    found.emplace_back(literal, port);  // no resolver round trip for addresses
  } else {
    tcp::resolver resolver(ex);
    auto [rec, results] = co_await net::with_timeout(
        resolver.async_resolve(host, std::to_string(port), net::use_tuple), timeout);
    if (rec) {
      refuse(reset_code_for(rec), "resolve " + host + ": " + rec.message());
      co_return;
    }
    for (const auto& e : results) found.push_back(e.endpoint());
  }
  std::vector<tcp::endpoint> eps;
  for (const auto& ep : found) {
    if (!by_name) {
      auto a = ep.address();
      bool ok;
      if (a.is_v4()) {
        auto b = a.to_v4().to_bytes();
        ok = cfg->site.allow.allows_addr({b.data(), b.size()}, port);
      } else {
        auto b = a.to_v6().to_bytes();
        ok = cfg->site.allow.allows_addr({b.data(), b.size()}, port);
      }
      if (!ok) continue;
    }
    eps.push_back(ep);
  }
  if (eps.empty()) {
    logger()->warn("event=stream_refused lane={} stream={} target=\"{}\" reason=not_allowed",
                   lane->index, id, target);
    if (!lane->done()) lane->refuse(id, ResetCode::refused, "target not allowed by the site");
    co_return;
  }
  if (kind == proto::StreamKind::udp) {
    udp::socket s(ex);
    boost::system::error_code ec;
    udp::endpoint uep(eps.front().address(), port);
    s.open(uep.protocol(), ec);
    if (!ec) s.connect(uep, ec);
    if (ec) {
      refuse(reset_code_for(ec), "udp " + target + ": " + ec.message());
      co_return;
    }
    int fd = s.release(ec);
    if (!ec) lane->attach_dgram(id, fd);
    co_return;
  }
  boost::system::error_code last = asio::error::host_not_found;
  for (const auto& ep : eps) {
    if (lane->done() || !lane->has_stream(id)) co_return;
    tcp::socket s(ex);
    auto [cec] = co_await net::with_timeout(s.async_connect(ep, net::use_tuple), timeout);
    if (!cec) {
      boost::system::error_code ec;
      s.set_option(tcp::no_delay(true), ec);
      int fd = s.release(ec);
      if (ec) co_return;
      logger()->debug("event=stream_open lane={} stream={} target=\"{}\"", lane->index, id, target);
      lane->attach(id, fd);
      co_return;
    }
    last = cec;
  }
  refuse(reset_code_for(last), "connect " + target + ": " + last.message());
}

// --- health, status, reload, drain -------------------------------------------------------------

void Site::write_health() {
  std::lock_guard hk(health_mu_);
  int up = 0, n;
  {
    std::lock_guard lk(mu_);
    for (const auto& s : slots_) up += s.state == "up";
    n = int(slots_.size());
  }
  if (up == health_up_) return;
  health_up_ = up;
  auto cfg = config();
  if (cfg->site.health_file.empty()) return;
  std::string path = cfg->resolve(cfg->site.health_file);
  if (up > 0) {
    std::string text = "ok lanes=" + std::to_string(up) + "/" + std::to_string(n) + "\n";
    if (auto r = core::write_file_atomic(path, text, 0644); !r)
      logger()->warn("event=health_file_failed error=\"{}\"", r.error().message);
  } else {
    ::unlink(path.c_str());
  }
}

boost::json::object Site::status() {
  auto cfg = config();
  boost::json::array lanes;
  size_t up = 0;
  {
    std::lock_guard lk(mu_);
    for (size_t i = 0; i < slots_.size(); ++i) {
      const Slot& s = slots_[i];
      boost::json::object o{{"index", i},
                            {"state", s.state},
                            {"last_handshake", rfc3339_ms(s.last_handshake_ms)},
                            {"last_handshake_unix_ms", s.last_handshake_ms},
                            {"reconnects", s.reconnects},
                            {"last_error", s.last_error}};
      up += s.state == "up";
      if (s.lane) {
        const auto& st = s.lane->stats();
        o["peer"] = s.lane->peer();
        o["bytes_in"] = st.bytes_in.load();
        o["bytes_out"] = st.bytes_out.load();
        o["streams"] = st.streams.load();
        int64_t rtt = st.rtt_us;
        if (rtt >= 0)
          o["rtt_ms"] = double(rtt) / 1000.0;
        else
          o["rtt_ms"] = nullptr;
      } else {
        o["bytes_in"] = 0;
        o["bytes_out"] = 0;
        o["streams"] = 0;
        o["rtt_ms"] = nullptr;
      }
      lanes.push_back(std::move(o));
    }
  }
  return ipc::ok(
      {{"role", "site"},
       {"name", cfg->site.name},
       {"edge", cfg->site.edge},
       {"edge_public_key", crypto::key_to_base64(cfg->site.edge_public_key)},
       {"public_key", crypto::key_to_base64(crypto::public_from_private(cfg->site.private_key))},
       {"draining", draining_.load()},
       {"lanes_up", up},
       {"lanes", std::move(lanes)}});
}

core::Result<void> Site::reload(std::shared_ptr<const Config> cfg) {
  auto old = config();
  if (cfg->site.lanes != old->site.lanes)
    logger()->warn(
        "event=reload_partial key=lanes note=\"restart tunneld to change the number "
        "of lanes\"");
  bool health_moved = cfg->resolve(cfg->site.health_file) != old->resolve(old->site.health_file);
  {
    std::lock_guard lk(cfg_mu_);
    cfg_ = std::move(cfg);
  }
  if (health_moved) {
    if (!old->site.health_file.empty()) ::unlink(old->resolve(old->site.health_file).c_str());
    {
      std::lock_guard hk(health_mu_);
      health_up_ = -1;
    }
    write_health();
  }
  return {};
}

void Site::begin_drain() {
  draining_ = true;
}

size_t Site::open_streams() {
  std::lock_guard lk(mu_);
  size_t n = 0;
  for (const auto& s : slots_)
    if (s.lane) n += s.lane->stats().streams;
  return n;
}

void Site::close_all() {
  stopping_ = true;
  std::lock_guard lk(mu_);
  for (size_t i = 0; i < slots_.size(); ++i) {
    if (auto l = slots_[i].lane)
      asio::post(l->executor(),
                 [l] { l->close(proto::CloseCode::going_away, "site shutting down"); });
    asio::post(w_.at(i), [this, i] {
      std::lock_guard lk2(mu_);
      if (slots_[i].backoff) slots_[i].backoff->cancel();
    });
  }
}

size_t Site::lanes_alive() {
  std::lock_guard lk(mu_);
  size_t n = 0;
  for (const auto& s : slots_) n += s.lane != nullptr;
  return n;
}

std::unique_ptr<Daemon> make_site(Workers& w, std::shared_ptr<const Config> cfg) {
  return std::make_unique<Site>(w, std::move(cfg));
}

}  // namespace tunnel
