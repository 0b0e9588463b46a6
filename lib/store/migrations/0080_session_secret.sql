-- 0080: a session opened with the resource password or PIN remembers which one (a tag of the
-- secret's hash, auth::secret_tag): when the password or PIN is changed, the sessions the old
-- one opened no longer count. Sessions from before this migration have no tag and end once.
ALTER TABLE sessions ADD COLUMN secret_tag TEXT NOT NULL DEFAULT '';
