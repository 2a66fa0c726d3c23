-- Reviewing candidates, fixes (issue 11): the queue's name sort as the catalog's, reasons for rejects,
-- re-run duplicates of decided items, and what an `update` accept applied (so a reopen can undo it).

-- The review queue's name sort (GET /candidates?sort=name) reads as /products?sort=name does: the same
-- search_sort_key() (migrations/0014: case and accents folded, ñ between n and o, compared bytewise).
ALTER TABLE product_candidates
    ADD COLUMN name_sort_key text COLLATE "C" GENERATED ALWAYS AS (search_sort_key(name)) STORED;
CREATE INDEX product_candidates_name_sort_idx ON product_candidates (status, name_sort_key, id);

-- A reject's (or skip's) optional reason, as the reviewer wrote it.
ALTER TABLE product_candidates ADD COLUMN decision_reason text
    CHECK (char_length(decision_reason) BETWEEN 1 AND 200);

-- A re-run's candidate that is an item already decided in an earlier run of the same media (same page,
-- normalised name, price and SKU) is stored 'superseded', naming that earlier candidate.
ALTER TABLE product_candidates
    ADD COLUMN duplicate_of uuid REFERENCES product_candidates (id) ON DELETE SET NULL;
CREATE INDEX product_candidates_decided_idx ON product_candidates (media_id, page_number)
    WHERE status IN ('accepted', 'rejected');

-- An `update` accept's changes: {"version": the product's version it made, "before": {field: old},
-- "after": {field: new}}; a reopen restores "before" while the product is still at that version.
ALTER TABLE product_candidates ADD COLUMN applied_changes jsonb;

-- Accepts no longer make the source document a product image (images are product photos: media of
-- purpose product_image); the link to the source is attributes.source. Earlier accepts' links go.
DELETE FROM product_media pm
USING products p, product_candidates c, media m
WHERE pm.product_id = p.id AND c.id = p.source_candidate_id AND pm.media_id = c.media_id
  AND m.id = pm.media_id AND m.purpose <> 'product_image';
