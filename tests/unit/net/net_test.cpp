#include "../support.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

#include <atomic>
#include <csignal>
#include <fstream>
#include <mutex>
#include <set>
#include <thread>

#include "core/fs.h"
#include "net/net.h"

using namespace std::chrono_literals;
namespace asio = boost::asio;

namespace {

// Runs one coroutine to completion on a fresh io_context (bounded by a 10 s watchdog).
template <class F>
void run_coro(F f) {
  asio::io_context ctx;
  std::exception_ptr failure;
  bool done = false;
  asio::co_spawn(ctx, f(), [&](std::exception_ptr e) {
    failure = e;
    done = true;
  });
  ctx.run_for(10s);
  REQUIRE(done);
  if (failure) std::rethrow_exception(failure);
}

unsigned mode_of(const std::string& path) {
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

}  // namespace

TEST_CASE("net: parse_host_port", "[net]") {
  auto a = net::parse_host_port("example.com:443");
  REQUIRE(a);
  REQUIRE(a->host == "example.com");
  REQUIRE(a->port == 443);
  auto b = net::parse_host_port("[::1]:8080");
  REQUIRE(b);
  REQUIRE(b->host == "::1");
  REQUIRE(b->port == 8080);
  REQUIRE(b->str() == "[::1]:8080");
  REQUIRE(net::parse_host_port("127.0.0.1:0")->str() == "127.0.0.1:0");
  REQUIRE(net::parse_host_port("*:80")->host == "*");

  auto err = [](std::string_view s) {
    auto r = net::parse_host_port(s);
    REQUIRE_FALSE(r);
    REQUIRE(r.error().code == core::Errc::data);
    return r.error().message;
  };
  REQUIRE(err("example.com") == "bad address \"example.com\": expected host:port");
  REQUIRE(err("::1:80") == "bad address \"::1:80\": IPv6 addresses need brackets, e.g. [::1]:443");
  REQUIRE(err("[::1]") == "bad address \"[::1]\": expected host:port");
  REQUIRE(err("[::1:80") == "bad address \"[::1:80\": missing ']'");
  REQUIRE(err("[1.2.3.4]:80") == "bad address \"[1.2.3.4]:80\": brackets are for IPv6 addresses");
  REQUIRE(err("host:65536") == "bad address \"host:65536\": port must be 0..65535");
  REQUIRE(err("host:-1") == "bad address \"host:-1\": port must be 0..65535");
  REQUIRE(err("host:") == "bad address \"host:\": port must be 0..65535");
  REQUIRE(err(":80") == "bad address \":80\": missing host");
  REQUIRE(err("a b:80") == "bad address \"a b:80\": invalid character in host");
}

TEST_CASE("net: listen_tcp on port 0, connect_tcp, echo", "[net]") {
  run_coro([]() -> asio::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    auto acc = net::listen_tcp(ex, *net::parse_host_port("127.0.0.1:0"));
    REQUIRE(acc);
    uint16_t port = acc->local_endpoint().port();
    REQUIRE(port != 0);
    auto [cec, client] = co_await net::connect_tcp({"127.0.0.1", port}, 2s);
    REQUIRE_FALSE(cec);
    auto [aec, server] = co_await acc->async_accept(net::use_tuple);
    REQUIRE_FALSE(aec);
    auto [wec, wn] = co_await asio::async_write(client, asio::buffer("ping", 4), net::use_tuple);
    REQUIRE(wn == 4);
    char buf[4];
    auto [rec, rn] =
        co_await net::with_timeout(asio::async_read(server, asio::buffer(buf), net::use_tuple), 2s);
    REQUIRE_FALSE(rec);
    REQUIRE(std::string(buf, rn) == "ping");
    net::tcp::no_delay nd;
    client.get_option(nd);
    REQUIRE(nd.value());
  });
}

TEST_CASE("net: with_timeout cancels a read that never completes", "[net]") {
  run_coro([]() -> asio::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    auto acc = net::listen_tcp(ex, net::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    REQUIRE(acc);
    auto [cec, client] = co_await net::connect_tcp({"127.0.0.1", acc->local_endpoint().port()}, 2s);
    REQUIRE_FALSE(cec);
    auto [aec, server] = co_await acc->async_accept(net::use_tuple);
    char buf[16];
    auto t0 = std::chrono::steady_clock::now();
    auto [ec, n] =
        co_await net::with_timeout(server.async_read_some(asio::buffer(buf), net::use_tuple), 50ms);
    auto took = std::chrono::steady_clock::now() - t0;
    REQUIRE(ec == asio::error::timed_out);
    REQUIRE(n == 0);
    REQUIRE(took >= 50ms);
    REQUIRE(took < 2s);
  });
}

TEST_CASE("net: connect_tcp reports refused and timeouts as values", "[net]") {
  run_coro([]() -> asio::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    uint16_t port;
    {
      auto acc = net::listen_tcp(ex, *net::parse_host_port("127.0.0.1:0"));
      REQUIRE(acc);
      port = acc->local_endpoint().port();
    }  // closed: nothing listens there now
    auto [ec, sock] = co_await net::connect_tcp({"127.0.0.1", port}, 2s);
    REQUIRE(ec == asio::error::connection_refused);
    auto [ec2, sock2] = co_await net::connect_tcp({"127.0.0.1", port}, 0ms);
    REQUIRE(ec2);
  });
}

TEST_CASE("net: SO_REUSEPORT lets two acceptors share a port; without it bind fails", "[net]") {
  asio::io_context ctx;
  net::ListenOptions rp;
  rp.reuse_port = true;
  auto a = net::listen_tcp(ctx.get_executor(), *net::parse_host_port("127.0.0.1:0"), rp);
  REQUIRE(a);
  net::HostPort same{"127.0.0.1", a->local_endpoint().port()};
  auto b = net::listen_tcp(ctx.get_executor(), same, rp);
  REQUIRE(b);
  auto c = net::listen_tcp(ctx.get_executor(), same);
  REQUIRE_FALSE(c);
  REQUIRE(c.error().code == core::Errc::unavailable);
  REQUIRE(c.error().message == "listen " + same.str() + ": Address already in use");
}

TEST_CASE("net: listen_unix sets the mode and handles stale and live socket files", "[net]") {
  testing::TempDir dir;
  asio::io_context ctx;
  std::string path = dir.path + "/d.sock";

  {
    auto acc = net::listen_unix(ctx.get_executor(), path, 0600);
    REQUIRE(acc);
    REQUIRE(mode_of(path) == 0600);
    // A second listener on a live socket is refused and the file stays.
    auto again = net::listen_unix(ctx.get_executor(), path, 0600);
    REQUIRE_FALSE(again);
    REQUIRE(again.error().code == core::Errc::unavailable);
    REQUIRE(again.error().message ==
            "listen " + path + ": already in use (another process is listening)");
  }
  // The acceptor is closed but the file remains: stale, so it is replaced.
  REQUIRE(core::file_exists(path));
  auto acc = net::listen_unix(ctx.get_executor(), path, 0660);
  REQUIRE(acc);
  REQUIRE(mode_of(path) == 0660);

  // A plain file is never removed.
  std::string plain = dir.path + "/plain";
  std::ofstream(plain) << "data";
  auto p = net::listen_unix(ctx.get_executor(), plain, 0600);
  REQUIRE_FALSE(p);
  REQUIRE(p.error().message == "listen " + plain + ": file exists and is not a socket");
  REQUIRE(core::file_exists(plain));

  auto toolong = net::listen_unix(ctx.get_executor(), "/tmp/" + std::string(200, 'x'), 0600);
  REQUIRE_FALSE(toolong);
  REQUIRE(toolong.error().code == core::Errc::config);
}

TEST_CASE("net: run uses several threads and returns when work is done", "[net]") {
  asio::io_context ctx;
  std::mutex mu;
  std::set<std::thread::id> ids;
  std::atomic<int> count{0};
  for (int i = 0; i < 200; ++i)
    asio::post(ctx, [&] {
      std::this_thread::sleep_for(100us);
      std::lock_guard lk(mu);
      ids.insert(std::this_thread::get_id());
      ++count;
    });
  net::run(ctx, 3);
  REQUIRE(count == 200);
  REQUIRE(ids.size() >= 2);
}

TEST_CASE("net: wait_signals calls on_hup and returns on TERM", "[net]") {
  asio::io_context ctx;
  int hups = 0;
  int got = -1;
  asio::co_spawn(
      ctx, [&]() -> asio::awaitable<void> { got = co_await net::wait_signals([&] { ++hups; }); },
      asio::detached);
  asio::co_spawn(
      ctx,
      [&]() -> asio::awaitable<void> {
        asio::steady_timer t(co_await asio::this_coro::executor);
        ::raise(SIGHUP);
        t.expires_after(20ms);
        co_await t.async_wait(asio::use_awaitable);
        ::raise(SIGHUP);
        t.expires_after(20ms);
        co_await t.async_wait(asio::use_awaitable);
        ::raise(SIGTERM);
      },
      asio::detached);
  ctx.run_for(5s);
  REQUIRE(hups == 2);
  REQUIRE(got == SIGTERM);
}

TEST_CASE("net: log_errors logs an escaped exception instead of terminating", "[net]") {
  asio::io_context ctx;
  asio::co_spawn(
      ctx,
      []() -> asio::awaitable<void> {
        throw std::runtime_error("boom");
        co_return;
      },
      net::log_errors("test"));
  REQUIRE_NOTHROW(ctx.run_for(1s));
  REQUIRE(ctx.stopped());
}
