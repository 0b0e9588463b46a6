#include "ipc/server.h"

#include <sys/stat.h>
#include <unistd.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <boost/json/parse.hpp>

#include <atomic>
#include <map>
#include <mutex>
#include <optional>
#include <unordered_map>

#include "log/log.h"

namespace ipc {

namespace asio = net::asio;
using net::unix_stream;

struct Server::Shared {
  asio::any_io_executor ex;
  asio::strand<asio::any_io_executor> strand;  // the acceptor's executor
  ServerOptions opt;
  struct Entry {
    Handler async;
    SyncHandler sync;
  };
  std::unordered_map<std::string, Entry> handlers;  // fixed once run() starts
  std::shared_ptr<spdlog::logger> log = wlog::get("ipc");

  std::optional<unix_stream::acceptor> acceptor;  // touched on `strand` only once running
  dev_t dev = 0;                                  // identity of the socket file we created
  ino_t ino = 0;
  std::atomic<bool> stopped{false};
  std::atomic<uint64_t> next_id{1};

  struct Conn {
    asio::any_io_executor ex;  // the connection's strand
    unix_stream::socket sock;
  };
  mutable std::mutex mu;
  std::map<uint64_t, std::shared_ptr<Conn>> conns;  // connections in the line protocol

  Shared(asio::any_io_executor e, ServerOptions o)
      : ex(e), strand(asio::make_strand(e)), opt(std::move(o)) {}

  void forget(uint64_t id) {
    std::lock_guard lk(mu);
    conns.erase(id);
  }
};

Server::Server(asio::any_io_executor ex, ServerOptions opt)
    : sh_(std::make_shared<Shared>(std::move(ex), std::move(opt))) {}

Server::~Server() {
  stop();
}

const std::string& Server::path() const {
  return sh_->opt.path;
}

size_t Server::connections() const {
  std::lock_guard lk(sh_->mu);
  return sh_->conns.size();
}

void Server::add(std::string op, Handler h, SyncHandler s) {
  sh_->handlers[std::move(op)] = Shared::Entry{std::move(h), std::move(s)};
}

core::Result<void> Server::listen() {
  auto acc = net::listen_unix(sh_->strand, sh_->opt.path, sh_->opt.mode);
  if (!acc) return acc.error();
  struct stat st {};
  if (::stat(sh_->opt.path.c_str(), &st) == 0) {
    sh_->dev = st.st_dev;
    sh_->ino = st.st_ino;
  }
  sh_->acceptor.emplace(std::move(*acc));
  sh_->log->debug("event=listen path={} mode={:o}", sh_->opt.path, sh_->opt.mode);
  return {};
}

void Server::stop() {
  auto sh = sh_;
  if (sh->stopped.exchange(true)) return;
  // Remove the socket file only if it is still the one we created.
  struct stat st {};
  if (sh->ino != 0 && ::lstat(sh->opt.path.c_str(), &st) == 0 && st.st_dev == sh->dev &&
      st.st_ino == sh->ino)
    ::unlink(sh->opt.path.c_str());
  asio::post(sh->strand, [sh] {
    boost::system::error_code ec;
    if (sh->acceptor) sh->acceptor->close(ec);
  });
  std::lock_guard lk(sh->mu);
  for (auto& [id, c] : sh->conns)
    asio::post(c->ex, [c] {
      boost::system::error_code ec;
      c->sock.close(ec);
    });
}

namespace {

using Shared = Server::Shared;
using Conn = Server::Shared::Conn;
using Clock = std::chrono::steady_clock;

// Writes one reply line; false when the peer is gone or too slow.
asio::awaitable<bool> write_line(Shared& sh, Conn& c, const boost::json::object& reply) {
  std::string out = to_line(reply);
  auto [ec, n] = co_await net::with_timeout(
      asio::async_write(c.sock, asio::buffer(out), net::use_tuple), sh.opt.write_timeout);
  co_return !ec;
}

// Parses and dispatches one request line. Fills `takeover` when the handler took over.
asio::awaitable<boost::json::object> handle_line(Shared& sh, std::string_view line, uint64_t id,
                                                 TakeoverFn& takeover) {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(line, ec);
  if (ec) co_return fail(core::Error{core::Errc::data, "bad json: " + ec.message()});
  if (!v.is_object())
    co_return fail(core::Error{core::Errc::data, "request must be a JSON object"});
  const boost::json::object& body = v.as_object();
  auto* opv = body.if_contains("op");
  if (!opv || !opv->is_string()) co_return fail(core::Error{core::Errc::usage, "missing \"op\""});
  std::string op(opv->as_string());
  auto it = sh.handlers.find(op);
  if (it == sh.handlers.end())
    co_return fail(core::Error{core::Errc::usage, "unknown op \"" + op + "\""});

  Request req(body, op, id);
  boost::json::object reply;
  std::string what;
  try {
    if (it->second.async)
      reply = co_await it->second.async(req);
    else
      reply = it->second.sync(req);
  } catch (const std::exception& e) {
    what = e.what();
  } catch (...) {
    what = "unknown exception";
  }
  if (!what.empty()) {
    sh.log->error("event=handler_failed conn={} op={} error=\"{}\"", id, op, what);
    co_return fail(core::Error{core::Errc::internal, "internal error: " + what});
  }
  if (!reply.contains("ok")) reply = ok(std::move(reply));
  auto* okv = reply.if_contains("ok");
  if (req.takeover() && okv && okv->is_bool() && okv->as_bool())
    takeover = std::move(req.takeover());
  co_return reply;
}

asio::awaitable<void> session(std::shared_ptr<Shared> sh, unix_stream::socket sock, uint64_t id) {
  auto conn = std::make_shared<Conn>(Conn{sock.get_executor(), std::move(sock)});
  size_t count;
  {
    std::lock_guard lk(sh->mu);
    sh->conns.emplace(id, conn);
    count = sh->conns.size();
  }
  struct Forget {  // unregister however the session ends
    Shared* sh;
    uint64_t id;
    ~Forget() { sh->forget(id); }
  } forget{sh.get(), id};
  auto& log = *sh->log;
  if (count > sh->opt.max_connections || sh->stopped) {
    log.warn("event=conn_refused conn={} reason=too_many_connections", id);
    co_await write_line(*sh, *conn,
                        fail(core::Error{core::Errc::tempfail, "too many connections"}));
    co_return;
  }
  log.debug("event=conn_open conn={}", id);

  std::string buf;
  size_t scanned = 0;  // bytes of buf already searched for '\n'
  auto line_started = Clock::now();
  char tmp[16384];
  const char* why = "eof";
  for (;;) {
    size_t nl;
    while ((nl = buf.find('\n', scanned)) != std::string::npos) {
      if (nl > sh->opt.max_line) break;
      std::string line = buf.substr(0, nl);
      buf.erase(0, nl + 1);
      scanned = 0;
      line_started = Clock::now();
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line.find_first_not_of(" \t") == std::string::npos) continue;  // blank: no reply
      TakeoverFn takeover;
      auto reply = co_await handle_line(*sh, line, id, takeover);
      if (sh->stopped) co_return;
      if (!co_await write_line(*sh, *conn, reply)) {
        log.debug("event=conn_close conn={} reason=write_failed", id);
        co_return;
      }
      if (takeover) {
        sh->forget(id);
        log.debug("event=conn_takeover conn={} pending={}", id, buf.size());
        co_await takeover(Stream(std::move(conn->sock), std::move(buf)));
        co_return;
      }
    }
    if (nl != std::string::npos || buf.size() > sh->opt.max_line) {
      log.debug("event=conn_close conn={} reason=line_too_long", id);
      co_await write_line(*sh, *conn, fail(core::Error{core::Errc::data, "line too long"}));
      co_return;
    }
    scanned = buf.size();
    if (sh->stopped) co_return;

    Clock::duration timeout = sh->opt.idle_timeout;
    if (!buf.empty())
      timeout =
          std::max(Clock::duration::zero(), line_started + sh->opt.read_timeout - Clock::now());
    auto [ec, n] = co_await net::with_timeout(
        conn->sock.async_read_some(asio::buffer(tmp), net::use_tuple), timeout);
    if (ec == asio::error::timed_out) {
      why = buf.empty() ? "idle_timeout" : "read_timeout";
      if (!buf.empty())
        co_await write_line(*sh, *conn, fail(core::Error{core::Errc::tempfail, "read timeout"}));
      break;
    }
    if (ec) {
      if (ec != asio::error::eof) why = "read_error";
      break;
    }
    if (buf.empty()) line_started = Clock::now();
    buf.append(tmp, n);
  }
  log.debug("event=conn_close conn={} reason={}", id, why);
  boost::system::error_code ignored;
  conn->sock.close(ignored);
}

asio::awaitable<void> accept_loop(std::shared_ptr<Shared> sh) {
  for (;;) {
    auto [ec, sock] =
        co_await sh->acceptor->async_accept(asio::make_strand(sh->ex), net::use_tuple);
    if (sh->stopped) co_return;
    if (ec == asio::error::operation_aborted || ec == asio::error::bad_descriptor) co_return;
    if (ec) {  // EMFILE and friends: back off briefly instead of spinning
      sh->log->warn("event=accept_failed error=\"{}\"", ec.message());
      asio::steady_timer t(sh->strand, std::chrono::milliseconds(50));
      co_await t.async_wait(net::use_tuple);
      continue;
    }
    uint64_t id = sh->next_id++;
    auto ex = sock.get_executor();
    asio::co_spawn(ex, session(sh, std::move(sock), id), net::log_errors("ipc session"));
  }
}

}  // namespace

asio::awaitable<void> Server::run() {
  auto sh = sh_;
  if (!sh->acceptor) throw std::logic_error("ipc::Server::run() before listen()");
  co_await asio::co_spawn(sh->strand, accept_loop(sh), asio::use_awaitable);
}

}  // namespace ipc
