// auth db — the store side of access control over migration 0040 (a resource's Policy is
// converted from the model by edge::policy): a resource's portal secrets, the lookups decide() and
// portal_login() call (sessions, share links, users, API keys, email codes) and the writes their
// results ask for (new session, sliding touch, revocation, code attempts, audit). Blocking SQLite
// calls: run them on the daemon's store thread pool, never on an I/O thread. One store::Db per
// thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "auth/auth.h"
#include "auth/portal.h"
#include "core/result.h"
#include "store/store.h"

namespace auth {

// The current password and PIN hashes of a resource ("" none).
core::Result<PortalSecrets> load_secrets(store::Db& db, int64_t resource_id);

// Sessions: the identity (email, name, roles) comes from users/user_roles at lookup time, so a
// disabled user or a revoked share link ends its sessions at once.
core::Result<std::optional<Session>> find_session(store::Db& db, std::string_view token_hash);
core::Result<void> insert_session(store::Db& db, const Session& s);
core::Result<void> touch_session(store::Db& db, const SessionTouch& t);
// Revokes one session (logout).
core::Result<void> revoke_session(store::Db& db, std::string_view token_hash);
// Revokes sessions: of one resource (resource_id > 0), of one user (user_id > 0), or all.
core::Result<int> revoke_sessions(store::Db& db, int64_t resource_id, int64_t user_id);
// Deletes sessions that expired before `now`; returns how many.
core::Result<int> purge_sessions(store::Db& db, int64_t now);

core::Result<std::optional<ShareLink>> find_share_link(store::Db& db, std::string_view id);
core::Result<std::optional<UserRecord>> find_user(store::Db& db, std::string_view email,
                                                  int64_t resource_id);
// Basic credentials for a resource: an API key (user = key id, password = secret; not
// revoked or expired, for this resource or any, with the "proxy" scope or none) or a Warren
// user's email and password (not for users with TOTP: Basic carries no second factor). A key
// tied to a user carries that user's identity, roles and grants, and fails once the user is
// disabled. A key that authenticates gets its last_used (at most once a minute).
core::Result<std::optional<Identity>> check_basic(store::Db& db, int64_t resource_id,
                                                  std::string_view user, std::string_view password,
                                                  int64_t now);

// Email codes: one live code per (resource, address); a new one replaces the old.
core::Result<void> put_email_code(store::Db& db, int64_t resource_id, const EmailCode& c,
                                  int64_t now);
core::Result<std::optional<EmailCode>> find_email_code(store::Db& db, int64_t resource_id,
                                                       std::string_view address);
core::Result<void> update_email_code(store::Db& db, int64_t resource_id, std::string_view address,
                                     bool failed_attempt, bool used);
// One-time codes are claimed once: the TOTP step is stored only when it is newer than the
// last one used, the emailed code is marked used only when it was not. True for the one
// caller that claimed it (concurrent logins with the same code: one true, the rest false).
core::Result<bool> claim_totp_step(store::Db& db, int64_t user_id, int64_t step);
core::Result<bool> claim_email_code(store::Db& db, int64_t resource_id, std::string_view address);

// One audit row: actor "edged", action "access.<outcome>", object the resource name, detail
// audit_json(...).
core::Result<void> audit_decision(store::Db& db, const Decision& d, const Request& req,
                                  const Policy& policy, int64_t now);

}  // namespace auth
