"""Shared code of angebae functions, shipped as the `common` Lambda layer."""
