// Fuzz target: every parser cactl applies to untrusted PEM/DER input (certificates, chains,
// CSRs, keys). Must never crash or leak, whatever the bytes.
#include <cstdint>
#include <string_view>

#include "pki/pki.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  if (auto c = pki::parse_cert(in)) (void)pki::inspect(*c);
  (void)pki::parse_certs(in);
  if (auto r = pki::parse_csr(in)) (void)pki::csr_info(*r);
  (void)pki::parse_private_key(in, std::nullopt);
  (void)pki::parse_private_key(in, std::string("x"));
  (void)pki::parse_public_key(in);
  (void)pki::parse_san(in);
  return 0;
}
