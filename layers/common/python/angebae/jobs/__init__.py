"""OCR jobs: enqueued by the API, run by the worker under a lease, previews of their pages."""
