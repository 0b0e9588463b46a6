// auth rules — client addresses, CIDRs, path globs and the per-resource rule list evaluated
// before authentication (first match by priority wins: ACCEPT, DROP or PASS). Pure values and
// functions: no I/O, no clock; safe from any thread.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace auth {

// An IPv4 or IPv6 address; IPv4-mapped IPv6 (::ffff:a.b.c.d) is stored as IPv4.
struct IpAddr {
  std::array<uint8_t, 16> b{};  // IPv4 in the first 4 bytes
  bool v4 = true;
  bool operator==(const IpAddr&) const = default;
};
// "192.0.2.1", "2001:db8::1", "[2001:db8::1]", "::ffff:192.0.2.1"; a zone ("%eth0") is refused.
std::optional<IpAddr> parse_ip(std::string_view s);
std::string to_string(const IpAddr& a);

struct Cidr {
  IpAddr net;  // host bits cleared
  int bits = 32;
};
// "10.0.0.0/8", "2001:db8::/32", or a bare address (/32, /128). Host bits must be zero.
core::Result<Cidr> parse_cidr(std::string_view s);
bool contains(const Cidr& c, const IpAddr& a);

// Glob over a path: '*' matches any run of characters except '/', '**' any run including '/';
// everything else is literal. Bounded work (no exponential backtracking).
bool glob_match(std::string_view pattern, std::string_view path);

// The path used for rules, portal and share-link prefixes: the query dropped, then
// http::normalize_target (the one normaliser edged routes and forwards with). nullopt for what
// it refuses (answer 400): ';' parameters, encoded '/' or '\', controls, bad escapes, ...
std::optional<std::string> normalize_path(std::string_view target);

enum class Action : uint8_t { accept, drop, pass };
const char* action_name(Action a);  // "ACCEPT", "DROP", "PASS"
core::Result<Action> parse_action(std::string_view s);

struct Rule {
  int64_t id = 0;
  int priority = 100;  // lower first; ties by id
  Action action = Action::pass;
  std::vector<Cidr> ips;               // any of; empty: any client
  std::string path_glob;               // empty: any path
  std::vector<std::string> methods;    // upper-case, any of; empty: any method
  std::vector<std::string> countries;  // ISO alpha-2 upper-case; empty: any. Needs a known
                                       // country: an unknown one never matches a country rule.
};

// Builds a rule from its store columns (space-separated lists). Errc::data on a bad field.
core::Result<Rule> make_rule(int64_t id, int priority, std::string_view action,
                             std::string_view ips, std::string_view path_glob,
                             std::string_view methods, std::string_view countries);

struct RuleInput {
  IpAddr client;
  std::string_view path;     // normalised (normalize_path)
  std::string_view method;   // as sent (compared case-sensitively, methods are upper-case)
  std::string_view country;  // "" when unknown
};
bool rule_matches(const Rule& r, const RuleInput& in);

struct RuleHit {
  Action action;
  int64_t rule_id;
};
// The first matching rule in (priority, id) order, whatever the order of `rules`.
std::optional<RuleHit> evaluate_rules(std::span<const Rule> rules, const RuleInput& in);

}  // namespace auth
