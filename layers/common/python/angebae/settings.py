"""Typed configuration: one pydantic model, read from the environment once per cold start.

A missing or invalid variable stops the function at start-up with the variable's name in the message.
Fields a given function does not need are optional here and checked where they are used, through
`Settings.require(...)`, so login does not need a bucket name and the worker does not need a JWT key.
"""

from __future__ import annotations

import functools
import os

from pydantic import BaseModel, Field, ValidationError, field_validator


class ConfigurationError(RuntimeError):
    """Raised at start-up: the message names the variable."""


class Settings(BaseModel):
    model_config = {"frozen": True, "extra": "ignore"}

    database_url: str = Field(min_length=1)
    db_prepare_threshold: int | None = 5  # env DB_PREPARE_THRESHOLD=none behind a pooler (RDS Proxy)

    jwt_secret: str | None = None
    jwt_issuer: str = "angebae"
    jwt_audience: str = "angebae-admin"
    token_ttl_seconds: int = Field(3600, ge=60, le=7 * 24 * 3600)
    bcrypt_cost: int = Field(12, ge=10, le=16)
    login_max_failures: int = Field(5, ge=1)
    login_window_seconds: int = Field(900, ge=1)
    cookie_secure: bool = True
    cors_origins: tuple[str, ...] = ()

    media_bucket: str | None = None
    ocr_queue_url: str | None = None
    upload_url_ttl_seconds: int = Field(600, ge=30, le=3600)
    max_upload_bytes: int = Field(100 * 1024 * 1024, ge=1)

    ocr_languages: str = "spa+eng"
    # The shop's currency, for prices printed without one and for a bare "$" (a dollar-like default
    # such as MXN or CAD); a document that prints its currency always wins.
    default_currency: str | None = Field(None, pattern=r"^[A-Z]{3}$")
    ocr_dpi: int = Field(300, ge=72, le=600)
    # Tesseract's page segmentation mode; None: by input (angebae.ocr.pipeline.page_segmentation).
    ocr_psm: int | None = Field(None, ge=0, le=13)
    max_pages: int = Field(200, ge=1)
    max_pixels_per_page: int = Field(60_000_000, ge=1)
    ocr_page_timeout_seconds: int = Field(120, ge=1)
    ocr_workers: int = Field(0, ge=0)  # 0 = one per CPU
    # What one page's worker process may grow by while it renders and OCRs the page (a 60-megapixel
    # page of dense text takes 1.3 GB); reading a text layer may take Limits.text_memory_bytes.
    ocr_page_memory_mb: int = Field(2048, ge=64)
    job_lease_seconds: int = Field(960, ge=10)
    # A job `queued` this long without a change has lost its message (the enqueue's send failed or its
    # function died, or the message was dead-lettered before any claim): the reaper sends a new one.
    # Above the queue's visibility timeout (5400 s), so a job waiting for its redelivery is left alone.
    queued_resend_seconds: int = Field(7200, ge=10)
    max_receive_count: int = Field(5, ge=1)
    # A transient failure is retried after 1, 4, 16, 64 minutes instead of the queue's visibility
    # timeout (90 min); 0 leaves the queue's timeout in charge.
    retry_base_seconds: int = Field(60, ge=0, le=43200)

    log_level: str = "INFO"

    @field_validator("jwt_secret")
    @classmethod
    def _key_long_enough(cls, v: str | None) -> str | None:
        if v is not None and len(v.encode()) < 32:
            raise ValueError("must be at least 32 bytes of random data")
        return v

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, v):
        if isinstance(v, str):
            return tuple(o.strip() for o in v.split(",") if o.strip())
        return v

    @field_validator("db_prepare_threshold", mode="before")
    @classmethod
    def _none_word(cls, v):
        return None if isinstance(v, str) and v.lower() in ("", "none", "off") else v

    def require(self, field: str) -> str:
        value = getattr(self, field)
        if not value:
            raise ConfigurationError(f"{field.upper()} is not set")
        return value

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        environ = os.environ if environ is None else environ
        names = {name.upper(): name for name in cls.model_fields}
        data = {names[k]: v for k, v in environ.items() if k in names}
        try:
            return cls(**data)
        except ValidationError as exc:
            problems = "; ".join(
                f"{str(err['loc'][0]).upper()}: {err['msg']}" for err in exc.errors()
            )
            raise ConfigurationError(f"invalid configuration: {problems}") from None


@functools.cache
def get_settings() -> Settings:
    return Settings.from_env()
