// verify, export: check certificates against this CA; hand out the CA certificates.
#include <boost/json.hpp>
#include <cstdio>

#include "cactl.h"
#include "core/fs.h"
#include "core/text.h"

namespace cactl {

void register_verify(Ctx& c) {
  struct Opts {
    std::string cert, crl;
  };
  auto o = std::make_shared<Opts>();
  auto* s =
      c.prog.verb(c.prog.app(), "verify", "Verify a certificate's chain and revocation status",
                  "cactl verify CERT|- [--crl FILE]");
  s->add_option("cert", o->cert, "Certificate file (PEM, may include the chain), - for stdin")
      ->required();
  s->add_option("--crl", o->crl, "Check against this CRL file instead of the store")
      ->type_name("FILE");
  c.prog.on(s, [&c, o]() -> int {
    std::string label = o->cert == "-" ? "stdin" : o->cert;
    auto data = core::read_file(o->cert);
    if (!data) return cli::fail(data.error());
    auto certs = pki::parse_certs(*data);
    if (!certs) {
      auto der = pki::parse_cert(*data);
      if (!der) return cli::fail(certs.error().context(label));
      certs = std::vector<pki::Cert>{*der};
    }
    auto ca = open_ca(c, false);
    if (!ca) return cli::fail(ca.error());
    std::optional<std::string> crl;
    if (!o->crl.empty()) {
      auto cr = core::read_file(o->crl);
      if (!cr) return cli::fail(cr.error());
      crl = *cr;
    }
    pki::Cert leaf = (*certs)[0];
    std::vector<pki::Cert> inter(certs->begin() + 1, certs->end());
    inter.push_back(ca->ca->intermediate());
    std::time_t t = now();
    auto info = pki::inspect(leaf);
    std::string status = "ok", why;
    if (auto r = pki::verify(leaf, inter, ca->ca->root(), crl, t); !r) {
      if (r.error().code != core::Errc::failure) return cli::fail(r.error().context(label));
      status = "invalid";
      why = r.error().message;
    } else if (!crl) {
      // Revocation from the store: the source of truth the CRL is made from.
      auto rec = ca->ca->find(info.serial);
      if (rec && rec->status == "revoked") {
        status = "revoked";
        why = "certificate revoked (" + rec->reason + ")";
      } else if (!rec && rec.error().code != core::Errc::noinput) {
        return cli::fail(rec.error());
      }
    }
    if (c.prog.common().json) {
      boost::json::object j{
          {"file", label}, {"serial", info.serial}, {"subject", info.subject}, {"status", status}};
      if (!why.empty()) j["reason"] = why;
      std::fputs(json_line(j).c_str(), stdout);
    } else if (status == "ok") {
      std::printf("%s: OK\n", label.c_str());
    }
    if (status != "ok") {
      std::fprintf(stderr, "cactl: %s: %s\n", label.c_str(), why.c_str());
      return 1;
    }
    return 0;
  });
}

void register_export(Ctx& c) {
  struct Opts {
    std::string what, out = "-";
    bool der = false;
  };
  auto o = std::make_shared<Opts>();
  auto* s = c.prog.verb(c.prog.app(), "export", "Print the root, intermediate or chain",
                        "cactl export root|intermediate|chain [--der] [--out FILE]");
  s->add_option("what", o->what, "root, intermediate or chain (intermediate then root)")
      ->required()
      ->check(CLI::IsMember({"root", "intermediate", "chain"}));
  s->add_flag("--der", o->der, "DER instead of PEM (not for chain)");
  s->add_option("--out", o->out, "Write to FILE (default stdout)")->type_name("FILE");
  c.prog.on(s, [&c, o]() -> int {
    if (o->der && o->what == "chain")
      return cli::fail({core::Errc::usage, "export: a chain has no DER form; use PEM"});
    auto ca = open_ca(c, false);
    if (!ca) return cli::fail(ca.error());
    const pki::Cert& cert = o->what == "root" ? ca->ca->root() : ca->ca->intermediate();
    std::string data = o->what == "chain" ? ca->ca->chain_pem()
                       : o->der           ? pki::cert_der(cert)
                                          : pki::cert_pem(cert);
    if (auto r = write_out(o->out, data, 0644, true); !r) return cli::fail(r.error());
    return 0;
  });
}

}  // namespace cactl
