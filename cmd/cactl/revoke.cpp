// revoke, crl: revocation and the signed list that publishes it.
#include <boost/json.hpp>
#include <cstdio>

#include "cactl.h"
#include "core/text.h"

namespace cactl {

void register_revoke(Ctx& c) {
  struct Opts {
    std::string serial, reason = "unspecified";
  };
  auto o = std::make_shared<Opts>();
  auto* s = c.prog.verb(c.prog.app(), "revoke", "Revoke a certificate",
                        "cactl revoke SERIAL [--reason REASON]");
  s->add_option("serial", o->serial, "Serial (or unique prefix of at least 6 hex digits)")
      ->required();
  s->add_option("--reason", o->reason,
                "unspecified, keyCompromise, caCompromise, affiliationChanged, superseded, "
                "cessationOfOperation, certificateHold, privilegeWithdrawn, aACompromise")
      ->type_name("REASON");
  c.prog.on(s, [&c, o]() -> int {
    auto ca = open_ca(c, false);
    if (!ca) return cli::fail(ca.error());
    auto r = ca->ca->revoke(o->serial, o->reason, now());
    if (!r) return cli::fail(r.error().context("revoke"));
    if (c.prog.common().json)
      std::fputs(json_line(cert_json(*r, now())).c_str(), stdout);
    else
      std::printf("%s\trevoked\t%s\n", r->serial.c_str(), r->reason.c_str());
    return 0;
  });
}

void register_crl(Ctx& c) {
  struct Opts {
    bool der = false;
    int64_t days = 7;
    std::string out = "-";
  };
  auto o = std::make_shared<Opts>();
  auto* s = c.prog.verb(c.prog.app(), "crl", "Sign and print the certificate revocation list",
                        "cactl crl [--der] [--days N] [--out FILE]");
  s->add_flag("--der", o->der, "DER instead of PEM");
  s->add_option("--days", o->days, "Days until next update (default 7)")->type_name("N");
  s->add_option("--out", o->out, "Write to FILE (replaced atomically; default stdout)")
      ->type_name("FILE");
  c.prog.on(s, [&c, o]() -> int {
    if (o->days <= 0 || o->days > 3650)
      return cli::fail({core::Errc::usage, "--days must be 1..3650"});
    auto ca = open_ca(c, true);
    if (!ca) return cli::fail(ca.error());
    auto crl = ca->ca->crl(o->der, o->days, now());
    if (!crl) return cli::fail(crl.error().context("crl"));
    if (auto r = write_out(o->out, *crl, 0644, true); !r) return cli::fail(r.error());
    return 0;
  });
}

}  // namespace cactl
