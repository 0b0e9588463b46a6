-- 0050: what peerctl manages beyond 0020/0030: whether a resource is served over HTTPS (share
-- links and redirects use https://), extra request headers for its targets, a target's weight
-- for load balancing, and a name for each raw TCP/UDP forward (so `peerctl resource` can name
-- it like an HTTP resource). Added columns only; earlier readers ignore them.
ALTER TABLE resources ADD COLUMN tls INTEGER NOT NULL DEFAULT 0 CHECK (tls IN (0, 1));
ALTER TABLE resources ADD COLUMN headers TEXT NOT NULL DEFAULT '';  -- "Name: value" lines
ALTER TABLE targets ADD COLUMN weight INTEGER NOT NULL DEFAULT 1 CHECK (weight BETWEEN 0 AND 1000);
ALTER TABLE forwards ADD COLUMN name TEXT;                           -- NULL: shown as "tcp:PORT"
CREATE UNIQUE INDEX forwards_name ON forwards(name);
