#include "pki/authority.h"

#include <unistd.h>

#include <boost/json.hpp>

#include "core/fs.h"
#include "core/text.h"
#include "log/log.h"

namespace pki {

using core::Errc;
using core::Error;
using core::Result;

namespace {
const char* kRootCrt = "root.crt";
const char* kRootKey = "root.key";
const char* kIntCrt = "intermediate.crt";
const char* kIntKey = "intermediate.key";
const char* kChain = "chain.pem";
const char* kTokEdKey = "token-eddsa.key";
const char* kTokEdPub = "token-eddsa.pub";
const char* kTokEsKey = "token-es256.key";
const char* kTokEsPub = "token-es256.pub";

std::string join_sans(const std::vector<San>& sans) {
  std::string out;
  for (auto& s : sans) {
    if (!out.empty()) out += ",";
    out += s.str();
  }
  return out;
}

std::string actor() {
  const char* u = std::getenv("USER");
  return std::string("cactl:") + (u ? u : std::to_string(::getuid()));
}

CertRecord row_to_record(store::Stmt& st) {
  CertRecord r;
  r.serial = st.col_text(0);
  r.name = st.col_text(1);
  r.subject = st.col_text(2);
  r.sans = st.col_text(3);
  r.profile = st.col_text(4);
  r.key_type = st.col_text(5);
  r.not_before = st.col_int(6);
  r.not_after = st.col_int(7);
  r.status = st.col_text(8);
  r.revoked_at = st.col_null(9) ? 0 : st.col_int(9);
  r.reason = st.col_text(10);
  r.renewed_from = st.col_text(11);
  r.cert_pem = st.col_text(12);
  return r;
}

const char* kCertCols =
    "serial, name, subject, sans, profile, key_type, not_before, not_after, status, revoked_at, "
    "reason, renewed_from, cert_pem";
}  // namespace

std::string CertRecord::state(std::time_t now) const {
  if (status == "revoked") return "revoked";
  if (not_after < now) return "expired";
  return "valid";
}

bool Authority::exists(const std::string& warren_dir) {
  return core::file_exists(ca_dir(warren_dir) + "/" + kIntCrt);
}

Result<void> Authority::init(const std::string& warren_dir, store::Db& db, const InitOptions& opt,
                             std::time_t now) {
  std::string dir = ca_dir(warren_dir);
  if (exists(warren_dir))
    return Error(Errc::failure, dir + ": a CA already exists (remove it to start over)");
  // Build everything in memory first, then write to a temp dir and rename into place.
  WARREN_TRY(root_key, generate_key(opt.key_type));
  WARREN_TRY(int_key, generate_key(opt.key_type));
  CaParams rp = opt.root, ip = opt.intermediate;
  ip.path_len = 0;
  if (ip.days > rp.days) ip.days = rp.days;
  std::string root_serial = random_serial_hex(), int_serial = random_serial_hex();
  WARREN_TRY(root, make_root(root_key, rp, root_serial, now));
  WARREN_TRY(inter, make_intermediate(int_key, ip, root, root_key, int_serial, now));
  WARREN_TRY(tok_ed, generate_key(KeyType::ed25519));
  WARREN_TRY(tok_es, generate_key(KeyType::p256));

  std::string tmp = dir + ".tmp";
  (void)std::system(("rm -rf '" + tmp + "'").c_str());
  WARREN_CHECK(core::ensure_dir(warren_dir, 0700));
  WARREN_CHECK(core::ensure_dir(tmp, 0700));
  auto put_key = [&](const char* f, const Key& k) -> Result<void> {
    WARREN_TRY(pem, private_key_pem(k, opt.passphrase));
    return core::write_file_excl(tmp + "/" + f, pem, 0600);
  };
  WARREN_CHECK(put_key(kRootKey, root_key));
  WARREN_CHECK(put_key(kIntKey, int_key));
  WARREN_CHECK(put_key(kTokEdKey, tok_ed));
  WARREN_CHECK(put_key(kTokEsKey, tok_es));
  WARREN_CHECK(core::write_file_excl(tmp + "/" + kTokEdPub, public_key_pem(tok_ed), 0644));
  WARREN_CHECK(core::write_file_excl(tmp + "/" + kTokEsPub, public_key_pem(tok_es), 0644));
  WARREN_CHECK(core::write_file_excl(tmp + "/" + kRootCrt, cert_pem(root), 0644));
  WARREN_CHECK(core::write_file_excl(tmp + "/" + kIntCrt, cert_pem(inter), 0644));
  WARREN_CHECK(core::write_file_excl(tmp + "/" + kChain, cert_pem(inter) + cert_pem(root), 0644));

  WARREN_TRY(tx, store::Tx::begin(db));
  WARREN_TRY(ins,
             db.prepare("INSERT OR REPLACE INTO ca(name, serial, subject, key_type, "
                        "not_before, not_after, cert_pem, created_at) VALUES(?,?,?,?,?,?,?,?)"));
  for (auto& [name, cert] : {std::pair{"root", root}, std::pair{"intermediate", inter}}) {
    CertInfo ci = inspect(cert);
    ins.bind(1, name).bind(2, ci.serial).bind(3, ci.subject).bind(4, ci.key_type);
    ins.bind(5, static_cast<int64_t>(ci.not_before)).bind(6, static_cast<int64_t>(ci.not_after));
    ins.bind(7, cert_pem(cert)).bind(8, static_cast<int64_t>(now));
    WARREN_CHECK(ins.run());
  }
  boost::json::object detail{{"key_type", key_type_name(opt.key_type)},
                             {"encrypted", opt.passphrase.has_value()},
                             {"root_serial", root_serial},
                             {"intermediate_serial", int_serial}};
  WARREN_CHECK(store::audit(db, actor(), "ca.init", int_serial, boost::json::serialize(detail)));
  if (::rename(tmp.c_str(), dir.c_str()) != 0)
    return Error(core::errc_from_errno(errno), dir + ": " + core::errno_text(errno));
  auto c = tx.commit();
  if (!c) {
    (void)std::system(("rm -rf '" + dir + "'").c_str());
    return c.error();
  }
  return {};
}

Result<Authority> Authority::open(const std::string& warren_dir, store::Db& db) {
  Authority a;
  a.dir_ = ca_dir(warren_dir);
  a.db_ = &db;
  if (!exists(warren_dir))
    return Error(Errc::noinput, a.dir_ + ": no CA here (run 'cactl init' first)");
  auto load_cert = [&](const char* f) -> Result<Cert> {
    WARREN_TRY(pem, core::read_file(a.dir_ + "/" + f));
    auto c = parse_cert(pem);
    if (!c) return c.error().context(a.dir_ + "/" + f);
    return c;
  };
  WARREN_TRY(root, load_cert(kRootCrt));
  WARREN_TRY(inter, load_cert(kIntCrt));
  a.root_ = root;
  a.intermediate_ = inter;
  auto load_pub = [&](const char* f) -> Result<Key> {
    WARREN_TRY(pem, core::read_file(a.dir_ + "/" + f));
    auto k = parse_public_key(pem);
    if (!k) return k.error().context(a.dir_ + "/" + f);
    return k;
  };
  WARREN_TRY(ed, load_pub(kTokEdPub));
  WARREN_TRY(es, load_pub(kTokEsPub));
  a.tok_ed_pub_ = ed;
  a.tok_es_pub_ = es;
  WARREN_TRY(ikey, core::read_file(a.dir_ + "/" + kIntKey));
  a.encrypted_ = is_encrypted_pem(ikey);
  return a;
}

static Result<Key> load_private(const std::string& path, const std::optional<std::string>& pass) {
  WARREN_TRY(pem, core::read_file(path));
  auto k = parse_private_key(pem, pass);
  if (!k) return k.error().context(path);
  return k;
}

Result<void> Authority::unlock(const std::optional<std::string>& passphrase) {
  passphrase_ = encrypted_ ? passphrase : std::nullopt;
  WARREN_TRY(k, load_private(dir_ + "/" + kIntKey, passphrase_));
  int_key_ = k;
  if (!same_public_key(int_key_, cert_public_key(intermediate_)))
    return Error(Errc::data, dir_ + "/" + kIntKey + ": key does not match intermediate.crt");
  unlocked_ = true;
  return {};
}

Result<const Key*> Authority::token_key(jwt::Alg alg) {
  if (!unlocked_) return Error(Errc::internal, "CA is locked");
  bool ed = alg == jwt::Alg::EdDSA;
  Key& k = ed ? tok_ed_ : tok_es_;
  if (!k) {
    WARREN_TRY(loaded, load_private(dir_ + "/" + (ed ? kTokEdKey : kTokEsKey), passphrase_));
    k = loaded;
  }
  return &k;
}

std::string Authority::chain_pem() const {
  return cert_pem(intermediate_) + cert_pem(root_);
}

Result<CertRecord> Authority::issue(const Key& subject_key, const LeafParams& p,
                                    const std::string& name, std::time_t now,
                                    const std::string& renewed_from) {
  if (!int_key_) return Error(Errc::internal, "CA is locked");
  std::string serial = random_serial_hex();
  WARREN_TRY(cert, pki::issue(subject_key, p, intermediate_, int_key_, {intermediate_, root_},
                              serial, now));
  CertInfo ci = inspect(cert);
  CertRecord r;
  r.serial = ci.serial;
  r.name = name;
  r.subject = ci.subject;
  r.sans = join_sans(p.sans);
  r.profile = profile_name(p.profile);
  r.key_type = ci.key_type;
  r.not_before = ci.not_before;
  r.not_after = ci.not_after;
  r.status = "valid";
  r.renewed_from = renewed_from;
  r.cert_pem = cert_pem(cert);
  WARREN_TRY(st, db_->prepare("INSERT INTO certs(serial, name, subject, sans, profile, key_type, "
                              "issuer, not_before, not_after, cert_pem, renewed_from, created_at) "
                              "VALUES(?,?,?,?,?,?,'intermediate',?,?,?,?,?)"));
  st.bind(1, r.serial).bind(2, r.name).bind(3, r.subject).bind(4, r.sans).bind(5, r.profile);
  st.bind(6, r.key_type).bind(7, static_cast<int64_t>(r.not_before));
  st.bind(8, static_cast<int64_t>(r.not_after)).bind(9, r.cert_pem);
  if (renewed_from.empty())
    st.bind_null(10);
  else
    st.bind(10, renewed_from);
  st.bind(11, static_cast<int64_t>(now));
  WARREN_CHECK(st.run());
  boost::json::object d{{"name", name},
                        {"profile", r.profile},
                        {"sans", r.sans},
                        {"not_after", core::rfc3339(r.not_after)}};
  if (!renewed_from.empty()) d["renewed_from"] = renewed_from;
  WARREN_CHECK(store::audit(*db_, actor(), renewed_from.empty() ? "cert.issue" : "cert.renew",
                            r.serial, boost::json::serialize(d)));
  return r;
}

Result<CertRecord> Authority::find(const std::string& serial_or_prefix) {
  std::string s = core::to_lower(serial_or_prefix);
  if (s.empty() || !core::unhex(s.size() % 2 ? "0" + s : s))
    return Error(Errc::usage, "bad serial \"" + serial_or_prefix + "\" (hex expected)");
  // Exact serial or a unique prefix of at least 6 digits, as one primary-key range lookup
  // (lower-case hex sorts below 'g'), never a table scan.
  WARREN_TRY(st, db_->prepare(std::string("SELECT ") + kCertCols +
                              " FROM certs WHERE serial >= ?1 AND serial < ?1 || 'g' "
                              "ORDER BY serial LIMIT 2"));
  st.bind(1, s);
  std::vector<CertRecord> found;
  for (;;) {
    WARREN_TRY(row, st.step());
    if (!row) break;
    found.push_back(row_to_record(st));
  }
  if (!found.empty() && found[0].serial == s) return found[0];
  if (found.empty()) return Error(Errc::noinput, "no certificate with serial " + serial_or_prefix);
  if (s.size() < 6)
    return Error(Errc::usage, "serial prefix " + serial_or_prefix +
                                  " is too short (give at least 6 hex digits)");
  if (found.size() > 1)
    return Error(Errc::usage, "serial prefix " + serial_or_prefix + " is ambiguous");
  return found[0];
}

Result<std::vector<CertRecord>> Authority::list(ListFilter f, std::time_t now,
                                                int64_t within_days) {
  std::string sql = std::string("SELECT ") + kCertCols + " FROM certs";
  switch (f) {
    case ListFilter::all:
      break;
    case ListFilter::valid:
      sql += " WHERE status = 'valid' AND not_after >= ?1";
      break;
    case ListFilter::expired:
      sql += " WHERE status = 'valid' AND not_after < ?1";
      break;
    case ListFilter::revoked:
      sql += " WHERE status = 'revoked'";
      break;
    case ListFilter::expiring:
      sql += " WHERE status = 'valid' AND not_after >= ?1 AND not_after < ?2";
      break;
  }
  sql += " ORDER BY not_before, serial";
  WARREN_TRY(st, db_->prepare(sql));
  if (f == ListFilter::valid || f == ListFilter::expired || f == ListFilter::expiring)
    st.bind(1, static_cast<int64_t>(now));
  if (f == ListFilter::expiring) st.bind(2, static_cast<int64_t>(now + within_days * 86400));
  std::vector<CertRecord> out;
  for (;;) {
    WARREN_TRY(row, st.step());
    if (!row) break;
    out.push_back(row_to_record(st));
  }
  return out;
}

Result<CertRecord> Authority::revoke(const std::string& serial, const std::string& reason,
                                     std::time_t now) {
  if (!valid_reason(reason)) {
    std::string all;
    for (auto& r : reasons())
      if (r != "removeFromCRL") all += (all.empty() ? "" : ", ") + r;
    return Error(Errc::usage, "unknown reason \"" + reason + "\" (one of: " + all + ")");
  }
  WARREN_TRY(tx, store::Tx::begin(*db_));
  WARREN_TRY(rec, find(serial));
  if (rec.status == "revoked")
    return Error(Errc::failure,
                 "certificate " + rec.serial + " is already revoked (" + rec.reason + ")");
  WARREN_TRY(st, db_->prepare("UPDATE certs SET status='revoked', revoked_at=?, reason=? "
                              "WHERE serial=? AND status='valid'"));
  st.bind(1, static_cast<int64_t>(now)).bind(2, reason).bind(3, rec.serial);
  WARREN_CHECK(st.run());
  boost::json::object d{{"reason", reason}, {"name", rec.name}};
  WARREN_CHECK(store::audit(*db_, actor(), "cert.revoke", rec.serial, boost::json::serialize(d)));
  WARREN_CHECK(tx.commit());
  rec.status = "revoked";
  rec.revoked_at = now;
  rec.reason = reason;
  return rec;
}

Result<std::string> Authority::crl(bool der, int64_t valid_days, std::time_t now) {
  if (!int_key_) return Error(Errc::internal, "CA is locked");
  WARREN_TRY(tx, store::Tx::begin(*db_));
  WARREN_TRY(num_st, db_->prepare("INSERT INTO crl_state(issuer, number) VALUES('intermediate', 1) "
                                  "ON CONFLICT(issuer) DO UPDATE SET number = number + 1 "
                                  "RETURNING number"));
  WARREN_TRY(has, num_st.step());
  if (!has) return Error(Errc::internal, "CRL number");
  int64_t number = num_st.col_int(0);
  num_st.reset();
  WARREN_TRY(st, db_->prepare("SELECT serial, revoked_at, reason FROM certs "
                              "WHERE status='revoked' AND issuer='intermediate' ORDER BY serial"));
  std::vector<Revoked> rev;
  for (;;) {
    WARREN_TRY(row, st.step());
    if (!row) break;
    rev.push_back({st.col_text(0), static_cast<std::time_t>(st.col_int(1)), st.col_text(2)});
  }
  WARREN_TRY(out,
             make_crl(intermediate_, int_key_, rev, number, now, now + valid_days * 86400, der));
  boost::json::object d{{"number", number}, {"entries", rev.size()}};
  WARREN_CHECK(
      store::audit(*db_, actor(), "crl.sign", std::to_string(number), boost::json::serialize(d)));
  WARREN_CHECK(tx.commit());
  return out;
}

Result<jwt::SigningKey> Authority::signing_key(jwt::Alg alg) {
  WARREN_TRY(k, token_key(alg));
  return jwt::SigningKey{*k, alg,
                         jwt::thumbprint(alg == jwt::Alg::EdDSA ? tok_ed_pub_ : tok_es_pub_)};
}

std::vector<jwt::VerifyKey> Authority::verify_keys() const {
  return {{tok_ed_pub_, jwt::Alg::EdDSA, jwt::thumbprint(tok_ed_pub_)},
          {tok_es_pub_, jwt::Alg::ES256, jwt::thumbprint(tok_es_pub_)}};
}

Result<std::string> Authority::token_private_pem(jwt::Alg alg,
                                                 const std::optional<std::string>& pass) {
  WARREN_TRY(k, token_key(alg));
  return private_key_pem(*k, pass);
}

Result<void> Authority::record_token(const TokenRecord& t) {
  WARREN_TRY(tx, store::Tx::begin(*db_));
  WARREN_TRY(st, db_->prepare("INSERT INTO tokens(jti, sub, aud, alg, issued_at, expires_at) "
                              "VALUES(?,?,?,?,?,?)"));
  st.bind(1, t.jti).bind(2, t.sub).bind(3, t.aud).bind(4, t.alg);
  st.bind(5, static_cast<int64_t>(t.issued_at)).bind(6, static_cast<int64_t>(t.expires_at));
  WARREN_CHECK(st.run());
  boost::json::object d{{"sub", t.sub}, {"aud", t.aud}, {"exp", core::rfc3339(t.expires_at)}};
  WARREN_CHECK(store::audit(*db_, actor(), "token.issue", t.jti, boost::json::serialize(d)));
  return tx.commit();
}

Result<std::optional<TokenRecord>> Authority::find_token(const std::string& jti) {
  WARREN_TRY(st,
             db_->prepare("SELECT jti, sub, aud, alg, issued_at, expires_at, revoked_at, reason "
                          "FROM tokens WHERE jti = ?"));
  st.bind(1, jti);
  WARREN_TRY(row, st.step());
  if (!row) return std::optional<TokenRecord>();
  TokenRecord t{st.col_text(0),
                st.col_text(1),
                st.col_text(2),
                st.col_text(3),
                static_cast<std::time_t>(st.col_int(4)),
                static_cast<std::time_t>(st.col_int(5)),
                st.col_null(6) ? 0 : static_cast<std::time_t>(st.col_int(6)),
                st.col_text(7)};
  return std::optional<TokenRecord>(t);
}

Result<TokenRecord> Authority::revoke_token(const std::string& jti, const std::string& reason,
                                            std::time_t now) {
  WARREN_TRY(tx, store::Tx::begin(*db_));
  WARREN_TRY(found, find_token(jti));
  TokenRecord t;
  if (found) {
    t = *found;
    if (t.revoked_at) return Error(Errc::failure, "token " + jti + " is already revoked");
    WARREN_TRY(st, db_->prepare("UPDATE tokens SET revoked_at=?, reason=? WHERE jti=?"));
    st.bind(1, static_cast<int64_t>(now)).bind(2, reason).bind(3, jti);
    WARREN_CHECK(st.run());
  } else {
    // A token we did not issue (or issued elsewhere) can still be put on the deny list.
    WARREN_TRY(st, db_->prepare("INSERT INTO tokens(jti, sub, aud, alg, issued_at, expires_at, "
                                "revoked_at, reason) VALUES(?, '', '', '', 0, 0, ?, ?)"));
    st.bind(1, jti).bind(2, static_cast<int64_t>(now)).bind(3, reason);
    WARREN_CHECK(st.run());
    t.jti = jti;
  }
  t.revoked_at = now;
  t.reason = reason;
  boost::json::object d{{"reason", reason}};
  WARREN_CHECK(store::audit(*db_, actor(), "token.revoke", jti, boost::json::serialize(d)));
  WARREN_CHECK(tx.commit());
  return t;
}

}  // namespace pki
