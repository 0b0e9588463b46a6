// auth sessions — random session tokens, the host-only cookie that carries them, share-link
// tokens, and the HTTP pieces the decision reads (Basic credentials, query parameters, return
// URLs). Only hashes of tokens are stored (crypto::hash_hex, BLAKE2b-256). Pure functions
// (token generation reads libsodium's random source, nothing else); any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace auth {

// Session token: 32 random bytes as base64url (43 characters). The store keeps hash_token().
constexpr size_t kTokenChars = 43;
std::string new_token();
std::string hash_token(std::string_view token);
// Syntax only: 43 base64url characters. Anything else is not a session (no store lookup).
bool token_syntax_ok(std::string_view token);

// Cookie name: "__Host-<base>" over TLS (the browser then refuses a Domain attribute and
// non-Secure setting, so the cookie stays on this host), "<base>" on plain HTTP.
std::string cookie_name(std::string_view base, bool tls);

// Set-Cookie value for a new session: host-only (no Domain), Path=/, HttpOnly, SameSite=Lax,
// Max-Age, and Secure over TLS.
std::string set_cookie(std::string_view name, std::string_view token, int64_t max_age, bool tls);
// Set-Cookie value that deletes the cookie (logout).
std::string clear_cookie(std::string_view name, bool tls);

// Values of cookie `name` in a Cookie header ("a=1; b=2"), in order, at most `max` (a
// sibling host may have planted extra copies on plain HTTP). Malformed pairs are skipped.
std::vector<std::string_view> cookie_values(std::string_view header, std::string_view name,
                                            size_t max = 4);
// The Cookie header without cookie `name` ("" when nothing is left); for the upstream.
std::string strip_cookie(std::string_view header, std::string_view name);

// Share-link token "<id>.<secret>": id 1..32 base64url characters, secret kTokenChars.
struct ShareToken {
  std::string id;
  std::string secret;
};
std::optional<ShareToken> parse_share_token(std::string_view s);
ShareToken new_share_token();  // id: 8 random bytes base64url (11 characters)
std::string to_string(const ShareToken& t);

// HTTP Basic credentials (RFC 7617). parse_basic: nullopt when the header is absent or uses
// another scheme; Errc::data (answer 400) when it says Basic but is malformed (bad base64, no
// ':', control characters, over 4 KiB).
struct BasicCredentials {
  std::string user;
  std::string password;
};
core::Result<std::optional<BasicCredentials>> parse_basic(std::string_view authorization);
// `Basic realm="<realm>", charset="UTF-8"` with the realm's quotes and backslashes escaped.
std::string basic_challenge(std::string_view realm);

// The first value of query parameter `name` in a request target ("/p?a=1&b=2"), percent-decoded
// ('+' as space). nullopt when absent or badly escaped.
std::optional<std::string> query_param(std::string_view target, std::string_view name);
// The target with every `name=` parameter removed (and the '?' if nothing is left).
std::string strip_query_param(std::string_view target, std::string_view name);

// Percent-encoding for a query value (RFC 3986 unreserved characters kept).
std::string url_encode(std::string_view s);
std::optional<std::string> url_decode(std::string_view s, bool plus_is_space = true);

// A return URL the portal may redirect to after login: same host only. Accepts a path-absolute
// reference ("/a/b?c") or an absolute http(s) URL whose host equals `host` (compared
// case-insensitively, port included when `host` has one), and returns the path-absolute form.
// Refuses "//evil", "/\evil", backslashes and control characters anywhere (also when
// percent-encoded, once or twice), other schemes, userinfo and anything over 2 KiB.
std::optional<std::string> safe_return_url(std::string_view url, std::string_view host);

}  // namespace auth
