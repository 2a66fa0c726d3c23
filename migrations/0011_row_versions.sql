-- Optimistic concurrency for categories and admin users (issue 10), as products have it: each row's
-- version is its ETag; a change names the version it replaces (If-Match, or "version" in the body) and
-- bumps it, so of two admins who read the same row the second one's change is refused, not lost.
ALTER TABLE categories ADD COLUMN version integer NOT NULL DEFAULT 1 CHECK (version >= 1);
ALTER TABLE admin_users ADD COLUMN version integer NOT NULL DEFAULT 1 CHECK (version >= 1);
