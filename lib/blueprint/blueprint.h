// blueprint — the TOML form of the installation model (`peerctl apply` / `peerctl export`): a
// blueprint of sites, raw forwards, resources with their targets, auth and rules, roles and
// users, parsed into a model::Installation and rendered from one. The store side (read, diff,
// apply) is lib/model's. Pure functions.
#pragma once

#include <string>
#include <string_view>

#include "core/result.h"
#include "model/model.h"

namespace blueprint {

// Parses blueprint text. `name` appears in messages ("app.toml:12:5: resources.app.host: …");
// `base_dir` resolves relative *_file paths. Every problem is Errc::data.
core::Result<model::Installation> parse(std::string_view toml, const std::string& name,
                                        const std::string& base_dir);
// Renders a model as blueprint text (deterministic; parse(render(m)) == m for store models).
// Secrets (argon2id hashes) only with `secrets`; without, they stay unmanaged on re-apply.
std::string render(const model::Installation& m, bool secrets = false);

}  // namespace blueprint
