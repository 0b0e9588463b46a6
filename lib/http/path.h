// http path — the one normaliser of request paths. Every decision edged makes about a path
// (route selection, rules, share-link limits, the portal's reserved paths) and the request
// line it forwards use the form this returns, so a path cannot mean one thing to the router
// and another to access control or to the origin. No I/O.
//
// normalize_target() takes an origin-form target ("/a/./b/../c?q") and returns the path with
//  - unreserved percent-escapes decoded (%41 -> A, %2E -> .), other escapes kept, upper-cased;
//  - characters RFC 3986 does not allow in a path but lax clients send raw ('"', '<', '{',
//    '|', UTF-8 bytes, ...) percent-encoded;
//  - dot-segments removed (RFC 3986 5.2.4) and empty segments merged ("//a" -> "/a");
//  - the query kept as sent.
// It refuses what origins disagree about: a backslash (raw or %5C), an encoded slash (%2F),
// ';' path parameters, NUL and other controls (raw or encoded), malformed escapes, escaped
// bytes that are not well-formed UTF-8 (overlong forms such as %C0%AE, surrogates), raw bytes
// above 0x7E, and a fragment.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace http {

enum class PathError : uint8_t {
  none,
  not_origin_form,  // does not start with "/"
  backslash,        // '\' raw or %5C
  encoded_slash,    // %2F
  parameter,        // ';' in the path
  control,          // NUL or another control character, raw or encoded
  bad_escape,       // '%' not followed by two hex digits
  bad_utf8,         // escaped bytes that are not well-formed UTF-8 (overlong, surrogate, ...)
  bad_char,         // a raw byte that may not appear in the query
  fragment,         // '#' in a request target
};

// "encoded slash in the path", ... (for 400 pages and logs)
std::string_view to_string(PathError e);

// Normalises `target` (path and optional "?query") into `out` (path + query). On error `out`
// is left unspecified.
PathError normalize_target(std::string_view target, std::string& out);

// The path part only ("" for an error): for callers that hold a path without a query.
std::string normalize_path(std::string_view path);

}  // namespace http
