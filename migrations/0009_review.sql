-- Reviewing candidates (issue 11): safe accepts, superseded re-runs, a review queue, page checks.

-- A product name as duplicates are recognised: accent-folded, lower-cased, every run of anything but
-- letters and digits one space, trimmed ("Tornillo  M-8 " and "tornillo m 8" are one name).
CREATE FUNCTION name_key(value text) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN pg_catalog.btrim(pg_catalog.regexp_replace(search_fold(value), '[^a-z0-9]+', ' ', 'g'));

CREATE INDEX products_name_key_idx ON products (name_key(name));
-- SKUs are matched case-insensitively ("tr-4410" is the product "TR-4410").
CREATE INDEX products_sku_lower_idx ON products (lower(sku)) WHERE sku IS NOT NULL;

-- A re-run of a media supersedes the earlier runs' pending candidates (of the pages it read).
ALTER TABLE product_candidates DROP CONSTRAINT product_candidates_status_check;
ALTER TABLE product_candidates ADD CONSTRAINT product_candidates_status_check
    CHECK (status IN ('pending', 'accepted', 'rejected', 'superseded'));
ALTER TABLE product_candidates ADD COLUMN superseded_by uuid REFERENCES ocr_jobs (id) ON DELETE SET NULL;

-- The review queue (GET /candidates): newest first by default, filtered by status, media, confidence.
CREATE INDEX product_candidates_queue_idx ON product_candidates (status, created_at DESC, id DESC);
CREATE INDEX product_candidates_media_idx ON product_candidates (media_id, status);

-- The document's page count, once a worker has opened it: POST /ocr/jobs checks `pages` against it.
ALTER TABLE media ADD COLUMN page_count integer CHECK (page_count > 0);
