-- Optimistic concurrency for candidates (issue 10), as products, categories and admin users have it:
-- a candidate's version is its ETag; a correction (PATCH) names the version it replaces (If-Match, or
-- "version" in the body) and bumps it, and so does every decision, so of two reviewers who read the
-- same candidate the second one's correction is refused (412/409), not silently lost.
ALTER TABLE product_candidates ADD COLUMN version integer NOT NULL DEFAULT 1 CHECK (version >= 1);
