// Access control and the auth portal (edge/detail/gate.h): the decision for a protected route
// (first from the worker's session cache, then against the store on the access pool), the
// answers for requests that do not go upstream, and the portal's pages under the policy's portal
// path (login, logout, email codes, jwks.json). Worker thread only.
#include <ctime>

#include "auth/db.h"
#include "auth/page.h"
#include "auth/portal.h"
#include "auth/session.h"
#include "edge/detail/session.h"
#include "http/proxy.h"
#include "log/log.h"

namespace edge::detail {

namespace {

const std::string kPlainCookie = auth::cookie_name(auth::Policy{}.cookie_base, false);
const std::string kTlsCookie = auth::cookie_name(auth::Policy{}.cookie_base, true);

// A portal return URL: `rd` when it stays on `host` (auth::safe_return_url), else "/".
std::string return_url(std::string_view rd, std::string_view host) {
  auto r = rd.empty() ? std::nullopt : auth::safe_return_url(rd, host);
  return r ? *r : std::string("/");
}

// An auth::Request whose views point into its own copies.
struct OwnedRequest {
  explicit OwnedRequest(const auth::Request& a)
      : method(a.method),
        host(a.host),
        target(a.target),
        subject(a.client_cert_subject),
        country(a.country) {
    for (const auto& [n, v] : a.headers) hdrs.emplace_back(n, v);
    for (const auto& [n, v] : hdrs) views.emplace_back(n, v);
    r = a;
    r.method = method;
    r.host = host;
    r.target = target;
    r.client_cert_subject = subject;
    r.country = country;
    r.headers = views;
  }
  OwnedRequest(const OwnedRequest&) = delete;
  std::string method, host, target, subject, country;
  std::vector<std::pair<std::string, std::string>> hdrs;
  std::vector<auth::Header> views;
  auth::Request r;
};

}  // namespace

void Gate::forget_elsewhere(const std::string& hash) {
  for (auto& other : s_.w_.d.workers) {
    Worker* o = other.get();
    if (o == &s_.w_) continue;
    asio::post(o->ctx, [o, hash] {
      auto it = o->sessions.map.find(hash);
      if (it != o->sessions.map.end() && it->second.session && !it->second.session->revoked)
        o->sessions.map.erase(it);
    });
  }
}

const AccessSettings& Gate::access_settings() {
  if (!s_.w_.access_settings || s_.w_.access_settings_gen != s_.w_.gen) {
    s_.w_.access_settings = s_.w_.d.access->settings();
    s_.w_.access_settings_gen = s_.w_.gen;
  }
  return *s_.w_.access_settings;
}

// A route without access control: identity, assertion and share-token headers and the session
// cookie are removed all the same (auth::inbound_header), so no client asserts an identity to
// an origin behind a public or routes-file route.
void Gate::strip_inbound() {
  static const auth::Policy kNone;
  static const auth::Decision kNobody;
  strip_inbound(kNone, kNobody, s_.c_.tls ? kTlsCookie : kPlainCookie, access_settings().names);
}

// The client's headers as auth::inbound_header says for this decision (identity headers
// dropped, the session cookie cut out of Cookie).
void Gate::strip_inbound(const auth::Policy& p, const auth::Decision& d, std::string_view cname,
                         const auth::HeaderNames& names) {
  replaced_.clear();
  std::string rep;
  std::erase_if(s_.req_.headers, [&](http::Header& h) {
    switch (auth::inbound_header(h.name, h.value, d, p, cname, names, rep)) {
      case auth::Inbound::drop:
        return true;
      case auth::Inbound::replace:
        replaced_.push_back(std::move(rep));
        h.value = replaced_.back();
        return false;
      case auth::Inbound::keep:
        return false;
    }
    return false;
  });
}

// The answer for a decision that does not go upstream.
asio::awaitable<bool> Gate::answer_decision(const auth::Decision& d, bool keep) {
  std::string extra;  // (every generated page carries Cache-Control: no-store)
  switch (d.outcome) {
    case auth::Outcome::redirect:
    case auth::Outcome::issue_session: {
      if (d.issue) extra.append("Set-Cookie: ").append(d.issue->set_cookie).append("\r\n");
      co_return co_await s_.redirect(302, d.location, keep, extra);
    }
    case auth::Outcome::unauthorized:
      if (!d.www_authenticate.empty())
        extra.append("WWW-Authenticate: ").append(d.www_authenticate).append("\r\n");
      co_return co_await s_.reply(401, "authentication required", keep, extra);
    case auth::Outcome::rate_limited:
      extra.append("Retry-After: ").append(std::to_string(std::max<int64_t>(1, d.retry_after)));
      extra.append("\r\n");
      co_return co_await s_.reply(429,
                                  d.reason == "locked_out"
                                      ? "too many failed attempts: wait and retry"
                                      : "too many requests: slow down",
                                  keep, extra);
    case auth::Outcome::bad_request: {
      std::string why = "malformed request (" + d.reason + ")";
      co_return co_await s_.reply(400, why, false);
    }
    case auth::Outcome::unavailable:
      co_return co_await s_.reply(503, "access check unavailable: the store did not answer", keep,
                                  "Retry-After: 5\r\n");
    case auth::Outcome::deny:
    default: {
      std::string why = "access denied (" + d.reason + ")";
      co_return co_await s_.reply(403, why, keep, extra);
    }
  }
}

// An allowed request: identity headers (inbound copies removed), the session cookie and share
// token kept from the upstream, the sliding expiry written back.
void Gate::allow_upstream(const auth::Policy& p, const auth::Decision& d, std::string_view host,
                          int64_t now) {
  Access& ax = *s_.w_.d.access;
  const AccessSettings* set = s_.w_.access_settings.get();
  strip_inbound(p, d, auth::cookie_name(p.cookie_base, s_.c_.tls), set->names);
  std::string jwt;
  if (set->key && d.outcome == auth::Outcome::allow && !d.identity.user.empty()) {
    auto a = auth::assertion(d, *set->key, set->issuer,
                             set->audience.empty() ? host : set->audience, now, set->assertion_ttl);
    if (a) jwt = std::move(*a);
  }
  for (auto& [n, v] : auth::identity_headers(d, set->names, jwt))
    s_.auth_extra_.append(n).append(": ").append(v).append("\r\n");
  if (!d.upstream_target.empty()) {
    upstream_path_ = d.upstream_target;
    s_.req_.path = upstream_path_;
  }
  if (d.touch) {
    if (auto it = s_.w_.sessions.map.find(d.touch->token_hash);
        it != s_.w_.sessions.map.end() && it->second.session) {
      it->second.session->last_seen = d.touch->last_seen;
      it->second.session->expires_at = d.touch->expires_at;
    }
    ax.write([t = *d.touch](store::Db& db) { return auth::touch_session(db, t); });
  }
}

bool Gate::access_local(const Route& route) {
  const Config& cfg = *s_.snap_->cfg;
  Access& ax = *s_.w_.d.access;
  const auth::Policy& pol = *route.spec.policy;
  SessionCache& cache = s_.w_.sessions;
  auth_headers_.clear();
  for (const auto& h : s_.req_.headers) auth_headers_.emplace_back(h.name, h.value);
  a_.pol = &pol;
  a_.rate.reset();
  a_.locked.reset();
  a_.missed = a_.on_pool = false;
  auth::Request& ar = a_.ar;
  ar = auth::Request{};
  ar.method = s_.req_.method_text;
  ar.host = s_.req_.host;
  ar.target = s_.req_.path.empty() ? std::string_view("/") : s_.req_.path;
  const bool via_proxy = !cfg.trusted_proxies.empty() && trusted(cfg, s_.c_.peer_bin);
  if (auto ip = auth::parse_ip(via_proxy ? real_ip(cfg, s_.req_, s_.c_.peer_ip) : s_.c_.peer_ip))
    ar.client = *ip;
  ar.tls = s_.c_.tls;
  ar.client_cert_verified =
      s_.verified_ && !route.spec.client_ca.empty() && s_.client_ca_ == route.spec.client_ca;
  if (ar.client_cert_verified) {
    subject_ = s_.c_.client.tls.client_subject();
    ar.client_cert_subject = subject_;
  }
  ar.headers = auth_headers_;
  const uint64_t epoch = ax.session_epoch.load(std::memory_order_acquire);
  if (cache.gen != s_.w_.gen || cache.epoch != epoch || !s_.w_.access_settings) {
    cache.map.clear();
    cache.gen = s_.w_.gen;
    cache.epoch = epoch;
    s_.w_.access_settings = ax.settings();
    s_.w_.access_settings_gen = s_.w_.gen;
  }
  if (s_.w_.access_settings->geo && pol.needs_country) {
    a_.country = s_.w_.access_settings->geo->country(ar.client);
    ar.country = a_.country;
  }
  a_.now = std::time(nullptr);
  a_.now_ms = mono_ms();

  // First on this thread, with what the session cache knows; a lookup it cannot answer (an
  // unknown cookie, a share token, Basic credentials) sends the decision to the pool, where
  // it is made again against the store. Rate and lockout are counted once.
  if (!local_lk_.rate) {
    local_lk_.rate = [this](const auth::IpAddr& ip, int64_t, int64_t) {
      if (!a_.rate) a_.rate = s_.w_.d.access->rate(*a_.pol, ip, mono_ms());
      return *a_.rate;
    };
    local_lk_.locked = [this](const auth::IpAddr& ip, int64_t rid, int64_t) {
      if (!a_.locked) a_.locked = s_.w_.d.access->locked(ip, rid, mono_ms());
      return *a_.locked;
    };
    local_lk_.failed = [this](const auth::IpAddr& ip, int64_t rid, std::string_view cred,
                              int64_t) -> int64_t {
      if (a_.missed && !a_.on_pool) return 0;
      return s_.w_.d.access->failed(ip, rid, cred, mono_ms());
    };
    local_lk_.token_hash = [this](std::string_view token) -> const std::string& {
      if (token != token_in_) {
        token_in_.assign(token);
        token_hash_ = auth::hash_token(token);
      }
      return token_hash_;
    };
    local_lk_.session = [this](std::string_view h) -> core::Result<std::optional<auth::Session>> {
      if (auto* e = s_.w_.sessions.find(h, a_.now_ms)) return e->session;
      a_.missed = true;
      return std::optional<auth::Session>();
    };
    local_lk_.share_link =
        [this](std::string_view) -> core::Result<std::optional<auth::ShareLink>> {
      a_.missed = true;
      return std::optional<auth::ShareLink>();
    };
    local_lk_.basic = [this](std::string_view,
                             std::string_view) -> core::Result<std::optional<auth::Identity>> {
      a_.missed = true;
      return std::optional<auth::Identity>();
    };
  }
  a_.d = auth::decide(ar, pol, local_lk_, a_.now);
  if (a_.missed || a_.d.outcome != auth::Outcome::allow) return false;
  ax.audit(*s_.w_.access_settings, a_.d, ar, pol, a_.now);
  if (!cfg.access_log.empty()) s_.log_user_ = a_.d.identity.user;
  allow_upstream(pol, a_.d, s_.req_.host, a_.now);
  return true;
}

asio::awaitable<std::optional<bool>> Gate::access(const Route& route, size_t head_len, bool keep) {
  const Config& cfg = *s_.snap_->cfg;
  Access& ax = *s_.w_.d.access;
  const bool keep_local = s_.x_.keep_local();
  if (!route.spec.policy_error.empty()) {
    s_.in_.consume(head_len);
    wlog::get("edge")->error("event=policy_unavailable route={} error=\"{}\"", route.spec.name,
                             route.spec.policy_error);
    co_return co_await s_.reply(503, "access policy unavailable", keep_local, "Retry-After: 5\r\n");
  }
  const auth::Policy& pol = *a_.pol;
  const auth::Request& ar = a_.ar;
  const int64_t now = a_.now;
  auth::Decision d = std::move(a_.d);
  if (a_.missed) {
    struct Pass {
      auth::Decision d;
      std::vector<std::pair<std::string, std::optional<auth::Session>>> seen;
    };
    a_.on_pool = true;
    std::function<Pass(store::Db*)> job_pass = [&](store::Db* db) {
      Pass out;
      auto down = [] { return core::err(core::Errc::unavailable, "store unavailable"); };
      auth::Lookups l2 = local_lk_;
      l2.session = [&](std::string_view h) -> core::Result<std::optional<auth::Session>> {
        if (!db) return down();
        auto r = auth::find_session(*db, h);
        if (r) out.seen.emplace_back(std::string(h), *r);
        return r;
      };
      l2.share_link = [&](std::string_view id) -> core::Result<std::optional<auth::ShareLink>> {
        if (!db) return down();
        return auth::find_share_link(*db, id);
      };
      l2.basic = [&](std::string_view u,
                     std::string_view pw) -> core::Result<std::optional<auth::Identity>> {
        if (!db) return down();
        return auth::check_basic(*db, pol.resource_id, u, pw, now);
      };
      out.d = auth::decide(ar, pol, l2, now);
      if (out.d.issue && db) {
        if (auto r = auth::insert_session(*db, out.d.issue->row); !r) {
          out.d.outcome = auth::Outcome::unavailable;
          out.d.status = 503;
          out.d.reason = "store_unavailable";
          out.d.issue.reset();
        }
      }
      return out;
    };
    Pass pass = co_await ax.offload(job_pass);
    for (auto& [h, s] : pass.seen) {
      // The store says this session is gone or revoked: other workers may still hold it as
      // valid until the reload the change brings (up to store_poll away); they drop it now,
      // so a session refused once is refused everywhere from then on.
      if (!s || s->revoked) forget_elsewhere(h);
      s_.w_.sessions.put(h, std::move(s), mono_ms());
    }
    d = std::move(pass.d);
  }
  ax.audit(*s_.w_.access_settings, d, ar, pol, now);
  // Credentials presented with this request (not a session they opened earlier) clear the
  // client's failure count.
  if ((d.method == "basic" || d.method == "share_link") && d.reason != "session" &&
      (d.outcome == auth::Outcome::allow || d.outcome == auth::Outcome::issue_session))
    ax.succeeded(ar.client, pol.resource_id, d.credential);

  if (d.outcome == auth::Outcome::allow) {
    if (!cfg.access_log.empty()) s_.log_user_ = d.identity.user;
    allow_upstream(pol, d, s_.req_.host, now);
    co_return std::nullopt;
  }
  if (d.outcome == auth::Outcome::portal)
    co_return co_await portal(pol, ar, d.path, head_len, keep);
  s_.in_.consume(head_len);
  co_return co_await answer_decision(d, keep_local);
}

asio::awaitable<bool> Gate::portal(const auth::Policy& p, const auth::Request& ar,
                                   std::string_view path, size_t head_len, bool keep) {
  Access& ax = *s_.w_.d.access;
  auto set = ax.settings();
  const int64_t now = std::time(nullptr);
  std::string_view sub = path.substr(std::min(path.size(), p.portal_path.size()));
  std::string sec;
  for (auto& [n, v] : auth::security_headers(s_.c_.tls))
    if (n != "Cache-Control") sec.append(n).append(": ").append(v).append("\r\n");
  const bool is_get = s_.req_.method == http::Method::get || s_.req_.method == http::Method::head;
  const bool is_post = s_.req_.method == http::Method::post;
  const bool bodiless = s_.x_.body() == http::Body::none;

  if (is_get && sub == "/jwks.json") {
    s_.in_.consume(head_len);
    co_return co_await s_.answer(200, "application/jwk-set+json", set->jwks, keep && bodiless,
                                 "Cache-Control: max-age=300\r\n");
  }
  if (is_get && (sub == "/login" || sub == "" || sub == "/")) {
    s_.in_.consume(head_len);
    auto q = auth::query_param(ar.target, "rd");
    std::string rd = return_url(q ? std::string_view(*q) : std::string_view("/"), ar.host);
    auth::PageState st;
    st.return_url = rd;
    std::string page = auth::login_page(p, st);
    co_return co_await s_.answer(200, "text/html; charset=utf-8", page, keep && bodiless, sec);
  }
  if (is_get && sub == "/logout") {
    s_.in_.consume(head_len);
    co_return co_await s_.answer(200, "text/html; charset=utf-8", auth::logout_page(p),
                                 keep && bodiless, sec);
  }
  if (is_post && sub == "/logout") {
    // Ends this browser's session for the resource: a POST from this origin only (a GET, an
    // image or another site's form cannot sign anyone out).
    s_.in_.consume(head_len);
    if (!auth::origin_ok(ar))
      co_return co_await s_.reply(403, "cross-site logout refused", keep && bodiless);
    const std::string cname = auth::cookie_name(p.cookie_base, s_.c_.tls);
    std::vector<std::string> hashes;
    for (const auto& h : s_.req_.headers)
      if (h.id == http::Hdr::cookie)
        for (auto v : auth::cookie_values(h.value, cname))
          if (auth::token_syntax_ok(v)) hashes.push_back(auth::hash_token(v));
    if (!hashes.empty()) {
      std::function<bool(store::Db*)> job_ok = [&](store::Db* db) {
        if (!db) return false;
        for (auto& h : hashes)
          if (!auth::revoke_session(*db, h)) return false;
        return true;
      };
      bool ok = co_await ax.offload(job_ok);
      for (auto& h : hashes) s_.w_.sessions.map.erase(h);
      ax.session_epoch.fetch_add(1, std::memory_order_release);
      if (!ok) co_return co_await s_.reply(503, "the store did not answer", false);
    }
    auth::Decision ad;
    ad.outcome = auth::Outcome::redirect;
    ad.status = 302;
    ad.reason = "logout";
    ad.path = std::string(path);
    ax.audit(*s_.w_.access_settings, ad, ar, p, now);
    std::string extra = sec;
    extra.append("Set-Cookie: ").append(auth::clear_cookie(cname, s_.c_.tls)).append("\r\n");
    std::string login_page = p.portal_path + "/login";
    co_return co_await s_.redirect(303, login_page, keep && bodiless, extra);
  }
  if (!is_post || (sub != "/login" && sub != "/email")) {
    s_.in_.consume(head_len);
    co_return co_await s_.reply(is_post || is_get ? 404 : 405, "no such portal page",
                                keep && bodiless,
                                is_post || is_get ? std::string_view() : "Allow: GET, POST\r\n");
  }

  // A form post: Content-Length and at most 8 KiB. Reading it reuses the buffer the request
  // head is in, so what the login needs of the head is copied first.
  OwnedRequest own(ar);
  const auth::Request& rq = own.r;
  s_.in_.consume(head_len);
  std::string body;
  if (int st = co_await s_.read_small_body(8192, body); st != 0) {
    if (st < 0) co_return false;
    co_return co_await s_.reply(
        st, st == 411 ? "send the form with a Content-Length" : "form too large", false);
  }
  auto form = auth::parse_form(body);
  if (!form) {
    std::string why = "malformed form: " + form.error().message;
    co_return co_await s_.reply(400, why, keep);
  }
  if (!auth::origin_ok(rq)) co_return co_await s_.reply(403, "cross-site form post refused", keep);
  auto fv = [&](std::string_view k) {
    auto v = auth::form_value(*form, k);
    return v ? *v : std::string_view();
  };
  std::string rd = return_url(fv("rd"), rq.host);

  if (sub == "/email") {
    // Codes are rate limited per client and per address, allowed or not (the answer never
    // tells which), so nobody floods a mailbox or the mail command through the portal.
    auto to = auth::normalize_email(fv("email"));
    if (int64_t wait = ax.email_limit(rq.client, p.resource_id, to.value_or(""), mono_ms());
        wait > 0) {
      auth::Decision ad;
      ad.outcome = auth::Outcome::rate_limited;
      ad.status = 429;
      ad.reason = "email_rate_limited";
      ad.method = "email";
      ad.path = std::string(path);
      ax.audit(*s_.w_.access_settings, ad, rq, p, now);
      auth::PageState st;
      st.return_url = rd;
      st.message = "Too many codes were asked for. Wait a few minutes and try again.";
      std::string extra = sec;
      extra.append("Retry-After: ").append(std::to_string(wait)).append("\r\n");
      co_return co_await s_.answer(429, "text/html; charset=utf-8", auth::login_page(p, st), keep,
                                   extra);
    }
    auto cr = auth::request_email_code(p, fv("email"), set->mail_from, rq.host, now);
    if (cr.send) {
      std::string addr = cr.row.address;
      std::function<bool(store::Db*)> job_sent = [&](store::Db* db) {
        if (!db || !auth::put_email_code(*db, p.resource_id, cr.row, now)) return false;
        if (auto r = ax.send_mail(cr.message); !r) {
          wlog::get("edge")->error("event=mail_failed resource={} error=\"{}\"", p.resource,
                                   r.error().message);
          return false;
        }
        return true;
      };
      bool sent = co_await ax.offload(job_sent);
      if (!sent) cr.reason = "email_failed";
    }
    auth::Decision ad;
    ad.outcome = auth::Outcome::portal;
    ad.status = 200;
    ad.reason = cr.reason;
    ad.method = "email";
    ad.path = std::string(path);
    ax.audit(*s_.w_.access_settings, ad, rq, p, now);
    auth::PageState st;
    st.return_url = rd;
    st.message =
        "If the address may sign in here, a code is on its way. It is valid for 15 minutes.";
    std::string email(fv("email"));
    st.email = email;
    std::string page = auth::login_page(p, st);
    co_return co_await s_.answer(200, "text/html; charset=utf-8", page, keep, sec);
  }

  // POST <portal>/login: one login step, on the pool (argon2id, store reads and writes).
  std::function<auth::Login(store::Db*)> job_login = [&](store::Db* db) {
    auth::Login l;
    auto down = [&] {
      auth::Login u;
      u.outcome = auth::Outcome::unavailable;
      u.status = 503;
      u.reason = "store_unavailable";
      u.message = "Sign-in is unavailable right now. Try again in a moment.";
      return u;
    };
    if (!db) return down();
    auto secrets = auth::load_secrets(*db, p.resource_id);
    if (!secrets) return down();
    auth::PortalLookups plk;
    plk.user = [&](std::string_view email) { return auth::find_user(*db, email, p.resource_id); };
    plk.email_code = [&](std::string_view a) {
      return auth::find_email_code(*db, p.resource_id, a);
    };
    auth::Lookups lk;
    lk.locked = [&](const auth::IpAddr& ip, int64_t rid, int64_t) {
      return ax.locked(ip, rid, mono_ms());
    };
    lk.failed = [&](const auth::IpAddr& ip, int64_t rid, std::string_view cred, int64_t) {
      return ax.failed(ip, rid, cred, mono_ms());
    };
    l = auth::portal_login(rq, p, *form, *secrets, plk, lk, now);
    auto addr = auth::normalize_email(fv("email"));
    if (l.code_attempt_failed && addr)
      (void)auth::update_email_code(*db, p.resource_id, *addr, true, false);
    if (!l.issue) return l;
    // A one-time code opens one session: it is claimed in the store (a conditional update
    // that one login wins) before the session exists; concurrent logins with it lose.
    bool claimed = true;
    if (l.totp_step >= 0) {
      auto c = auth::claim_totp_step(*db, l.issue->row.identity.user_id, l.totp_step);
      if (!c) return down();
      claimed = *c;
    }
    if (claimed && l.code_used && addr) {
      auto c = auth::claim_email_code(*db, p.resource_id, *addr);
      if (!c) return down();
      claimed = *c;
    }
    if (!claimed) {
      lk.failed(rq.client, p.resource_id, l.credential, now);
      return auth::code_reused(std::move(l));
    }
    if (!auth::insert_session(*db, l.issue->row)) return down();
    return l;
  };
  auth::Login login = co_await ax.offload(job_login);
  auth::Decision ad;
  ad.outcome = login.outcome;
  ad.status = login.status;
  ad.reason = login.reason;
  ad.method = login.method;
  ad.path = std::string(path);
  if (login.issue) ad.identity = login.issue->row.identity;
  ax.audit(*s_.w_.access_settings, ad, rq, p, now);
  if (login.outcome == auth::Outcome::issue_session && login.issue) {
    ax.succeeded(rq.client, p.resource_id, login.credential);
    std::string extra = sec;
    extra.append("Set-Cookie: ").append(login.issue->set_cookie).append("\r\n");
    const std::string& to = login.location.empty() ? rd : login.location;
    co_return co_await s_.redirect(303, to, keep, extra);
  }
  std::string extra = sec;
  if (login.outcome == auth::Outcome::rate_limited)
    extra.append("Retry-After: ")
        .append(std::to_string(std::max<int64_t>(1, login.retry_after)))
        .append("\r\n");
  auth::PageState st;
  st.return_url = rd;
  st.message = login.message.empty() ? std::string_view("Sign-in failed.") : login.message;
  std::string page = auth::login_page(p, st);
  co_return co_await s_.answer(login.status ? login.status : 401, "text/html; charset=utf-8", page,
                               keep, extra);
}

}  // namespace edge::detail
