-- SKUs are unique whatever their letter case (issue 11): "toy-1" is the product "TOY-1", as candidate
-- matching already has it (migrations/0009), so creating or renaming to "toy-1" is 409 duplicate_sku.
-- Existing rows that differ only in case are not merged or renamed here: the migration stops, naming
-- them, and leaves the database as it was (the whole file is one transaction).

DO $$
DECLARE
    clashes text;
BEGIN
    SELECT pg_catalog.string_agg(skus, '; ' ORDER BY skus) INTO clashes
    FROM (SELECT pg_catalog.string_agg(pg_catalog.quote_literal(sku), ', ' ORDER BY sku) AS skus
          FROM products WHERE sku IS NOT NULL
          GROUP BY pg_catalog.lower(sku) HAVING pg_catalog.count(*) > 1) AS c;
    IF clashes IS NOT NULL THEN
        RAISE EXCEPTION 'products have SKUs that differ only in letter case: %', clashes
            USING HINT = 'Change or clear all but one SKU of each group (PATCH /products/{id}), then migrate again.';
    END IF;
END
$$;

DROP INDEX products_sku_key;
DROP INDEX products_sku_lower_idx;
CREATE UNIQUE INDEX products_sku_lower_key ON products (lower(sku)) WHERE sku IS NOT NULL;
