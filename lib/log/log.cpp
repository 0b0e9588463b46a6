#include "log/log.h"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/sinks/stdout_sinks.h>

#include <spdlog/pattern_formatter.h>

#include <mutex>

namespace wlog {  // not "log": that would clash with ::log from <cmath>

namespace {
std::mutex g_mu;
spdlog::sink_ptr g_sink;
spdlog::level::level_enum g_level = spdlog::level::warn;

spdlog::sink_ptr sink() {
  if (!g_sink) g_sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  return g_sink;
}
}  // namespace

void init(int level, bool color) {
  std::lock_guard lk(g_mu);
  if (color)
    g_sink = std::make_shared<spdlog::sinks::stderr_color_sink_mt>(spdlog::color_mode::always);
  else
    g_sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  g_sink->set_formatter(std::make_unique<spdlog::pattern_formatter>(
      "%Y-%m-%dT%H:%M:%S.%eZ %^%l%$ %n: %v", spdlog::pattern_time_type::utc));
  switch (level) {
    case 0:
      g_level = spdlog::level::info;
      break;
    case 1:
      g_level = spdlog::level::debug;
      break;
    case -1:
      g_level = spdlog::level::warn;
      break;
    case -2:
      g_level = spdlog::level::err;
      break;
    default:
      g_level = level > 1 ? spdlog::level::trace : spdlog::level::off;
      break;
  }
  spdlog::apply_all([&](std::shared_ptr<spdlog::logger> l) {
    l->sinks().assign(1, g_sink);
    l->set_level(g_level);
  });
}

std::shared_ptr<spdlog::logger> get(const std::string& name) {
  std::lock_guard lk(g_mu);
  if (auto l = spdlog::get(name)) return l;
  auto l = std::make_shared<spdlog::logger>(name, sink());
  l->set_level(g_level);
  spdlog::register_logger(l);
  return l;
}

}  // namespace wlog
