// netbench compare SCENARIO.toml — the same load against several targets, interleaved rounds,
// a side-by-side table with ratios to a baseline.
#include <cstdio>
#include <memory>

#include "bench/compare.h"
#include "bench/report.h"
#include "bench/scenario.h"
#include "bench/signals.h"
#include "core/fs.h"
#include "verbs.h"

namespace {

struct Args {
  std::string scenario;
  int rounds = 0;
  bool quiet_progress = false;
};

core::Result<int> run(cli::Program& p, const Args& a) {
  WARREN_TRY(sc, bench::load_scenario(a.scenario));
  if (a.rounds > 0) sc.rounds = a.rounds;
  const auto& stop = bench::install_stop_signals();
  bool show = !a.quiet_progress && p.common().quiet == 0;
  auto progress = [show](const std::string& line) {
    if (show) std::fprintf(stderr, "%s\n", line.c_str());
  };
  WARREN_TRY(r, bench::run_compare(sc, progress, &stop));
  if (p.common().json)
    WARREN_CHECK(core::write_stdout(bench::json_text(bench::compare_to_json(r)) + "\n"));
  else
    WARREN_CHECK(core::write_stdout(bench::format_compare_text(r)));
  return 0;
}

}  // namespace

void register_compare(cli::Program& p) {
  auto a = std::make_shared<Args>();
  CLI::App* sub =
      p.verb(p.app(), "compare", "Same load against several targets, interleaved, side by side",
             "netbench compare [OPTIONS] SCENARIO.toml");
  sub->add_option("SCENARIO.toml", a->scenario, "Scenario file (- = stdin)")->required();
  sub->add_option("--rounds", a->rounds, "Override the scenario's number of rounds")
      ->type_name("N");
  sub->add_flag("--no-progress", a->quiet_progress, "Do not print a line per run on stderr");
  p.on(sub, [&p, a] {
    auto r = run(p, *a);
    return r ? *r : cli::fail(r.error());
  });
}
