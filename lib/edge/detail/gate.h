// edge::detail::Gate — access control of protected routes and the auth portal, for one client
// connection: a handler beside forwarding that decides (session cache first, then the store on
// the access pool), answers what does not go upstream (redirects, 401/403/429, the portal's
// pages) through its Session, and prepares an allowed request's identity headers. Owned by its
// Session (edge/detail/session.h); worker thread only.
#pragma once

#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "auth/auth.h"
#include "edge/detail/daemon.h"

namespace edge::detail {

class Session;

class Gate {
 public:
  explicit Gate(Session& s) : s_(s) {}
  Gate(const Gate&) = delete;

  // The decision on this thread from what the worker's session cache knows (no allocation of a
  // coroutine frame): true when the request is allowed and ready for forwarding; else access()
  // finishes the job (store lookups on the pool, answers, the portal) from a_.
  bool access_local(const Route& route);
  // Access control of a protected route: nullopt when the request may go on to forwarding;
  // else it was answered here (the value: keep the connection).
  asio::awaitable<std::optional<bool>> access(const Route& route, size_t head_len, bool keep);
  // A route without access control: identity, assertion and share-token headers and the session
  // cookie are removed all the same.
  void strip_inbound();

 private:
  const AccessSettings& access_settings();
  void forget_elsewhere(const std::string& hash);
  void strip_inbound(const auth::Policy& p, const auth::Decision& d, std::string_view cname,
                     const auth::HeaderNames& names);
  asio::awaitable<bool> portal(const auth::Policy& p, const auth::Request& ar,
                               std::string_view path, size_t head_len, bool keep);
  asio::awaitable<bool> answer_decision(const auth::Decision& d, bool keep);
  void allow_upstream(const auth::Policy& p, const auth::Decision& d, std::string_view host,
                      int64_t now);

  Session& s_;
  // Per request.
  std::vector<auth::Header> auth_headers_;
  std::string upstream_path_;          // the target without the share token
  std::string token_in_, token_hash_;  // the last session cookie value seen here, its hash
  std::deque<std::string> replaced_;   // rewritten Cookie values (the request's headers point here)
  std::string subject_;
  struct Local {
    auth::Request ar;
    const auth::Policy* pol = nullptr;
    std::optional<int64_t> rate, locked;  // counted once, also when decided again on the pool
    bool missed = false;                  // a lookup the cache could not answer
    bool on_pool = false;
    int64_t now = 0, now_ms = 0;
    std::string country;
    auth::Decision d;
  } a_;
  auth::Lookups local_lk_;  // cache-only lookups over a_ (capture `this` only: no allocation)
};

}  // namespace edge::detail
