"""Reading documents: text layer, Tesseract OCR, product candidates.

Imported only by the OCR worker and the `angebae ocr` command: heavy imports (PyMuPDF, Tesseract)
stay out of every other function's cold start.
"""
