// tls — OpenSSL behind a small interface: a server context that picks a certificate by SNI
// (exact name, one-label wildcard, default), speaks ALPN http/1.1, resumes sessions with
// shared ticket keys, asks for client certificates per host (mTLS with a CA bundle and CRL),
// and reloads certificate files when they change; a client context for TLS upstreams; and a
// Session doing non-blocking TLS directly on a socket fd (the caller waits for readiness).
// Contexts are shared by all threads (reload swaps an immutable snapshot); a Session belongs
// to one connection on one thread. No OpenSSL types in this header.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

typedef struct ssl_st SSL;

namespace tls {

struct CertFiles {
  std::string cert;  // PEM: leaf then chain
  std::string key;   // PEM private key
};

struct ServerOptions {
  std::vector<CertFiles> certs;  // the first one is the default (no or unknown SNI)
  std::string cert_dir;          // also every NAME.crt (or NAME.fullchain.pem) with NAME.key
  bool session_tickets = true;
  bool tls13_only = false;
};

// What a host asks of client certificates (decided by the routes at SNI time).
struct ClientAuth {
  enum Mode : uint8_t { off, optional, required } mode = off;
  std::string ca;   // PEM bundle
  std::string crl;  // PEM CRL (may be empty)
};
using ClientAuthFn = std::function<ClientAuth(std::string_view sni)>;

class ServerContext {
 public:
  // Loads every certificate; errors name the file (Errc::config / noinput).
  static core::Result<std::shared_ptr<ServerContext>> create(const ServerOptions& o);
  ~ServerContext();

  void set_client_auth(ClientAuthFn fn);
  // Re-reads certificate, CA and CRL files whose mtime or size changed. On error the old
  // certificates stay in use and the error is returned. true when something was reloaded.
  core::Result<bool> reload_if_changed();
  // Names served (for status): "app.example.com", "*.example.com", ...
  std::vector<std::string> names() const;

  struct Impl;
  Impl* impl() { return impl_.get(); }

 private:
  ServerContext() = default;
  std::unique_ptr<Impl> impl_;
};

struct ClientOptions {
  std::string ca_file;  // extra trust anchors for upstream verification (besides the system's)
};

class ClientContext {
 public:
  static core::Result<std::shared_ptr<ClientContext>> create(const ClientOptions& o);
  ~ClientContext();
  struct Impl;
  Impl* impl() { return impl_.get(); }

 private:
  ClientContext() = default;
  std::unique_ptr<Impl> impl_;
};

enum class Want : uint8_t { done, read, write, closed, error };

struct Io {
  ssize_t n = 0;  // bytes read/written when want == done
  Want want = Want::done;
};

class Session {
 public:
  Session() = default;
  Session(Session&& o) noexcept : ssl_(o.ssl_) { o.ssl_ = nullptr; }
  Session& operator=(Session&& o) noexcept;
  Session(const Session&) = delete;
  ~Session();

  static Session server(ServerContext& ctx);
  // `sni` is sent (when a name) and, with verify, checked against the certificate.
  static Session client(ClientContext& ctx, const std::string& sni, bool verify);

  explicit operator bool() const { return ssl_ != nullptr; }
  // Want::read means: feed() more bytes from the peer. Output may be waiting after any call.
  Want handshake();
  Io read(void* buf, size_t n);
  Io write(const void* buf, size_t n);
  // Queues close_notify (then send the output).
  void shutdown();

  // Network side: bytes received from the peer; the peer closed; bytes to send.
  void feed(const void* p, size_t n);
  void feed_eof();
  size_t output_pending() const;
  size_t take_output(void* buf, size_t n);
  // The last error as text ("certificate verify failed", ...).
  std::string error() const;

  std::string sni() const;
  bool resumed() const;
  std::string alpn() const;
  std::string version() const;
  // mTLS: a client certificate was presented and verified against `ca`.
  bool client_verified() const;
  std::string client_subject() const;
  std::string client_ca() const;  // the bundle used to verify it ("" when none asked)
  // Whether bytes are already here (decrypted, or received and not yet processed): read
  // before waiting for the socket.
  bool pending() const;

 private:
  explicit Session(SSL* s) : ssl_(s) {}
  SSL* ssl_ = nullptr;
};

}  // namespace tls
