#include "auth/page.h"

namespace auth {

std::string html_escape(std::string_view s) {
  std::string o;
  o.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&':
        o += "&amp;";
        break;
      case '<':
        o += "&lt;";
        break;
      case '>':
        o += "&gt;";
        break;
      case '"':
        o += "&quot;";
        break;
      case '\'':
        o += "&#39;";
        break;
      default:
        if (static_cast<unsigned char>(c) >= 0x20 || c == '\n') o += c;
    }
  }
  return o;
}

namespace {
std::string form(const Policy& p, const PageState& st, std::string_view action,
                 std::string_view method, std::string_view legend, std::string_view fields) {
  std::string f = "<form method=\"post\" action=\"" + html_escape(p.portal_path) + "/" +
                  std::string(action) + "\">\n<fieldset><legend>" + std::string(legend) +
                  "</legend>\n<input type=\"hidden\" name=\"method\" value=\"" +
                  std::string(method) + "\">\n<input type=\"hidden\" name=\"rd\" value=\"" +
                  html_escape(st.return_url) + "\">\n" + std::string(fields) +
                  "<button type=\"submit\">Continue</button>\n</fieldset></form>\n";
  return f;
}
}  // namespace

namespace {
std::string page_head(std::string_view title) {
  const std::string t = html_escape(title);
  return "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
         "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
         "<title>" +
         t +
         "</title>\n"
         "<style>body{font-family:system-ui,sans-serif;max-width:28rem;margin:3rem auto;"
         "padding:0 1rem}fieldset{margin:1rem 0;border:1px solid #ccc;border-radius:6px}"
         "label{display:block;margin:.5rem 0}input{font-size:1rem;width:100%;"
         "box-sizing:border-box}button{margin-top:.5rem;font-size:1rem}"
         ".msg{padding:.5rem;background:#fee}</style>\n"
         "</head><body>\n<h1>" +
         t + "</h1>\n";
}
}  // namespace

std::string logout_page(const Policy& p) {
  return page_head("Sign out of " + p.resource) + "<form method=\"post\" action=\"" +
         html_escape(p.portal_path) +
         "/logout\">\n<button type=\"submit\">Sign out</button>\n</form>\n</body></html>\n";
}

std::string login_page(const Policy& p, const PageState& st) {
  std::string h = page_head("Sign in to " + p.resource);
  if (!st.message.empty())
    h += "<p class=\"msg\" role=\"alert\">" + html_escape(st.message) + "</p>\n";
  const Methods& m = p.methods;
  if (m.users)
    h += form(
        p, st, "login", "users", "Account",
        "<label>Email <input type=\"email\" name=\"email\" autocomplete=\"username\" "
        "required></label>\n<label>Password <input type=\"password\" name=\"password\" "
        "autocomplete=\"current-password\" required></label>\n<label>Authenticator code "
        "(if enabled) <input name=\"totp\" inputmode=\"numeric\" autocomplete=\"one-time-code\" "
        "maxlength=\"6\"></label>\n");
  if (m.password)
    h += form(p, st, "login", "password", "Password",
              "<label>Password <input type=\"password\" name=\"password\" "
              "autocomplete=\"current-password\" required></label>\n");
  if (m.pin) {
    auto n = std::to_string(p.pin_digits);
    h += form(p, st, "login", "pin", "PIN",
              "<label>PIN <input type=\"password\" name=\"pin\" inputmode=\"numeric\" "
              "pattern=\"[0-9]{" +
                  n + "}\" minlength=\"" + n + "\" maxlength=\"" + n +
                  "\" autocomplete=\"off\" required></label>\n");
  }
  if (m.email) {
    if (st.email.empty()) {
      h += form(p, st, "email", "email", "Email me a code",
                "<label>Email <input type=\"email\" name=\"email\" autocomplete=\"email\" "
                "required></label>\n");
    } else {
      h += form(p, st, "login", "email", "Code sent to " + html_escape(st.email),
                "<input type=\"hidden\" name=\"email\" value=\"" + html_escape(st.email) +
                    "\">\n<label>Code <input name=\"code\" autocomplete=\"one-time-code\" "
                    "maxlength=\"9\" required></label>\n");
    }
  }
  h += "</body></html>\n";
  return h;
}

std::vector<std::pair<std::string, std::string>> security_headers(bool tls) {
  std::vector<std::pair<std::string, std::string>> h = {
      {"Content-Security-Policy",
       "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
       "frame-ancestors 'none'; base-uri 'none'"},
      {"X-Frame-Options", "DENY"},
      {"X-Content-Type-Options", "nosniff"},
      {"Referrer-Policy", "same-origin"},
      {"Cache-Control", "no-store"},
  };
  if (tls) h.emplace_back("Strict-Transport-Security", "max-age=31536000");
  return h;
}

}  // namespace auth
