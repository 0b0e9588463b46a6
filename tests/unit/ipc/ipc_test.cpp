#include "../support.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/json/serialize.hpp>

#include <atomic>
#include <cstring>
#include <optional>
#include <thread>

#include "core/fs.h"
#include "ipc/client.h"
#include "ipc/server.h"

using namespace std::chrono_literals;
namespace asio = boost::asio;
namespace json = boost::json;

namespace {

// Echoes the takeover stream: pending bytes first, then whatever arrives, until EOF.
asio::awaitable<void> echo_stream(ipc::Stream s) {
  if (!s.pending.empty())
    co_await asio::async_write(s.socket, asio::buffer(s.pending), net::use_tuple);
  char buf[4096];
  for (;;) {
    auto [ec, n] = co_await s.socket.async_read_some(asio::buffer(buf), net::use_tuple);
    if (ec) co_return;
    auto [wec, wn] = co_await asio::async_write(s.socket, asio::buffer(buf, n), net::use_tuple);
    if (wec) co_return;
  }
}

// A real server on a temp socket, its io_context on two threads.
struct TestServer {
  testing::TempDir dir;
  asio::io_context ctx;
  std::optional<ipc::Server> srv;
  std::vector<std::thread> threads;
  std::string path;

  explicit TestServer(ipc::ServerOptions opt = {}) {
    path = dir.path + "/t.sock";
    opt.path = path;
    srv.emplace(ctx.get_executor(), opt);
    srv->on("status", [](ipc::Request&) { return json::object{{"state", "up"}}; });
    srv->on("echo", [](ipc::Request& r) { return ipc::ok({{"args", r.body().at("args")}}); });
    srv->on("conn", [](ipc::Request& r) { return ipc::ok({{"id", r.conn_id()}}); });
    srv->on("throw",
            [](ipc::Request&) -> json::object { throw std::runtime_error("handler exploded"); });
    srv->on("slow", [](ipc::Request&) -> asio::awaitable<json::object> {
      asio::steady_timer t(co_await asio::this_coro::executor, 400ms);
      co_await t.async_wait(net::use_tuple);
      co_return ipc::ok();
    });
    srv->on("dial", [](ipc::Request& r) -> asio::awaitable<json::object> {
      if (r.body().contains("refuse"))
        co_return ipc::fail(core::Error(core::Errc::unavailable, "site offline"));
      r.take_over(echo_stream);
      co_return ipc::ok({{"stream", "open"}});
    });
  }
  void start() {
    auto l = srv->listen();
    REQUIRE(l);
    asio::co_spawn(ctx, srv->run(), net::log_errors("test ipc server"));
    for (int i = 0; i < 2; ++i) threads.emplace_back([this] { ctx.run(); });
  }
  ~TestServer() {
    srv->stop();
    for (int i = 0; i < 300 && !ctx.stopped(); ++i) std::this_thread::sleep_for(10ms);
    ctx.stop();  // bounded: whatever is still running (e.g. a stuck takeover) is abandoned
    for (auto& t : threads) t.join();
  }
};

// A raw POSIX client, for byte-level tests.
struct Raw {
  int fd = -1;
  explicit Raw(const std::string& path) {
    fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    std::strcpy(sa.sun_path, path.c_str());
    REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0);
  }
  ~Raw() { ::close(fd); }
  void send(std::string_view s) {
    while (!s.empty()) {
      ssize_t n = ::send(fd, s.data(), s.size(), MSG_NOSIGNAL);
      REQUIRE(n > 0);
      s.remove_prefix(static_cast<size_t>(n));
    }
  }
  // Reads until `want` bytes, a newline (when line is true), EOF or the timeout.
  std::string read(bool line, size_t want = SIZE_MAX, int timeout_ms = 3000) {
    std::string out;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (out.size() < want) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) break;
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
      char c;
      if (::recv(fd, &c, 1, 0) != 1) break;
      out += c;
      if (line && c == '\n') break;
    }
    return out;
  }
  std::string line() { return read(true); }
  // True when the server closed the connection (EOF) within the timeout.
  bool closed(int timeout_ms = 3000) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, timeout_ms) <= 0) return false;
    char c;
    return ::recv(fd, &c, 1, 0) == 0;
  }
};

unsigned mode_of(const std::string& path) {
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

}  // namespace

TEST_CASE("ipc: several requests on one connection, pipelined and sequential", "[ipc]") {
  TestServer t;
  t.start();
  Raw c(t.path);
  c.send("{\"op\":\"status\"}\n{\"op\":\"echo\",\"args\":[1,2]}\r\n\n{\"op\":\"conn\"}\n");
  REQUIRE(c.line() == "{\"ok\":true,\"state\":\"up\"}\n");
  REQUIRE(c.line() == "{\"ok\":true,\"args\":[1,2]}\n");
  auto id1 = c.line();
  REQUIRE(id1.starts_with("{\"ok\":true,\"id\":"));
  // Later, on the same connection: same connection id.
  c.send("{\"op\":\"conn\"}\n");
  REQUIRE(c.line() == id1);
  // A request split across writes is reassembled.
  c.send("{\"op\":");
  std::this_thread::sleep_for(20ms);
  c.send("\"status\"}\n");
  REQUIRE(c.line() == "{\"ok\":true,\"state\":\"up\"}\n");
}

TEST_CASE("ipc: client call() gets replies; unknown op", "[ipc]") {
  TestServer t;
  t.start();
  auto r = ipc::call(t.path, {{"op", "status"}}, 2000);
  REQUIRE(r);
  REQUIRE(json::serialize(*r) == "{\"ok\":true,\"state\":\"up\"}");
  auto u = ipc::call(t.path, {{"op", "x"}}, 2000);
  REQUIRE(u);
  REQUIRE(json::serialize(*u) == "{\"ok\":false,\"error\":\"unknown op \\\"x\\\"\",\"code\":64}");
  auto line = ipc::call_line(t.path, "{\"op\":\"echo\",\"args\":\"hi\"}", 2000);
  REQUIRE(line);
  REQUIRE(line->at("args") == "hi");
  auto two = ipc::call_line(t.path, "{}\n{}", 2000);
  REQUIRE_FALSE(two);
  REQUIRE(two.error().code == core::Errc::usage);
}

TEST_CASE("ipc: bad JSON and bad requests get an error reply and keep the connection", "[ipc]") {
  TestServer t;
  t.start();
  Raw c(t.path);
  c.send("{\"op\": nope}\n");
  auto bad = c.line();
  REQUIRE(bad.starts_with("{\"ok\":false,\"error\":\"bad json: "));
  c.send("[1,2]\n");
  REQUIRE(c.line() == "{\"ok\":false,\"error\":\"request must be a JSON object\",\"code\":65}\n");
  c.send("{\"op\":5}\n");
  REQUIRE(c.line() == "{\"ok\":false,\"error\":\"missing \\\"op\\\"\",\"code\":64}\n");
  c.send("{\"op\":\"throw\"}\n");
  REQUIRE(c.line() ==
          "{\"ok\":false,\"error\":\"internal error: handler exploded\",\"code\":70}\n");
  c.send("{\"op\":\"status\"}\n");
  REQUIRE(c.line() == "{\"ok\":true,\"state\":\"up\"}\n");
}

TEST_CASE("ipc: line-length limit", "[ipc]") {
  ipc::ServerOptions opt;
  opt.max_line = 1024;
  TestServer t(opt);
  t.start();
  // Exactly max_line bytes (without the newline) is fine.
  std::string head = "{\"op\":\"status\",\"pad\":\"";
  std::string exact = head + std::string(1024 - head.size() - 2, 'x') + "\"}";
  REQUIRE(exact.size() == 1024);
  {
    Raw c(t.path);
    c.send(exact + "\n");
    REQUIRE(c.line() == "{\"ok\":true,\"state\":\"up\"}\n");
    // One byte more, in one write with its newline: rejected and closed.
    std::string over = head + std::string(1024 - head.size() - 1, 'x') + "\"}";
    c.send(over + "\n");
    REQUIRE(c.line() == "{\"ok\":false,\"error\":\"line too long\",\"code\":65}\n");
    REQUIRE(c.closed());
  }
  {
    Raw c(t.path);  // a line that never ends
    c.send(std::string(3000, 'y'));
    REQUIRE(c.line() == "{\"ok\":false,\"error\":\"line too long\",\"code\":65}\n");
    REQUIRE(c.closed());
  }
  // Default limit is 64 KiB.
  REQUIRE(ipc::ServerOptions{}.max_line == 65536);
}

TEST_CASE("ipc: idle and read timeouts close the connection", "[ipc]") {
  ipc::ServerOptions opt;
  opt.idle_timeout = 100ms;
  opt.read_timeout = 150ms;
  TestServer t(opt);
  t.start();
  {
    Raw c(t.path);
    auto t0 = std::chrono::steady_clock::now();
    REQUIRE(c.closed());
    auto took = std::chrono::steady_clock::now() - t0;
    REQUIRE(took >= 90ms);
    REQUIRE(took < 2s);
  }
  {
    Raw c(t.path);
    c.send("{\"op\":\"status\"}\n");
    REQUIRE(c.line() == "{\"ok\":true,\"state\":\"up\"}\n");
    c.send("{\"op\":");  // a started line that never ends
    REQUIRE(c.line() == "{\"ok\":false,\"error\":\"read timeout\",\"code\":75}\n");
    REQUIRE(c.closed());
  }
}

TEST_CASE("ipc: client timeout is tempfail; missing daemon is unavailable", "[ipc]") {
  TestServer t;
  t.start();
  auto t0 = std::chrono::steady_clock::now();
  auto r = ipc::call(t.path, {{"op", "slow"}}, 100);
  auto took = std::chrono::steady_clock::now() - t0;
  REQUIRE_FALSE(r);
  REQUIRE(r.error().code == core::Errc::tempfail);
  REQUIRE(r.error().message == t.path + ": timed out after 100 ms");
  REQUIRE(took < 1s);

  std::string nothing = t.dir.path + "/none.sock";
  auto m = ipc::call(nothing, {{"op", "status"}}, 1000);
  REQUIRE_FALSE(m);
  REQUIRE(m.error().code == core::Errc::unavailable);
  REQUIRE(m.error().message == "daemon not running (" + nothing + ")");
}

TEST_CASE("ipc: socket file mode 0600 by default, 0660 on request; stop removes it", "[ipc]") {
  {
    TestServer t;
    t.start();
    REQUIRE(mode_of(t.path) == 0600);
    t.srv->stop();
    REQUIRE_FALSE(core::file_exists(t.path));
    // After stop, a client sees "daemon not running".
    auto r = ipc::call(t.path, {{"op", "status"}}, 500);
    REQUIRE_FALSE(r);
    REQUIRE(r.error().code == core::Errc::unavailable);
  }
  {
    ipc::ServerOptions opt;
    opt.mode = 0660;
    TestServer t(opt);
    t.start();
    REQUIRE(mode_of(t.path) == 0660);
    REQUIRE(ipc::call(t.path, {{"op", "status"}}, 2000));
  }
}

TEST_CASE("ipc: stop closes idle connections; a stale socket file is replaced", "[ipc]") {
  TestServer t;
  t.start();
  Raw c(t.path);
  c.send("{\"op\":\"status\"}\n");
  REQUIRE(c.line() == "{\"ok\":true,\"state\":\"up\"}\n");
  REQUIRE(t.srv->connections() == 1);
  t.srv->stop();
  REQUIRE(c.closed());

  // The same path again with a fresh server: listen() must succeed (file was removed).
  asio::io_context ctx;
  ipc::Server again(ctx.get_executor(), {.path = t.path});
  REQUIRE(again.listen());
  // A second live listener on the same path is refused.
  ipc::Server third(ctx.get_executor(), {.path = t.path});
  auto l = third.listen();
  REQUIRE_FALSE(l);
  REQUIRE(l.error().code == core::Errc::unavailable);
}

TEST_CASE("ipc: takeover handler owns the raw stream after its reply", "[ipc]") {
  TestServer t;
  t.start();
  auto d = ipc::call_takeover(t.path, {{"op", "dial"}, {"target", "x:1"}}, 2000);
  REQUIRE(d);
  REQUIRE(json::serialize(d->reply) == "{\"ok\":true,\"stream\":\"open\"}");
  int fd = d->fd.get();
  std::string msg = "raw bytes\n{\"op\":\"status\"}\n";  // not parsed any more: echoed
  REQUIRE(::send(fd, msg.data(), msg.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(msg.size()));
  std::string got(msg.size(), '\0');
  size_t have = 0;
  for (int i = 0; i < 100 && have < got.size(); ++i) {
    ssize_t n = ::recv(fd, got.data() + have, got.size() - have, 0);
    if (n <= 0) break;
    have += static_cast<size_t>(n);
  }
  REQUIRE(got == msg);
  REQUIRE(t.srv->connections() == 0);  // no longer in the line protocol

  // Bytes sent right behind the request line (before the reply) reach the handler too.
  Raw c(t.path);
  c.send("{\"op\":\"dial\"}\nEARLY");
  REQUIRE(c.line() == "{\"ok\":true,\"stream\":\"open\"}\n");
  REQUIRE(c.read(false, 5) == "EARLY");
  c.send("late");
  REQUIRE(c.read(false, 4) == "late");

  // A refused takeover keeps the line protocol and reports the daemon's error and code.
  auto refused = ipc::call_takeover(t.path, {{"op", "dial"}, {"refuse", true}}, 2000);
  REQUIRE_FALSE(refused);
  REQUIRE(refused.error().code == core::Errc::unavailable);
  REQUIRE(refused.error().message == "site offline");
}

TEST_CASE("ipc: concurrent clients on a two-thread server", "[ipc]") {
  TestServer t;
  t.start();
  std::atomic<int> good{0};
  std::vector<std::thread> clients;
  for (int i = 0; i < 8; ++i)
    clients.emplace_back([&, i] {
      for (int j = 0; j < 25; ++j) {
        auto r = ipc::call(t.path, {{"op", "echo"}, {"args", i * 100 + j}}, 3000);
        if (r && r->at("args") == i * 100 + j) ++good;
      }
    });
  for (auto& c : clients) c.join();
  REQUIRE(good == 200);
}

TEST_CASE("ipc: reply helpers", "[ipc]") {
  REQUIRE(json::serialize(ipc::ok()) == "{\"ok\":true}");
  REQUIRE(json::serialize(ipc::ok({{"a", 1}})) == "{\"ok\":true,\"a\":1}");
  REQUIRE(json::serialize(ipc::fail("nope")) == "{\"ok\":false,\"error\":\"nope\"}");
  auto f = ipc::fail(core::Error(core::Errc::noperm, "denied"));
  REQUIRE(json::serialize(f) == "{\"ok\":false,\"error\":\"denied\",\"code\":77}");
  auto e = ipc::error_from_reply(f);
  REQUIRE(e.code == core::Errc::noperm);
  REQUIRE(e.message == "denied");
  REQUIRE(ipc::error_from_reply(json::object{{"ok", false}, {"code", 3}}).code ==
          core::Errc::failure);
  REQUIRE(ipc::to_line(ipc::ok()) == "{\"ok\":true}\n");
}
