// Site enrollment: POST /.warren/enroll on any host exchanges a site's one-time token for its
// config (lib/enroll), on the access pool. A handler beside forwarding: it answers through its
// Session (edge/detail/session.h); worker thread only.
#include <ctime>

#include "edge/detail/session.h"
#include "enroll/enroll.h"
#include "log/log.h"

namespace edge::detail {

// POST /.warren/enroll on any host: a site exchanges its one-time token for its config
// (lib/enroll). Failed attempts count against the client like failed logins.
asio::awaitable<bool> enroll_site(Session& s, size_t head_len, bool keep) {
  Access& ax = *s.w_.d.access;
  s.in_.consume(head_len);
  auth::IpAddr ip;
  if (auto p = auth::parse_ip(s.c_.peer_ip)) ip = *p;
  if (int64_t wait = ax.locked(ip, 0, mono_ms()); wait > 0) {
    std::string extra = "Retry-After: " + std::to_string(wait) + "\r\n";
    std::string body = "{\"ok\":false,\"error\":\"too many failed attempts\"}\n";
    co_return co_await s.answer(429, "application/json", body, false, extra);
  }
  std::string body;
  if (int st = co_await s.read_small_body(8192, body); st != 0) {
    if (st < 0) co_return false;
    co_return co_await s.reply(st, "send at most 8 KiB with a Content-Length", false);
  }
  const int64_t now = std::time(nullptr);
  struct Reply {
    int status = 200;
    std::string body;
  };
  std::function<Reply(store::Db*)> job = [&](store::Db* db) {
    Reply r;
    if (!db) {
      r.status = 503;
      r.body = enroll::error_json(core::Error{core::Errc::unavailable, "store unavailable"});
      return r;
    }
    auto res = enroll::enroll_site(*db, body, now);
    if (res) {
      r.body = std::move(*res);
    } else {
      r.status = enroll::http_status(res.error());
      r.body = enroll::error_json(res.error());
    }
    return r;
  };
  Reply r = co_await ax.offload(job);
  if (r.status == 403) ax.failed(ip, 0, "enroll", mono_ms());
  wlog::get("edge")->info("event=enroll client={} status={}", s.c_.peer_ip, r.status);
  r.body.push_back('\n');
  co_return co_await s.answer(r.status, "application/json", r.body, keep, {});
}

}  // namespace edge::detail
