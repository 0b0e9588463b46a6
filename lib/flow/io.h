// flow I/O: what nodes reach outside through — cancellable waits, HTTP(S) behind the SSRF guard,
// programs (exec), and Warren control sockets. Everything blocks the calling worker thread and
// honours a Stop: the run's cancellation and the node's deadlines, checked at least every 20 ms.
// No Asio here (POSIX sockets, poll, OpenSSL), so the runner needs no event loop.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "flow/nodes.h"

namespace flow {

int64_t mono_ns();  // steady clock
int64_t wall_ns();  // system clock (unix time)

// Cancellation shared by a run: one condition variable wakes every sleeper of the run.
struct RunSignal {
  std::mutex m;
  std::condition_variable cv;
  std::atomic<bool> cancelled{false};
  std::string reason;  // set once with cancelled
  void cancel(const std::string& why);
};

// The stop conditions of one node execution: the run's signal, the deadlines of the node and of
// the nodes that run it (a loop running its body), each with the error it produces.
class Stop {
 public:
  Stop(RunSignal& sig, const Stop* parent) : sig_(sig), parent_(parent) {}
  // Adds a deadline (steady-clock ns) with the error reported when it passes first.
  void add_deadline(int64_t at, NodeError why);
  void cancel();  // this execution only (e.g. a later failure made it irrelevant)

  // The reason to stop now, if any.
  std::optional<NodeError> check() const;
  // Earliest deadline of the chain (INT64_MAX when none).
  int64_t deadline() const;
  // Sleeps ns (or until stopped): the error when stopped early.
  NodeResult<void> sleep(int64_t ns) const;
  RunSignal& signal() const { return sig_; }

 private:
  RunSignal& sig_;
  const Stop* parent_;
  std::atomic<bool> cancelled_{false};
  int64_t at_ = INT64_MAX;
  NodeError why_;
};

struct HttpPolicy {
  bool enabled = false;
  bool allow_localhost = false;
  bool allow_private_ips = false;  // RFC 1918, fc00::/7, CGNAT 100.64/10
  bool allow_link_local = false;
  bool allow_cloud_metadata = false;
  std::vector<std::string> allowed_domains;  // non-empty: exact host names only
  std::vector<std::string> resolve;          // "host:address" pins (like curl --resolve)
  int max_redirects = 10;
  size_t max_response_bytes = 10u << 20;
  int64_t connect_timeout_ns = 10'000'000'000;
  int64_t timeout_ns = 30'000'000'000;
  std::string ca_file;  // extra trusted CAs (PEM)
};

struct ExecPolicy {
  bool enabled = false;
  std::vector<std::string> allowed;  // non-empty: argv[0] must be one of these
  int64_t timeout_ns = 30'000'000'000;
  size_t max_output_bytes = 1u << 20;
};

struct SocketPolicy {
  std::vector<std::string> allowed;  // socket paths beyond WARREN_DIR/run/*.sock
};

// SSRF guard (pure): checks one address. Returns "" when allowed, else the reason
// ("localhost addresses are blocked (set allow_localhost=true to permit)").
std::string ssrf_check_ip(const std::string& ip_text, const HttpPolicy& p);
// Checks a URL's host name before resolution (allow list, localhost and metadata names).
std::string ssrf_check_name(const std::string& host, const HttpPolicy& p);

// One HTTP exchange following redirects; every hop is checked by the guard, resolved once and
// connected to the checked address. Errors: "URL validation failed: ...", "HTTP request failed:
// ..." (transient for network errors and timeouts), "response too large (...)".
NodeResult<HttpResponse> http_fetch(const HttpRequest& req, const HttpPolicy& p,
                                    const std::string& user_agent, const Stop& stop);

NodeResult<ExecResponse> run_program(const ExecRequest& req, const ExecPolicy& p, const Stop& stop);

// name: "tunneld" -> WARREN_DIR/run/tunneld.sock; a path (relative to WARREN_DIR) otherwise.
NodeResult<Value> socket_request(const std::string& name, const Object& request, int64_t timeout_ns,
                                 const std::string& warren_dir, const SocketPolicy& p,
                                 const Stop& stop);

}  // namespace flow
