"""Review: OCR candidates decided into products."""
