-- Where a succeeded job's candidates came from: 'xml' (the PDF's embedded e-invoice, exact items) or
-- 'layout' (read from the pages' words). NULL until the job succeeds, and for jobs that ran before.
ALTER TABLE ocr_jobs ADD COLUMN candidates_source text
    CHECK (candidates_source IN ('layout', 'xml'));
