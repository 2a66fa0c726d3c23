"""The catalog: products, categories and the media they show."""
