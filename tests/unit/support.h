// Shared test helpers: Catch2 prints core::Result as "ok" or its error, and a temp-dir RAII.
#pragma once

#include <catch2/catch.hpp>

#include <cstdlib>
#include <string>

#include "core/result.h"

namespace Catch {
template <class T>
struct StringMaker<boost::system::result<T, core::Error>> {
  static std::string convert(const boost::system::result<T, core::Error>& r) {
    return r ? std::string("ok") : "error: " + r.error().message;
  }
};
}  // namespace Catch

namespace testing {
struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/warren-test-XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~TempDir() { std::system(("rm -rf '" + path + "'").c_str()); }
};
}  // namespace testing
