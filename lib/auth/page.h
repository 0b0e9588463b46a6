// auth page — the portal's HTML (a plain login page that works without JavaScript, one form
// per method the resource offers) and the security headers every portal response carries.
// Pure functions; every interpolated value is HTML-escaped.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "auth/auth.h"

namespace auth {

std::string html_escape(std::string_view s);

struct PageState {
  std::string_view return_url = "/";  // already checked with safe_return_url
  std::string_view message;           // an error or notice to show
  std::string_view email;             // after a code request: the address, shows the code form
};

// The login page for `policy` (title, one form per offered method, posting to
// <portal_path>/login or <portal_path>/email).
std::string login_page(const Policy& policy, const PageState& st);

// The page GET <portal_path>/logout shows: one button that POSTs to it (signing out changes
// state, so it takes a same-origin POST, never a link or an image a third party can embed).
std::string logout_page(const Policy& policy);

// Content-Security-Policy (no scripts, forms to self, frame-ancestors 'none'),
// X-Frame-Options, X-Content-Type-Options, Referrer-Policy, Cache-Control: no-store, and
// Strict-Transport-Security over TLS.
std::vector<std::pair<std::string, std::string>> security_headers(bool tls);

}  // namespace auth
