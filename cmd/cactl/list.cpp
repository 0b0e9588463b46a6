// list, show: read the certificate index.
#include <boost/json.hpp>
#include <cstdio>

#include "cactl.h"
#include "core/text.h"

namespace cactl {

void register_list(Ctx& c) {
  struct Opts {
    bool valid = false, expired = false, revoked = false;
    int64_t expiring = -1;
  };
  auto o = std::make_shared<Opts>();
  auto* s = c.prog.verb(c.prog.app(), "list", "List issued certificates",
                        "cactl list [--valid|--expired|--revoked|--expiring DAYS] [--json]");
  s->add_flag("--valid", o->valid, "Only valid (not expired, not revoked)");
  s->add_flag("--expired", o->expired, "Only expired");
  s->add_flag("--revoked", o->revoked, "Only revoked");
  s->add_option("--expiring", o->expiring, "Only valid ones expiring within DAYS")
      ->type_name("DAYS");
  c.prog.on(s, [&c, o]() -> int {
    int n = o->valid + o->expired + o->revoked + (o->expiring >= 0);
    if (n > 1) return cli::fail({core::Errc::usage, "list: choose one filter"});
    pki::ListFilter f = o->valid           ? pki::ListFilter::valid
                        : o->expired       ? pki::ListFilter::expired
                        : o->revoked       ? pki::ListFilter::revoked
                        : o->expiring >= 0 ? pki::ListFilter::expiring
                                           : pki::ListFilter::all;
    auto ca = open_ca(c, false);
    if (!ca) return cli::fail(ca.error());
    std::time_t t = now();
    auto rows = ca->ca->list(f, t, o->expiring);
    if (!rows) return cli::fail(rows.error());
    std::string out;
    if (c.prog.common().json) {
      for (auto& r : *rows) out += json_line(cert_json(r, t));
    } else {
      char buf[512];
      std::snprintf(buf, sizeof buf, "%-32s  %-8s  %-7s  %-20s  %s\n", "SERIAL", "STATUS",
                    "PROFILE", "NOT AFTER", "NAME");
      out += buf;
      for (auto& r : *rows) {
        std::snprintf(buf, sizeof buf, "%-32s  %-8s  %-7s  %-20s  %s\n", r.serial.c_str(),
                      r.state(t).c_str(), r.profile.c_str(), core::rfc3339(r.not_after).c_str(),
                      r.name.c_str());
        out += buf;
      }
    }
    std::fputs(out.c_str(), stdout);
    return 0;
  });
}

void register_show(Ctx& c) {
  struct Opts {
    std::string serial;
    bool pem = false;
  };
  auto o = std::make_shared<Opts>();
  auto* s = c.prog.verb(c.prog.app(), "show", "Show one certificate",
                        "cactl show SERIAL [--pem] [--json]");
  s->add_option("serial", o->serial, "Serial (or unique prefix of at least 6 hex digits)")
      ->required();
  s->add_flag("--pem", o->pem, "Print the certificate as PEM");
  c.prog.on(s, [&c, o]() -> int {
    auto ca = open_ca(c, false);
    if (!ca) return cli::fail(ca.error());
    auto r = ca->ca->find(o->serial);
    if (!r) return cli::fail(r.error());
    if (o->pem) {
      std::fputs(r->cert_pem.c_str(), stdout);
      return 0;
    }
    std::time_t t = now();
    auto cert = pki::parse_cert(r->cert_pem);
    std::string sha = cert ? pki::inspect(*cert).sha256 : "";
    if (c.prog.common().json) {
      auto j = cert_json(*r, t);
      j["sha256"] = sha;
      j["pem"] = r->cert_pem;
      std::fputs(json_line(j).c_str(), stdout);
      return 0;
    }
    std::printf(
        "serial:      %s\nname:        %s\nsubject:     %s\nsans:        %s\n"
        "profile:     %s\nkey type:    %s\nnot before:  %s\nnot after:   %s\n"
        "status:      %s\nsha256:      %s\n",
        r->serial.c_str(), r->name.c_str(), r->subject.c_str(), r->sans.c_str(), r->profile.c_str(),
        r->key_type.c_str(), core::rfc3339(r->not_before).c_str(),
        core::rfc3339(r->not_after).c_str(), r->state(t).c_str(), sha.c_str());
    if (r->revoked_at)
      std::printf("revoked:     %s (%s)\n", core::rfc3339(r->revoked_at).c_str(),
                  r->reason.c_str());
    if (!r->renewed_from.empty()) std::printf("renewed from: %s\n", r->renewed_from.c_str());
    return 0;
  });
}

}  // namespace cactl
