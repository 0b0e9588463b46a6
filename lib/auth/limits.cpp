#include "auth/limits.h"

#include <algorithm>
#include <cmath>

namespace auth {

std::string limit_key(const IpAddr& client, int64_t resource_id) {
  IpAddr a = client;
  if (!a.v4) std::fill(a.b.begin() + 8, a.b.end(), 0);
  return to_string(a) + (a.v4 ? "" : "/64") + "|" + std::to_string(resource_id);
}

int64_t retry_after_seconds(int64_t wait_ms) {
  if (wait_ms <= 0) return 0;
  return (wait_ms + 999) / 1000;
}

int64_t Backoff::wait_ms(const std::string& key, int64_t now_ms) const {
  auto it = m_.find(key);
  if (it == m_.end() || now_ms - it->second.last_ms >= c_.forget_ms) return 0;
  return std::max<int64_t>(0, it->second.until_ms - now_ms);
}

int Backoff::failures(const std::string& key, int64_t now_ms) const {
  auto it = m_.find(key);
  if (it == m_.end() || now_ms - it->second.last_ms >= c_.forget_ms) return 0;
  return it->second.failures;
}

int64_t Backoff::failure(const std::string& key, int64_t now_ms, std::string_view credential) {
  if (m_.size() >= c_.max_entries && !m_.count(key)) prune(now_ms);
  Entry& e = m_[key];
  if (e.failures > 0 && now_ms - e.last_ms >= c_.forget_ms) e = Entry{};
  e.failures++;
  e.last_ms = now_ms;
  if (!credential.empty()) {
    auto it = std::find_if(e.by_credential.begin(), e.by_credential.end(),
                           [&](const auto& p) { return p.first == credential; });
    if (it != e.by_credential.end())
      it->second++;
    else if (e.by_credential.size() < kMaxCredentials)
      e.by_credential.emplace_back(std::string(credential), 1);
  }
  int64_t wait = 0;
  if (e.failures >= c_.lockout_failures) {
    wait = c_.lockout_ms;
  } else if (e.failures > c_.free_failures) {
    int doublings = std::min(e.failures - c_.free_failures - 1, 40);
    wait = c_.base_ms;
    for (int i = 0; i < doublings && wait < c_.max_wait_ms; i++) wait *= 2;
    wait = std::min(wait, c_.max_wait_ms);
  }
  e.until_ms = std::max(e.until_ms, now_ms + wait);
  return e.until_ms - now_ms;
}

void Backoff::success(const std::string& key, std::string_view credential) {
  auto it = m_.find(key);
  if (it == m_.end()) return;
  Entry& e = it->second;
  auto c = std::find_if(e.by_credential.begin(), e.by_credential.end(),
                        [&](const auto& p) { return p.first == credential; });
  if (c == e.by_credential.end()) return;
  e.failures -= c->second;
  e.by_credential.erase(c);
  if (e.failures <= 0) m_.erase(it);
}

void Backoff::restore(const std::string& key, int failures, int64_t last_ms, int64_t until_ms) {
  if (failures <= 0) return;
  if (m_.size() >= c_.max_entries && !m_.count(key)) prune(last_ms);
  Entry& e = m_[key];
  e.failures = std::max(e.failures, failures);
  e.last_ms = std::max(e.last_ms, last_ms);
  e.until_ms = std::max(e.until_ms, until_ms);
}

void Backoff::prune(int64_t now_ms) {
  std::erase_if(m_, [&](const auto& kv) { return now_ms - kv.second.last_ms >= c_.forget_ms; });
  if (m_.size() < c_.max_entries) return;
  // Still full: drop keys that are not currently waiting, then anything, down to 90%.
  size_t target = c_.max_entries - c_.max_entries / 10 - 1;
  for (int pass = 0; pass < 2 && m_.size() > target; pass++) {
    for (auto it = m_.begin(); it != m_.end() && m_.size() > target;) {
      if (pass == 1 || it->second.until_ms <= now_ms)
        it = m_.erase(it);
      else
        ++it;
    }
  }
}

int64_t RateLimiter::take(const std::string& key, int64_t now_ms) {
  if (rate_ <= 0) return 0;
  auto it = m_.find(key);
  if (it == m_.end()) {
    if (m_.size() >= max_) prune(now_ms);
    it = m_.emplace(key, Bucket{burst_, now_ms}).first;
  }
  Bucket& b = it->second;
  if (now_ms > b.last_ms) {
    b.tokens = std::min(burst_, b.tokens + static_cast<double>(now_ms - b.last_ms) * rate_ / 1000);
    b.last_ms = now_ms;
  }
  if (b.tokens >= 1) {
    b.tokens -= 1;
    return 0;
  }
  auto wait = static_cast<int64_t>(std::ceil((1 - b.tokens) * 1000 / rate_));
  return std::max<int64_t>(1, retry_after_seconds(wait));
}

void RateLimiter::prune(int64_t now_ms) {
  // Full buckets carry no state worth keeping.
  std::erase_if(m_, [&](const auto& kv) {
    return kv.second.tokens + static_cast<double>(now_ms - kv.second.last_ms) * rate_ / 1000 >=
           burst_;
  });
  for (auto it = m_.begin(); it != m_.end() && m_.size() >= max_;) it = m_.erase(it);
}

}  // namespace auth
