-- 0002: the certificate authority's index (cactl) and JWT token revocations.
CREATE TABLE ca (
  name        TEXT PRIMARY KEY,        -- 'root' or 'intermediate'
  serial      TEXT NOT NULL,
  subject     TEXT NOT NULL,
  key_type    TEXT NOT NULL,
  not_before  INTEGER NOT NULL,
  not_after   INTEGER NOT NULL,
  cert_pem    TEXT NOT NULL,
  created_at  INTEGER NOT NULL
);

CREATE TABLE certs (
  serial      TEXT PRIMARY KEY,        -- lower-case hex, never reused
  name        TEXT NOT NULL,
  subject     TEXT NOT NULL,
  sans        TEXT NOT NULL DEFAULT '',-- comma-separated, typed: DNS:x,IP:y,email:z,URI:u
  profile     TEXT NOT NULL,           -- server | client | peer
  key_type    TEXT NOT NULL,
  issuer      TEXT NOT NULL,           -- 'intermediate'
  not_before  INTEGER NOT NULL,
  not_after   INTEGER NOT NULL,
  cert_pem    TEXT NOT NULL,
  status      TEXT NOT NULL DEFAULT 'valid' CHECK (status IN ('valid', 'revoked')),
  revoked_at  INTEGER,
  reason      TEXT,
  renewed_from TEXT,
  created_at  INTEGER NOT NULL
);
CREATE INDEX certs_name ON certs(name);
CREATE INDEX certs_status ON certs(status, not_after);

CREATE TABLE crl_state (
  issuer      TEXT PRIMARY KEY,
  number      INTEGER NOT NULL
);

CREATE TABLE tokens (
  jti         TEXT PRIMARY KEY,
  sub         TEXT NOT NULL,
  aud         TEXT NOT NULL DEFAULT '',
  alg         TEXT NOT NULL,
  issued_at   INTEGER NOT NULL,
  expires_at  INTEGER NOT NULL,
  revoked_at  INTEGER,
  reason      TEXT
);
