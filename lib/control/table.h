// control::Table — the plain listing format of peerctl: a header row and aligned columns
// separated by two spaces, the last column unpadded. Plain value type.
#pragma once

#include <string>
#include <vector>

namespace control {

class Table {
 public:
  explicit Table(std::vector<std::string> header) { rows_.push_back(std::move(header)); }
  void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  std::string str() const;

 private:
  std::vector<std::vector<std::string>> rows_;
};

// "key:" padded to a column, then the value: the plain form of `show`.
std::string kv_line(const std::string& key, const std::string& value);

}  // namespace control
