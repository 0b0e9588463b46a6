// control audit — reading the append-only audit log (migration 0001) with filters, for
// `peerctl audit` and its --follow mode (poll for rows after the last id seen). Read-only.
#pragma once

#include <boost/json/object.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "core/result.h"
#include "store/store.h"

namespace control {

struct AuditRow {
  int64_t id = 0;
  int64_t ts = 0;
  std::string actor, action, object, detail;  // detail: JSON text
};

struct AuditFilter {
  int64_t since = 0;  // ts >= since (0: any)
  int64_t until = 0;  // ts < until (0: any)
  std::string actor;  // exact, or a prefix ending in '*' ("peerctl:*")
  std::string action;
  std::string object;
  int64_t after_id = 0;  // id > after_id
  int64_t limit = 0;     // the newest `limit` rows (0: all)
};

// Matching rows in ascending id order.
core::Result<std::vector<AuditRow>> query_audit(store::Db& db, const AuditFilter& f);
boost::json::object to_json(const AuditRow& r);

}  // namespace control
