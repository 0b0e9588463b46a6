// edge::detail::Sites — targets follow tunneld's view of their site: while some target of the
// current routes is behind a site, tunneld's `status` is polled (one kept connection to its
// control socket) and the targets of an offline or disabled site go down together. Owned by
// the control thread's Control; control thread only. Writes Daemon's tunneld_* and sites.
#pragma once

#include <memory>
#include <string>

#include "edge/detail/daemon.h"

namespace boost::json {
class object;
}

namespace edge::detail {

class Health;

class Sites {
 public:
  Sites(Daemon& d, Health& health);
  ~Sites();
  // Polls every 250 ms until the daemon drains (spawned on the control io_context).
  asio::awaitable<void> loop();

 private:
  // One `status` request (the connection is kept for the next poll): "" and `reply` filled,
  // or why not.
  asio::awaitable<std::string> ask_tunneld(const std::string& path, boost::json::object& reply);
  // Marks targets down or up from a status reply (or from tunneld's silence: nothing changes).
  void apply(const Snapshot& snap, const boost::json::object* status, const std::string& error);

  Daemon& d_;
  Health& health_;
  std::unique_ptr<Stream> tun_;  // kept open between polls of tunneld's status
  std::string tun_in_;           // what it sent past the last reply line
};

}  // namespace edge::detail
