// peerctl — the Warren control plane from the terminal: `peerctl NOUN VERB [ARGS]`, one noun
// per file, all registered from the table below.
#include "peerctl.h"

namespace {

const peerctl::Noun kNouns[] = {
    {"site", "Sites: the tunnel endpoints behind NAT, their keys and configs",
     peerctl::register_site},
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
  return p.run(argc, argv);
}
