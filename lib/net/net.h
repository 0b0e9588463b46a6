// net — Asio helpers shared by the daemons: run an io_context on N threads, wait for
// INT/TERM/HUP, race an operation against a deadline, listen on TCP and Unix sockets, dial TCP.
// This header includes Asio; include it from daemon code only (CLIs use net/endpoint.h).
// Functions here are free of shared state; coroutines run on the executor they are spawned on.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <chrono>
#include <exception>
#include <functional>
#include <string>
#include <tuple>

#include "core/result.h"
#include "net/endpoint.h"

namespace net {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using unix_stream = asio::local::stream_protocol;
using error_code = boost::system::error_code;
using Clock = std::chrono::steady_clock;

// Completion token: results as a tuple (error_code first), never an exception.
inline constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

// Runs ctx on `threads` threads (the caller is one of them) until it runs out of work or is
// stopped. Handlers must not throw (co_spawn with log_errors() catches coroutine exceptions).
void run(asio::io_context& ctx, unsigned threads);

// Waits for SIGINT/SIGTERM/SIGHUP. Calls on_hup (if set) for each SIGHUP and keeps waiting;
// returns the signal number of INT or TERM, or 0 when the wait is cancelled.
asio::awaitable<int> wait_signals(std::function<void()> on_hup = {});

// A co_spawn completion handler that logs an exception escaping a detached coroutine
// (logger "net", event=coroutine_failed what=<what>) instead of losing it.
struct LogErrors {
  std::string what;
  void operator()(std::exception_ptr e) const;
};
inline LogErrors log_errors(std::string what) {
  return LogErrors{std::move(what)};
}

// Races `op` (an awaitable built with use_tuple) against a timer. On timeout the operation is
// cancelled and the result carries asio::error::timed_out (ETIMEDOUT); the stream's state is
// then unknown, so close it. Ts must be default-constructible (e.g. size_t from a read).
//   auto [ec, n] = co_await net::with_timeout(sock.async_read_some(buf, net::use_tuple), 5s);
template <class... Ts>
asio::awaitable<std::tuple<error_code, Ts...>> with_timeout(
    asio::awaitable<std::tuple<error_code, Ts...>> op, Clock::duration timeout) {
  using namespace asio::experimental::awaitable_operators;
  asio::steady_timer timer(co_await asio::this_coro::executor, timeout);
  auto r = co_await (std::move(op) || timer.async_wait(use_tuple));
  if (r.index() == 0) co_return std::move(std::get<0>(r));
  std::tuple<error_code, Ts...> out{};
  std::get<0>(out) = asio::error::timed_out;
  co_return out;
}

struct ListenOptions {
  bool reuse_port = false;  // SO_REUSEPORT: one acceptor per thread/io_context on one port
  int backlog = asio::socket_base::max_listen_connections;
};

// Resolves host:port to one endpoint (numeric, or the first address getaddrinfo returns).
core::Result<tcp::endpoint> resolve_one(const HostPort& hp);

// Opens, binds (SO_REUSEADDR, optional SO_REUSEPORT) and listens. EADDRINUSE -> unavailable,
// EACCES -> noperm. Messages: "listen 127.0.0.1:80: Permission denied".
core::Result<tcp::acceptor> listen_tcp(const asio::any_io_executor& ex, const tcp::endpoint& ep,
                                       const ListenOptions& opt = {});
core::Result<tcp::acceptor> listen_tcp(const asio::any_io_executor& ex, const HostPort& hp,
                                       const ListenOptions& opt = {});

// Listens on a Unix stream socket at `path` with file mode `mode` (e.g. 0600, 0660).
// An existing socket file is removed only if nothing accepts connections on it; a live
// listener -> Errc::unavailable ("... already in use"); a non-socket file is never touched.
core::Result<unix_stream::acceptor> listen_unix(const asio::any_io_executor& ex,
                                                const std::string& path, unsigned mode = 0600,
                                                int backlog = 128);

// Resolves and connects with one deadline for both steps; sets TCP_NODELAY. Errors come back
// as values (timed_out, connection_refused, host_not_found, ...).
asio::awaitable<std::tuple<error_code, tcp::socket>> connect_tcp(HostPort hp,
                                                                 Clock::duration timeout);

}  // namespace net
