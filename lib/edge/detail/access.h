// edge access — lib/auth wired into edged. One Access per daemon, shared by every worker:
// the blocking pool (argon2id, store lookups, the mail command), the brute-force and rate
// limiters, the identity-assertion key and JWKS, and a writer thread that batches audit rows,
// session touches and failure counts into the store. Each worker keeps a SessionCache of its
// own (no lock on the hot path) that is emptied whenever a new snapshot is published, so a
// revocation reaches every worker with the reload that follows the store change.
#pragma once

#include <boost/asio/thread_pool.hpp>

#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>

#include "auth/auth.h"
#include "auth/limits.h"
#include "auth/upstream.h"
#include "edge/config.h"
#include "geoip/geoip.h"
#include "net/net.h"
#include "pki/jwt.h"
#include "store/store.h"

namespace edge::detail {

// Sessions looked up by one worker: token hash -> row (nullopt: no such session).
struct SessionCache {
  struct Entry {
    std::optional<auth::Session> session;
    int64_t fetched_ms = 0;
  };
  static constexpr int64_t kMaxAgeMs = 5000;  // even without a reload, look again after this
  static constexpr size_t kMaxEntries = 50000;
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string, Entry, Hash, std::equal_to<>> map;
  uint64_t gen = 0;    // the snapshot generation it was filled under
  uint64_t epoch = 0;  // Access::session_epoch it was filled under

  const Entry* find(std::string_view hash, int64_t now_ms) const;
  void put(const std::string& hash, std::optional<auth::Session> s, int64_t now_ms);
};

// What the settings of [auth] turn into; replaced as a whole on a config reload.
struct AccessSettings {
  auth::HeaderNames names;
  std::optional<jwt::SigningKey> key;  // identity assertions (none: no assertion header)
  std::string jwks;                    // {"keys":[…]} for <portal>/jwks.json
  std::string issuer, audience;
  int64_t assertion_ttl = 60;
  std::string mail_command, mail_from;
  std::string audit_log;
  bool audit_store = true;
  std::shared_ptr<const geoip::Db> geo;  // null: no GeoIP database (country rules never match)
};

class Access {
 public:
  explicit Access(const Config& cfg);
  ~Access();
  Access(const Access&) = delete;

  // Loads the assertion key and the rest of [auth] (control thread; at start and on reload).
  core::Result<void> configure(const Config& cfg);
  std::shared_ptr<const AccessSettings> settings() const;

  // Runs f(store::Db*) on the blocking pool (the Db is the pool thread's own connection, null
  // when the store cannot be opened) and resumes the caller on its own executor with the
  // result. `f` is the caller's named local (it must outlive the wait): GCC 12 destroys some
  // temporaries of a co_await expression twice, so none with a destructor may appear in it.
  template <class R>
  net::asio::awaitable<R> offload(std::function<R(store::Db*)>& f);

  // Limits (any thread). Results are seconds to wait (0: go ahead).
  int64_t rate(const auth::Policy& p, const auth::IpAddr& ip, int64_t now_ms);
  int64_t locked(const auth::IpAddr& ip, int64_t resource_id, int64_t now_ms);
  // A failed check of `credential` (see auth::Backoff) and a success of one: a success clears
  // only that credential's failures. Both are kept in the store's auth_failures (the count
  // and the lockout of the client), which the constructor reads back after a restart.
  int64_t failed(const auth::IpAddr& ip, int64_t resource_id, std::string_view credential,
                 int64_t now_ms);
  void succeeded(const auth::IpAddr& ip, int64_t resource_id, std::string_view credential);
  // Emailed-code requests: at most kEmailBurst per client and resource (one more a minute)
  // and kAddressBurst per address and resource (one more every five minutes).
  int64_t email_limit(const auth::IpAddr& ip, int64_t resource_id, std::string_view address,
                      int64_t now_ms);
  static constexpr double kEmailBurst = 5, kAddressBurst = 3;

  // One decision for the audit: the JSON line (audit_json) goes to the audit log and, batched
  // by the writer thread, to the store's audit table.
  // `s`: the caller's current settings (workers keep a copy; no lock per request).
  void audit(const AccessSettings& s, const auth::Decision& d, const auth::Request& req,
             const auth::Policy& p, int64_t now);
  // A store write done later by the writer thread (in a batch transaction).
  void write(std::function<core::Result<void>(store::Db&)> job);
  // Pipes an RFC 5322 message to the mail command (blocking: call it on the pool).
  core::Result<void> send_mail(const std::string& message) const;

  // For the control socket's status.
  boost::json::object stats() const;

  // Bumped when this process ends a session itself (logout): every worker empties its session
  // cache at its next request, without waiting for the reload the store change brings.
  std::atomic<uint64_t> session_epoch{0};

  // The store file was replaced (renamed over): the pool threads and the writer drop their
  // connections to the old file and open the path again at their next use (control thread).
  void store_replaced() { store_epoch_.fetch_add(1, std::memory_order_release); }

 private:
  store::Db* thread_db();
  void writer_loop();
  void restore_failures();
  void save_failures(const std::string& key, int64_t resource_id, int failures, int64_t wait_ms);
  void flush_audit_log(std::string& lines);

  std::string store_path_;
  std::atomic<uint64_t> store_epoch_{0};  // see store_replaced()
  net::asio::thread_pool pool_;
  mutable std::mutex set_mu_;
  std::shared_ptr<const AccessSettings> set_;

  std::mutex lim_mu_;
  auth::Backoff backoff_;
  struct Bucket {
    int64_t rate = 0, burst = 0;
    std::unique_ptr<auth::RateLimiter> lim;
  };
  std::map<int64_t, Bucket> rates_;
  auth::RateLimiter email_by_client_{1.0 / 60, kEmailBurst};
  auth::RateLimiter email_by_address_{1.0 / 300, kAddressBurst};

  std::mutex q_mu_;
  std::condition_variable q_cv_;
  std::deque<std::function<core::Result<void>(store::Db&)>> jobs_;
  struct AuditRow {
    int64_t ts;
    std::string action, object, detail;
  };
  std::vector<AuditRow> audit_rows_;  // inserted by the writer with one prepared statement
  std::string audit_lines_;
  bool stop_ = false;
  std::atomic<uint64_t> audited_{0}, dropped_{0}, write_errors_{0};
  int audit_fd_ = -1;
  std::string audit_fd_path_;
  std::thread writer_;
};

template <class R>
net::asio::awaitable<R> Access::offload(std::function<R(store::Db*)>& f) {
  namespace asio = net::asio;
  return asio::async_initiate<decltype(asio::use_awaitable), void(R)>(
      [this, fp = &f](auto handler) {
        asio::post(pool_, [this, fp, h = std::move(handler)]() mutable {
          auto ex = asio::get_associated_executor(h);
          asio::post(ex, [h = std::move(h), r = (*fp)(thread_db())]() mutable {
            std::move(h)(std::move(r));
          });
        });
      },
      asio::use_awaitable);
}

}  // namespace edge::detail
