"""Response models of the HTTP API: the contract of what each route answers (issue 10).

A route declares them (`responses={200: Product}` in `angebae.http`); the route wrapper validates
the view's value through the model and writes the model's JSON, so a field a model lacks never
leaves the function and a required one missing fails (in the tests, loudly: `http.STRICT_ENV`).
`angebae.openapi` generates the description's response schemas from these classes.

Money and times keep the API's one format (`angebae.formats`): `Money` is a decimal string with at
least two decimals, `Time` RFC 3339 in UTC with microseconds, whatever the view hands over (a
Decimal or datetime from a row, or the string a domain module already formatted). A field with a
default may be absent (the view did not give it); one without is always there (null when it says
`| None`). The models build their validators on first use (`defer_build`): a function pays only
for the ones its routes answer with, on its first request.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, RootModel, WithJsonSchema

from angebae import formats

Money = Annotated[
    Decimal,
    PlainSerializer(formats.money, return_type=str),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^-?[0-9]+\.[0-9]{2,}$",
            "examples": ["1234.56", "0.1234"],
            "description": "a decimal string with at least two decimals",
        }
    ),
]
Quantity = Annotated[
    Decimal,
    PlainSerializer(formats.quantity, return_type=str),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^[0-9]+(\.[0-9]+)?$",
            "examples": ["20", "6.5"],
            "description": "a plain decimal, trailing zeros dropped",
        }
    ),
]
Time = Annotated[
    datetime,
    PlainSerializer(formats.rfc3339, return_type=str),
    WithJsonSchema(
        {
            "type": "string",
            "format": "date-time",
            "examples": ["2026-12-02T00:21:40.123456Z"],
            "description": "RFC 3339, UTC, microseconds",
        }
    ),
]
Id = uuid.UUID
Role = Literal["admin", "editor", "viewer"]
Link = Annotated[str | None, Field(description="presigned; null until the file exists and was checked")]


class Out(BaseModel):
    """A response body: unknown fields of the view's value are dropped, never sent."""

    model_config = ConfigDict(defer_build=True, extra="ignore")


# --- shared ------------------------------------------------------------------------------------------


class ErrorBody(Out):
    code: str
    message: str
    details: dict[str, Any] | None = None


class Error(Out):
    """Every error: `{"error": {"code", "message", "details"?}}`."""

    error: ErrorBody


class Deleted(Out):
    deleted: bool


class ExportLink(Out):
    """A 303 See Other whose Location is `url`: the file, presigned (angebae.catalog.export)."""

    url: str = Field(description="presigned GET of the file (also the Location header)")
    format: str = Field(description="csv or xlsx")
    rows: int = Field(description="rows under the header")
    filename: str
    expires_at: Time = Field(description="when the link stops working")


# --- accounts and admins -----------------------------------------------------------------------------


class Admin(Out):
    id: Id
    email: str
    role: Role
    is_active: bool
    version: int
    created_at: Time | None = None
    last_login_at: Time | None = None
    two_factor_enabled: bool


class AdminPage(Out):
    items: list[Admin]
    next_cursor: str | None


class TwoFactorStatus(Out):
    enabled: bool
    required: bool


class Me(Out):
    admin: Admin
    two_factor: TwoFactorStatus


class Session(Out):
    admin: Admin
    expires_at: Time
    token: str
    two_factor_setup_required: bool | None = Field(
        None,
        description=(
            "the role requires a second factor this account has not enrolled: only /admin/me... routes "
            "answer until it does"
        ),
    )


class Enrolled(Session):
    recovery_codes: list[str] = Field(
        min_length=10,
        max_length=10,
        description=("one-time codes for POST /admin/login's `code`, shown this once"),
    )


class Enrolment(Out):
    otpauth_uri: str = Field(description="shown this once: give it to the authenticator app (QR code)")
    secret: str
    issuer: str | None = None
    digits: int | None = None
    period: int | None = None


class RolePolicyRow(Out):
    role: Role
    two_factor_required: bool


class RolePolicies(Out):
    items: list[RolePolicyRow]


class Unlocked(Out):
    cleared: int
    email: str | None = None
    email_key: str | None = Field(None, description="the keyed hash failures of an unknown email count under")
    source_ip: str | None = None


class LoggedOut(Out):
    logged_out: bool


class AuditEntry(Out):
    id: int
    at: Time
    action: str
    entity: str
    entity_id: str | None
    actor_id: Id | None
    actor_email: str | None
    before: Any = None
    after: Any = None
    source_ip: str | None


class AuditPage(Out):
    items: list[AuditEntry]
    next_cursor: str | None


# --- health ------------------------------------------------------------------------------------------


class Component(Out):
    status: Literal["up", "down"]
    latency_ms: float | None = None
    error: str | None = Field(None, description="the kind of failure (an exception's name)")
    migration_version: int | str | None = None
    messages: int | None = Field(None, description="the queue's approximate depth")


class OcrLanguages(Out):
    default: str
    installed: list[str] | None


class Health(Out):
    status: Literal["up", "down"]
    failing: list[str]
    components: dict[str, Component]
    ocr_languages: OcrLanguages | None = None


# --- media -------------------------------------------------------------------------------------------


class Media(Out):
    id: Id
    purpose: Literal["document", "product_image"] | None = None
    filename: str
    declared_type: str
    declared_size: int | None = None
    size_bytes: int | None = None
    sniffed_type: str | None = None
    status: str
    error_code: str | None = None
    error_message: str | None = None
    created_at: Time
    updated_at: Time | None = None
    download_url: Link = Field(None, description="presigned, 5 min; null unless the file was checked")
    thumbnail_url: Link = Field(None, description="a product image's thumbnail, presigned")


class MediaPage(Out):
    items: list[Media]
    next_cursor: str | None


class JobWarning(Out):
    page: int | None = None
    code: str
    message: str


class MediaJob(Out):
    """One of a media's OCR jobs, as the media's detail lists them (newest first, at most 50)."""

    id: Id
    status: Literal["queued", "processing", "succeeded", "failed"]
    languages: str | None
    pages: list[int] | None
    pages_done: int
    pages_total: int | None
    candidates_source: Literal["xml", "layout"] | None
    warnings: list[JobWarning]
    error_code: str | None
    error_message: str | None
    created_at: Time
    started_at: Time | None
    finished_at: Time | None


class MediaDetail(Media):
    download_url: Link
    jobs: list[MediaJob]


class UploadForm(Out):
    url: str
    fields: dict[str, str] = Field(
        description=(
            "POST them as they are with the file, of exactly the declared size: the key, the Content-Type "
            "and x-amz-meta-ticket are checked"
        )
    )
    expires_at: Time


class UploadTicket(Out):
    media: Media
    upload: UploadForm


# --- OCR jobs ----------------------------------------------------------------------------------------


class Progress(Out):
    pages_done: int | None
    pages_total: int | None


class Timings(Out):
    created_at: Time
    started_at: Time | None
    finished_at: Time | None
    queued_seconds: float | None
    run_seconds: float | None


class JobError(Out):
    code: str
    message: str | None


class Job(Out):
    id: Id
    media_id: Id
    status: Literal["queued", "processing", "succeeded", "failed"]
    languages: str | None = None
    pages: list[int] | None = None
    attempts: int | None = None
    progress: Progress
    source: Literal["xml", "layout"] | None = Field(
        None,
        description=(
            "xml: an embedded e-invoice's items; layout: read from the pages; null until it succeeded"
        ),
    )
    warnings: list[JobWarning] = []
    timings: Timings
    error: JobError | None


class JobPage(Out):
    items: list[Job]
    next_cursor: str | None


class PageSummary(Out):
    page: int
    source: Literal["text_layer", "ocr", "xml"] = Field(
        description=("xml: the job's candidates came from the embedded e-invoice")
    )
    words_from: Literal["text_layer", "ocr"] | None = None
    width: float = Field(description="points (see coordinates)")
    height: float
    mean_confidence: float
    preview_url: Link = Field(description="presigned, 15 min: a JPEG of at most 1200 px")
    thumbnail_url: Link = Field(description="presigned, 15 min: at most 240 px")


class Word(Out):
    text: str
    x0: float
    y0: float
    x1: float
    y1: float
    confidence: float
    block: int | None = None
    line: int | None = None


class DocumentPage(PageSummary):
    job_id: Id
    coordinates: str
    text: str
    words: list[Word]


# --- candidates and products -------------------------------------------------------------------------


class Change(Out):
    old: Any = None
    new: Any = None


class Proposal(Out):
    product_id: Id
    product_version: int
    product_status: Literal["draft", "active", "archived"]
    match: Literal["sku", "name"] = Field(
        description=(
            "sku: the product has the candidate's SKU (any case); name: a likely duplicate (same normalised "
            "name, made from the same media or naming the same supplier)"
        )
    )
    changes: dict[str, Change] = Field(description='what choice "update" changes: {field: {old, new}}')
    choices: list[Literal["update", "create", "skip"]]


class Candidate(Out):
    id: Id
    job_id: Id
    media_id: Id
    page_number: int
    position: int
    name: str
    price: Money | None = None
    currency: str | None = None
    sku: str | None = None
    qty: Quantity | None = None
    bbox: list[float] = []
    confidence: float
    raw: str | None = None
    attributes: dict[str, Any] = Field(
        {},
        description=(
            "what the document said besides: money-valued ones (line_total, old_price, gross_price) as money "
            "strings, quantities (price_basis_quantity) as plain decimals"
        ),
    )
    status: Literal["pending", "accepted", "rejected", "superseded"]
    version: int = Field(description="its ETag: a correction (PATCH) names it, every change bumps it")
    product_id: Id | None = None
    superseded_by: Id | None = Field(None, description="the re-run that replaced it")
    duplicate_of: Id | None = Field(
        None,
        description=(
            "superseded as a re-run's copy of this earlier candidate, already decided (same page, normalised "
            "name, price and SKU); product_id is that decision's product"
        ),
    )
    decision_reason: str | None = Field(None, description="the reason given with a reject")
    applied_changes: dict[str, Any] | None = Field(
        None,
        description=(
            "an `update` accept's changes to the product: "
            "{version, before: {field: old}, after: {field: new}}"
        ),
    )
    decided_by: Id | None = None
    decided_at: Time | None = None
    created_at: Time | None = None
    updated_at: Time | None = None
    preview_url: Link = Field(None, description="its page's preview, presigned (null until made)")
    thumbnail_url: Link = None
    proposal: Proposal | None = None


class CandidatePage(Out):
    items: list[Candidate]
    next_cursor: str | None


class JobDetail(Job):
    candidates: CandidatePage
    pages_read: list[PageSummary]
    coordinates: str


class ImageLink(Out):
    media_id: Id
    content_type: str | None = None
    url: Link = Field(description="presigned, 5 min; null until the file was checked")
    thumbnail_url: Link


class Product(Out):
    id: Id
    name: str
    slug: str
    sku: str | None = None
    description: str = ""
    price: Money | None = None
    currency: str | None = None
    stock: int = 0
    status: Literal["draft", "active", "archived"]
    category_id: Id | None = None
    attributes: dict[str, Any] = {}
    source_candidate_id: Id | None = None
    version: int
    created_by: Id | None = None
    created_at: Time | None = None
    updated_at: Time | None = None
    images: list[Id]
    image_links: list[ImageLink] | None = None


class ProductPage(Out):
    items: list[Product]
    next_cursor: str | None


class ProductOrDeleted(RootModel):
    """DELETE /products/{id}: the archived product, or `{"deleted": true}` with ?hard=true."""

    model_config = ConfigDict(defer_build=True)  # unparametrised: RootModel[...] would build now
    root: Product | Deleted


class CandidateDecision(Out):
    candidate: Candidate
    product: Product | None = None
    outcome: Literal["created", "updated", "unchanged", "skipped"] | None = None
    proposal: Proposal | None = None


class ReopenUndo(Out):
    product_id: Id
    outcome: Literal["reverted", "kept"] = Field(
        description=(
            "reverted: the product was still at the version the accept made, its fields are restored; kept: "
            "the product changed since, the accept's changes stay on it (NOT undone)"
        )
    )
    changes: dict[str, Change] = Field(description="the accept's changes: {field: {old, new}}")
    product_version: int = Field(description="the product's version now")


class CandidateReopened(Out):
    candidate: Candidate
    product: Product | None = Field(description="the product archived (archive_product) or reverted")
    undo: ReopenUndo | None = Field(
        None, description=("reopening an `update` accept: what became of its changes")
    )


class BulkResult(Out):
    """One id's outcome: its status and either the decision (as CandidateDecision) or the error."""

    id: Id
    status: int
    candidate: Candidate | None = None
    product: Product | None = None
    outcome: Literal["created", "updated", "unchanged", "skipped"] | None = None
    proposal: Proposal | None = None
    error: ErrorBody | None = None


class BulkResults(Out):
    results: list[BulkResult]


class Category(Out):
    id: Id
    name: str
    slug: str
    parent_id: Id | None
    version: int
    created_at: Time | None = None
    updated_at: Time | None = None


class CategoryList(Out):
    items: list[Category]
