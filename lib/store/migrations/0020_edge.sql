-- 0020: edge routing (edged). A resource is a host and path prefix that edged serves; its
-- targets are where requests go: directly (site IS NULL) or through tunneld to a site.
-- edged reads these (PRAGMA data_version tells it when to reload); peerctl writes them.
CREATE TABLE resources (
  id                 INTEGER PRIMARY KEY,
  name               TEXT NOT NULL UNIQUE,
  host               TEXT NOT NULL,               -- "app.example.com", "*.example.com" or "*"
  path_prefix        TEXT NOT NULL DEFAULT '/',
  enabled            INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
  lb                 TEXT NOT NULL DEFAULT 'round_robin'
                       CHECK (lb IN ('round_robin', 'least_conn')),
  sticky             INTEGER NOT NULL DEFAULT 0 CHECK (sticky IN (0, 1)),
  redirect_https     INTEGER NOT NULL DEFAULT 0 CHECK (redirect_https IN (0, 1)),
  mtls               TEXT NOT NULL DEFAULT 'off' CHECK (mtls IN ('off', 'optional', 'required')),
  client_ca          TEXT NOT NULL DEFAULT '',    -- PEM bundle path for client certificates
  client_crl         TEXT NOT NULL DEFAULT '',    -- PEM CRL path
  host_header        TEXT NOT NULL DEFAULT '',    -- '' keep, '@target' target address, else literal
  health_path        TEXT NOT NULL DEFAULT '',    -- '' TCP connect check, else HTTP GET path
  health_interval_ms INTEGER NOT NULL DEFAULT 0,  -- 0: no active health check
  health_timeout_ms  INTEGER NOT NULL DEFAULT 2000,
  health_rise        INTEGER NOT NULL DEFAULT 2,
  health_fall        INTEGER NOT NULL DEFAULT 3,
  created_at         INTEGER NOT NULL DEFAULT 0,  -- unix seconds
  updated_at         INTEGER NOT NULL DEFAULT 0,
  UNIQUE (host, path_prefix)
);

CREATE TABLE targets (
  id          INTEGER PRIMARY KEY,
  resource_id INTEGER NOT NULL REFERENCES resources(id) ON DELETE CASCADE,
  scheme      TEXT NOT NULL DEFAULT 'http' CHECK (scheme IN ('http', 'https')),
  site        TEXT,                               -- NULL: direct; else reached through tunneld
  host        TEXT NOT NULL,
  port        INTEGER NOT NULL CHECK (port BETWEEN 1 AND 65535),
  tls_verify  INTEGER NOT NULL DEFAULT 1 CHECK (tls_verify IN (0, 1)),
  tls_sni     TEXT NOT NULL DEFAULT '',
  enabled     INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
  created_at  INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX targets_resource ON targets(resource_id);
