// enroll — site enrollment with a one-time token. `peerctl site add` stores the BLAKE2b hash
// of a fresh token with an expiry (issue_token); the site generates its own key pair and POSTs
// {"token", "public_key"} as JSON to edged at kPath; edged answers with enroll_site(), which
// checks the token (known, not expired, not used), records the site's public key and returns
// what the site's tunneld.toml needs. The site side is post() + site_config(). Blocking store
// calls (run them on edged's store pool); one store::Db per thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/result.h"
#include "store/store.h"

namespace enroll {

// The reserved path edged serves enrollment on (POST, application/json).
inline constexpr std::string_view kPath = "/.warren/enroll";
inline constexpr int64_t kDefaultTtl = 86400;  // seconds a token stays valid

// A new token for the site (replacing any earlier one), valid until now + ttl_s; only its hash
// is stored. Errc::noinput when there is no such site. Inside the caller's transaction if any.
core::Result<std::string> issue_token(store::Db& db, std::string_view site, int64_t now,
                                      int64_t ttl_s);
// Where the site should dial (kept with the token when `site add --edge` named it); "" to use the
// edge's published public_endpoint.
core::Result<void> set_site_edge(store::Db& db, std::string_view site, std::string_view edge);

// The edge side of POST kPath. request_json: {"token": "...", "public_key": "<44 base64>"}.
// Returns the reply body (JSON): {"ok":true,"site":NAME,"edge":"host:port",
// "edge_public_key":"...","config":"<tunneld.toml [site] table without the key line>"}.
// Errors: Errc::data (malformed request, key taken by another site), Errc::noperm (unknown,
// used or expired token — one message for all three, so a guesser learns nothing),
// Errc::unavailable (the edge has no public key or address yet). The token is spent in the same
// transaction that stores the key: two concurrent uses, one wins.
core::Result<std::string> enroll_site(store::Db& db, std::string_view request_json, int64_t now);
// HTTP status for an enroll_site error (400, 403, 503, 500).
int http_status(const core::Error& e);
// {"ok":false,"error":"..."} for an error.
std::string error_json(const core::Error& e);

// Site side: POSTs `body` to url (https://host[:port][/...], the path replaced by kPath;
// http:// only to a loopback address) and returns the reply body. ca_file adds trust anchors.
// Errors: Errc::usage (bad URL), unavailable (cannot connect), noperm (TLS verification,
// 403), data (malformed reply), failure (other HTTP errors, with the server's message).
core::Result<std::string> post(const std::string& url, const std::string& body,
                               const std::string& ca_file, int timeout_ms = 10000);

}  // namespace enroll
