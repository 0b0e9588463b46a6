// edge::detail::Health — active health checks of the targets the current routes check: one
// coroutine per target on the control io_context that marks it up after `rise` good checks and
// down after `fall` failed ones. Owned by the control thread's Control; control thread only.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <utility>

#include "edge/detail/daemon.h"

namespace edge::detail {

struct Checker;

class Health {
 public:
  explicit Health(Daemon& d) : d_(d) {}
  // After a reload: a checker for every checked target of the current routes; checkers of
  // targets no longer checked stop (and their targets count as healthy again).
  void sync();
  // Draining: every checker stops.
  void stop();
  // Check this target now (its site came back online).
  void wake(TargetState* t);

 private:
  asio::awaitable<void> loop(std::shared_ptr<Checker> ck);
  asio::awaitable<std::pair<bool, std::string>> check_once(Checker& ck);

  Daemon& d_;
  std::map<TargetState*, std::shared_ptr<Checker>> checkers_;
  BufferPool bufs_;
};

}  // namespace edge::detail
