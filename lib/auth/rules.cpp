#include "auth/rules.h"

#include <arpa/inet.h>

#include <algorithm>

#include "core/text.h"
#include "http/parser.h"
#include "http/path.h"

namespace auth {

std::optional<IpAddr> parse_ip(std::string_view s) {
  if (s.size() >= 2 && s.front() == '[' && s.back() == ']') s = s.substr(1, s.size() - 2);
  if (s.empty() || s.size() > 45) return std::nullopt;
  std::string z(s);
  IpAddr a;
  if (z.find(':') == std::string::npos) {
    if (inet_pton(AF_INET, z.c_str(), a.b.data()) != 1) return std::nullopt;
    a.v4 = true;
    return a;
  }
  if (inet_pton(AF_INET6, z.c_str(), a.b.data()) != 1) return std::nullopt;
  static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::equal(mapped, mapped + 12, a.b.begin())) {
    std::copy(a.b.begin() + 12, a.b.end(), a.b.begin());
    std::fill(a.b.begin() + 4, a.b.end(), 0);
    a.v4 = true;
    return a;
  }
  a.v4 = false;
  return a;
}

std::string to_string(const IpAddr& a) {
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(a.v4 ? AF_INET : AF_INET6, a.b.data(), buf, sizeof buf);
  return buf;
}

static bool bit(const IpAddr& a, int i) {
  return (a.b[i / 8] >> (7 - i % 8)) & 1;
}

core::Result<Cidr> parse_cidr(std::string_view s) {
  auto bad = [&](const char* why) {
    return core::err(core::Errc::data, "bad address \"" + std::string(s) + "\": " + why);
  };
  auto slash = s.find('/');
  auto ip = parse_ip(s.substr(0, slash));
  if (!ip) return bad("not an IP address");
  int max = ip->v4 ? 32 : 128;
  Cidr c{*ip, max};
  if (slash != std::string_view::npos) {
    auto n = core::parse_uint(s.substr(slash + 1));
    if (!n || *n > static_cast<uint64_t>(max)) return bad("bad prefix length");
    c.bits = static_cast<int>(*n);
  }
  for (int i = c.bits; i < max; i++)
    if (bit(c.net, i)) return bad("host bits set");
  return c;
}

bool contains(const Cidr& c, const IpAddr& a) {
  if (c.net.v4 != a.v4) return false;
  int full = c.bits / 8;
  if (!std::equal(c.net.b.begin(), c.net.b.begin() + full, a.b.begin())) return false;
  if (int rest = c.bits % 8) {
    uint8_t mask = static_cast<uint8_t>(0xff << (8 - rest));
    if ((c.net.b[full] & mask) != (a.b[full] & mask)) return false;
  }
  return true;
}

// Iterative glob with two backtrack points: the last '*' (may absorb anything but '/') and the
// last '**' (anything). When the '*' cannot grow, the '**' grows by one and matching restarts
// after it. Work is bounded by O(|pattern| * |path|) per '**' retry, with no recursion.
bool glob_match(std::string_view p, std::string_view s) {
  constexpr size_t npos = std::string_view::npos;
  size_t pi = 0, si = 0;
  size_t sp = npos, ss = 0;  // after the last '*', and where it began absorbing
  size_t dp = npos, ds = 0;  // after the last '**'
  while (si < s.size()) {
    if (pi < p.size() && p[pi] == '*') {
      bool deep = pi + 1 < p.size() && p[pi + 1] == '*';
      while (pi < p.size() && p[pi] == '*') pi++;  // "***" is "**"
      if (deep) {
        dp = pi, ds = si, sp = npos;
      } else {
        sp = pi, ss = si;
      }
      continue;
    }
    if (pi < p.size() && p[pi] == s[si]) {
      pi++, si++;
      continue;
    }
    if (sp != npos && s[ss] != '/') {  // the '*' absorbs one more character
      si = ++ss;
      pi = sp;
      continue;
    }
    if (dp != npos) {  // the '**' absorbs one more character
      si = ++ds;
      pi = dp;
      sp = npos;
      continue;
    }
    return false;
  }
  while (pi < p.size() && p[pi] == '*') pi++;
  return pi == p.size();
}

std::optional<std::string> normalize_path(std::string_view t) {
  std::string out;
  if (http::normalize_target(t.substr(0, t.find('?')), out) != http::PathError::none)
    return std::nullopt;
  return out;
}

const char* action_name(Action a) {
  switch (a) {
    case Action::accept:
      return "ACCEPT";
    case Action::drop:
      return "DROP";
    case Action::pass:
      return "PASS";
  }
  return "?";
}

core::Result<Action> parse_action(std::string_view s) {
  auto u = core::to_lower(s);
  if (u == "accept") return Action::accept;
  if (u == "drop") return Action::drop;
  if (u == "pass") return Action::pass;
  return core::err(core::Errc::data,
                   "bad rule action \"" + std::string(s) + "\": expected ACCEPT, DROP or PASS");
}

static std::vector<std::string> words(std::string_view s) {
  std::vector<std::string> w;
  for (auto& x : core::split(s, ' ')) {
    auto t = core::trim(x);
    if (!t.empty()) w.emplace_back(t);
  }
  return w;
}

core::Result<Rule> make_rule(int64_t id, int priority, std::string_view action,
                             std::string_view ips, std::string_view path_glob,
                             std::string_view methods, std::string_view countries) {
  Rule r;
  r.id = id;
  r.priority = priority;
  WARREN_TRY(a, parse_action(action));
  r.action = a;
  for (auto& w : words(ips)) {
    WARREN_TRY(c, parse_cidr(w));
    r.ips.push_back(c);
  }
  if (!path_glob.empty() && path_glob[0] != '/' && path_glob[0] != '*')
    return core::err(core::Errc::data,
                     "bad path glob \"" + std::string(path_glob) + "\": must start with / or *");
  r.path_glob = path_glob;
  // Methods are case-sensitive tokens (RFC 9110 9.1): a standard name in any case is that
  // method ("delete" is DELETE; edged refuses such spellings in requests), any other is
  // matched exactly as written.
  for (auto& w : words(methods)) {
    for (char c : w)
      if (!(std::isalnum(static_cast<unsigned char>(c)) ||
            std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos))
        return core::err(core::Errc::data, "bad method \"" + w + "\": not a method name");
    if (http::method_case_variant(w))
      for (char& c : w) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    r.methods.push_back(w);
  }
  for (auto& w : words(countries)) {
    if (w.size() != 2 || !std::isalpha(static_cast<unsigned char>(w[0])) ||
        !std::isalpha(static_cast<unsigned char>(w[1])))
      return core::err(core::Errc::data, "bad country \"" + w + "\": expected two letters");
    for (char& c : w) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    r.countries.push_back(w);
  }
  return r;
}

bool rule_matches(const Rule& r, const RuleInput& in) {
  if (!r.ips.empty() && std::none_of(r.ips.begin(), r.ips.end(),
                                     [&](const Cidr& c) { return contains(c, in.client); }))
    return false;
  if (!r.path_glob.empty() && !glob_match(r.path_glob, in.path)) return false;
  if (!r.methods.empty() &&
      std::find(r.methods.begin(), r.methods.end(), in.method) == r.methods.end())
    return false;
  if (!r.countries.empty()) {
    if (in.country.size() != 2) return false;
    std::string c{static_cast<char>(std::toupper(static_cast<unsigned char>(in.country[0]))),
                  static_cast<char>(std::toupper(static_cast<unsigned char>(in.country[1])))};
    if (std::find(r.countries.begin(), r.countries.end(), c) == r.countries.end()) return false;
  }
  return true;
}

std::optional<RuleHit> evaluate_rules(std::span<const Rule> rules, const RuleInput& in) {
  const Rule* best = nullptr;
  for (const auto& r : rules) {
    if (best && (r.priority > best->priority || (r.priority == best->priority && r.id > best->id)))
      continue;
    if (rule_matches(r, in)) best = &r;
  }
  if (!best) return std::nullopt;
  return RuleHit{best->action, best->id};
}

}  // namespace auth
