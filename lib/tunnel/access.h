// tunnel forward access — who may connect to a raw TCP/UDP forward of the edge: IP/CIDR and
// country allow and deny lists, per-source connection and rate limits, and whether the forward
// is wrapped in TLS with a client certificate. Pure values and functions: no I/O, no clock
// (time is passed in). A SourceTable belongs to one forward and is used from one thread.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "auth/rules.h"
#include "core/result.h"

namespace tunnel {

struct ForwardAccess {
  std::vector<auth::Cidr> allow, deny;                   // addresses
  std::vector<std::string> allow_country, deny_country;  // ISO 3166-1 alpha-2, upper-case
  uint32_t max_conns = 0;  // connections (UDP: flows) of one source address at once; 0: any
  uint32_t rate = 0;       // new connections per second of one source address; 0: any
  uint32_t burst = 0;      // connections above the rate at once (0: the rate)
  bool tls = false;        // TCP only: TLS with a client certificate from the installation's CA

  // No rule and no limit: every source is accepted without bookkeeping.
  bool open() const {
    return allow.empty() && deny.empty() && allow_country.empty() && deny_country.empty() &&
           max_conns == 0 && rate == 0;
  }
  bool has_country_rules() const { return !allow_country.empty() || !deny_country.empty(); }
};

// From the store columns (space-separated lists). Errc::data naming the bad entry.
core::Result<ForwardAccess> make_forward_access(std::string_view allow, std::string_view deny,
                                                std::string_view allow_country,
                                                std::string_view deny_country, int64_t max_conns,
                                                int64_t rate, int64_t burst, bool tls);
// "DE" from "de"; Errc::data unless two ASCII letters.
core::Result<std::string> check_country(std::string_view cc);

enum class Refusal : uint8_t {
  none,          // accepted
  denied,        // the source matches a deny address or country
  not_allowed,   // there are allow lists and the source matches none of them
  max_conns,     // the source has max_conns connections open
  rate,          // the source opened more than rate/s (plus burst)
  client_cert,   // TLS forward: no client certificate from the CA (decided by the caller)
  site_offline,  // the site has no open lane (decided by the caller)
};
inline constexpr size_t kRefusals = 7;
// "denied", "not_allowed", "max_conns", "rate", "client_cert", "site_offline" ("" for none).
const char* refusal_name(Refusal r);

// The address rules alone: a deny match refuses; then, when any allow list is set, an allow
// match (address or country) is needed. `country` is "" when unknown (no GeoIP database, or not
// in it): an unknown country matches no country rule, so allow_country refuses it.
Refusal check_address(const ForwardAccess& a, const auth::IpAddr& src, std::string_view country);

// What one source address has open and how many connections it may still start now.
struct SourceCounters {
  uint32_t conns = 0;
  double tokens = 0;     // token bucket of `rate`, refilled at rate/s up to burst
  int64_t seen_ms = -1;  // last refill (-1: never: the bucket starts full)
};

// Decides one new connection of `src` at now_ms: the address rules, then the rate (an attempt
// that passes the address rules takes a token, or is refused), then max_conns. When accepted,
// the connection is counted in `c` (release it with SourceTable::release).
Refusal admit(const ForwardAccess& a, const auth::IpAddr& src, std::string_view country,
              SourceCounters& c, int64_t now_ms);

// The counters of every source address of one forward. Sources with nothing open and a full
// bucket are forgotten (at most once a second, on admit), so the table stays as large as the
// set of recent or connected sources.
class SourceTable {
 public:
  Refusal admit(const ForwardAccess& a, const auth::IpAddr& src, std::string_view country,
                int64_t now_ms);
  // A connection counted by admit() ended.
  void release(const auth::IpAddr& src);
  uint32_t conns(const auth::IpAddr& src) const;
  uint64_t open_total() const { return open_; }
  size_t size() const { return m_.size(); }
  void sweep(const ForwardAccess& a, int64_t now_ms);

 private:
  using Key = std::array<uint8_t, 17>;  // the address, then 4 or 6
  static Key key(const auth::IpAddr& ip);
  std::map<Key, SourceCounters> m_;
  uint64_t open_ = 0;
  int64_t swept_ms_ = 0;
};

}  // namespace tunnel
