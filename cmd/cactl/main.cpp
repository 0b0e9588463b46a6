// cactl — Warren's certificate authority: a table of verbs, one file each.
#include "cactl.h"

int main(int argc, char** argv) {
  cli::Program p("cactl", "Warren certificate authority: X.509 certificates, CRLs and JWTs",
                 "cactl [--dir DIR] [--passphrase-file FILE] [--json] [-q] [-v] COMMAND [ARGS]");
  cactl::Ctx c{p, {}};
  p.app()
      .add_option("--passphrase-file", c.passphrase_file,
                  "Read the CA passphrase from FILE (- for stdin); default $CACTL_PASSPHRASE_FILE")
      ->type_name("FILE");
  p.app().require_subcommand(1);
  cactl::register_init(c);
  cactl::register_issue(c);
  cactl::register_sign(c);
  cactl::register_renew(c);
  cactl::register_list(c);
  cactl::register_show(c);
  cactl::register_revoke(c);
  cactl::register_crl(c);
  cactl::register_verify(c);
  cactl::register_export(c);
  cactl::register_token(c);
  return p.run(argc, argv);
}
