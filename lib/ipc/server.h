// ipc::Server — a daemon's control socket: accepts on a Unix socket, one coroutine per
// connection (each on its own strand), reads JSON request lines and dispatches them by "op" to
// registered handlers. Register handlers with on() before run(); after that the Server is
// used from any thread through stop() only. Includes Asio: daemon code only.
//
//   ipc::Server srv(ctx.get_executor(), {.path = dir + "/run/tunneld.sock"});
//   srv.on("status", [&](ipc::Request&) { return ipc::ok({{"sites", n}}); });
//   srv.on("dial", [&](ipc::Request& r) -> net::asio::awaitable<boost::json::object> {
//     ... r.take_over([](ipc::Stream s) -> net::asio::awaitable<void> { relay(s) });
//     co_return ipc::ok();
//   });
//   WARREN_CHECK(srv.listen());
//   co_spawn(ctx, srv.run(), net::log_errors("ipc"));
#pragma once

#include <boost/json/object.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <type_traits>

#include "core/result.h"
#include "ipc/ipc.h"
#include "net/net.h"

namespace ipc {

struct ServerOptions {
  std::string path;               // socket file; created by listen(), removed by stop()
  unsigned mode = 0600;           // 0660 lets the socket's group in
  size_t max_line = kMaxLine;     // longer request -> {"ok":false,"error":"line too long"}
  size_t max_connections = 1024;  // more -> {"ok":false,"error":"too many connections"}
  std::chrono::milliseconds idle_timeout{60000};  // no request started: close silently
  std::chrono::milliseconds read_timeout{10000};  // a started line must end within this
  std::chrono::milliseconds write_timeout{10000};
};

// The raw byte stream a takeover handler gets: the socket, and any bytes the client sent after
// its request line that the server had already read (deliver these first).
// (Has a constructor on purpose: see net/endpoint.h on GCC 12 and aggregate coroutine params.)
struct Stream {
  Stream(net::unix_stream::socket s, std::string p) : socket(std::move(s)), pending(std::move(p)) {}
  net::unix_stream::socket socket;
  std::string pending;
};
using TakeoverFn = std::function<net::asio::awaitable<void>(Stream)>;

// One request, as handlers see it.
class Request {
 public:
  Request(const boost::json::object& body, std::string op, uint64_t conn_id)
      : body_(body), op_(std::move(op)), conn_id_(conn_id) {}
  const boost::json::object& body() const { return body_; }
  const std::string& op() const { return op_; }
  uint64_t conn_id() const { return conn_id_; }

  // After the reply line is written — and only if the reply has "ok": true — the connection
  // leaves the line protocol and `fn` owns the socket (running on the connection's strand).
  void take_over(TakeoverFn fn) { takeover_ = std::move(fn); }
  TakeoverFn& takeover() { return takeover_; }

 private:
  const boost::json::object& body_;
  std::string op_;
  uint64_t conn_id_;
  TakeoverFn takeover_;
};

using Handler = std::function<net::asio::awaitable<boost::json::object>(Request&)>;
using SyncHandler = std::function<boost::json::object(Request&)>;

class Server {
 public:
  Server(net::asio::any_io_executor ex, ServerOptions opt);
  ~Server();  // stops (closes the socket, removes the file); running sessions end on their own
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Registers a handler for "op". F returns boost::json::object (sync: runs on the connection's
  // strand, must not block) or awaitable<boost::json::object>. A reply without "ok" gets
  // "ok": true; a handler that throws yields {"ok":false,"error":"internal error: ..."}.
  template <class F>
  void on(std::string op, F&& f) {
    using R = std::invoke_result_t<F&, Request&>;
    if constexpr (std::is_same_v<R, net::asio::awaitable<boost::json::object>>)
      add(std::move(op), Handler(std::forward<F>(f)), nullptr);
    else
      add(std::move(op), nullptr, SyncHandler(std::forward<F>(f)));
  }

  // Creates the socket file with opt.mode (see net::listen_unix for stale files).
  core::Result<void> listen();
  // Accept loop; returns after stop(). Spawn it: co_spawn(ex, srv.run(), net::log_errors(..)).
  net::asio::awaitable<void> run();
  // Stops accepting, closes connections still in the line protocol (taken-over streams are
  // left alone), removes the socket file if it is still ours. Thread-safe, idempotent.
  void stop();

  const std::string& path() const;
  size_t connections() const;  // connections currently in the line protocol

  struct Shared;  // state shared with connection coroutines (server.cpp)

 private:
  void add(std::string op, Handler h, SyncHandler s);
  std::shared_ptr<Shared> sh_;
};

}  // namespace ipc
