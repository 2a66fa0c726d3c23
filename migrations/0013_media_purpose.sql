-- What an upload is for (issue 11): a 'document' (catalog, price list, invoice: OCR'd) or a
-- 'product_image' (a product's photo or video: checked and stored, never OCR'd). Media made before
-- were documents. A product image's thumbnail (images only) is kept at thumbnail_key.
ALTER TABLE media ADD COLUMN purpose text NOT NULL DEFAULT 'document'
    CHECK (purpose IN ('document', 'product_image'));
ALTER TABLE media ADD COLUMN thumbnail_key text;
