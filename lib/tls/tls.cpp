#include "tls/tls.h"

#include <dirent.h>
#include <sys/stat.h>

#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <map>
#include <mutex>
#include <unordered_map>

#include "core/fs.h"
#include "core/text.h"

namespace tls {

namespace {

std::string ssl_error_text() {
  unsigned long e = ERR_get_error();
  if (!e) return "unknown TLS error";
  const char* r = ERR_reason_error_string(e);
  ERR_clear_error();
  return r ? r : "TLS error " + std::to_string(e);
}

struct Stamp {
  std::string path;
  int64_t mtime_ns = -1;
  int64_t size = -1;
  bool operator==(const Stamp&) const = default;
};

Stamp stamp(const std::string& path) {
  Stamp s;
  s.path = path;
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0) {
    s.mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
    s.size = st.st_size;
  }
  return s;
}

bool changed(const std::vector<Stamp>& v) {
  for (const auto& s : v)
    if (!(stamp(s.path) == s)) return true;
  return false;
}

core::Error file_error(const std::string& what, const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    return core::err(errno == ENOENT ? core::Errc::noinput : core::errc_from_errno(errno),
                     what + " " + path + ": " + core::errno_text(errno));
  return core::err(core::Errc::config, what + " " + path + ": " + ssl_error_text());
}

std::vector<std::string> cert_names(X509* x) {
  std::vector<std::string> out;
  auto* gens =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(x, NID_subject_alt_name, nullptr, nullptr));
  if (gens) {
    for (int i = 0; i < sk_GENERAL_NAME_num(gens); ++i) {
      const GENERAL_NAME* g = sk_GENERAL_NAME_value(gens, i);
      if (g->type != GEN_DNS) continue;
      const unsigned char* d = ASN1_STRING_get0_data(g->d.dNSName);
      int n = ASN1_STRING_length(g->d.dNSName);
      out.push_back(core::to_lower(std::string_view(reinterpret_cast<const char*>(d), n)));
    }
    GENERAL_NAMES_free(gens);
  }
  if (out.empty()) {
    char cn[256];
    int n = X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn, sizeof cn);
    if (n > 0) out.push_back(core::to_lower(std::string_view(cn, n)));
  }
  return out;
}

int g_ca_index = -1;  // SSL ex_data: std::string* naming the client CA bundle used

void free_ca(void*, void* ptr, CRYPTO_EX_DATA*, int, long, void*) {
  delete static_cast<std::string*>(ptr);
}

void init_ex_index() {
  static std::once_flag once;
  std::call_once(once,
                 [] { g_ca_index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, free_ca); });
}

int alpn_select(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
                unsigned int inlen, void*) {
  unsigned int i = 0;
  while (i < inlen) {
    unsigned int n = in[i];
    if (i + 1 + n > inlen) break;
    if (n == 8 && std::memcmp(in + i + 1, "http/1.1", 8) == 0) {
      *out = in + i + 1;
      *outlen = static_cast<unsigned char>(n);
      return SSL_TLSEXT_ERR_OK;
    }
    i += 1 + n;
  }
  return SSL_TLSEXT_ERR_NOACK;
}

}  // namespace

// One immutable set of certificates; replaced as a whole on reload.
struct CertSet {
  std::vector<SSL_CTX*> ctxs;
  std::unordered_map<std::string, SSL_CTX*> exact, wild;  // wild: "example.com" for *.example.com
  SSL_CTX* def = nullptr;
  std::vector<std::string> names;
  std::vector<Stamp> stamps;
  ~CertSet() {
    for (SSL_CTX* c : ctxs) SSL_CTX_free(c);
  }
  SSL_CTX* find(std::string_view name) const {
    if (name.empty()) return def;
    std::string n = core::to_lower(name);
    if (auto it = exact.find(n); it != exact.end()) return it->second;
    size_t dot = n.find('.');
    if (dot != std::string::npos)
      if (auto it = wild.find(n.substr(dot + 1)); it != wild.end()) return it->second;
    return def;
  }
};

struct ServerContext::Impl {
  ServerOptions opt;
  unsigned char ticket_keys[80];
  std::atomic<std::shared_ptr<const CertSet>> set;
  std::mutex mu;  // stores, auth
  ClientAuthFn auth;
  struct Store {
    X509_STORE* st = nullptr;
    std::vector<Stamp> stamps;
  };
  std::map<std::string, Store> stores;  // key "ca\ncrl"

  ~Impl() {
    for (auto& [k, s] : stores) X509_STORE_free(s.st);
  }

  core::Result<std::shared_ptr<const CertSet>> load();
  core::Result<SSL_CTX*> make_ctx(const CertFiles& f);
  X509_STORE* client_store(const ClientAuth& a, bool* fresh);
};

static int servername_cb(SSL* ssl, int* al, void* arg);

core::Result<SSL_CTX*> ServerContext::Impl::make_ctx(const CertFiles& f) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  if (!ctx) return core::err(core::Errc::internal, "SSL_CTX_new: " + ssl_error_text());
  SSL_CTX_set_min_proto_version(ctx, opt.tls13_only ? TLS1_3_VERSION : TLS1_2_VERSION);
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE |
                               SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_NO_COMPRESSION);
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE |
                            SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  static const unsigned char sid[] = "edged";
  SSL_CTX_set_session_id_context(ctx, sid, sizeof sid - 1);
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
  if (opt.session_tickets) {
    SSL_CTX_set_tlsext_ticket_keys(ctx, ticket_keys, sizeof ticket_keys);
    SSL_CTX_set_num_tickets(ctx, 1);
  } else {
    SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
    SSL_CTX_set_num_tickets(ctx, 0);
  }
  SSL_CTX_set_alpn_select_cb(ctx, alpn_select, nullptr);
  SSL_CTX_set_tlsext_servername_callback(ctx, servername_cb);
  SSL_CTX_set_tlsext_servername_arg(ctx, this);
  if (SSL_CTX_use_certificate_chain_file(ctx, f.cert.c_str()) != 1) {
    SSL_CTX_free(ctx);
    return file_error("certificate", f.cert);
  }
  if (SSL_CTX_use_PrivateKey_file(ctx, f.key.c_str(), SSL_FILETYPE_PEM) != 1) {
    SSL_CTX_free(ctx);
    return file_error("private key", f.key);
  }
  if (SSL_CTX_check_private_key(ctx) != 1) {
    SSL_CTX_free(ctx);
    return core::err(core::Errc::config,
                     "private key " + f.key + " does not match certificate " + f.cert);
  }
  return ctx;
}

core::Result<std::shared_ptr<const CertSet>> ServerContext::Impl::load() {
  auto set = std::make_shared<CertSet>();
  std::vector<CertFiles> files = opt.certs;
  if (!opt.cert_dir.empty()) {
    set->stamps.push_back(stamp(opt.cert_dir));
    DIR* d = ::opendir(opt.cert_dir.c_str());
    if (!d)
      return core::err(errno == ENOENT ? core::Errc::noinput : core::Errc::config,
                       "cert_dir " + opt.cert_dir + ": " + core::errno_text(errno));
    std::vector<std::string> found;
    while (dirent* e = ::readdir(d)) {
      std::string n = e->d_name;
      if (n.size() > 4 && n.compare(n.size() - 4, 4, ".key") == 0) found.push_back(n);
    }
    ::closedir(d);
    std::sort(found.begin(), found.end());
    for (auto& k : found) {
      std::string base = opt.cert_dir + "/" + k.substr(0, k.size() - 4);
      std::string cert = core::file_exists(base + ".fullchain.pem") ? base + ".fullchain.pem"
                         : core::file_exists(base + ".crt")         ? base + ".crt"
                                                                    : "";
      if (!cert.empty()) files.push_back({cert, base + ".key"});
    }
  }
  if (files.empty())
    return core::err(core::Errc::config, "https: no certificates (set cert/key or cert_dir)");
  for (const auto& f : files) {
    set->stamps.push_back(stamp(f.cert));
    set->stamps.push_back(stamp(f.key));
    WARREN_TRY(ctx, make_ctx(f));
    set->ctxs.push_back(ctx);
    if (!set->def) set->def = ctx;
    for (auto& name : cert_names(SSL_CTX_get0_certificate(ctx))) {
      set->names.push_back(name);
      if (name.size() > 2 && name[0] == '*' && name[1] == '.')
        set->wild.emplace(name.substr(2), ctx);
      else
        set->exact.emplace(name, ctx);
    }
  }
  return std::shared_ptr<const CertSet>(std::move(set));
}

// A verification store from a CA bundle and an optional CRL (checked for the leaf's issuer),
// or null when either does not load.
static X509_STORE* load_store(const std::string& ca, const std::string& crl) {
  X509_STORE* st = X509_STORE_new();
  bool ok = X509_STORE_load_file(st, ca.c_str()) == 1;
  if (ok && !crl.empty()) {
    X509_LOOKUP* lu = X509_STORE_add_lookup(st, X509_LOOKUP_file());
    ok = lu && X509_load_crl_file(lu, crl.c_str(), X509_FILETYPE_PEM) > 0;
    X509_STORE_set_flags(st, X509_V_FLAG_CRL_CHECK);
  }
  ERR_clear_error();
  if (ok) return st;
  X509_STORE_free(st);
  return nullptr;
}

X509_STORE* ServerContext::Impl::client_store(const ClientAuth& a, bool* fresh) {
  std::string key = a.ca + "\n" + a.crl;
  std::lock_guard lk(mu);
  auto it = stores.find(key);
  if (it != stores.end() && !changed(it->second.stamps)) return it->second.st;
  Store s;
  s.stamps.push_back(stamp(a.ca));
  if (!a.crl.empty()) s.stamps.push_back(stamp(a.crl));
  s.st = load_store(a.ca, a.crl);
  if (!s.st) {
    // Keep a store that worked before (fail closed when there never was one).
    return it != stores.end() ? it->second.st : nullptr;
  }
  if (it != stores.end()) X509_STORE_free(it->second.st);
  stores[key] = s;
  if (fresh) *fresh = true;
  return s.st;
}

static int servername_cb(SSL* ssl, int* al, void* arg) {
  auto* impl = static_cast<ServerContext::Impl*>(arg);
  const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  std::string_view sni = name ? name : "";
  auto set = impl->set.load();
  SSL_CTX* ctx = set->find(sni);
  if (ctx && ctx != SSL_get_SSL_CTX(ssl)) SSL_set_SSL_CTX(ssl, ctx);
  ClientAuthFn fn;
  {
    std::lock_guard lk(impl->mu);
    fn = impl->auth;
  }
  if (!fn) return SSL_TLSEXT_ERR_OK;
  ClientAuth a = fn(sni);
  if (a.mode == ClientAuth::off) return SSL_TLSEXT_ERR_OK;
  X509_STORE* st = impl->client_store(a, nullptr);
  if (!st) {
    *al = SSL_AD_INTERNAL_ERROR;
    return SSL_TLSEXT_ERR_ALERT_FATAL;
  }
  SSL_set1_verify_cert_store(ssl, st);
  SSL_set_verify(
      ssl, SSL_VERIFY_PEER | (a.mode == ClientAuth::required ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0),
      nullptr);
  SSL_set_ex_data(ssl, g_ca_index, new std::string(a.ca));
  return SSL_TLSEXT_ERR_OK;
}

core::Result<std::shared_ptr<ServerContext>> ServerContext::create(const ServerOptions& o) {
  init_ex_index();
  std::shared_ptr<ServerContext> sc(new ServerContext);
  sc->impl_ = std::make_unique<Impl>();
  sc->impl_->opt = o;
  RAND_bytes(sc->impl_->ticket_keys, sizeof sc->impl_->ticket_keys);
  WARREN_TRY(set, sc->impl_->load());
  sc->impl_->set.store(std::move(set));
  return sc;
}

ServerContext::~ServerContext() = default;

void ServerContext::set_client_auth(ClientAuthFn fn) {
  std::lock_guard lk(impl_->mu);
  impl_->auth = std::move(fn);
}

core::Result<bool> ServerContext::reload_if_changed() {
  bool stores_changed = false;
  {
    std::lock_guard lk(impl_->mu);
    for (auto& [k, s] : impl_->stores) stores_changed |= changed(s.stamps);
  }
  if (stores_changed) {  // reload the changed CA/CRL stores now; a broken file keeps the old one
    std::lock_guard lk(impl_->mu);
    for (auto it = impl_->stores.begin(); it != impl_->stores.end();) {
      if (changed(it->second.stamps)) {
        // Verify it still loads before dropping the old store.
        ClientAuth a;
        auto nl = it->first.find('\n');
        a.ca = it->first.substr(0, nl);
        a.crl = it->first.substr(nl + 1);
        X509_STORE* st = load_store(a.ca, a.crl);
        bool ok = st != nullptr;
        if (ok) {
          X509_STORE_free(it->second.st);
          it->second.st = st;
          it->second.stamps.clear();
          it->second.stamps.push_back(stamp(a.ca));
          if (!a.crl.empty()) it->second.stamps.push_back(stamp(a.crl));
        }
      }
      ++it;
    }
  }
  auto cur = impl_->set.load();
  if (!changed(cur->stamps)) return stores_changed;
  WARREN_TRY(set, impl_->load());
  impl_->set.store(std::move(set));
  return true;
}

std::vector<std::string> ServerContext::names() const {
  return impl_->set.load()->names;
}

struct ClientContext::Impl {
  SSL_CTX* ctx = nullptr;
  ~Impl() { SSL_CTX_free(ctx); }
};

core::Result<std::shared_ptr<ClientContext>> ClientContext::create(const ClientOptions& o) {
  std::shared_ptr<ClientContext> cc(new ClientContext);
  cc->impl_ = std::make_unique<Impl>();
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  if (!ctx) return core::err(core::Errc::internal, "SSL_CTX_new: " + ssl_error_text());
  cc->impl_->ctx = ctx;
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_NO_COMPRESSION);
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE |
                            SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  SSL_CTX_set_default_verify_paths(ctx);
  if (!o.ca_file.empty() && SSL_CTX_load_verify_locations(ctx, o.ca_file.c_str(), nullptr) != 1)
    return file_error("upstream CA", o.ca_file);
  ERR_clear_error();
  return cc;
}

ClientContext::~ClientContext() = default;

Session& Session::operator=(Session&& o) noexcept {
  if (this != &o) {
    if (ssl_) SSL_free(ssl_);
    ssl_ = o.ssl_;
    o.ssl_ = nullptr;
  }
  return *this;
}

Session::~Session() {
  if (ssl_) SSL_free(ssl_);
}

// Both directions go through memory BIOs; an empty input BIO asks for more (not EOF).
static SSL* with_memory_bios(SSL* s) {
  BIO* in = BIO_new(BIO_s_mem());
  BIO* out = BIO_new(BIO_s_mem());
  BIO_set_mem_eof_return(in, -1);
  SSL_set_bio(s, in, out);
  return s;
}

Session Session::server(ServerContext& ctx) {
  auto set = ctx.impl()->set.load();
  SSL* s = SSL_new(set->def);
  if (!s) return Session();
  with_memory_bios(s);
  SSL_set_accept_state(s);
  return Session(s);
}

Session Session::client(ClientContext& ctx, const std::string& sni, bool verify) {
  SSL* s = SSL_new(ctx.impl()->ctx);
  if (!s) return Session();
  with_memory_bios(s);
  SSL_set_connect_state(s);
  static const unsigned char alpn[] = "\x08http/1.1";
  SSL_set_alpn_protos(s, alpn, sizeof alpn - 1);
  bool is_ip =
      sni.find(':') != std::string::npos ||
      std::all_of(sni.begin(), sni.end(), [](char c) { return std::isdigit(c) || c == '.'; });
  if (!sni.empty() && !is_ip) SSL_set_tlsext_host_name(s, sni.c_str());
  if (verify) {
    SSL_set_verify(s, SSL_VERIFY_PEER, nullptr);
    if (is_ip)
      X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(s), sni.c_str());
    else
      SSL_set1_host(s, sni.c_str());
  } else {
    SSL_set_verify(s, SSL_VERIFY_NONE, nullptr);
  }
  return Session(s);
}

void Session::feed(const void* p, size_t n) {
  BIO_write(SSL_get_rbio(ssl_), p, static_cast<int>(n));
}

void Session::feed_eof() {
  BIO_set_mem_eof_return(SSL_get_rbio(ssl_), 0);
}

size_t Session::output_pending() const {
  return BIO_ctrl_pending(SSL_get_wbio(ssl_));
}

size_t Session::take_output(void* buf, size_t n) {
  int r = BIO_read(SSL_get_wbio(ssl_), buf, static_cast<int>(std::min<size_t>(n, INT32_MAX)));
  return r > 0 ? static_cast<size_t>(r) : 0;
}

static Want want_of(SSL* s, int r) {
  switch (SSL_get_error(s, r)) {
    case SSL_ERROR_WANT_READ:
      return Want::read;
    case SSL_ERROR_WANT_WRITE:
      return Want::write;
    case SSL_ERROR_ZERO_RETURN:
      return Want::closed;
    case SSL_ERROR_SYSCALL:  // with memory BIOs: the peer's EOF (feed_eof) without close_notify
      return ERR_peek_error() == 0 ? Want::closed : Want::error;
    default:
      return Want::error;
  }
}

Want Session::handshake() {
  ERR_clear_error();
  int r = SSL_do_handshake(ssl_);
  if (r == 1) return Want::done;
  Want w = want_of(ssl_, r);
  return w == Want::closed ? Want::error : w;
}

Io Session::read(void* buf, size_t n) {
  ERR_clear_error();
  errno = 0;
  int r = SSL_read(ssl_, buf, static_cast<int>(std::min<size_t>(n, INT32_MAX)));
  if (r > 0) return {r, Want::done};
  return {0, want_of(ssl_, r)};
}

Io Session::write(const void* buf, size_t n) {
  ERR_clear_error();
  errno = 0;
  int r = SSL_write(ssl_, buf, static_cast<int>(std::min<size_t>(n, INT32_MAX)));
  if (r > 0) return {r, Want::done};
  return {0, want_of(ssl_, r)};
}

void Session::shutdown() {
  if (!ssl_) return;
  ERR_clear_error();
  SSL_shutdown(ssl_);
  ERR_clear_error();
}

std::string Session::error() const {
  unsigned long e = ERR_peek_last_error();
  if (ssl_ && SSL_get_verify_result(ssl_) != X509_V_OK)
    return std::string("certificate verify failed: ") +
           X509_verify_cert_error_string(SSL_get_verify_result(ssl_));
  if (!e) return errno ? core::errno_text(errno) : "connection closed during handshake";
  const char* r = ERR_reason_error_string(e);
  return r ? r : "TLS error";
}

std::string Session::sni() const {
  const char* n = SSL_get_servername(ssl_, TLSEXT_NAMETYPE_host_name);
  return n ? n : "";
}

bool Session::resumed() const {
  return SSL_session_reused(ssl_) == 1;
}

std::string Session::alpn() const {
  const unsigned char* p = nullptr;
  unsigned int n = 0;
  SSL_get0_alpn_selected(ssl_, &p, &n);
  return p ? std::string(reinterpret_cast<const char*>(p), n) : "";
}

std::string Session::version() const {
  return SSL_get_version(ssl_);
}

bool Session::client_verified() const {
  return SSL_get0_peer_certificate(ssl_) != nullptr && SSL_get_verify_result(ssl_) == X509_V_OK &&
         SSL_get_ex_data(ssl_, g_ca_index) != nullptr;
}

std::string Session::client_subject() const {
  X509* x = SSL_get0_peer_certificate(ssl_);
  if (!x) return "";
  char buf[512];
  X509_NAME_oneline(X509_get_subject_name(x), buf, sizeof buf);
  return buf;
}

std::string Session::client_ca() const {
  auto* s = static_cast<std::string*>(SSL_get_ex_data(ssl_, g_ca_index));
  return s ? *s : "";
}

bool Session::pending() const {
  return SSL_has_pending(ssl_) == 1 || BIO_ctrl_pending(SSL_get_rbio(ssl_)) > 0;
}

}  // namespace tls
