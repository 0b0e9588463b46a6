// peerctl — the Warren control plane from the terminal: `peerctl NOUN VERB [ARGS]`, one noun
// per file, all registered from the table below.
#include "peerctl.h"

namespace {

const peerctl::Noun kNouns[] = {
    {"site", "Sites: the tunnel endpoints behind NAT, their keys and configs",
     peerctl::register_site},
    {"resource", "Resources: what edged serves (HTTP) and forwards (TCP/UDP), and who may reach it",
     peerctl::register_resource},
    {"target", "Targets: where a resource's requests go, directly or through a site",
     peerctl::register_target},
    {"user", "Users: Warren accounts for the login portal and Basic auth", peerctl::register_user},
    {"role", "Roles: named groups of users", peerctl::register_role},
    {"grant", "Grants: users or roles allowed on a resource", peerctl::register_grant},
    {"link", "Share links: URLs that let their holder in", peerctl::register_link},
    {"apikey", "API keys: HTTP Basic credentials for machines", peerctl::register_apikey},
    {"rule", "Rules: ACCEPT, DROP or PASS by IP, path, method, country", peerctl::register_rule},
    {"session", "Sessions: who is logged in where; revoke them", peerctl::register_session},
    {"audit", "The audit log: query with filters or follow", peerctl::register_audit},
};

}  // namespace

int main(int argc, char** argv) {
  cli::Program p("peerctl", "Warren control plane: sites, keys and what the daemons serve",
                 "peerctl [--dir DIR] [--json] [-q] [-v] NOUN VERB [ARGS]");
  peerctl::Ctx c{p};
  p.app().require_subcommand(1);
  for (const auto& n : kNouns) {
    CLI::App* noun =
        p.verb(p.app(), n.name, n.description, std::string("peerctl ") + n.name + " VERB [ARGS]");
    noun->require_subcommand(1);
    n.add(c, *noun);
  }
  for (auto* reg : {peerctl::register_status, peerctl::register_dump, peerctl::register_apply,
                    peerctl::register_export, peerctl::register_complete})
    reg(c, p.app());
  return p.run(argc, argv);
}
