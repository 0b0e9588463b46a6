#include "net/net.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/signal_set.hpp>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <thread>
#include <vector>

#include "core/fs.h"
#include "log/log.h"

namespace net {

void run(asio::io_context& ctx, unsigned threads) {
  std::vector<std::thread> pool;
  for (unsigned i = 1; i < threads; ++i) pool.emplace_back([&ctx] { ctx.run(); });
  ctx.run();
  for (auto& t : pool) t.join();
}

asio::awaitable<int> wait_signals(std::function<void()> on_hup) {
  asio::signal_set signals(co_await asio::this_coro::executor, SIGINT, SIGTERM, SIGHUP);
  for (;;) {
    auto [ec, sig] = co_await signals.async_wait(use_tuple);
    if (ec) co_return 0;
    if (sig == SIGHUP) {
      if (on_hup) on_hup();
      continue;
    }
    co_return sig;
  }
}

void LogErrors::operator()(std::exception_ptr e) const {
  if (!e) return;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    wlog::get("net")->error("event=coroutine_failed what={} error=\"{}\"", what, ex.what());
  } catch (...) {
    wlog::get("net")->error("event=coroutine_failed what={} error=unknown", what);
  }
}

static core::Error net_error(const std::string& what, const error_code& ec) {
  core::Errc c = core::Errc::failure;
  if (ec == asio::error::address_in_use)
    c = core::Errc::unavailable;
  else if (ec.category() == boost::system::system_category())
    c = core::errc_from_errno(ec.value());
  return core::err(c, what + ": " + ec.message());
}

core::Result<tcp::endpoint> resolve_one(const HostPort& hp) {
  error_code ec;
  auto addr = asio::ip::make_address(hp.host == "*" ? "0.0.0.0" : hp.host, ec);
  if (!ec) return tcp::endpoint(addr, hp.port);
  asio::io_context ctx;
  tcp::resolver resolver(ctx);
  auto results = resolver.resolve(hp.host, std::to_string(hp.port), ec);
  if (ec) return core::err(core::Errc::unavailable, "resolve " + hp.str() + ": " + ec.message());
  if (results.empty())
    return core::err(core::Errc::unavailable, "resolve " + hp.str() + ": no addresses");
  return results.begin()->endpoint();
}

core::Result<tcp::acceptor> listen_tcp(const asio::any_io_executor& ex, const tcp::endpoint& ep,
                                       const ListenOptions& opt) {
  std::string what = "listen " + HostPort{ep.address().to_string(), ep.port()}.str();
  tcp::acceptor acc(ex);
  error_code ec;
  acc.open(ep.protocol(), ec);
  if (ec) return net_error(what, ec);
  acc.set_option(asio::socket_base::reuse_address(true), ec);
  if (ec) return net_error(what, ec);
  if (opt.reuse_port) {
    int one = 1;
    if (::setsockopt(acc.native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0)
      return net_error(what, error_code(errno, boost::system::system_category()));
  }
  if (ep.address().is_v6()) acc.set_option(asio::ip::v6_only(false), ec);  // best effort
  acc.bind(ep, ec);
  if (ec) return net_error(what, ec);
  acc.listen(opt.backlog, ec);
  if (ec) return net_error(what, ec);
  return acc;
}

core::Result<tcp::acceptor> listen_tcp(const asio::any_io_executor& ex, const HostPort& hp,
                                       const ListenOptions& opt) {
  auto ep = resolve_one(hp);
  if (!ep) return ep.error();
  return listen_tcp(ex, *ep, opt);
}

// Is anything accepting on the Unix socket at path? ECONNREFUSED means a stale file.
static core::Result<bool> unix_socket_alive(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return core::err(core::errc_from_errno(errno), "socket: " + core::errno_text(errno));
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  std::memcpy(sa.sun_path, path.c_str(), path.size() + 1);
  int rc = ::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
  int e = errno;
  ::close(fd);
  if (rc == 0) return true;
  if (e == ECONNREFUSED) return false;
  if (e == ENOENT) return false;
  return core::err(core::errc_from_errno(e), "listen " + path + ": " + core::errno_text(e));
}

core::Result<unix_stream::acceptor> listen_unix(const asio::any_io_executor& ex,
                                                const std::string& path, unsigned mode,
                                                int backlog) {
  std::string what = "listen " + path;
  if (path.empty() || path.size() >= sizeof(sockaddr_un{}.sun_path))
    return core::err(core::Errc::config, what + ": socket path too long (max 107 bytes)");
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode))
      return core::err(core::Errc::failure, what + ": file exists and is not a socket");
    auto alive = unix_socket_alive(path);
    if (!alive) return alive.error();
    if (*alive)
      return core::err(core::Errc::unavailable,
                       what + ": already in use (another process is listening)");
    if (::unlink(path.c_str()) != 0 && errno != ENOENT)
      return core::err(core::errc_from_errno(errno),
                       what + ": remove stale socket: " + core::errno_text(errno));
  }
  unix_stream::acceptor acc(ex);
  error_code ec;
  acc.open(unix_stream(), ec);
  if (ec) return net_error(what, ec);
  // On Linux the mode of the socket inode before bind() is the mode of the file bind() creates
  // (minus umask), so the file is never more open than `mode`; chmod afterwards makes it exact.
  ::fchmod(acc.native_handle(), mode);
  acc.bind(unix_stream::endpoint(path), ec);
  if (ec) return net_error(what, ec);
  if (::chmod(path.c_str(), mode) != 0) {
    int e = errno;
    ::unlink(path.c_str());
    return core::err(core::errc_from_errno(e), what + ": chmod: " + core::errno_text(e));
  }
  acc.listen(backlog, ec);
  if (ec) {
    ::unlink(path.c_str());
    return net_error(what, ec);
  }
  return acc;
}

asio::awaitable<std::tuple<error_code, tcp::socket>> connect_tcp(HostPort hp,
                                                                 Clock::duration timeout) {
  auto ex = co_await asio::this_coro::executor;
  const auto deadline = Clock::now() + timeout;
  tcp::socket sock(ex);
  tcp::resolver resolver(ex);
  Clock::duration left = std::max(Clock::duration::zero(), deadline - Clock::now());
  std::tuple<error_code, tcp::resolver::results_type> resolved = co_await with_timeout(
      resolver.async_resolve(hp.host, std::to_string(hp.port), use_tuple), left);
  error_code ec = std::get<0>(resolved);
  if (ec) co_return std::make_tuple(ec, std::move(sock));
  ec = asio::error::host_not_found;
  for (const auto& entry : std::get<1>(resolved)) {
    error_code ignored;
    sock.close(ignored);
    left = std::max(Clock::duration::zero(), deadline - Clock::now());
    std::tuple<error_code> connected =
        co_await with_timeout(sock.async_connect(entry.endpoint(), use_tuple), left);
    ec = std::get<0>(connected);
    if (!ec || ec == asio::error::timed_out) break;
  }
  if (!ec) sock.set_option(tcp::no_delay(true), ec);
  co_return std::make_tuple(ec, std::move(sock));
}

}  // namespace net
