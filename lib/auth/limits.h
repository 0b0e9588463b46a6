// auth limits — brute-force backoff/lockout for failed credential checks and a token-bucket
// request rate limiter, both keyed by (client, resource). Plain in-memory state with time
// passed in (milliseconds); bounded in size. Not thread-safe: edged keeps one per worker
// thread (limits are then per core) or guards a shared one with a mutex. The store table
// auth_failures can persist Backoff entries across nodes and restarts.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "auth/rules.h"

namespace auth {

// The key for a client: the address for IPv4, its /64 for IPv6 (one host usually owns a
// whole /64, so per-address limits would be trivial to dodge), then "|" and the resource id.
std::string limit_key(const IpAddr& client, int64_t resource_id);

struct BackoffConfig {
  int free_failures = 3;            // failures before any wait
  int64_t base_ms = 1000;           // first wait; doubles per further failure
  int64_t max_wait_ms = 5 * 60000;  // cap of the exponential wait
  int lockout_failures = 10;        // this many failures lock the key out
  int64_t lockout_ms = 15 * 60000;  // for this long
  int64_t forget_ms = 60 * 60000;   // failures older than this are forgotten
  size_t max_entries = 100000;      // oldest entries are dropped beyond this
};

// Failures count per key (client and resource) — the lockout is the key's — and, inside it,
// per credential tried ("password", "user:a@b.c", "basic:KEYID", "link:ID", ...). A success
// takes away only the failures of the credential that succeeded: a client that holds one
// valid credential (its own API key, a share link) cannot reset the count of its guesses at
// another.
class Backoff {
 public:
  explicit Backoff(BackoffConfig c = {}) : c_(c) {}
  // Milliseconds the key must still wait before its next attempt (0: go ahead).
  int64_t wait_ms(const std::string& key, int64_t now_ms) const;
  // Records a failure of `credential`; returns the wait it imposes from now.
  int64_t failure(const std::string& key, int64_t now_ms, std::string_view credential = {});
  // `credential` succeeded: its failures are taken off the key's count (the key is cleared
  // when none are left; a running wait stays).
  void success(const std::string& key, std::string_view credential = {});
  int failures(const std::string& key, int64_t now_ms) const;
  // Puts back a key's state from the store after a restart (failures of no known credential:
  // only time clears them).
  void restore(const std::string& key, int failures, int64_t last_ms, int64_t until_ms);
  size_t size() const { return m_.size(); }
  const BackoffConfig& config() const { return c_; }

 private:
  static constexpr size_t kMaxCredentials = 16;  // per key; beyond, failures stay anonymous
  struct Entry {
    int failures = 0;
    int64_t last_ms = 0;
    int64_t until_ms = 0;  // no attempt before this
    std::vector<std::pair<std::string, int>> by_credential;
  };
  void prune(int64_t now_ms);
  BackoffConfig c_;
  std::unordered_map<std::string, Entry> m_;
};

// Token bucket: `rate` tokens per second, at most `burst`; one request takes one token.
class RateLimiter {
 public:
  RateLimiter(double rate, double burst, size_t max_entries = 100000)
      : rate_(rate), burst_(burst < 1 ? 1 : burst), max_(max_entries) {}
  // 0 when the request may go; else the whole seconds to wait (Retry-After, at least 1).
  int64_t take(const std::string& key, int64_t now_ms);
  size_t size() const { return m_.size(); }

 private:
  struct Bucket {
    double tokens;
    int64_t last_ms;
  };
  void prune(int64_t now_ms);
  double rate_, burst_;
  size_t max_;
  std::unordered_map<std::string, Bucket> m_;
};

// Retry-After seconds for a wait in milliseconds (rounded up, at least 1 when waiting).
int64_t retry_after_seconds(int64_t wait_ms);

}  // namespace auth
