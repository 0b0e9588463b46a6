// Fuzz target: http::normalize_target, the one path normaliser every access decision and the
// forwarded request line depend on. Whatever comes in, an accepted target normalises to a
// path that starts with one '/', has no dot-segments, empty segments, backslashes, ';' or
// escaped '/', and normalises to itself again; the auth wrapper agrees with it.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "auth/rules.h"
#include "http/path.h"

namespace {
void check(bool ok) {
  if (!ok) std::abort();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  std::string out;
  http::PathError e = http::normalize_target(in, out);
  auto q = in.find('?');
  auto via_auth = auth::normalize_path(in);
  if (e != http::PathError::none) {
    check(!http::to_string(e).empty());
    return 0;
  }
  std::string_view path = std::string_view(out).substr(0, out.find('?'));
  check(!path.empty() && path[0] == '/');
  check(path.find("//") == std::string_view::npos);
  check(path.find("/./") == std::string_view::npos && path.find("/../") == std::string_view::npos);
  check(!path.ends_with("/.") && !path.ends_with("/.."));
  check(path.find_first_of("\\;#") == std::string_view::npos);
  for (unsigned char c : path) check(c > 0x20 && c < 0x7f);
  check(path.find("%2F") == std::string_view::npos && path.find("%00") == std::string_view::npos);
  // The query is kept byte for byte.
  if (q != std::string_view::npos)
    check(std::string_view(out).substr(out.find('?')) == in.substr(q));
  std::string again;
  check(http::normalize_target(out, again) == http::PathError::none);
  check(again == out);
  check(via_auth && *via_auth == path);
  return 0;
}
