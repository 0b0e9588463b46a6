// Fuzz target: the installation model's text forms. The first byte picks the parser:
// model::parse_target (every spelling of a target) or blueprint::parse (a blueprint, which is
// also edged's routes file). Whatever comes in: no crash; an accepted target prints its
// canonical form, which parses back to the same target; an accepted blueprint renders to text
// that parses back to a model the diff finds equal (no changes), and renders to the same text.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "blueprint/blueprint.h"
#include "model/model.h"

namespace {
void check(bool ok) {
  if (!ok) std::abort();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] % 2 == 0) {
    auto t = model::parse_target(in);
    if (!t) {
      check(!t.error().message.empty());
      return 0;
    }
    std::string s = t->str();
    auto again = model::parse_target(s);
    check(again && again->same(*t) && again->str() == s);
    return 0;
  }
  // Secrets named by file would read the filesystem: not what is fuzzed here.
  if (in.find("_file") != std::string_view::npos) return 0;
  auto m = blueprint::parse(in, "fuzz.toml", "/nonexistent");
  if (!m) {
    check(!m.error().message.empty());
    return 0;
  }
  std::string text = blueprint::render(*m, true);
  auto back = blueprint::parse(text, "rendered.toml", "/nonexistent");
  check(back.has_value());
  check(blueprint::render(*back, true) == text);
  auto plan = model::diff(*back, *m);
  if (plan) check(plan->empty());
  return 0;
}
