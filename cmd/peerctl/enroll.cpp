// peerctl site enroll URL [TOKEN_FILE]: the site side of enrollment — make a key pair here,
// trade the one-time token for the site's tunneld.toml at the edge (lib/enroll), write it.
#include <unistd.h>
#include <boost/json.hpp>

#include "core/fs.h"
#include "core/text.h"
#include "enroll/enroll.h"
#include "peerctl.h"
#include "tunnel/config.h"
#include "tunnel/render.h"

namespace peerctl {

namespace {

std::string absolute_path(const std::string& p) {
  if (!p.empty() && p.front() == '/') return p;
  char buf[4096];
  if (!::getcwd(buf, sizeof buf)) return p;
  return std::string(buf) + "/" + p;
}

}  // namespace

std::string enroll_hint(const std::string& edge_endpoint, const std::string& https_port,
                        const std::string& token, int64_t expires_at) {
  std::string host = edge_endpoint;
  if (auto colon = host.rfind(':'); colon != std::string::npos) host.resize(colon);
  return "# Or let the site make its own key instead: before " + core::rfc3339(expires_at) +
         ", on the site run\n#   peerctl site enroll https://" + host + https_port +
         " --out tunneld.toml\n# and give it this one-time enrollment token: " + token + "\n";
}

void register_site_enroll(Ctx& c, CLI::App& noun) {
  struct Opts {
    std::string url;
    std::string token_file;
    std::string out = "-";
    std::string key_out;
    std::string cacert;
    unsigned lanes = 2;
    std::vector<std::string> allow;
  };
  auto o = std::make_shared<Opts>();
  auto* s = c.prog.verb(noun, "enroll",
                        "On a site: trade a one-time enrollment token for this site's config",
                        "peerctl site enroll URL [TOKEN_FILE] [--out FILE] [--key-out FILE] "
                        "[--cacert FILE] [--lanes N] [--allow RULE]... [--json]");
  s->add_option("url", o->url, "The edge, https://HOST[:PORT] (edged)")->required();
  s->add_option("token_file", o->token_file,
                "File holding the token, - for stdin (default: prompt on the terminal, else "
                "stdin)")
      ->type_name("TOKEN_FILE");
  s->add_option("--out,-o", o->out, "Write tunneld.toml to FILE (0600) instead of stdout")
      ->type_name("FILE");
  s->add_option("--key-out", o->key_out,
                "Write the private key to FILE (0600, new) and point the config at it")
      ->type_name("FILE");
  s->add_option("--cacert", o->cacert, "Trust this CA bundle for the edge's certificate")
      ->type_name("FILE");
  s->add_option("--lanes", o->lanes, "TCP connections the site keeps to the edge (default 2)")
      ->type_name("N")
      ->check(CLI::Range(1, 64));
  s->add_option("--allow", o->allow,
                "Targets the site lets the edge reach: host, CIDR, with :ports (repeatable)")
      ->type_name("RULE");
  c.prog.on(s, [&c, o]() -> int {
    for (const auto& a : o->allow)
      if (auto r = tunnel::AllowList::parse_rule(a); !r)
        return cli::fail(std::move(r.error()).context("--allow"));
    if (!o->key_out.empty() && core::file_exists(o->key_out))
      return cli::fail({core::Errc::failure, "--key-out: " + o->key_out + " already exists"});
    core::Result<std::string> token = core::err(core::Errc::usage, "");
    if (!o->token_file.empty())
      token = cli::read_secret(o->token_file);
    else if (::isatty(0))
      token = cli::prompt_secret("Enrollment token: ", false);
    else
      token = cli::read_secret("-");
    if (!token) return cli::fail(token.error());
    if (token->empty()) return cli::fail({core::Errc::data, "empty enrollment token"});

    crypto::KeyPair kp = crypto::generate_keypair();
    std::string pub = crypto::key_to_base64(kp.pub);
    boost::json::object req{{"token", *token}, {"public_key", pub}};
    auto reply = enroll::post(o->url, boost::json::serialize(req), o->cacert);
    crypto::wipe(token->data(), token->size());
    if (!reply) {
      crypto::wipe(kp.priv.data(), kp.priv.size());
      return cli::fail(std::move(reply.error()).context("enroll"));
    }
    boost::system::error_code ec;
    auto v = boost::json::parse(*reply, ec);
    const boost::json::value* cfg = nullptr;
    if (!ec && v.is_object()) cfg = v.as_object().if_contains("config");
    if (!cfg || !cfg->is_string()) {
      crypto::wipe(kp.priv.data(), kp.priv.size());
      return cli::fail({core::Errc::data, "enroll: the edge's reply has no config"});
    }
    std::string toml(cfg->as_string());
    std::string priv = crypto::key_to_base64(kp.priv);
    crypto::wipe(kp.priv.data(), kp.priv.size());
    tunnel::SiteFile f;
    f.lanes = o->lanes;
    f.allow = o->allow;
    if (!o->key_out.empty()) {
      auto w = core::write_file_excl(o->key_out, priv + "\n", 0600);
      if (!w) return cli::fail(std::move(w.error()).context("--key-out"));
      f.private_key_file = absolute_path(o->key_out);
    } else {
      f.private_key = priv;
    }
    crypto::wipe(priv.data(), priv.size());
    toml += tunnel::render_site_local(f);
    crypto::wipe(f.private_key.data(), f.private_key.size());
    core::Result<void> w;
    if (o->out == "-") {
      if (c.prog.common().json) {
        auto& ro = v.as_object();
        boost::json::object j{{"site", ro["site"]},
                              {"public_key", pub},
                              {"edge", ro["edge"]},
                              {"edge_public_key", ro["edge_public_key"]},
                              {"config", toml}};
        w = core::write_stdout(json_line(j));
      } else {
        w = core::write_stdout(toml);
      }
    } else {
      w = core::write_file_atomic(o->out, toml, 0600);
      if (w && c.prog.common().json)
        w = core::write_stdout(json_line(
            {{"site", v.as_object()["site"]}, {"public_key", pub}, {"config_file", o->out}}));
    }
    crypto::wipe(toml.data(), toml.size());
    return w ? 0 : cli::fail(w.error());
  });
}

}  // namespace peerctl
