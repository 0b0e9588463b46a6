// tunnel::Site — the site role (what Newt does): keeps `lanes` TCP connections to the edge up
// (DNS re-resolved on every attempt, exponential backoff with jitter, capped), and relays the
// streams the edge opens to local targets that the allow list permits. Lane i runs on worker
// i % workers; slot state is guarded by mu_ for status(). Writes the health file.
#pragma once

#include <atomic>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include "tunnel/daemon.h"

namespace tunnel {

// The delay before reconnect attempt `attempt` (0-based): min·2^attempt capped at max, then
// "equal jitter" — uniform in [d/2, d] with u in [0, 1).
milliseconds backoff_delay(unsigned attempt, milliseconds min, milliseconds max, double u);

// The next handshake timestamp of a lane: the wall clock, but always above the last one.
proto::Tai64n next_timestamp(const proto::Tai64n& last, const proto::Tai64n& wall);

class Site : public Daemon, public Lane::Hooks {
 public:
  Site(Workers& w, std::shared_ptr<const Config> cfg);
  ~Site() override;

  core::Result<void> start(ipc::Server& control) override;
  boost::json::object status() override;
  core::Result<void> reload(std::shared_ptr<const Config> cfg) override;
  void begin_drain() override;
  size_t open_streams() override;
  void close_all() override;
  size_t lanes_alive() override;

  void lane_open(Lane& lane) override;
  void lane_stream(Lane& lane, uint32_t id, proto::StreamKind kind,
                   std::string_view target) override;
  void lane_closed(Lane& lane, const std::string& reason) override;

 private:
  struct Slot {
    std::shared_ptr<Lane> lane;        // current connection (maybe still in the handshake)
    std::string state = "connecting";  // connecting, handshake, up, backoff
    std::string last_error;
    uint64_t connects = 0, reconnects = 0;
    int64_t last_handshake_ms = 0;
    bool was_open = false;  // the current lane completed its handshake
    proto::Tai64n last_ts;
    asio::steady_timer* backoff = nullptr;  // while waiting (on the lane's worker)
  };

  std::shared_ptr<const Config> config();
  net::asio::awaitable<void> lane_loop(size_t i);
  net::asio::awaitable<void> connect_target(std::shared_ptr<Lane> lane, uint32_t id,
                                            proto::StreamKind kind, std::string host, uint16_t port,
                                            bool by_name, std::shared_ptr<const Config> cfg);
  void write_health();

  Workers& w_;
  std::mutex cfg_mu_;
  std::shared_ptr<const Config> cfg_;
  uint64_t group_ = 0;
  std::mutex mu_;
  std::vector<Slot> slots_;
  std::atomic<bool> draining_{false}, stopping_{false};
  std::mutex health_mu_;
  int health_up_ = -1;  // lanes up when the health file was last written
  std::mutex rng_mu_;
  std::mt19937_64 rng_;
};

}  // namespace tunnel
