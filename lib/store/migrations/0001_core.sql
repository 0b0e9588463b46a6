-- 0001: installation metadata and the append-only audit log.
CREATE TABLE meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
);

CREATE TABLE audit (
  id     INTEGER PRIMARY KEY AUTOINCREMENT,
  ts     INTEGER NOT NULL,             -- unix seconds
  actor  TEXT NOT NULL,                -- program and user, e.g. "cactl:root"
  action TEXT NOT NULL,                -- e.g. "cert.issue"
  object TEXT NOT NULL,                -- e.g. the serial
  detail TEXT NOT NULL DEFAULT '{}'    -- JSON
);
CREATE INDEX audit_ts ON audit(ts);

-- Audit rows are never changed or removed.
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
