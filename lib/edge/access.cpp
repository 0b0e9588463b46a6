// edged's access-control state: the blocking pool, limiters, assertion key, mail command and
// the store writer thread (see detail/access.h).
#include "edge/detail/access.h"

#include <boost/json.hpp>

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "auth/session.h"
#include "core/fs.h"
#include "log/log.h"
#include "pki/pki.h"

extern char** environ;

namespace edge::detail {

namespace {

auto logger() {
  return wlog::get("edge");
}

int64_t mono_now_ms() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

constexpr size_t kMaxQueue = 200000;  // pending store writes before audit rows are dropped

}  // namespace

const SessionCache::Entry* SessionCache::find(std::string_view hash, int64_t now_ms) const {
  auto it = map.find(hash);
  if (it == map.end() || now_ms - it->second.fetched_ms > kMaxAgeMs) return nullptr;
  return &it->second;
}

void SessionCache::put(const std::string& hash, std::optional<auth::Session> s, int64_t now_ms) {
  if (map.size() >= kMaxEntries) map.clear();
  map[hash] = Entry{std::move(s), now_ms};
}

namespace {
auth::BackoffConfig backoff_config(const Config& cfg) {
  auth::BackoffConfig b;
  b.free_failures = cfg.free_failures;
  b.lockout_failures = cfg.max_failures;
  b.lockout_ms = cfg.lockout.count();
  b.forget_ms = std::max(b.forget_ms, b.lockout_ms);
  return b;
}
}  // namespace

Access::Access(const Config& cfg)
    : store_path_(cfg.store),
      pool_(cfg.auth_threads ? cfg.auth_threads : 2),
      backoff_(backoff_config(cfg)) {
  set_ = std::make_shared<AccessSettings>();
  restore_failures();
  writer_ = std::thread([this] { writer_loop(); });
}

// Failures and lockouts outlive a restart: the rows of auth_failures still within the
// backoff's memory go back into it (wall-clock times turned into this process's clock).
void Access::restore_failures() {
  if (store_path_.empty() || !core::file_exists(store_path_)) return;
  store::OpenOptions oo;
  oo.create = false;
  auto db = store::Db::open(store_path_, oo);
  if (!db) return;
  auto st = db->prepare(
      "SELECT client, resource_id, failures, last_failure, locked_until FROM auth_failures "
      "WHERE last_failure > ?1");
  if (!st) return;
  const int64_t now = ::time(nullptr), mono = mono_now_ms();
  st->bind(1, now - backoff_.config().forget_ms / 1000);
  std::lock_guard lk(lim_mu_);
  size_t n = 0;
  for (;;) {
    auto row = st->step();
    if (!row || !*row) break;
    std::string key = st->col_text(0) + "|" + std::to_string(st->col_int(1));
    int64_t last = mono - std::max<int64_t>(0, now - st->col_int(3)) * 1000;
    int64_t until = st->col_int(4) > now ? mono + (st->col_int(4) - now) * 1000 : 0;
    backoff_.restore(key, static_cast<int>(st->col_int(2)), last, until);
    n++;
  }
  if (n) logger()->info("event=failures_restored clients={}", n);
}

// The count and the lockout of a client (key = auth::limit_key), for the operator, other
// edge nodes and the next start; a count of 0 removes the row.
void Access::save_failures(const std::string& key, int64_t resource_id, int failures,
                           int64_t wait_ms) {
  std::string client = key.substr(0, key.find('|'));
  int64_t now = ::time(nullptr);
  int64_t until = wait_ms > 0 ? now + auth::retry_after_seconds(wait_ms) : 0;
  write([client, resource_id, failures, now, until](store::Db& db) -> core::Result<void> {
    if (failures <= 0) {
      WARREN_TRY(st,
                 db.prepare("DELETE FROM auth_failures WHERE client = ?1 AND resource_id = ?2"));
      st.bind(1, client).bind(2, resource_id);
      return st.run();
    }
    WARREN_TRY(st, db.prepare("INSERT INTO auth_failures (client, resource_id, failures, "
                              "last_failure, locked_until) VALUES (?1, ?2, ?3, ?4, ?5) "
                              "ON CONFLICT (client, resource_id) DO UPDATE SET "
                              "failures = excluded.failures, last_failure = excluded.last_failure, "
                              "locked_until = max(locked_until, excluded.locked_until)"));
    st.bind(1, client).bind(2, resource_id).bind(3, failures).bind(4, now).bind(5, until);
    return st.run();
  });
}

Access::~Access() {
  pool_.join();
  {
    std::lock_guard lk(q_mu_);
    stop_ = true;
  }
  q_cv_.notify_all();
  if (writer_.joinable()) writer_.join();
  if (audit_fd_ > 1) ::close(audit_fd_);
}

core::Result<void> Access::configure(const Config& cfg) {
  auto s = std::make_shared<AccessSettings>();
  s->names.user = cfg.header_user;
  s->names.email = cfg.header_email;
  s->names.name = cfg.header_name;
  s->names.role = cfg.header_role;
  s->names.assertion = cfg.header_assertion;
  s->issuer = cfg.assertion_issuer;
  s->audience = cfg.assertion_audience;
  s->assertion_ttl = cfg.assertion_ttl.count() / 1000;
  s->mail_command = cfg.mail_command;
  s->mail_from = cfg.mail_from;
  s->audit_log = cfg.audit_log;
  s->audit_store = cfg.audit_store;
  if (!cfg.geoip_db.empty()) {
    auto cur = settings();
    if (cur->geo && cur->geo->path() == cfg.geoip_db) {
      s->geo = cur->geo;
    } else {
      auto g = geoip::Db::open(cfg.geoip_db);
      if (!g) return core::err(core::Errc::config, "[auth] geoip_db: " + g.error().message);
      s->geo = std::move(*g);
    }
  }
  if (!cfg.assertion_key.empty()) {
    auto pem = core::read_file(cfg.assertion_key, 1 << 20);
    if (!pem)
      return core::err(core::Errc::config,
                       "[auth] assertion_key: " + cfg.assertion_key + ": " + pem.error().message);
    auto key = pki::parse_private_key(*pem, std::nullopt);
    if (!key)
      return core::err(core::Errc::config,
                       "[auth] assertion_key: " + cfg.assertion_key + ": " + key.error().message);
    auto alg = jwt::alg_for(*key);
    if (!alg) return core::err(core::Errc::config, "[auth] assertion_key: " + alg.error().message);
    // The JWK and its thumbprint take the public half of the private key.
    jwt::SigningKey sk{*key, *alg, jwt::thumbprint(*key)};
    auto jwk = jwt::to_jwk(*key, sk.kid);
    if (!jwk) return core::err(core::Errc::config, "[auth] assertion_key: " + jwk.error().message);
    (*jwk)["use"] = "sig";
    boost::json::object doc;
    doc["keys"] = boost::json::array{*jwk};
    s->jwks = boost::json::serialize(doc);
    s->key = std::move(sk);
  } else {
    s->jwks = "{\"keys\":[]}";
  }
  std::lock_guard lk(set_mu_);
  set_ = std::move(s);
  return {};
}

std::shared_ptr<const AccessSettings> Access::settings() const {
  std::lock_guard lk(set_mu_);
  return set_;
}

store::Db* Access::thread_db() {
  // Pool threads run argon2id (~0.1 s of CPU per login): at nice 10 they yield to the I/O
  // threads on a shared core, so a burst of logins slows logins, not proxying.
  thread_local bool niced = [] {
    (void)::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), 10);
    return true;
  }();
  (void)niced;
  // One connection per pool thread, opened on first use and again after a failure.
  thread_local std::optional<store::Db> db;
  thread_local std::string path;
  thread_local uint64_t epoch = 0;
  uint64_t e = store_epoch_.load(std::memory_order_acquire);
  if (db && path == store_path_ && epoch == e) return &*db;
  db.reset();
  epoch = e;
  if (store_path_.empty() || !core::file_exists(store_path_)) return nullptr;
  store::OpenOptions oo;
  oo.create = false;
  oo.migrate = false;
  oo.busy_timeout_ms = 2000;
  auto o = store::Db::open(store_path_, oo);
  if (!o) {
    logger()->error("event=store_open_failed error=\"{}\"", o.error().message);
    return nullptr;
  }
  db = std::move(*o);
  path = store_path_;
  return &*db;
}

int64_t Access::rate(const auth::Policy& p, const auth::IpAddr& ip, int64_t now_ms) {
  if (p.rate_per_sec <= 0) return 0;
  std::lock_guard lk(lim_mu_);
  Bucket& b = rates_[p.resource_id];
  if (!b.lim || b.rate != p.rate_per_sec || b.burst != p.rate_burst) {
    b.rate = p.rate_per_sec;
    b.burst = p.rate_burst;
    b.lim = std::make_unique<auth::RateLimiter>(
        static_cast<double>(p.rate_per_sec),
        static_cast<double>(std::max(p.rate_burst, p.rate_per_sec)));
  }
  return b.lim->take(auth::limit_key(ip, p.resource_id), now_ms);
}

int64_t Access::locked(const auth::IpAddr& ip, int64_t resource_id, int64_t now_ms) {
  std::lock_guard lk(lim_mu_);
  return auth::retry_after_seconds(backoff_.wait_ms(auth::limit_key(ip, resource_id), now_ms));
}

int64_t Access::failed(const auth::IpAddr& ip, int64_t resource_id, std::string_view credential,
                       int64_t now_ms) {
  std::string key = auth::limit_key(ip, resource_id);
  int64_t wait;
  int failures;
  {
    std::lock_guard lk(lim_mu_);
    wait = backoff_.failure(key, now_ms, credential);
    failures = backoff_.failures(key, now_ms);
  }
  save_failures(key, resource_id, failures, wait);
  return auth::retry_after_seconds(wait);
}

void Access::succeeded(const auth::IpAddr& ip, int64_t resource_id, std::string_view credential) {
  std::string key = auth::limit_key(ip, resource_id);
  int before, after;
  int64_t wait;
  {
    std::lock_guard lk(lim_mu_);
    const int64_t now = mono_now_ms();
    before = backoff_.failures(key, now);
    if (before == 0) return;
    backoff_.success(key, credential);
    after = backoff_.failures(key, now);
    wait = backoff_.wait_ms(key, now);
  }
  if (after != before) save_failures(key, resource_id, after, wait);
}

int64_t Access::email_limit(const auth::IpAddr& ip, int64_t resource_id, std::string_view address,
                            int64_t now_ms) {
  std::lock_guard lk(lim_mu_);
  int64_t a = email_by_client_.take(auth::limit_key(ip, resource_id), now_ms);
  if (a > 0) return a;
  if (address.empty()) return 0;
  return email_by_address_.take(std::to_string(resource_id) + "|" + std::string(address), now_ms);
}

void Access::audit(const AccessSettings& set, const auth::Decision& d, const auth::Request& req,
                   const auth::Policy& p, int64_t now) {
  const AccessSettings* s = &set;
  // Requests allowed by a session the store already knows go to the store once a minute per
  // session (when decide() refreshes last_seen); the audit log and the access log get each.
  const bool to_store = s->audit_store && !(d.reason == "session" && !d.touch);
  if (s->audit_log.empty() && !to_store) return;
  std::string line = auth::audit_json(d, req, p, now);
  audited_.fetch_add(1, std::memory_order_relaxed);
  std::lock_guard lk(q_mu_);
  if (!s->audit_log.empty()) {
    if (audit_lines_.size() < (64u << 20)) {
      audit_lines_.append(line).push_back('\n');
    } else {
      dropped_.fetch_add(1, std::memory_order_relaxed);
    }
  }
  if (to_store) {
    if (audit_rows_.size() >= kMaxQueue) {
      dropped_.fetch_add(1, std::memory_order_relaxed);
    } else {
      audit_rows_.push_back(AuditRow{now, std::string("access.") + auth::outcome_name(d.outcome),
                                     p.resource, std::move(line)});
    }
  }
  if (audit_rows_.size() == 1 || audit_lines_.size() > (1u << 20)) q_cv_.notify_one();
}

void Access::write(std::function<core::Result<void>(store::Db&)> job) {
  {
    std::lock_guard lk(q_mu_);
    jobs_.push_back(std::move(job));
  }
  q_cv_.notify_one();
}

void Access::flush_audit_log(std::string& lines) {
  if (lines.empty()) return;
  auto s = settings();
  if (s->audit_log == "-") {
    (void)core::write_stdout(lines);
    return;
  }
  if (audit_fd_ < 0 || audit_fd_path_ != s->audit_log) {
    if (audit_fd_ > 1) ::close(audit_fd_);
    audit_fd_ = ::open(s->audit_log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    audit_fd_path_ = s->audit_log;
    if (audit_fd_ < 0) {
      logger()->error("event=audit_log_failed file={} error=\"{}\"", s->audit_log,
                      std::strerror(errno));
      return;
    }
  }
  size_t off = 0;
  while (off < lines.size()) {
    ssize_t n = ::write(audit_fd_, lines.data() + off, lines.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    off += static_cast<size_t>(n);
  }
}

void Access::writer_loop() {
  // Batches: whatever queued up in ~100 ms goes in one transaction (each job in a savepoint,
  // so one failing write does not undo the others).
  std::optional<store::Db> db;
  uint64_t epoch = store_epoch_.load(std::memory_order_acquire);
  for (;;) {
    std::deque<std::function<core::Result<void>(store::Db&)>> batch;
    std::vector<AuditRow> rows;
    std::string lines;
    {
      std::unique_lock lk(q_mu_);
      q_cv_.wait_for(lk, std::chrono::milliseconds(100), [&] {
        return stop_ || !jobs_.empty() || !audit_lines_.empty() || !audit_rows_.empty();
      });
      if (stop_ && jobs_.empty() && audit_lines_.empty() && audit_rows_.empty()) return;
      batch.swap(jobs_);
      rows.swap(audit_rows_);
      lines.swap(audit_lines_);
    }
    flush_audit_log(lines);
    if (batch.empty() && rows.empty()) continue;
    if (uint64_t e = store_epoch_.load(std::memory_order_acquire); e != epoch) {
      db.reset();  // the file was replaced: write to the one the path names now
      epoch = e;
    }
    if (!db) {
      if (!store_path_.empty() && core::file_exists(store_path_)) {
        store::OpenOptions oo;
        oo.create = false;
        oo.migrate = false;
        if (auto o = store::Db::open(store_path_, oo)) db = std::move(*o);
      }
      if (!db) {
        write_errors_.fetch_add(batch.size() + rows.size(), std::memory_order_relaxed);
        continue;
      }
    }
    auto tx = store::Tx::begin(*db);
    if (!tx) {
      write_errors_.fetch_add(batch.size(), std::memory_order_relaxed);
      logger()->error("event=store_write_failed error=\"{}\"", tx.error().message);
      continue;
    }
    if (!rows.empty()) {
      auto sp = store::Tx::begin(*db);
      auto st = db->prepare(
          "INSERT INTO audit(ts, actor, action, object, detail) VALUES(?1, 'edged', ?2, ?3, ?4)");
      bool ok = sp && st;
      for (size_t i = 0; ok && i < rows.size(); ++i) {
        st->reset();
        st->bind(1, rows[i].ts)
            .bind(2, rows[i].action)
            .bind(3, rows[i].object)
            .bind(4, rows[i].detail);
        ok = bool(st->run());
      }
      if (ok) ok = bool(sp->commit());
      if (!ok) {
        write_errors_.fetch_add(rows.size(), std::memory_order_relaxed);
        logger()->warn("event=audit_write_failed rows={}", rows.size());
      }
    }
    for (auto& job : batch) {
      auto sp = store::Tx::begin(*db);
      if (!sp) continue;
      if (auto r = job(*db); !r) {
        write_errors_.fetch_add(1, std::memory_order_relaxed);
        logger()->warn("event=store_write_failed error=\"{}\"", r.error().message);
        continue;  // the savepoint rolls back
      }
      (void)sp->commit();
    }
    if (auto c = tx->commit(); !c) {
      write_errors_.fetch_add(batch.size(), std::memory_order_relaxed);
      logger()->error("event=store_write_failed error=\"{}\"", c.error().message);
    }
  }
}

core::Result<void> Access::send_mail(const std::string& message) const {
  auto s = settings();
  int in[2];
  if (::pipe2(in, O_CLOEXEC) != 0) return core::err(core::Errc::unavailable, "mail: pipe failed");
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in[0], 0);
  const char* argv[] = {"/bin/sh", "-c", s->mail_command.c_str(), nullptr};
  pid_t pid = -1;
  int rc = ::posix_spawn(&pid, "/bin/sh", &fa, nullptr, const_cast<char* const*>(argv), environ);
  posix_spawn_file_actions_destroy(&fa);
  ::close(in[0]);
  if (rc != 0) {
    ::close(in[1]);
    return core::err(core::Errc::unavailable,
                     std::string("mail: cannot start /bin/sh: ") + std::strerror(rc));
  }
  // The message is small (a few hundred bytes): it fits the pipe; a command that does not
  // read it still cannot block us past the deadline below.
  ::signal(SIGPIPE, SIG_IGN);
  size_t off = 0;
  while (off < message.size()) {
    ssize_t n = ::write(in[1], message.data() + off, message.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    off += static_cast<size_t>(n);
  }
  ::close(in[1]);
  int status = 0;
  for (int i = 0; i < 1000; ++i) {  // 10 s
    pid_t w = ::waitpid(pid, &status, WNOHANG);
    if (w == pid) {
      if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return {};
      return core::err(
          core::Errc::unavailable,
          "mail: `" + s->mail_command + "` exited with status " +
              std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status)));
    }
    ::usleep(10000);
  }
  ::kill(pid, SIGKILL);
  ::waitpid(pid, &status, 0);
  return core::err(core::Errc::unavailable,
                   "mail: `" + s->mail_command + "` took longer than 10 s");
}

boost::json::object Access::stats() const {
  boost::json::object o;
  o["audited"] = audited_.load();
  o["audit_dropped"] = dropped_.load();
  o["store_write_errors"] = write_errors_.load();
  o["assertions"] = settings()->key.has_value();
  return o;
}

}  // namespace edge::detail
