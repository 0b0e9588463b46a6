-- 0090: Strict-Transport-Security on a resource's proxied HTTPS answers: max-age in seconds
-- (0: none). On by default for a year, as on the portal's pages; an origin's own header wins.
ALTER TABLE resources ADD COLUMN hsts INTEGER NOT NULL DEFAULT 31536000
  CHECK (hsts BETWEEN 0 AND 63072000);
