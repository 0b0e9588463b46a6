// token issue|verify|revoke|jwks|key: JWTs signed by the CA's token keys.
#include <boost/json.hpp>
#include <cstdio>

#include "cactl.h"
#include "core/fs.h"
#include "core/text.h"
#include "crypto/crypto.h"

namespace cactl {

using core::Errc;
namespace json = boost::json;

namespace {

// TOKEN argument: the token itself, or "-" for the first line of stdin.
core::Result<std::string> token_arg(const std::string& arg) {
  if (arg != "-") return std::string(core::trim(arg));
  auto in = core::read_file("-", 1 << 20);
  if (!in) return in.error();
  return std::string(core::trim(*in));
}

void register_token_issue(Ctx& c, CLI::App* tok) {
  struct Opts {
    std::string sub, iss = "warren", ttl = "1h", nbf, alg = "EdDSA";
    std::vector<std::string> aud, claims;
  };
  auto o = std::make_shared<Opts>();
  auto* s = c.prog.verb(*tok, "issue", "Issue a signed JWT",
                        "cactl token issue --sub SUBJECT [--aud AUDIENCE]... [--iss ISSUER] "
                        "[--ttl DURATION] [--nbf DURATION] [--claim KEY=VALUE]... "
                        "[--alg EdDSA|ES256]");
  s->add_option("--sub", o->sub, "Subject (sub claim)")->required()->type_name("SUBJECT");
  s->add_option("--aud", o->aud, "Audience (repeat for several)")->type_name("AUDIENCE");
  s->add_option("--iss", o->iss, "Issuer (default warren)")->type_name("ISSUER");
  s->add_option("--ttl", o->ttl, "Lifetime, e.g. 15m, 12h, 30d (default 1h)")
      ->type_name("DURATION");
  s->add_option("--nbf", o->nbf, "Not valid until this long from now")->type_name("DURATION");
  s->add_option("--claim", o->claims, "Extra claim; VALUE is JSON or else a string (repeat)")
      ->type_name("KEY=VALUE");
  s->add_option("--alg", o->alg, "EdDSA (Ed25519, default) or ES256 (P-256)")->type_name("ALG");
  c.prog.on(s, [&c, o]() -> int {
    auto alg = jwt::parse_alg(o->alg);
    if (!alg) return cli::fail(alg.error());
    auto ttl = core::parse_duration(o->ttl);
    if (!ttl) return cli::fail(ttl.error().context("--ttl"));
    if (*ttl <= 0) return cli::fail({Errc::usage, "--ttl must be positive"});
    int64_t nbf_off = 0;
    if (!o->nbf.empty()) {
      auto n = core::parse_duration(o->nbf);
      if (!n) return cli::fail(n.error().context("--nbf"));
      nbf_off = *n;
    }
    std::time_t t = now();
    json::object claims;
    for (auto& kv : o->claims) {
      auto eq = kv.find('=');
      if (eq == std::string::npos || eq == 0)
        return cli::fail({Errc::usage, "--claim: expected KEY=VALUE, got \"" + kv + "\""});
      std::string k = kv.substr(0, eq), v = kv.substr(eq + 1);
      for (const char* r : {"iss", "sub", "aud", "exp", "nbf", "iat", "jti"})
        if (k == r)
          return cli::fail({Errc::usage, "--claim: \"" + k + "\" is set by its own option"});
      boost::system::error_code ec;
      json::value jv = json::parse(v, ec);
      claims[k] = ec ? json::value(v) : jv;
    }
    std::string jti = crypto::random_token(16);
    claims["iss"] = o->iss;
    claims["sub"] = o->sub;
    if (o->aud.size() == 1)
      claims["aud"] = o->aud[0];
    else if (o->aud.size() > 1) {
      json::array a;
      for (auto& x : o->aud) a.emplace_back(x);
      claims["aud"] = std::move(a);
    }
    claims["iat"] = static_cast<int64_t>(t);
    claims["nbf"] = static_cast<int64_t>(t + nbf_off);
    claims["exp"] = static_cast<int64_t>(t + nbf_off + *ttl);
    claims["jti"] = jti;
    auto ca = open_ca(c, true);
    if (!ca) return cli::fail(ca.error());
    auto key = ca->ca->signing_key(*alg);
    if (!key) return cli::fail(key.error());
    auto tok = jwt::sign(claims, *key);
    if (!tok) return cli::fail(tok.error());
    std::string aud_joined;
    for (auto& x : o->aud) aud_joined += (aud_joined.empty() ? "" : ",") + x;
    pki::TokenRecord rec{jti, o->sub, aud_joined, jwt::alg_name(*alg), t, t + nbf_off + *ttl,
                         0,   ""};
    if (auto r = ca->ca->record_token(rec); !r) return cli::fail(r.error());
    if (c.prog.common().json) {
      json::object j{
          {"token", *tok}, {"jti", jti}, {"exp", core::rfc3339(rec.expires_at)}, {"kid", key->kid}};
      std::fputs(json_line(j).c_str(), stdout);
    } else {
      std::printf("%s\n", tok->c_str());
    }
    return 0;
  });
}

void register_token_verify(Ctx& c, CLI::App* tok) {
  struct Opts {
    std::string token, jwks, key, iss;
    std::vector<std::string> aud;
    int64_t leeway = 60;
  };
  auto o = std::make_shared<Opts>();
  auto* s = c.prog.verb(*tok, "verify", "Verify a JWT and print its claims",
                        "cactl token verify TOKEN|- [--aud AUDIENCE]... [--iss ISSUER] "
                        "[--jwks FILE] [--key FILE] [--leeway SECONDS]");
  s->add_option("token", o->token, "The token, or - to read it from stdin")->required();
  s->add_option("--aud", o->aud, "Require one of these audiences (repeat)")->type_name("AUDIENCE");
  s->add_option("--iss", o->iss, "Require this issuer")->type_name("ISSUER");
  s->add_option("--jwks", o->jwks, "Verify with the keys of a JWKS/JWK file, not the CA's")
      ->type_name("FILE");
  s->add_option("--key", o->key, "Verify with a PEM public key file, not the CA's")
      ->type_name("FILE");
  s->add_option("--leeway", o->leeway, "Clock skew allowed, seconds (default 60)")
      ->type_name("SECONDS");
  c.prog.on(s, [&c, o]() -> int {
    auto tok = token_arg(o->token);
    if (!tok) return cli::fail(tok.error());
    std::vector<jwt::VerifyKey> keys;
    std::optional<Opened> ca;
    if (!o->jwks.empty()) {
      auto text = core::read_file(o->jwks);
      if (!text) return cli::fail(text.error());
      auto k = jwt::parse_jwks(*text);
      if (!k) return cli::fail(k.error().context(o->jwks));
      keys = std::move(*k);
    } else if (!o->key.empty()) {
      auto text = core::read_file(o->key);
      if (!text) return cli::fail(text.error());
      auto k = pki::parse_public_key(*text);
      if (!k) return cli::fail(k.error().context(o->key));
      auto alg = jwt::alg_for(*k);
      if (!alg) return cli::fail(alg.error().context(o->key));
      keys.push_back({*k, *alg, ""});
    }
    // The store's revocation list applies whenever a CA is present.
    if (keys.empty() || pki::Authority::exists(c.prog.warren_dir())) {
      auto opened = open_ca(c, false);
      if (!opened) return cli::fail(opened.error());
      if (keys.empty()) keys = opened->ca->verify_keys();
      ca = std::move(*opened);
    }
    jwt::VerifyOptions vo;
    vo.now = now();
    vo.audiences = o->aud;
    vo.issuer = o->iss;
    vo.leeway = o->leeway;
    auto p = jwt::verify(*tok, keys, vo);
    if (!p) return cli::fail(p.error().context("token"));
    if (ca) {
      auto it = p->claims.find("jti");
      if (it != p->claims.end() && it->value().is_string()) {
        auto rec = ca->ca->find_token(std::string(it->value().as_string()));
        if (!rec) return cli::fail(rec.error());
        if (*rec && (*rec)->revoked_at)
          return cli::fail(
              {Errc::failure, "token: revoked at " + core::rfc3339((*rec)->revoked_at)});
      }
    }
    std::fputs(json_line(p->claims).c_str(), stdout);
    return 0;
  });
}

void register_token_revoke(Ctx& c, CLI::App* tok) {
  struct Opts {
    std::string what, reason = "revoked";
  };
  auto o = std::make_shared<Opts>();
  auto* s = c.prog.verb(*tok, "revoke", "Put a token's jti on the revocation list",
                        "cactl token revoke JTI|TOKEN|- [--reason TEXT]");
  s->add_option("what", o->what, "The jti, the whole token, or - for stdin")->required();
  s->add_option("--reason", o->reason, "Why (recorded in the audit log)")->type_name("TEXT");
  c.prog.on(s, [&c, o]() -> int {
    auto w = token_arg(o->what);
    if (!w) return cli::fail(w.error());
    std::string jti = *w;
    if (jti.find('.') != std::string::npos) {
      auto p = jwt::parse(jti);
      if (!p) return cli::fail(p.error());
      auto it = p->claims.find("jti");
      if (it == p->claims.end() || !it->value().is_string())
        return cli::fail({Errc::data, "token has no jti claim"});
      jti = std::string(it->value().as_string());
    }
    if (jti.empty() || jti.size() > 256) return cli::fail({Errc::usage, "bad jti"});
    auto ca = open_ca(c, false);
    if (!ca) return cli::fail(ca.error());
    auto r = ca->ca->revoke_token(jti, o->reason, now());
    if (!r) return cli::fail(r.error().context("token revoke"));
    if (c.prog.common().json)
      std::fputs(json_line({{"jti", jti}, {"revoked_at", core::rfc3339(r->revoked_at)}}).c_str(),
                 stdout);
    else
      std::printf("%s\trevoked\n", jti.c_str());
    return 0;
  });
}

void register_token_jwks(Ctx& c, CLI::App* tok) {
  auto* s =
      c.prog.verb(*tok, "jwks", "Print the token verification keys as a JWKS", "cactl token jwks");
  c.prog.on(s, [&c]() -> int {
    auto ca = open_ca(c, false);
    if (!ca) return cli::fail(ca.error());
    json::array keys;
    for (auto& k : ca->ca->verify_keys()) {
      auto j = jwt::to_jwk(k.key, k.kid);
      if (!j) return cli::fail(j.error());
      keys.push_back(std::move(*j));
    }
    std::fputs(json_line({{"keys", std::move(keys)}}).c_str(), stdout);
    return 0;
  });
}

void register_token_key(Ctx& c, CLI::App* tok) {
  struct Opts {
    std::string alg = "EdDSA";
    bool priv = false;
  };
  auto o = std::make_shared<Opts>();
  auto* s = c.prog.verb(*tok, "key", "Print a token key as PEM (public, or private on request)",
                        "cactl token key [--alg EdDSA|ES256] [--private]");
  s->add_option("--alg", o->alg, "EdDSA (default) or ES256")->type_name("ALG");
  s->add_flag("--private", o->priv, "Print the private key (unencrypted PKCS#8) instead");
  c.prog.on(s, [&c, o]() -> int {
    auto alg = jwt::parse_alg(o->alg);
    if (!alg) return cli::fail(alg.error());
    auto ca = open_ca(c, o->priv);
    if (!ca) return cli::fail(ca.error());
    if (o->priv) {
      auto pem = ca->ca->token_private_pem(*alg, std::nullopt);
      if (!pem) return cli::fail(pem.error());
      std::fputs(pem->c_str(), stdout);
      return 0;
    }
    for (auto& k : ca->ca->verify_keys())
      if (k.alg == *alg) std::fputs(pki::public_key_pem(k.key).c_str(), stdout);
    return 0;
  });
}

}  // namespace

void register_token(Ctx& c) {
  auto* tok = c.prog.verb(c.prog.app(), "token", "Issue, verify and revoke JWTs",
                          "cactl token issue|verify|revoke|jwks|key [ARGS]");
  tok->require_subcommand(1);
  register_token_issue(c, tok);
  register_token_verify(c, tok);
  register_token_revoke(c, tok);
  register_token_jwks(c, tok);
  register_token_key(c, tok);
}

}  // namespace cactl
