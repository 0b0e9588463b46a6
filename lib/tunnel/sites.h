// tunnel sites in the store (migration 0030): the sites the edge accepts, their public keys, the
// raw TCP/UDP forwards, and the edge's own key. Read by tunneld (edge), written by peerctl.
// Plain functions over an open store::Db; one thread at a time, as for the Db itself.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "crypto/crypto.h"
#include "store/store.h"
#include "tunnel/access.h"

namespace tunnel {

struct SiteRecord {
  std::string name;
  crypto::Key public_key{};
  bool enabled = true;
  int64_t created_at = 0;
  std::optional<int64_t> key_rotated_at;
};

struct ForwardRecord {
  std::string protocol;  // "tcp" or "udp"
  uint16_t listen_port = 0;
  std::string site;
  std::string target;  // host:port at the site
  bool enabled = true;
  std::string name;          // peerctl's name ("" when none)
  ForwardAccess access;      // migration 0070
  std::string access_error;  // a bad access column: the forward is not served (fail closed)
};

// A site name: 1..64 of [A-Za-z0-9._-] (the site id of warren-tunnel(7)); Errc::data otherwise.
core::Result<void> check_site_name(std::string_view name);

core::Result<std::vector<SiteRecord>> list_sites(store::Db& db);
// Errc::noinput "no site NAME" when absent.
core::Result<SiteRecord> find_site(store::Db& db, std::string_view name);
// Errc::data "site NAME already exists" on a duplicate name (or key).
core::Result<void> add_site(store::Db& db, const SiteRecord& s, std::string_view actor);
core::Result<void> remove_site(store::Db& db, std::string_view name, std::string_view actor);
core::Result<void> set_site_key(store::Db& db, std::string_view name, const crypto::Key& pub,
                                int64_t now, std::string_view actor);

core::Result<std::vector<ForwardRecord>> list_forwards(store::Db& db);
core::Result<void> add_forward(store::Db& db, const ForwardRecord& f, int64_t now,
                               std::string_view actor);

// meta keys the edge publishes for peerctl (its public key and the address sites dial).
inline constexpr std::string_view kMetaEdgeKey = "tunnel.edge_public_key";
inline constexpr std::string_view kMetaEdgeEndpoint = "tunnel.edge_endpoint";
core::Result<std::optional<std::string>> get_meta(store::Db& db, std::string_view key);
core::Result<void> set_meta(store::Db& db, std::string_view key, std::string_view value);

// The edge's static key pair from `path` (base64 private key, one line). With `create`, a
// missing file is created (0600, O_EXCL; a concurrent creator wins and its key is read back).
// A path that is not a regular file (a FIFO, a directory) is refused, never opened for reading.
core::Result<crypto::KeyPair> load_key_file(const std::string& path, bool create);
// A private key from base64 text (one line, surrounding blanks ignored); Errc::data if bad.
core::Result<crypto::Key> parse_private_key(std::string_view text, std::string_view what);

}  // namespace tunnel
