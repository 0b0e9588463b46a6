-- 0040: access control in front of resources (edged, lib/auth). Users and roles; per-resource
-- auth settings, secrets, share links, API keys and rules; sessions; emailed one-time codes;
-- brute-force lockouts. Every secret is stored as a hash: passwords and PINs as argon2id strings
-- ("$argon2id$v=19$..."), random tokens as BLAKE2b-256 hex. Decisions go to `audit` (0001).
-- Portable SQL (SQLite and PostgreSQL): times in unix seconds, booleans as 0/1 with CHECKs.

CREATE TABLE users (
  id            INTEGER PRIMARY KEY,
  email         TEXT NOT NULL UNIQUE,          -- stored lower-case
  name          TEXT NOT NULL DEFAULT '',
  password_hash TEXT,                          -- argon2id; NULL: no password login
  totp_secret   TEXT,                          -- base32 (RFC 4648); NULL: no TOTP
  totp_last_step INTEGER NOT NULL DEFAULT 0,   -- last accepted time step (no replay)
  enabled       INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
  created_at    INTEGER NOT NULL,
  updated_at    INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE roles (
  name        TEXT PRIMARY KEY,                -- [a-z0-9._-]
  description TEXT NOT NULL DEFAULT '',
  created_at  INTEGER NOT NULL
);

CREATE TABLE user_roles (
  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  role    TEXT NOT NULL REFERENCES roles(name) ON DELETE CASCADE ON UPDATE CASCADE,
  PRIMARY KEY (user_id, role)
);
CREATE INDEX user_roles_role ON user_roles(role);

-- One row per protected resource; a resource without a row (or with public = 1) is public.
CREATE TABLE resource_auth (
  resource_id      INTEGER PRIMARY KEY REFERENCES resources(id) ON DELETE CASCADE,
  public           INTEGER NOT NULL DEFAULT 0 CHECK (public IN (0, 1)),
  m_users          INTEGER NOT NULL DEFAULT 0 CHECK (m_users IN (0, 1)),
  m_password       INTEGER NOT NULL DEFAULT 0 CHECK (m_password IN (0, 1)),
  m_pin            INTEGER NOT NULL DEFAULT 0 CHECK (m_pin IN (0, 1)),
  m_email          INTEGER NOT NULL DEFAULT 0 CHECK (m_email IN (0, 1)),
  m_share_links    INTEGER NOT NULL DEFAULT 0 CHECK (m_share_links IN (0, 1)),
  m_basic          INTEGER NOT NULL DEFAULT 0 CHECK (m_basic IN (0, 1)),
  m_mtls           INTEGER NOT NULL DEFAULT 0 CHECK (m_mtls IN (0, 1)),
  pin_digits       INTEGER NOT NULL DEFAULT 6 CHECK (pin_digits BETWEEN 4 AND 12),
  password_hash    TEXT,                       -- argon2id of the resource password
  pin_hash         TEXT,                       -- argon2id of the PIN
  session_ttl      INTEGER NOT NULL DEFAULT 2592000 CHECK (session_ttl > 0),  -- 30 days
  rate_per_sec     INTEGER NOT NULL DEFAULT 0 CHECK (rate_per_sec >= 0),      -- 0: no limit
  rate_burst       INTEGER NOT NULL DEFAULT 0 CHECK (rate_burst >= 0),
  updated_at       INTEGER NOT NULL DEFAULT 0
);

-- Email one-time-code allow list: "alice@example.com" (an address) or "@example.com" (a domain).
CREATE TABLE resource_email_allow (
  resource_id INTEGER NOT NULL REFERENCES resources(id) ON DELETE CASCADE,
  entry       TEXT NOT NULL,                   -- lower-case
  PRIMARY KEY (resource_id, entry)
);

-- Roles allowed through the users method (none listed: any enabled user).
CREATE TABLE resource_roles (
  resource_id INTEGER NOT NULL REFERENCES resources(id) ON DELETE CASCADE,
  role        TEXT NOT NULL REFERENCES roles(name) ON DELETE CASCADE ON UPDATE CASCADE,
  PRIMARY KEY (resource_id, role)
);

-- Single users granted a resource directly (in addition to resource_roles).
CREATE TABLE resource_users (
  resource_id INTEGER NOT NULL REFERENCES resources(id) ON DELETE CASCADE,
  user_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  PRIMARY KEY (resource_id, user_id)
);

-- Share links: "<id>.<secret>" in the query (warren_token) or the header pair
-- Warren-Token-Id / Warren-Token. Only the BLAKE2b hash of the secret is kept.
CREATE TABLE share_links (
  id          TEXT PRIMARY KEY,                -- public part, base64url
  resource_id INTEGER NOT NULL REFERENCES resources(id) ON DELETE CASCADE,
  token_hash  TEXT NOT NULL,
  title       TEXT NOT NULL DEFAULT '',
  path_prefix TEXT NOT NULL DEFAULT '',        -- '' anywhere, else only below this path
  created_at  INTEGER NOT NULL,
  expires_at  INTEGER,                         -- NULL: never
  session_ttl INTEGER,                         -- NULL: the resource's; sessions do not slide
  revoked     INTEGER NOT NULL DEFAULT 0 CHECK (revoked IN (0, 1))
);
CREATE INDEX share_links_resource ON share_links(resource_id);

-- API keys for machines (HTTP Basic: user = id, password = secret).
CREATE TABLE api_keys (
  id          TEXT PRIMARY KEY,
  key_hash    TEXT NOT NULL,                   -- BLAKE2b-256 hex of the secret
  user_id     INTEGER REFERENCES users(id) ON DELETE CASCADE,  -- NULL: not tied to a user
  resource_id INTEGER REFERENCES resources(id) ON DELETE CASCADE,  -- NULL: any resource
  scopes      TEXT NOT NULL DEFAULT '',        -- space-separated
  created_at  INTEGER NOT NULL,
  expires_at  INTEGER,
  last_used   INTEGER,
  revoked     INTEGER NOT NULL DEFAULT 0 CHECK (revoked IN (0, 1))
);
CREATE INDEX api_keys_user ON api_keys(user_id);

-- Rules, evaluated before authentication in ascending priority (then id); first match wins.
-- Empty match fields match anything; every non-empty field must match.
CREATE TABLE rules (
  id          INTEGER PRIMARY KEY,
  resource_id INTEGER NOT NULL REFERENCES resources(id) ON DELETE CASCADE,
  priority    INTEGER NOT NULL DEFAULT 100,
  action      TEXT NOT NULL CHECK (action IN ('ACCEPT', 'DROP', 'PASS')),
  ips         TEXT NOT NULL DEFAULT '',        -- space-separated IPs or CIDRs, v4 or v6
  path_glob   TEXT NOT NULL DEFAULT '',        -- '*' within a segment, '**' across segments
  methods     TEXT NOT NULL DEFAULT '',        -- space-separated, upper-case
  countries   TEXT NOT NULL DEFAULT '',        -- space-separated ISO 3166-1 alpha-2
  enabled     INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
  created_at  INTEGER NOT NULL
);
CREATE INDEX rules_resource ON rules(resource_id, priority);

-- Sessions: the cookie carries the token, the store only its BLAKE2b hash. Bound to one
-- resource (host-only cookie); user_id set when a Warren user logged in.
CREATE TABLE sessions (
  token_hash    TEXT PRIMARY KEY,
  resource_id   INTEGER NOT NULL REFERENCES resources(id) ON DELETE CASCADE,
  user_id       INTEGER REFERENCES users(id) ON DELETE CASCADE,
  method        TEXT NOT NULL,                 -- users | password | pin | email | share_link | ...
  subject       TEXT NOT NULL DEFAULT '',      -- email address, share link id, ...
  share_link_id TEXT REFERENCES share_links(id) ON DELETE CASCADE,
  path_prefix   TEXT NOT NULL DEFAULT '',      -- from a path-restricted share link
  created_at    INTEGER NOT NULL,
  last_seen     INTEGER NOT NULL,
  expires_at    INTEGER NOT NULL,
  ttl           INTEGER NOT NULL,              -- seconds added when the session slides
  sliding       INTEGER NOT NULL DEFAULT 1 CHECK (sliding IN (0, 1)),
  revoked       INTEGER NOT NULL DEFAULT 0 CHECK (revoked IN (0, 1))
);
CREATE INDEX sessions_resource ON sessions(resource_id);
CREATE INDEX sessions_user ON sessions(user_id);
CREATE INDEX sessions_expires ON sessions(expires_at);

-- Emailed one-time codes (8 characters, 15 minutes, a few attempts).
CREATE TABLE email_codes (
  id          INTEGER PRIMARY KEY,
  resource_id INTEGER NOT NULL REFERENCES resources(id) ON DELETE CASCADE,
  address     TEXT NOT NULL,                   -- lower-case
  code_hash   TEXT NOT NULL,                   -- BLAKE2b-256 hex of address ":" code
  created_at  INTEGER NOT NULL,
  expires_at  INTEGER NOT NULL,
  attempts    INTEGER NOT NULL DEFAULT 0,
  used        INTEGER NOT NULL DEFAULT 0 CHECK (used IN (0, 1))
);
CREATE INDEX email_codes_lookup ON email_codes(resource_id, address);

-- Failed credential checks per (client, resource): exponential backoff, then lockout. Kept
-- in the store so that several edge nodes (and restarts) share them.
CREATE TABLE auth_failures (
  client       TEXT NOT NULL,                  -- IP, or the /64 of an IPv6 address
  resource_id  INTEGER NOT NULL REFERENCES resources(id) ON DELETE CASCADE,
  failures     INTEGER NOT NULL DEFAULT 0,
  last_failure INTEGER NOT NULL,
  locked_until INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (client, resource_id)
);
