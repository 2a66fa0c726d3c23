-- Catalog: product search (full text, accent-insensitive, fuzzy where pg_trgm exists), the indexes
-- behind keyset pagination and filters, and audit filters.

-- Accent folding without the unaccent extension (absent from the embedded pgserver): a fixed map of
-- the Latin letters Spanish and English catalogs use, lower-cased. IMMUTABLE, so generated columns and
-- expression indexes may use it. PL/pgSQL rather than SQL on purpose: an inlined SQL function loses its
-- COST, and the planner, costing translate() at one operator per row, would then prefer evaluating
-- fuzzy matches on every row (a sequential scan, ~0.5 s at 100k products) over the trigram index.
CREATE FUNCTION search_fold(value text) RETURNS text
    LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE COST 100
AS $$
BEGIN
    RETURN pg_catalog.translate(pg_catalog.lower(value),
                                'áàâäãåéèêëíìîïóòôöõúùûüñçýÿ',
                                'aaaaaaeeeeiiiiooooouuuuncyy');
END
$$;

-- Spanish and English stems of the folded text; name and SKU weigh more than the description.
ALTER TABLE products ADD COLUMN search tsvector GENERATED ALWAYS AS (
    setweight(to_tsvector('spanish', search_fold(name)), 'A') ||
    setweight(to_tsvector('english', search_fold(name)), 'A') ||
    setweight(to_tsvector('simple', search_fold(coalesce(sku, ''))), 'A') ||
    setweight(to_tsvector('spanish', search_fold(description)), 'B') ||
    setweight(to_tsvector('english', search_fold(description)), 'B')
) STORED;
CREATE INDEX products_search_idx ON products USING gin (search);

-- Fuzzy matching where the server ships pg_trgm; elsewhere the search degrades to full text + prefix.
DO $$
BEGIN
    CREATE EXTENSION IF NOT EXISTS pg_trgm;
EXCEPTION
    WHEN undefined_file OR feature_not_supported OR insufficient_privilege THEN
        RAISE NOTICE 'pg_trgm is not available: product search runs without fuzzy matching';
END
$$;

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm') THEN
        CREATE INDEX products_name_trgm_idx ON products USING gin (search_fold(name) gin_trgm_ops);
    END IF;
END
$$;

-- Keyset pagination: one index per sort key, with id as the tiebreak (scanned in either direction).
-- Products without a price sort as -1, before every price.
CREATE INDEX products_name_sort_idx ON products (name, id);
CREATE INDEX products_price_sort_idx ON products ((coalesce(price, -1)), id);
CREATE INDEX products_created_sort_idx ON products (created_at, id);
CREATE INDEX products_updated_sort_idx ON products (updated_at, id);
CREATE INDEX products_source_candidate_idx ON products (source_candidate_id)
    WHERE source_candidate_id IS NOT NULL;

ALTER TABLE products ADD CONSTRAINT products_currency_iso CHECK (currency ~ '^[A-Z]{3}$');
ALTER TABLE products ADD CONSTRAINT products_price_has_currency
    CHECK (price IS NULL OR currency IS NOT NULL);
ALTER TABLE categories ADD CONSTRAINT categories_not_own_parent CHECK (parent_id <> id);

CREATE INDEX product_candidates_product_idx ON product_candidates (product_id)
    WHERE product_id IS NOT NULL;
CREATE INDEX product_media_media_idx ON product_media (media_id);

CREATE INDEX audit_log_actor_idx ON audit_log (actor_id, at DESC, id DESC);
CREATE INDEX audit_log_action_idx ON audit_log (action, at DESC, id DESC);
