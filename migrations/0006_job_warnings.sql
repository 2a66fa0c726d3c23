-- What a succeeded job says besides its candidates: [{"page": n, "code": ..., "message": ...}], e.g. a
-- page that prints prices but gave no product (angebae.ocr.warnings). Empty for jobs that ran before.
ALTER TABLE ocr_jobs ADD COLUMN warnings jsonb NOT NULL DEFAULT '[]';
