// tunnel::proto::ReplayGuard — the responder's memory of the newest handshake timestamp accepted
// per (initiator static key, lane index). One guard serves every session of a daemon; it is not
// locked, so a daemon with several io_context threads wraps it in a mutex or shards it by key.
#pragma once

#include <cstdint>
#include <map>
#include <utility>

#include "crypto/crypto.h"
#include "tunnel/proto/wire.h"

namespace tunnel::proto {

class ReplayGuard {
 public:
  // True, and remembers ts, if ts is strictly newer than the last accepted timestamp for
  // (key, lane); false for a replayed or stale handshake. Lanes are tracked separately because a
  // site starts its lanes at the same time and their handshakes may arrive in any order.
  bool accept(const crypto::Key& key, uint16_t lane, const Tai64n& ts) {
    auto [it, inserted] = last_.try_emplace({key, lane}, ts);
    if (inserted) return true;
    if (ts <= it->second) return false;
    it->second = ts;
    return true;
  }
  // Drops what is known about a key (a site removed from the store).
  void forget(const crypto::Key& key) {
    for (auto it = last_.lower_bound({key, 0}); it != last_.end() && it->first.first == key;)
      it = last_.erase(it);
  }
  size_t size() const { return last_.size(); }

 private:
  std::map<std::pair<crypto::Key, uint16_t>, Tai64n> last_;
};

}  // namespace tunnel::proto
