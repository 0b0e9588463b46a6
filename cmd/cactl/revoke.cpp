// revoke, crl: revocation and the signed list that publishes it.
#include <boost/json.hpp>
#include <cstdio>

#include "cactl.h"
#include "core/fs.h"
#include "core/text.h"

namespace cactl {

void register_revoke(Ctx& c) {
  struct Opts {
    std::string serial, reason = "unspecified";
    bool batch = false;
  };
  auto o = std::make_shared<Opts>();
  auto* s = c.prog.verb(c.prog.app(), "revoke", "Revoke a certificate",
                        "cactl revoke SERIAL [--reason REASON]\n"
                        "cactl revoke --batch [--reason REASON] < SERIALS");
  s->add_option("serial", o->serial, "Serial (or unique prefix of at least 6 hex digits)");
  s->add_flag("--batch", o->batch, "Revoke every serial read from stdin, in one transaction");
  s->add_option("--reason", o->reason,
                "unspecified, keyCompromise, caCompromise, affiliationChanged, superseded, "
                "cessationOfOperation, certificateHold, privilegeWithdrawn, aACompromise")
      ->type_name("REASON");
  c.prog.on(s, [&c, o]() -> int {
    if (o->batch == !o->serial.empty())
      return cli::fail({core::Errc::usage, "revoke: give SERIAL or --batch (serials on stdin)"});
    std::vector<std::string> serials;
    if (o->batch) {
      auto in = core::read_file("-");
      if (!in) return cli::fail(in.error());
      for (auto& line : core::split(*in, '\n')) {
        auto t = core::trim(line);
        if (!t.empty() && t[0] != '#') serials.emplace_back(t);
      }
      if (serials.empty())
        return cli::fail({core::Errc::data, "revoke --batch: no serials on stdin"});
    } else {
      serials.push_back(o->serial);
    }
    auto ca = open_ca(c, false);
    if (!ca) return cli::fail(ca.error());
    std::time_t t = now();
    std::vector<pki::CertRecord> done;
    {
      // All or nothing: a bad serial in a batch revokes none.
      auto tx = store::Tx::begin(*ca->db);
      if (!tx) return cli::fail(tx.error());
      for (auto& serial : serials) {
        auto r = ca->ca->revoke(serial, o->reason, t);
        if (!r) return cli::fail(r.error().context("revoke " + serial));
        done.push_back(std::move(*r));
      }
      if (auto r = tx->commit(); !r) return cli::fail(r.error());
    }
    std::string out;
    for (auto& r : done) {
      if (c.prog.common().json)
        out += json_line(cert_json(r, t));
      else
        out += r.serial + "\trevoked\t" + r.reason + "\n";
    }
    std::fputs(out.c_str(), stdout);
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
