// ipc client — talks to a daemon's control socket with plain POSIX sockets (no Asio), so CLIs
// such as peerctl stay small. Blocking calls with one overall deadline; safe from any thread.
//
//   auto r = ipc::call(dir + "/run/tunneld.sock", {{"op", "status"}}, 2000);
//   if (!r) -> r.error(): unavailable "daemon not running (path)", tempfail on timeout
//   (*r)["ok"] tells whether the daemon accepted the request.
#pragma once

#include <string>
#include <string_view>

#include "core/result.h"
#include "ipc/ipc.h"

namespace ipc {

// A file descriptor owned by the caller; closed on destruction unless released.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& o) noexcept : fd_(o.release()) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept;
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd();
  int get() const { return fd_; }
  int release() {
    int f = fd_;
    fd_ = -1;
    return f;
  }
  explicit operator bool() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

// Sends one request line and returns the reply object (whether "ok" is true or false).
// Missing socket / connection refused -> Errc::unavailable "daemon not running (path)";
// no permission -> noperm; no reply within timeout_ms -> tempfail; reply not a JSON object
// -> data; connection closed before a full reply -> unavailable.
core::Result<boost::json::object> call(const std::string& socket_path,
                                       const boost::json::object& request, int timeout_ms = 5000);
// Same, with the request given as JSON text (one line; a trailing newline is added).
core::Result<boost::json::object> call_line(const std::string& socket_path,
                                            std::string_view request_json, int timeout_ms = 5000);

// For ops that take over the connection (tunneld's "dial"): sends the request, reads exactly
// the reply line (never a byte past it), and on "ok": true hands back the connected socket
// (blocking mode) whose next bytes are the raw stream. "ok": false -> the error from the reply.
struct Takeover {
  UniqueFd fd;
  boost::json::object reply;
};
core::Result<Takeover> call_takeover(const std::string& socket_path,
                                     const boost::json::object& request, int timeout_ms = 5000);

}  // namespace ipc
