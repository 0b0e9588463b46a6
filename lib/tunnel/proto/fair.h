// tunnel::proto::FairQueue — the order in which a lane's streams get room in its queue of
// sealed records once it drains: round robin. A stream that finds the queue full waits at the
// back; when room comes, streams are served from the front, one record each, and one that
// fills the queue again waits at the back once more. While anyone waits, a stream seals one
// record per turn, so a bulk transfer never makes an interactive stream wait more than a record
// per stream ahead of it. Pure bookkeeping: the lane decides what "full" means.
#pragma once

#include <algorithm>
#include <cstdint>
#include <deque>
#include <optional>

namespace tunnel::proto {

class FairQueue {
 public:
  // The stream found no room: it waits at the back (once).
  void wait(uint32_t id) {
    if (std::find(q_.begin(), q_.end(), id) == q_.end()) q_.push_back(id);
  }
  // The stream that gets room next, taken off the queue.
  std::optional<uint32_t> next() {
    if (q_.empty()) return std::nullopt;
    uint32_t id = q_.front();
    q_.pop_front();
    return id;
  }
  bool waiting(uint32_t id) const { return std::find(q_.begin(), q_.end(), id) != q_.end(); }
  bool empty() const { return q_.empty(); }
  size_t size() const { return q_.size(); }
  void clear() { q_.clear(); }
  // How many records a stream may seal in one turn: `most` when nobody waits, else one.
  int turn(int most) const { return q_.empty() ? most : 1; }

 private:
  std::deque<uint32_t> q_;
};

}  // namespace tunnel::proto
