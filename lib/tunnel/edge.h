// tunnel::Edge — the edge role: accepts site lanes on TCP, authenticates the sites' static keys
// against the store, keeps one live lane group per site (a newer group takes over), serves the
// control socket's "dial", and the store's raw TCP/UDP forwards. Lanes run on the workers;
// listeners and forwards on worker 0; a store watcher thread polls the change counter
// (store::Db::change_gen). The registry (sites and their lanes) is guarded by mu_; the replay guard
// by hs_mu_ (taken first). Forwards decide access for every new connection or UDP flow
// (tunnel/access.h) on worker 0; TLS forwards terminate TLS on any worker.
#pragma once

#include <boost/asio/ip/udp.hpp>

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "tunnel/daemon.h"
#include "tunnel/sites.h"

namespace geoip {
class Db;
}
namespace tls {
class ServerContext;
}

namespace tunnel {

class Edge : public Daemon, public Lane::Hooks {
 public:
  Edge(Workers& w, std::shared_ptr<const Config> cfg);
  ~Edge() override;

  core::Result<void> start(ipc::Server& control) override;
  boost::json::object status() override;
  core::Result<void> reload(std::shared_ptr<const Config> cfg) override;
  void begin_drain() override;
  size_t open_streams() override;
  void close_all() override;
  size_t lanes_alive() override;

  void lane_open(Lane& lane) override;
  void admit(Lane& lane);  // the lane joins its site (after a duel check, when one was due)
  void lane_stream(Lane& lane, uint32_t id, proto::StreamKind kind,
                   std::string_view target) override;
  void lane_closed(Lane& lane, const std::string& reason) override;

  struct Forward;  // a raw TCP or UDP forward (edge.cpp)

 private:
  struct SiteEntry {
    SiteRecord rec;
    uint64_t group = 0, session_id = 0;  // the live lane group
    uint64_t pending_group = 0, pending_sid = 0;
    uint16_t lanes_expected = 0;
    std::vector<std::shared_ptr<Lane>> lanes;  // open lanes of the live group
    std::set<uint16_t> seen;                   // lane indexes that were up once
    uint64_t reconnects = 0, handshakes = 0, duels = 0;
    int64_t last_handshake_ms = 0, offline_since_ms = 0;
    uint64_t closed_in = 0, closed_out = 0;  // bytes of lanes that are gone
  };

  std::shared_ptr<const Config> config();
  // A lane of the site to open a stream on (fewest streams), or the reason there is none.
  core::Result<std::shared_ptr<Lane>> pick_lane(const std::string& site);
  net::asio::awaitable<void> accept_loop();
  void new_lane(asio::io_context& ctx, int fd, asio::ip::tcp protocol, const std::string& src);
  const char* admit_handshake(const std::string& src);
  void handshake_over(const std::string& src, bool ok);
  net::asio::awaitable<boost::json::object> dial(ipc::Request& req);
  net::asio::awaitable<void> tcp_forward_loop(std::shared_ptr<Forward> f);
  net::asio::awaitable<void> udp_forward_loop(std::shared_ptr<Forward> f);
  net::asio::awaitable<void> udp_sweep_loop(std::shared_ptr<Forward> f);
  // The TLS context of TLS forwards ([edge] forward_tls_*; worker 0), made on first use.
  core::Result<std::shared_ptr<tls::ServerContext>> forward_tls();
  std::shared_ptr<const geoip::Db> geo();
  core::Result<void> load_geo(const Config& cfg);

  // Store: load and apply sites and forwards.
  core::Result<void> load_store(store::Db& db);
  void apply_sites(std::vector<SiteRecord> sites);
  void apply_forwards(std::vector<ForwardRecord> fwds, bool rebind);  // on worker 0
  void store_loop();
  core::Result<void> request_store_reload();

  Workers& w_;
  std::mutex cfg_mu_;
  std::shared_ptr<const Config> cfg_;
  crypto::KeyPair key_{};
  std::string listen_addr_;  // actual address (port 0 resolved)

  std::mutex hs_mu_;  // handshakes (and so replay_) are processed one at a time
  proto::ReplayGuard replay_;

  std::mutex mu_;
  std::map<std::string, SiteEntry> sites_;
  std::map<crypto::Key, std::string> by_key_;
  std::atomic<uint64_t> next_sid_{0}, next_lane_{0};
  std::atomic<int> handshaking_{0};
  std::mutex hs_src_mu_;
  std::unordered_map<std::string, int> hs_by_source_;  // handshakes in progress per address
  std::unordered_set<std::string> known_sources_;      // addresses that completed one
  std::atomic<int64_t> refused_log_ms_{0};
  std::atomic<bool> draining_{false};

  std::optional<asio::ip::tcp::acceptor> acceptor_;       // worker 0
  std::map<std::string, std::shared_ptr<Forward>> fwds_;  // "tcp:8080" -> forward; worker 0
  std::shared_ptr<tls::ServerContext> fwd_tls_;           // worker 0
  std::string fwd_tls_key_;                               // the settings it was made from
  std::shared_ptr<const geoip::Db> geo_;                  // cfg_mu_; null: no geoip_db

  std::mutex store_mu_;
  std::condition_variable store_cv_;
  bool store_stop_ = false;
  uint64_t store_req_ = 0, store_done_ = 0;  // reload requests and their completions
  std::optional<core::Error> store_error_;   // of the last pass that answered a reload
  std::optional<store::Db> db_;
  std::thread store_thread_;
};

}  // namespace tunnel
