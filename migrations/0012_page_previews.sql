-- Page previews (issue 11): the worker renders each page a job read once, to a preview and a
-- thumbnail in the media bucket (angebae.previews); the API presigns links to these keys.
ALTER TABLE ocr_pages ADD COLUMN preview_key text;
ALTER TABLE ocr_pages ADD COLUMN thumbnail_key text;
