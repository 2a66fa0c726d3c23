"""Typed configuration: one pydantic model, read from the environment once per cold start.

A missing or invalid variable stops the function at start-up with the variable's name in the message.
Fields a given function does not need are optional here and checked where they are used, through
`Settings.require(...)`, so login does not need a bucket name and the worker does not need a JWT key.

Secrets: on AWS a function gets `DATABASE_URL_SECRET_ID` / `JWT_SECRET_ID` (a field's name +
`_SECRET_ID`, or `_ID` for a `..._SECRET`), the id of a Secrets Manager secret, never its value.
`require(field)` reads it the first time it is needed (at cold start: the HTTP functions require their
JWT key when they load, every function its database URL when it first connects) through Powertools
Parameters, which caches it for `SECRETS_MAX_AGE_SECONDS` (300): a rotated JWT key reaches
every running function within that time, without a redeploy. A plain variable (`DATABASE_URL`,
`JWT_SECRET`: the local stacks, tests, the CLI) wins over the secret's id.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator


class ConfigurationError(RuntimeError):
    """Raised at start-up: the message names the variable."""


class Settings(BaseModel):
    model_config = {"frozen": True, "extra": "ignore"}

    database_url: str | None = Field(None, min_length=1)  # or DATABASE_URL_SECRET_ID (see above)
    db_prepare_threshold: int | None = 5  # env DB_PREPARE_THRESHOLD=none behind a pooler (RDS Proxy)

    jwt_secret: str | None = None
    # Encrypts the TOTP secrets of two-factor sign-in (angebae.auth.twofactor); the same secret store as
    # the JWT key, a separate secret: rotating the JWT key must not wipe everyone's second factor.
    totp_encryption_key: str | None = None
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

    # Job-finished events (angebae.jobs.events): the SNS topic the worker and the reaper publish to
    # (the template's JobEventsTopic), and a URL each event is POSTed to as JSON (the embedded stack's
    # `angebae local --events-url`). Unset: the event is only logged.
    job_events_topic_arn: str | None = Field(None, pattern=r"^arn:[^:]+:sns:")
    job_events_webhook_url: str | None = Field(None, pattern=r"^https?://[^\s]+$")
    job_events_timeout_seconds: float = Field(5, gt=0, le=60)

    log_level: str = "INFO"

    # field name -> Secrets Manager secret id, from the environment's <FIELD>_SECRET_ID variables
    secret_ids: dict[str, str] = Field(default_factory=dict)
    secrets_max_age_seconds: int = Field(300, ge=0)

    @field_validator("jwt_secret", "totp_encryption_key")
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

    @field_validator("job_events_topic_arn", "job_events_webhook_url", mode="before")
    @classmethod
    def _empty_is_unset(cls, v):
        return None if isinstance(v, str) and not v.strip() else v

    @field_validator("db_prepare_threshold", mode="before")
    @classmethod
    def _none_word(cls, v):
        return None if isinstance(v, str) and v.lower() in ("", "none", "off") else v

    @model_validator(mode="after")
    def _database_somewhere(self) -> Settings:
        if not self.database_url and "database_url" not in self.secret_ids:
            raise ValueError("DATABASE_URL is not set (nor DATABASE_URL_SECRET_ID)")
        return self

    def require(self, field: str, *, provider: Any = None) -> str:
        """A field's value, read from its secret when only the secret's id is set."""
        value = getattr(self, field)
        if not value and field in self.secret_ids:
            value = self._secret_value(field, provider)
        if not value:
            raise ConfigurationError(f"{field.upper()} is not set")
        return value

    def _secret_value(self, field: str, provider: Any) -> str:
        from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

        secret_id = self.secret_ids[field]
        variable = field.upper() + ("_ID" if field.endswith("_secret") else "_SECRET_ID")
        try:
            value = (provider or secrets_provider()).get(secret_id, max_age=self.secrets_max_age_seconds)
        except GetParameterError as exc:
            raise ConfigurationError(f"{variable}: cannot read secret {secret_id!r}: {exc}") from None
        if not isinstance(value, str) or not value:
            raise ConfigurationError(f"{variable}: secret {secret_id!r} has no SecretString")
        try:  # the field's own rules (a JWT key of at least 32 bytes) hold for a secret's value too
            type(self).model_validate({**self.model_dump(), field: value})
        except ValidationError as exc:
            problem = exc.errors()[0]["msg"]
            raise ConfigurationError(f"{variable}: secret {secret_id!r}: {problem}") from None
        return value

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        environ = os.environ if environ is None else environ
        names = {name.upper(): name for name in cls.model_fields if name != "secret_ids"}
        data: dict[str, Any] = {names[k]: v for k, v in environ.items() if k in names}
        data["secret_ids"] = {}
        for key, value in environ.items():  # JWT_SECRET_ID: jwt_secret, DATABASE_URL_SECRET_ID: database_url
            if key.endswith("_SECRET_ID") and value:
                field = next(
                    (
                        names[n]
                        for n in (key.removesuffix("_ID"), key.removesuffix("_SECRET_ID"))
                        if n in names
                    ),
                    None,
                )
                if field:
                    data["secret_ids"][field] = value
        try:
            return cls(**data)
        except ValidationError as exc:
            problems = "; ".join(
                f"{str(err['loc'][0]).upper()}: {err['msg']}"
                if err["loc"]
                else err["msg"].removeprefix("Value error, ")
                for err in exc.errors()
            )
            raise ConfigurationError(f"invalid configuration: {problems}") from None


@functools.cache
def get_settings() -> Settings:
    return Settings.from_env()


@functools.cache
def secrets_provider():
    """Powertools' Secrets Manager provider (imported only where a secret is read: it brings boto3)."""
    from aws_lambda_powertools.utilities.parameters import SecretsProvider

    return SecretsProvider()
