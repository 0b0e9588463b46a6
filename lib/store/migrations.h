// The numbered schema migrations compiled into every binary (from lib/store/migrations/*.sql).
#pragma once

#include <vector>

namespace store {

struct Migration {
  int version;
  const char* name;
  const char* sql;
};

const std::vector<Migration>& migrations();

}  // namespace store
