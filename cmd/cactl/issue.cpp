// issue, sign, renew: the verbs that create leaf certificates.
#include <boost/json.hpp>
#include <cstdio>

#include "cactl.h"
#include "core/fs.h"
#include "core/text.h"

namespace cactl {

using core::Errc;
using core::Error;
using core::Result;

namespace {

struct LeafOpts {
  std::string profile = "server";
  std::vector<std::string> sans;
  int64_t days = 90;
  std::string key_type = "p256";
  std::string out_dir = ".";
  bool force = false;
};

void add_leaf_options(CLI::App* s, LeafOpts& o, bool with_key_type) {
  s->add_option("--profile", o.profile, "server (default), client or peer")->type_name("PROFILE");
  s->add_option("--san", o.sans, "Subject alternative name: DNS:, IP:, email:, URI: (repeat)")
      ->type_name("SAN");
  s->add_option("--days", o.days, "Validity in days (default 90)")->type_name("N");
  if (with_key_type)
    s->add_option("--key-type", o.key_type, "Leaf key type: p256 (default), ed25519, rsa3072")
        ->type_name("TYPE");
}

// File names for NAME: "*.example.com" -> "_wildcard.example.com", "/" -> "_".
std::string file_base(const std::string& out_dir, const std::string& name) {
  std::string b;
  for (char ch : name) {
    if (ch == '*')
      b += "_wildcard";
    else if (ch == '/' || ch == '\0' || ch == ' ')
      b += '_';
    else
      b += ch;
  }
  return out_dir + "/" + b;
}

// The SANs for NAME when none were given: NAME itself if it is a host name, IP or email.
std::vector<pki::San> default_sans(const std::string& name) {
  auto s = pki::parse_san(name);
  if (s &&
      (s->type != pki::SanType::dns || name.find('.') != std::string::npos || name == "localhost"))
    return {*s};
  return {};
}

Result<std::vector<pki::San>> parse_sans(const std::vector<std::string>& in) {
  std::vector<pki::San> out;
  for (auto& s : in) {
    for (auto& part : core::split(s, ',')) {
      WARREN_TRY(san, pki::parse_san(part));
      out.push_back(san);
    }
  }
  return out;
}

Result<pki::LeafParams> leaf_params(const LeafOpts& o, const std::string& name,
                                    const std::vector<std::string>& extra_sans) {
  pki::LeafParams p;
  WARREN_TRY(prof, pki::parse_profile(o.profile));
  p.profile = prof;
  if (o.days <= 0 || o.days > 36500) return Error(Errc::usage, "--days must be 1..36500");
  p.days = o.days;
  p.common_name = name;
  std::vector<std::string> all = o.sans;
  all.insert(all.end(), extra_sans.begin(), extra_sans.end());
  WARREN_TRY(sans, parse_sans(all));
  // NAME itself (when it is a host name, IP or email) plus every SAN given, without duplicates.
  p.sans = default_sans(name);
  for (auto& s : sans) {
    bool dup = false;
    for (auto& have : p.sans) dup |= have.type == s.type && have.value == s.value;
    if (!dup) p.sans.push_back(s);
  }
  if (p.common_name.size() > 64) p.common_name.resize(64);  // X.520 ub-common-name
  return p;
}

boost::json::object record_json(const pki::CertRecord& r, std::time_t t) {
  return {{"serial", r.serial},
          {"name", r.name},
          {"subject", r.subject},
          {"sans", r.sans},
          {"profile", r.profile},
          {"key_type", r.key_type},
          {"not_before", core::rfc3339(r.not_before)},
          {"not_after", core::rfc3339(r.not_after)},
          {"status", r.state(t)},
          {"revoked_at", r.revoked_at ? boost::json::value(core::rfc3339(r.revoked_at)) : nullptr},
          {"reason", r.reason.empty() ? boost::json::value(nullptr) : boost::json::value(r.reason)},
          {"renewed_from", r.renewed_from.empty() ? boost::json::value(nullptr)
                                                  : boost::json::value(r.renewed_from)}};
}

struct Planned {
  std::string name;
  pki::LeafParams params;
  std::string base;  // output path without extension
};

// Refuses to overwrite outputs unless --force (checked before anything is signed).
Result<void> check_outputs(const std::string& base, bool force, bool key) {
  if (force) return {};
  for (const char* ext : {".crt", ".key", ".fullchain.pem"}) {
    if (!key && std::string(ext) == ".key") continue;
    if (core::file_exists(base + ext))
      return Error(Errc::failure, base + ext + ": file exists (use --force to replace)");
  }
  return {};
}

Result<void> write_leaf(const Opened& ca, const pki::CertRecord& r, const std::string& base,
                        const std::string* key_pem, bool force) {
  if (key_pem) WARREN_CHECK(write_out(base + ".key", *key_pem, 0600, force));
  WARREN_CHECK(write_out(base + ".crt", r.cert_pem, 0644, force));
  WARREN_CHECK(write_out(base + ".fullchain.pem", r.cert_pem + pki::cert_pem(ca.ca->intermediate()),
                         0644, force));
  return {};
}

void print_record(const Ctx& c, const pki::CertRecord& r, const std::string& base) {
  if (c.prog.common().json) {
    auto j = record_json(r, now());
    if (!base.empty()) {
      j["cert"] = base + ".crt";
      j["fullchain"] = base + ".fullchain.pem";
    }
    std::fputs(json_line(j).c_str(), stdout);
  } else {
    std::printf("%s\t%s\n", r.serial.c_str(), r.name.c_str());
  }
}

int run_issue(Ctx& c, const LeafOpts& o, const std::string& name, bool batch,
              const std::string& p12, const std::string& p12_pass_file) {
  if (batch == !name.empty())
    return cli::fail({Errc::usage, "issue: give NAME or --batch (names on stdin), not both"});
  auto kt = pki::parse_key_type(o.key_type);
  if (!kt) return cli::fail(kt.error());
  if (auto r = core::ensure_dir(o.out_dir, 0755); !r) return cli::fail(r.error());

  // Plan every certificate first: bad input aborts before anything is signed.
  std::vector<Planned> plan;
  if (batch) {
    auto in = core::read_file("-");
    if (!in) return cli::fail(in.error());
    int lineno = 0;
    for (auto& line : core::split(*in, '\n')) {
      lineno++;
      auto t = core::trim(line);
      if (t.empty() || t[0] == '#') continue;
      std::vector<std::string> words;
      for (auto& w : core::split(std::string(t), ' '))
        if (!core::trim(w).empty()) words.emplace_back(core::trim(w));
      std::vector<std::string> extra(words.begin() + 1, words.end());
      auto p = leaf_params(o, words[0], extra);
      if (!p) return cli::fail(p.error().context("stdin:" + std::to_string(lineno)));
      plan.push_back({words[0], *p, file_base(o.out_dir, words[0])});
    }
    if (plan.empty()) return cli::fail({Errc::data, "issue --batch: no names on stdin"});
  } else {
    auto p = leaf_params(o, name, {});
    if (!p) return cli::fail(p.error());
    plan.push_back({name, *p, file_base(o.out_dir, name)});
  }
  for (auto& pl : plan)
    if (auto r = check_outputs(pl.base, o.force, true); !r) return cli::fail(r.error());
  std::optional<std::string> p12pass;
  if (!p12.empty()) {
    if (p12_pass_file.empty())
      return cli::fail({Errc::usage, "--p12 needs --p12-passphrase-file FILE"});
    auto pp = cli::read_secret(p12_pass_file);
    if (!pp) return cli::fail(pp.error().context("p12 passphrase"));
    p12pass = *pp;
    if (!o.force && core::file_exists(p12))
      return cli::fail({Errc::failure, p12 + ": file exists (use --force to replace)"});
  }

  auto ca = open_ca(c, true);
  if (!ca) return cli::fail(ca.error());
  std::time_t t = now();
  struct Done {
    pki::CertRecord rec;
    std::string key_pem;
    pki::Key key;
  };
  std::vector<Done> done;
  done.reserve(plan.size());
  {
    auto tx = store::Tx::begin(*ca->db);
    if (!tx) return cli::fail(tx.error());
    for (auto& pl : plan) {
      auto key = pki::generate_key(*kt);
      if (!key) return cli::fail(key.error());
      auto rec = ca->ca->issue(*key, pl.params, pl.name, t);
      if (!rec) return cli::fail(rec.error().context("issue " + pl.name));
      auto pem = pki::private_key_pem(*key, std::nullopt);
      if (!pem) return cli::fail(pem.error());
      done.push_back({std::move(*rec), std::move(*pem), *key});
    }
    if (auto r = tx->commit(); !r) return cli::fail(r.error());
  }
  for (size_t i = 0; i < plan.size(); i++) {
    if (auto r = write_leaf(*ca, done[i].rec, plan[i].base, &done[i].key_pem, o.force); !r)
      return cli::fail(r.error());
    if (p12pass) {
      auto cert = pki::parse_cert(done[i].rec.cert_pem);
      auto der = pki::make_p12(done[i].key, *cert, {ca->ca->intermediate(), ca->ca->root()},
                               *p12pass, plan[i].name);
      if (!der) return cli::fail(der.error());
      if (auto r = write_out(p12, *der, 0600, o.force); !r) return cli::fail(r.error());
    }
    print_record(c, done[i].rec, plan[i].base);
  }
  return 0;
}

}  // namespace

void register_issue(Ctx& c) {
  struct Opts : LeafOpts {
    std::string name, p12, p12_pass;
    bool batch = false;
  };
  auto o = std::make_shared<Opts>();
  auto* s = c.prog.verb(
      c.prog.app(), "issue", "Issue a certificate and a new private key",
      "cactl issue NAME [--profile server|client|peer] [--san SAN]... [--days N] "
      "[--key-type TYPE] [--out-dir DIR] [--p12 FILE --p12-passphrase-file FILE] [--force]\n"
      "cactl issue --batch [--profile PROFILE] [--days N] [--key-type TYPE] [--out-dir DIR] < "
      "NAMES");
  s->add_option("name", o->name, "Certificate name (CN; also the SAN when it is a host name)");
  add_leaf_options(s, *o, true);
  s->add_option("--out-dir", o->out_dir, "Where NAME.crt, NAME.key, NAME.fullchain.pem go")
      ->type_name("DIR");
  s->add_flag("--batch", o->batch, "Read \"NAME [SAN...]\" lines from stdin; one transaction");
  s->add_option("--p12", o->p12, "Also write a PKCS#12 bundle to FILE")->type_name("FILE");
  s->add_option("--p12-passphrase-file", o->p12_pass, "Passphrase for the PKCS#12 bundle")
      ->type_name("FILE");
  s->add_flag("--force", o->force, "Replace existing output files");
  c.prog.on(s, [&c, o] { return run_issue(c, *o, o->name, o->batch, o->p12, o->p12_pass); });
}

void register_sign(Ctx& c) {
  struct Opts : LeafOpts {
    std::string csr, name, out = "-";
  };
  auto o = std::make_shared<Opts>();
  auto* s = c.prog.verb(c.prog.app(), "sign", "Sign a certificate signing request",
                        "cactl sign CSR|- [--name NAME] [--profile PROFILE] [--san SAN]... "
                        "[--days N] [--out FILE]");
  s->add_option("csr", o->csr, "CSR file (PEM or DER), - for stdin")->required();
  s->add_option("--name", o->name, "Name to record (default: the CSR's CN)")->type_name("NAME");
  add_leaf_options(s, *o, false);
  s->add_option("--out", o->out, "Write certificate and chain to FILE (default stdout)")
      ->type_name("FILE");
  c.prog.on(s, [&c, o]() -> int {
    auto data = core::read_file(o->csr);
    if (!data) return cli::fail(data.error());
    auto csr = pki::parse_csr(*data);
    if (!csr) return cli::fail(csr.error().context(o->csr == "-" ? "stdin" : o->csr));
    auto info = pki::csr_info(*csr);
    if (!info) return cli::fail(info.error().context(o->csr == "-" ? "stdin" : o->csr));
    std::string name = o->name.empty() ? info->common_name : o->name;
    if (name.empty() && !info->sans.empty()) name = info->sans[0].value;
    std::vector<std::string> csr_sans;
    if (o->sans.empty())
      for (auto& san : info->sans) csr_sans.push_back(san.str());
    auto p = leaf_params(*o, name, csr_sans);
    if (!p) return cli::fail(p.error());
    if (!info->common_name.empty()) p->common_name = info->common_name;
    if (o->out != "-" && core::file_exists(o->out))
      return cli::fail({Errc::failure, o->out + ": file exists"});
    auto ca = open_ca(c, true);
    if (!ca) return cli::fail(ca.error());
    auto tx = store::Tx::begin(*ca->db);
    if (!tx) return cli::fail(tx.error());
    auto rec = ca->ca->issue(info->public_key, *p, name, now());
    if (!rec) return cli::fail(rec.error().context("sign"));
    if (auto r = tx->commit(); !r) return cli::fail(r.error());
    std::string chain = rec->cert_pem + pki::cert_pem(ca->ca->intermediate());
    if (c.prog.common().json && o->out == "-") {
      auto j = record_json(*rec, now());
      j["pem"] = chain;
      std::fputs(json_line(j).c_str(), stdout);
      return 0;
    }
    if (auto r = write_out(o->out, chain, 0644, false); !r) return cli::fail(r.error());
    if (o->out != "-") print_record(c, *rec, "");
    return 0;
  });
}

void register_renew(Ctx& c) {
  struct Opts {
    std::string serial, out_dir = ".";
    bool new_key = false, revoke_old = false;
    int64_t days = 0;
  };
  auto o = std::make_shared<Opts>();
  auto* s = c.prog.verb(c.prog.app(), "renew", "Re-issue a certificate (same or new key)",
                        "cactl renew SERIAL [--new-key] [--days N] [--revoke-old] [--out-dir DIR]");
  s->add_option("serial", o->serial, "Serial (or unique prefix of at least 6 hex digits)")
      ->required();
  s->add_flag("--new-key", o->new_key, "Generate a new key (default: keep the certified key)");
  s->add_option("--days", o->days, "Validity in days (default: as the original)")->type_name("N");
  s->add_flag("--revoke-old", o->revoke_old, "Revoke the old certificate (reason superseded)");
  s->add_option("--out-dir", o->out_dir, "Where NAME.crt (and NAME.key) are replaced")
      ->type_name("DIR");
  c.prog.on(s, [&c, o]() -> int {
    auto ca = open_ca(c, true);
    if (!ca) return cli::fail(ca.error());
    auto old = ca->ca->find(o->serial);
    if (!old) return cli::fail(old.error());
    auto cert = pki::parse_cert(old->cert_pem);
    if (!cert) return cli::fail(cert.error());
    LeafOpts lo;
    lo.profile = old->profile;
    lo.days =
        o->days > 0 ? o->days : std::max<int64_t>(1, (old->not_after - old->not_before) / 86400);
    lo.key_type = old->key_type;
    if (!old->sans.empty()) lo.sans = {old->sans};
    auto p = leaf_params(lo, old->name, {});
    if (!p) return cli::fail(p.error());
    p->common_name = pki::inspect(*cert).common_name;
    pki::Key key = pki::cert_public_key(*cert);
    std::optional<std::string> key_pem;
    if (o->new_key) {
      auto kt = pki::parse_key_type(old->key_type);
      auto k = kt ? pki::generate_key(*kt) : core::Result<pki::Key>(kt.error());
      if (!k) return cli::fail(k.error());
      key = *k;
      auto pem = pki::private_key_pem(key, std::nullopt);
      if (!pem) return cli::fail(pem.error());
      key_pem = *pem;
    }
    std::time_t t = now();
    auto tx = store::Tx::begin(*ca->db);
    if (!tx) return cli::fail(tx.error());
    auto rec = ca->ca->issue(key, *p, old->name, t, old->serial);
    if (!rec) return cli::fail(rec.error().context("renew"));
    if (auto r = tx->commit(); !r) return cli::fail(r.error());
    if (o->revoke_old && old->status == "valid") {
      if (auto r = ca->ca->revoke(old->serial, "superseded", t); !r) return cli::fail(r.error());
    }
    if (auto r = core::ensure_dir(o->out_dir, 0755); !r) return cli::fail(r.error());
    std::string base = file_base(o->out_dir, old->name);
    if (auto r = write_leaf(*ca, *rec, base, key_pem ? &*key_pem : nullptr, true); !r)
      return cli::fail(r.error());
    print_record(c, *rec, base);
    return 0;
  });
}

// Exposed for list/show.
boost::json::object cert_json(const pki::CertRecord& r, std::time_t t) {
  return record_json(r, t);
}

}  // namespace cactl
