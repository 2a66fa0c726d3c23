-- An upload ticket's secret: the presigned POST's policy requires it as the object's x-amz-meta-ticket,
-- and the worker checks the object's against this SHA-256 (hex) on every engine, including those that
-- do not enforce POST policies (moto). NULL for media made before: their objects are not checked.
ALTER TABLE media ADD COLUMN ticket_sha256 text;
-- The object version an S3 notification named: the worker checks and reads that version, not whatever
-- the key holds by then. NULL for jobs from POST /ocr/jobs: they read the media's checked version.
ALTER TABLE ocr_jobs ADD COLUMN source_version text;
