-- 0010: flowrun — workflow runs (history) and the persistent scope of workflow state.
CREATE TABLE flow_runs (
  id           INTEGER PRIMARY KEY AUTOINCREMENT,
  execution_id TEXT NOT NULL UNIQUE,      -- 16 hex digits
  workflow_id  TEXT NOT NULL DEFAULT '',
  source       TEXT NOT NULL DEFAULT '',  -- the workflow file as given ("-" for stdin)
  started_at   INTEGER NOT NULL,          -- unix milliseconds
  duration_ms  INTEGER NOT NULL,
  status       TEXT NOT NULL,             -- ok, failed, timeout, invalid
  exit_code    INTEGER NOT NULL,
  error        TEXT NOT NULL DEFAULT '',
  node_count   INTEGER NOT NULL DEFAULT 0,
  executions   INTEGER NOT NULL DEFAULT 0,
  final_output TEXT                       -- JSON, NULL when the run failed
);
CREATE INDEX flow_runs_started ON flow_runs(started_at);
CREATE INDEX flow_runs_workflow ON flow_runs(workflow_id, started_at);

-- Values of nodes with scope "persistent", per workflow_id: variables (name), the counter and
-- the accumulator (name ''), cache entries (name = key, with an expiry).
CREATE TABLE flow_state (
  workflow_id TEXT NOT NULL,
  kind        TEXT NOT NULL CHECK (kind IN ('variable', 'counter', 'accumulator', 'cache')),
  name        TEXT NOT NULL,
  value       TEXT NOT NULL,              -- JSON
  expires_at  INTEGER,                    -- unix milliseconds (cache entries)
  updated_at  INTEGER NOT NULL,           -- unix milliseconds
  PRIMARY KEY (workflow_id, kind, name)
);
