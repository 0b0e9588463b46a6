// core::Error — a failure as a value: a kind (which maps to one exit code) and a one-line
// message of the form "what: why". Owned by whoever returns it; no threading concerns.
#pragma once

#include <boost/assert/source_location.hpp>
#include <exception>
#include <ostream>
#include <string>
#include <utility>

namespace core {

// The one exit-code table (sysexits.h values), shared by every program and man page.
enum class Errc : int {
  ok = 0,
  failure = 1,       // generic failure (e.g. a verification that says "no")
  usage = 64,        // bad command line
  data = 65,         // malformed input data (PEM, CSR, JSON, TOML values)
  noinput = 66,      // missing input file or object
  unavailable = 69,  // a service or daemon is unavailable
  internal = 70,     // a bug: internal error
  tempfail = 75,     // temporary failure, retry later (store locked)
  noperm = 77,       // permission denied, wrong passphrase
  config = 78,       // configuration error
};

inline int exit_code(Errc e) {
  return static_cast<int>(e);
}

struct Error {
  Errc code = Errc::failure;
  std::string message;

  Error() = default;
  Error(Errc c, std::string m) : code(c), message(std::move(m)) {}

  // Prefix context: err.context("issue web") -> "issue web: <message>".
  Error&& context(const std::string& what) && {
    message = what + ": " + message;
    return std::move(*this);
  }
  Error& context(const std::string& what) & {
    message = what + ": " + message;
    return *this;
  }
};

// The exception thrown by result<T, Error>::value() on an error; caught once in main.
struct ErrorException : std::exception {
  Error error;
  explicit ErrorException(Error e) : error(std::move(e)) {}
  const char* what() const noexcept override { return error.message.c_str(); }
};

// Found by ADL from boost::system::result<T, Error>::value().
[[noreturn]] inline void throw_exception_from_error(const Error& e, const boost::source_location&) {
  throw ErrorException(e);
}

inline std::ostream& operator<<(std::ostream& os, const Error& e) {
  return os << e.message << " (exit " << static_cast<int>(e.code) << ")";
}

inline Error err(Errc c, std::string m) {
  return Error(c, std::move(m));
}

}  // namespace core
