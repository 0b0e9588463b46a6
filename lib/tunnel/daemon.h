// tunnel::Daemon — what the edge and site roles share with the runner (daemon.cpp): start,
// status, reload, drain. Created and started on the main thread; the methods below are then
// called from worker 0's thread (control socket, signals) or, for reload, from the runner's
// reload thread, and must be thread-safe. None may block worker 0 on a file or the store.
#pragma once

#include <boost/json/object.hpp>

#include <memory>

#include "core/result.h"
#include "ipc/server.h"
#include "tunnel/config.h"
#include "tunnel/relay.h"

namespace tunnel {

class Daemon {
 public:
  virtual ~Daemon() = default;
  // Listens / dials, registers role-specific control ops (edge: "dial").
  virtual core::Result<void> start(ipc::Server& control) = 0;
  virtual boost::json::object status() = 0;
  // Swaps in a new configuration (already validated) and re-reads the store. The new
  // configuration stays even when the store cannot be read (locked: Errc::tempfail).
  virtual core::Result<void> reload(std::shared_ptr<const Config> cfg) = 0;
  // Stop accepting new streams and connections.
  virtual void begin_drain() = 0;
  virtual size_t open_streams() = 0;
  // CLOSE (going away) on every lane; stop reconnecting.
  virtual void close_all() = 0;
  virtual size_t lanes_alive() = 0;
};

std::unique_ptr<Daemon> make_edge(Workers& w, std::shared_ptr<const Config> cfg);
std::unique_ptr<Daemon> make_site(Workers& w, std::shared_ptr<const Config> cfg);

// Milliseconds since the Unix epoch, and as RFC 3339 (for status replies).
int64_t unix_ms_now();
std::string rfc3339_ms(int64_t unix_ms);

}  // namespace tunnel
