#include "tunnel/access.h"

#include <algorithm>
#include <cctype>

#include "core/text.h"

namespace tunnel {

using core::Errc;

namespace {

std::vector<std::string_view> words(std::string_view s) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && (s[i] == ' ' || s[i] == ',')) ++i;
    size_t j = i;
    while (j < s.size() && s[j] != ' ' && s[j] != ',') ++j;
    if (j > i) out.push_back(s.substr(i, j - i));
    i = j;
  }
  return out;
}

double capacity(const ForwardAccess& a) {
  return double(std::max<uint32_t>(1, a.burst ? a.burst : a.rate));
}

void refill(const ForwardAccess& a, SourceCounters& c, int64_t now_ms) {
  if (c.seen_ms < 0 || now_ms < c.seen_ms) {  // new, or the clock went back: start full
    c.tokens = capacity(a);
  } else {
    c.tokens = std::min(capacity(a), c.tokens + double(now_ms - c.seen_ms) * a.rate / 1000.0);
  }
  c.seen_ms = now_ms;
}

// The limits of one connection that passed the address rules.
Refusal admit_limits(const ForwardAccess& a, SourceCounters& c, int64_t now_ms) {
  if (a.rate) {
    refill(a, c, now_ms);
    if (c.tokens < 1.0) return Refusal::rate;
    c.tokens -= 1.0;
  }
  if (a.max_conns && c.conns >= a.max_conns) return Refusal::max_conns;
  ++c.conns;
  return Refusal::none;
}

}  // namespace

core::Result<std::string> check_country(std::string_view cc) {
  if (cc.size() != 2 || !std::isalpha(static_cast<unsigned char>(cc[0])) ||
      !std::isalpha(static_cast<unsigned char>(cc[1])))
    return core::err(Errc::data, "bad country \"" + std::string(cc.substr(0, 20)) +
                                     "\": expected an ISO 3166-1 alpha-2 code such as DE");
  std::string out(cc);
  for (auto& ch : out) ch = char(std::toupper(static_cast<unsigned char>(ch)));
  return out;
}

core::Result<ForwardAccess> make_forward_access(std::string_view allow, std::string_view deny,
                                                std::string_view allow_country,
                                                std::string_view deny_country, int64_t max_conns,
                                                int64_t rate, int64_t burst, bool tls) {
  ForwardAccess a;
  for (auto w : words(allow)) {
    WARREN_TRY(c, auth::parse_cidr(w));
    a.allow.push_back(c);
  }
  for (auto w : words(deny)) {
    WARREN_TRY(c, auth::parse_cidr(w));
    a.deny.push_back(c);
  }
  for (auto w : words(allow_country)) {
    WARREN_TRY(c, check_country(w));
    a.allow_country.push_back(c);
  }
  for (auto w : words(deny_country)) {
    WARREN_TRY(c, check_country(w));
    a.deny_country.push_back(c);
  }
  auto limit = [](const char* what, int64_t v) -> core::Result<uint32_t> {
    if (v < 0 || v > 1000000)
      return core::err(Errc::data,
                       std::string("bad ") + what + " " + std::to_string(v) + ": 0 to 1000000");
    return uint32_t(v);
  };
  WARREN_TRY(mc, limit("max_conns", max_conns));
  WARREN_TRY(r, limit("rate", rate));
  WARREN_TRY(b, limit("burst", burst));
  a.max_conns = mc;
  a.rate = r;
  a.burst = b;
  a.tls = tls;
  return a;
}

const char* refusal_name(Refusal r) {
  switch (r) {
    case Refusal::none:
      return "";
    case Refusal::denied:
      return "denied";
    case Refusal::not_allowed:
      return "not_allowed";
    case Refusal::max_conns:
      return "max_conns";
    case Refusal::rate:
      return "rate";
    case Refusal::client_cert:
      return "client_cert";
    case Refusal::site_offline:
      return "site_offline";
  }
  return "";
}

Refusal check_address(const ForwardAccess& a, const auth::IpAddr& src, std::string_view country) {
  auto in = [&](const std::vector<auth::Cidr>& list) {
    return std::any_of(list.begin(), list.end(),
                       [&](const auth::Cidr& c) { return auth::contains(c, src); });
  };
  auto in_cc = [&](const std::vector<std::string>& list) {
    return !country.empty() && std::find(list.begin(), list.end(), country) != list.end();
  };
  if (in(a.deny) || in_cc(a.deny_country)) return Refusal::denied;
  if (a.allow.empty() && a.allow_country.empty()) return Refusal::none;
  if (in(a.allow) || in_cc(a.allow_country)) return Refusal::none;
  return Refusal::not_allowed;
}

Refusal admit(const ForwardAccess& a, const auth::IpAddr& src, std::string_view country,
              SourceCounters& c, int64_t now_ms) {
  if (auto r = check_address(a, src, country); r != Refusal::none) return r;
  return admit_limits(a, c, now_ms);
}

SourceTable::Key SourceTable::key(const auth::IpAddr& ip) {
  Key k{};
  std::copy(ip.b.begin(), ip.b.end(), k.begin());
  k[16] = ip.v4 ? 4 : 6;
  return k;
}

Refusal SourceTable::admit(const ForwardAccess& a, const auth::IpAddr& src,
                           std::string_view country, int64_t now_ms) {
  if (now_ms - swept_ms_ >= 1000 || now_ms < swept_ms_) sweep(a, now_ms);
  // Refused by address: nothing to count (and no entry for every scanning address).
  if (auto r = check_address(a, src, country); r != Refusal::none) return r;
  auto r = admit_limits(a, m_[key(src)], now_ms);
  if (r == Refusal::none) ++open_;
  return r;
}

void SourceTable::release(const auth::IpAddr& src) {
  auto it = m_.find(key(src));
  if (it == m_.end() || it->second.conns == 0) return;
  --it->second.conns;
  --open_;
}

uint32_t SourceTable::conns(const auth::IpAddr& src) const {
  auto it = m_.find(key(src));
  return it == m_.end() ? 0 : it->second.conns;
}

void SourceTable::sweep(const ForwardAccess& a, int64_t now_ms) {
  swept_ms_ = now_ms;
  for (auto it = m_.begin(); it != m_.end();) {
    auto& c = it->second;
    bool idle = c.conns == 0;
    if (idle && a.rate) {
      refill(a, c, now_ms);
      idle = c.tokens >= capacity(a);
    }
    it = idle ? m_.erase(it) : std::next(it);
  }
}

}  // namespace tunnel
