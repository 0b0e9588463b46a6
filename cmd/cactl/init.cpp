#include <boost/json.hpp>

#include "cactl.h"
#include "core/text.h"

namespace cactl {

void register_init(Ctx& c) {
  struct Opts {
    std::string key_type = "p256", name = "Warren", org = "Warren";
    int64_t root_days = 3650, int_days = 1825;
    std::vector<std::string> permit_dns, permit_ip;
    bool no_pass = false;
  };
  auto o = std::make_shared<Opts>();
  auto* s = c.prog.verb(c.prog.app(), "init", "Create the root and intermediate CA",
                        "cactl init [--key-type p256|ed25519|rsa3072] [--name NAME] [--org ORG] "
                        "[--root-days N] [--int-days N] [--permit-dns SUFFIX]... "
                        "[--permit-ip CIDR]... [--no-passphrase]");
  s->add_option("--key-type", o->key_type, "CA key type: p256 (default), ed25519, rsa3072")
      ->type_name("TYPE");
  s->add_option("--name", o->name, "Name used in the CA subjects (\"NAME Root CA\")")
      ->type_name("NAME");
  s->add_option("--org", o->org, "Organization (O=) of the CA subjects")->type_name("ORG");
  s->add_option("--root-days", o->root_days, "Root validity in days (default 3650)")
      ->type_name("N");
  s->add_option("--int-days", o->int_days, "Intermediate validity in days (default 1825)")
      ->type_name("N");
  s->add_option("--permit-dns", o->permit_dns, "Name constraint: permitted DNS suffix (repeat)")
      ->type_name("SUFFIX");
  s->add_option("--permit-ip", o->permit_ip, "Name constraint: permitted IP range (repeat)")
      ->type_name("CIDR");
  s->add_flag("--no-passphrase", o->no_pass, "Store CA keys unencrypted (tests and demos only)");
  c.prog.on(s, [&c, o]() -> int {
    pki::InitOptions io;
    auto kt = pki::parse_key_type(o->key_type);
    if (!kt) return cli::fail(kt.error());
    io.key_type = *kt;
    io.root = {o->name + " Root CA", o->org, o->root_days, o->permit_dns, o->permit_ip};
    io.intermediate = {o->name + " Intermediate CA", o->org, o->int_days, o->permit_dns,
                       o->permit_ip};
    for (auto& d : {o->root_days, o->int_days})
      if (d <= 0 || d > 36500)
        return cli::fail({core::Errc::usage, "validity must be 1..36500 days"});
    std::string dir = c.prog.warren_dir();
    if (pki::Authority::exists(dir))
      return cli::fail(
          {core::Errc::failure,
           pki::Authority::ca_dir(dir) + ": a CA already exists (remove it to start over)"});
    if (o->no_pass) {
      cli::warn("CA keys are stored unencrypted (--no-passphrase); use only for tests and demos");
    } else {
      auto p = passphrase(c, true);
      if (!p) return cli::fail(p.error());
      io.passphrase = *p;
    }
    auto db = store::open_dir(dir);
    if (!db) return cli::fail(db.error());
    auto r = pki::Authority::init(dir, *db, io, now());
    if (!r) return cli::fail(r.error().context("init"));
    auto ca = pki::Authority::open(dir, *db);
    if (!ca) return cli::fail(ca.error());
    auto ri = pki::inspect(ca->root()), ii = pki::inspect(ca->intermediate());
    if (c.prog.common().json) {
      boost::json::object j{{"dir", pki::Authority::ca_dir(dir)},
                            {"key_type", pki::key_type_name(io.key_type)},
                            {"encrypted", !o->no_pass},
                            {"root",
                             {{"serial", ri.serial},
                              {"subject", ri.subject},
                              {"sha256", ri.sha256},
                              {"not_after", core::rfc3339(ri.not_after)}}},
                            {"intermediate",
                             {{"serial", ii.serial},
                              {"subject", ii.subject},
                              {"sha256", ii.sha256},
                              {"not_after", core::rfc3339(ii.not_after)}}}};
      std::fputs(json_line(j).c_str(), stdout);
    } else {
      std::printf("root\t%s\t%s\n", ri.serial.c_str(), ri.subject.c_str());
      std::printf("intermediate\t%s\t%s\n", ii.serial.c_str(), ii.subject.c_str());
    }
    return 0;
  });
}

}  // namespace cactl
