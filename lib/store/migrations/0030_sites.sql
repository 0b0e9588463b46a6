-- 0030: tunnel sites (tunneld's edge authenticates them by public key; peerctl site manages them)
-- and raw TCP/UDP forwards (a public port on the edge relayed to a target at a site).
-- Portable SQL (SQLite and PostgreSQL): natural keys, no AUTOINCREMENT, times in unix seconds.
CREATE TABLE sites (
  name              TEXT PRIMARY KEY,        -- [A-Za-z0-9._-], 1..64 characters
  public_key        TEXT NOT NULL UNIQUE,    -- X25519, 44-character base64 (the wg form)
  enabled           INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
  created_at        INTEGER NOT NULL,
  key_rotated_at    INTEGER,                 -- last rotate-key, NULL if never
  enroll_token_hash TEXT,                    -- BLAKE2b-256 hex of a one-time enrollment token
  enroll_expires_at INTEGER,
  enrolled_at       INTEGER
);

CREATE TABLE forwards (
  protocol    TEXT NOT NULL CHECK (protocol IN ('tcp', 'udp')),
  listen_port INTEGER NOT NULL CHECK (listen_port BETWEEN 1 AND 65535),
  site        TEXT NOT NULL REFERENCES sites(name) ON DELETE CASCADE ON UPDATE CASCADE,
  target      TEXT NOT NULL,                 -- host:port as the site reaches it
  enabled     INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
  created_at  INTEGER NOT NULL,
  PRIMARY KEY (protocol, listen_port)
);
CREATE INDEX forwards_site ON forwards(site);
