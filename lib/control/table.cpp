// control::Table: see table.h.
#include "control/table.h"

#include <algorithm>

namespace control {

std::string Table::str() const {
  std::vector<size_t> w;
  for (const auto& r : rows_)
    for (size_t i = 0; i < r.size(); ++i) {
      if (w.size() <= i) w.push_back(0);
      w[i] = std::max(w[i], r[i].size());
    }
  std::string out;
  for (const auto& r : rows_) {
    std::string line;
    for (size_t i = 0; i < r.size(); ++i) {
      line += r[i];
      if (i + 1 < r.size()) line += std::string(w[i] - r[i].size() + 2, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
  }
  return out;
}

std::string kv_line(const std::string& key, const std::string& value) {
  std::string k = key + ":";
  if (k.size() < 16)
    k += std::string(16 - k.size(), ' ');
  else
    k += " ";
  return k + value + "\n";
}

}  // namespace control
