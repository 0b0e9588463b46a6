// model::Target's text forms, and the small equalities of the model's values.
#include <algorithm>

#include "model/check.h"
#include "model/model.h"

namespace model {

std::string Target::address() const {
  std::string hp = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  return hp + ":" + std::to_string(port);
}

std::string Target::str() const {
  if (!site.empty()) return (tls ? "site+https://" : "site://") + site + "/" + address();
  return (tls ? "https://" : "http://") + address();
}

bool Target::same(const Target& o) const {
  return tls == o.tls && site == o.site && host == o.host && port == o.port &&
         tls_verify == o.tls_verify && tls_sni == o.tls_sni && enabled == o.enabled &&
         weight == o.weight;
}

core::Result<Target> parse_target(std::string_view s) {
  auto bad = [&](const std::string& why) {
    return core::err(core::Errc::data, "bad target \"" + std::string(s) + "\": " + why);
  };
  Target t;
  std::string_view rest = s;
  auto eat = [&](std::string_view p) {
    if (rest.substr(0, p.size()) != p) return false;
    rest.remove_prefix(p.size());
    return true;
  };
  if (eat("http://")) {
  } else if (eat("https://")) {
    t.tls = true;
  } else if (bool st = eat("site+https://"); st || eat("site://")) {
    t.tls = st;
    size_t slash = rest.find('/');
    if (slash == std::string_view::npos || slash == 0) return bad("expected site://SITE/HOST:PORT");
    t.site = std::string(rest.substr(0, slash));
    rest.remove_prefix(slash + 1);
  } else if (rest.find("://") != std::string_view::npos) {
    return bad("scheme must be http, https, site or site+https");
  } else {
    // peerctl's older spelling, as input only: SITE:HOST:PORT (HOST may be [v6]). A plain
    // HOST:PORT has one ':' before the port, or its host is bracketed.
    size_t bracket = rest.find('[');
    size_t colon = rest.find(':');
    if (colon != rest.npos && (bracket == rest.npos || colon < bracket) &&
        rest.substr(colon + 1).find(':') != rest.npos) {
      t.site = std::string(rest.substr(0, colon));
      rest.remove_prefix(colon + 1);
    }
  }
  if (!t.site.empty())
    if (auto n = check_name("site", t.site); !n) return bad("invalid site name");
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  auto hp = check_host_port("target", rest);
  if (!hp) {
    const std::string& m = hp.error().message;
    size_t why = m.find("': ");
    return bad(why == std::string::npos ? m : m.substr(why + 3));
  }
  t.host = hp->host;
  t.port = hp->port;
  return t;
}

bool Auth::has(std::string_view method) const {
  return std::find(methods.begin(), methods.end(), method) != methods.end();
}

bool Forward::same(const Forward& o) const {
  return name == o.name && protocol == o.protocol && port == o.port && site == o.site &&
         target == o.target && enabled == o.enabled && allow == o.allow && deny == o.deny &&
         allow_countries == o.allow_countries && deny_countries == o.deny_countries &&
         max_conns == o.max_conns && conn_rate == o.conn_rate && conn_burst == o.conn_burst &&
         tls_client_cert == o.tls_client_cert;
}

}  // namespace model
