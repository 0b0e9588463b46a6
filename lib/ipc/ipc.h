// ipc — the control-socket protocol every daemon speaks: JSON lines over a Unix stream socket.
// One request object per line ({"op":"status",...}), one reply object per line, always with
// "ok" (and "error" when false; "code" = exit code when the daemon knows one). Many requests
// per connection. This header is the shared vocabulary; no Asio, no sockets.
#pragma once

#include <boost/json/value.hpp>

#include <cstddef>
#include <string>
#include <string_view>

#include "core/error.h"

namespace ipc {

inline constexpr size_t kMaxLine = 64 * 1024;  // default request/reply line limit

// {"ok":true, <fields...>} ("ok" first; an "ok" already in fields is kept as is).
boost::json::object ok(boost::json::object fields = {});
// {"ok":false,"error":message}
boost::json::object fail(std::string_view message);
// {"ok":false,"error":e.message,"code":exit code of e.code}
boost::json::object fail(const core::Error& e);

// Serialises one reply/request as a line (compact JSON + '\n').
std::string to_line(const boost::json::object& o);

// Maps a reply with "ok": false to a core::Error (code from "code" when it is a known exit
// code, else Errc::failure; message from "error").
core::Error error_from_reply(const boost::json::object& reply);

}  // namespace ipc
