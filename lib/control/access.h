// control access — who may reach resources, as peerctl writes it (migration 0040): users and
// their roles, roles, grants (resource_users, resource_roles), share links, API keys, rules and
// sessions. Secrets are generated here and returned once; the store keeps argon2id hashes
// (passwords) or BLAKE2b hashes (tokens). Every write is one transaction with an audit row.
// Errors: bad values Errc::data naming the field, duplicates Errc::data naming the existing
// object, missing objects Errc::noinput. Blocking SQLite calls; one store::Db per thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "store/store.h"

namespace control {

struct User {
  int64_t id = 0;
  std::string email;
  std::string name;
  bool has_password = false;
  bool totp = false;
  bool enabled = true;
  int64_t created_at = 0;
  std::vector<std::string> roles;
};
core::Result<std::vector<User>> list_users(store::Db& db);
core::Result<User> find_user(store::Db& db, std::string_view email);
// password_hash: argon2id or '' (no password login); totp_secret: base32 or ''.
core::Result<int64_t> add_user(store::Db& db, const User& u, const std::string& password_hash,
                               const std::string& totp_secret, std::string_view actor, int64_t now);
core::Result<void> set_user_password(store::Db& db, std::string_view email,
                                     const std::string& password_hash, std::string_view actor,
                                     int64_t now);
// Changes the display name and/or the TOTP secret (base32; "" turns TOTP off); nullopt keeps.
core::Result<void> update_user(store::Db& db, std::string_view email,
                               const std::optional<std::string>& name,
                               const std::optional<std::string>& totp_secret,
                               std::string_view actor, int64_t now);
core::Result<void> set_user_enabled(store::Db& db, std::string_view email, bool enabled,
                                    std::string_view actor, int64_t now);
core::Result<void> remove_user(store::Db& db, std::string_view email, std::string_view actor);
core::Result<void> set_user_role(store::Db& db, std::string_view email, std::string_view role,
                                 bool member, std::string_view actor);

struct Role {
  std::string name;
  std::string description;
  int64_t created_at = 0;
  int64_t users = 0;  // members
};
// A role name: 1-64 of [a-z0-9._-].
core::Result<std::string> check_role(std::string_view field, std::string_view v);
core::Result<std::vector<Role>> list_roles(store::Db& db);
core::Result<void> add_role(store::Db& db, const Role& r, std::string_view actor, int64_t now);
core::Result<void> remove_role(store::Db& db, std::string_view name, std::string_view actor);

struct Grant {
  std::string resource;
  std::string kind;     // "user" or "role"
  std::string subject;  // email or role name
};
core::Result<std::vector<Grant>> list_grants(store::Db& db, std::string_view resource);
core::Result<void> add_grant(store::Db& db, const Grant& g, std::string_view actor);
core::Result<void> remove_grant(store::Db& db, const Grant& g, std::string_view actor);

struct Link {
  std::string id;
  std::string resource;
  std::string title;
  std::string path;  // '' anywhere
  int64_t created_at = 0;
  int64_t expires_at = 0;   // 0 never
  int64_t session_ttl = 0;  // 0: the resource's
  bool revoked = false;
  int64_t sessions = 0;  // live sessions created through it
};
struct NewLink {
  Link link;
  std::string token;  // "<id>.<secret>": shown once
};
core::Result<NewLink> create_link(store::Db& db, const Link& l, std::string_view actor,
                                  int64_t now);
core::Result<std::vector<Link>> list_links(store::Db& db, std::string_view resource, int64_t now);
// Revokes the link and the sessions created with it; returns how many sessions ended.
core::Result<int> revoke_link(store::Db& db, std::string_view id, std::string_view actor);

struct ApiKey {
  std::string id;
  std::string user;      // email or ''
  std::string resource;  // name or '' (any)
  std::vector<std::string> scopes;
  int64_t created_at = 0;
  int64_t expires_at = 0;
  int64_t last_used = 0;
  bool revoked = false;
  bool user_enabled = true;  // a key of a disabled user does not work (state "user disabled")
};
struct NewApiKey {
  ApiKey key;
  std::string secret;  // shown once; HTTP Basic user = key.id, password = secret
};
core::Result<std::string> check_scope(std::string_view field, std::string_view v);
core::Result<NewApiKey> create_apikey(store::Db& db, const ApiKey& k, std::string_view actor,
                                      int64_t now);
core::Result<std::vector<ApiKey>> list_apikeys(store::Db& db);
core::Result<void> revoke_apikey(store::Db& db, std::string_view id, std::string_view actor);

struct RuleRow {
  int64_t id = 0;
  std::string resource;
  int priority = 100;
  std::string action;  // ACCEPT, DROP, PASS
  std::vector<std::string> ips, methods, countries;
  std::string path_glob;
  bool enabled = true;
  int64_t created_at = 0;
};
// Normalises and checks every field (through auth::make_rule, as edged will parse it).
core::Result<RuleRow> check_rule(const RuleRow& r);
core::Result<int64_t> add_rule(store::Db& db, const RuleRow& r, std::string_view actor,
                               int64_t now);
core::Result<std::vector<RuleRow>> list_rules(store::Db& db, std::string_view resource);
core::Result<void> remove_rule(store::Db& db, int64_t id, std::string_view actor);

struct SessionRow {
  std::string id;  // first 16 hex characters of the token hash
  std::string resource;
  std::string user;  // email or ''
  std::string method;
  std::string subject;
  int64_t created_at = 0, last_seen = 0, expires_at = 0;
};
// Live sessions (not revoked, not expired), optionally of one resource and/or user.
core::Result<std::vector<SessionRow>> list_sessions(store::Db& db, std::string_view resource,
                                                    std::string_view user, int64_t now);
// By id prefix (>= 8 hex characters, unique), resource, user, or all (every empty: all).
core::Result<int> revoke_sessions(store::Db& db, std::string_view id, std::string_view resource,
                                  std::string_view user, std::string_view actor);

}  // namespace control
