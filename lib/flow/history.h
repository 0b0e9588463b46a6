// flow history — runs recorded in the Warren store (flow_runs) and the persistent scope of
// workflow state (flow_state), keyed by workflow_id. Plain functions over a store::Db the caller
// owns (one thread at a time, as every Db).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "flow/nodes.h"
#include "store/store.h"

namespace flow {

struct RunRecord {
  int64_t id = 0;
  std::string execution_id;
  std::string workflow_id;
  std::string source;
  int64_t started_ms = 0;
  int64_t duration_ms = 0;
  std::string status;  // ok, failed, timeout, invalid
  int exit_code = 0;
  std::string error;
  int64_t node_count = 0;
  int64_t executions = 0;
  std::optional<std::string> final_output;  // JSON
};

core::Result<int64_t> record_run(store::Db& db, const RunRecord& r);
// Newest first; workflow_id "" = every workflow; limit <= 0 = no limit.
core::Result<std::vector<RunRecord>> list_runs(store::Db& db, std::string_view workflow_id,
                                               int64_t limit);
// By numeric id, execution id, or a unique execution id prefix (>= 4 hex digits).
// Errc::noinput when nothing matches, Errc::usage when a prefix is ambiguous.
core::Result<RunRecord> find_run(store::Db& db, std::string_view key);

// Loads the persistent cells of a workflow into `st` (expired cache entries are skipped).
core::Result<void> load_state(store::Db& db, std::string_view workflow_id, State& st,
                              int64_t now_ns);
// Writes them back in one transaction (variables named in st.persistent_variables, the
// persistent counter/accumulator when set, cache entries; deleted keys are removed).
core::Result<void> save_state(store::Db& db, std::string_view workflow_id, const State& st,
                              int64_t now_ns);

}  // namespace flow
