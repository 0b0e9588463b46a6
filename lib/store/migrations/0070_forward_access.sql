-- 0070: access control of raw TCP/UDP forwards (tunneld on the edge decides it for every new
-- connection or UDP flow): address and country allow and deny lists, per-source limits, and
-- a TLS wrapper that needs a client certificate from the installation's CA. Added columns
-- only; an empty list or a 0 limit means no rule, so existing forwards stay as they were.
ALTER TABLE forwards ADD COLUMN allow_ips TEXT NOT NULL DEFAULT '';        -- IPs or CIDRs, space-separated
ALTER TABLE forwards ADD COLUMN deny_ips TEXT NOT NULL DEFAULT '';
ALTER TABLE forwards ADD COLUMN allow_countries TEXT NOT NULL DEFAULT '';  -- ISO 3166-1 alpha-2
ALTER TABLE forwards ADD COLUMN deny_countries TEXT NOT NULL DEFAULT '';
ALTER TABLE forwards ADD COLUMN max_conns INTEGER NOT NULL DEFAULT 0       -- per source address
  CHECK (max_conns BETWEEN 0 AND 1000000);
ALTER TABLE forwards ADD COLUMN conn_rate INTEGER NOT NULL DEFAULT 0       -- new connections/s per source
  CHECK (conn_rate BETWEEN 0 AND 1000000);
ALTER TABLE forwards ADD COLUMN conn_burst INTEGER NOT NULL DEFAULT 0      -- 0: conn_rate
  CHECK (conn_burst BETWEEN 0 AND 1000000);
ALTER TABLE forwards ADD COLUMN tls_client_cert INTEGER NOT NULL DEFAULT 0 -- tcp only
  CHECK (tls_client_cert IN (0, 1));
