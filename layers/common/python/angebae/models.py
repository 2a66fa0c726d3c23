"""Request models of the catalog and admin routes: validated once, at the edge, by `http.json_body` /
`http.query_model`. Money travels as decimal strings; currencies as ISO 4217 codes."""

from __future__ import annotations

import functools
import json
import re
import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    WithJsonSchema,
    model_validator,
)

from angebae.pagination import MAX_LIMIT


def _no_float(value):
    # A JSON float has already lost digits: money must come as a string (or an integer).
    if isinstance(value, float):
        raise ValueError('send money as a decimal string, e.g. "12.50"')
    return value


_DECIMAL_COMMA = re.compile(r"[0-9]+,[0-9]+")
_GROUPED_DECIMAL_COMMA = re.compile(r"[0-9]{1,3}(?:\.[0-9]{3})+,[0-9]+")
MONEY_TEXT = r"^\s*(?:[0-9]+(?:[.,][0-9]+)?|[0-9]{1,3}(?:\.[0-9]{3})+,[0-9]+)\s*$"


def _decimal_text(value):
    """A decimal as people type it: "12.50", "12,50" (decimal comma) or "1.234,50" (Spanish
    grouping); floats refused (they have already lost digits)."""
    value = _no_float(value)
    if isinstance(value, str):
        text = value.strip()
        if _GROUPED_DECIMAL_COMMA.fullmatch(text):
            return text.replace(".", "").replace(",", ".")
        if _DECIMAL_COMMA.fullmatch(text):
            return text.replace(",", ".")
    return value


@functools.cache
def iso_currencies() -> frozenset[str]:
    """ISO 4217 codes of currencies (those with minor units: not gold XAU, the IMF's XDR or the
    standard's own code for "no currency"), from the iso4217 package's copy of the standard's table;
    loaded on first use (20 ms)."""
    import iso4217

    return frozenset(c.code for c in iso4217.Currency if c.exponent is not None)


def _currency_code(value):
    return value.strip().upper() if isinstance(value, str) else value


def _iso_currency(value: str) -> str:
    if value not in iso_currencies():
        raise ValueError(f"{value} is not an ISO 4217 currency code")
    return value


def _bounded_json(value: dict) -> dict:
    size = len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())
    if size > MAX_JSON_FIELD_BYTES:
        raise ValueError(f"is {size} bytes as JSON; at most {MAX_JSON_FIELD_BYTES} are kept")
    return value


INT4_MAX = 2**31 - 1  # integer columns (stock, version, page numbers)
# A free-form JSON field (attributes): enough for any product sheet, small enough that a page of 200
# stays a few MB (pages are also cut by bytes: pagination.MAX_PAGE_BYTES).
MAX_JSON_FIELD_BYTES = 32 * 1024
Attributes = Annotated[
    dict,
    AfterValidator(_bounded_json),
    Field(description=f"a JSON object of at most {MAX_JSON_FIELD_BYTES} bytes"),
]
_DECIMAL_SCHEMA = {
    "anyOf": [{"type": "integer", "minimum": 0}, {"type": "string", "pattern": MONEY_TEXT}],
    "description": 'a decimal string, at most 10 integer digits and 4 decimals: "12.50", '
    '"12,50" (decimal comma) or "1.234,50"; never a JSON float',
}
Money = Annotated[
    Decimal,
    BeforeValidator(_decimal_text),
    Field(ge=0, max_digits=14, decimal_places=4, allow_inf_nan=False),
    WithJsonSchema(_DECIMAL_SCHEMA),
]
Quantity = Annotated[
    Decimal,
    BeforeValidator(_decimal_text),
    Field(ge=0, max_digits=14, decimal_places=4),
    WithJsonSchema(_DECIMAL_SCHEMA),
]
Currency = Annotated[
    str,
    BeforeValidator(_currency_code),
    Field(pattern=r"^[A-Z]{3}$"),
    AfterValidator(_iso_currency),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": "^\\s*[A-Za-z]{3}\\s*$",
            "description": "an ISO 4217 code in any case, e.g. EUR or eur",
        }
    ),
]
Status = Literal["draft", "active", "archived"]
Role = Literal["admin", "editor", "viewer"]
Name = Annotated[str, Field(min_length=1, max_length=500)]
Sku = Annotated[str, Field(min_length=1, max_length=100, pattern=r"\S")]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


def _refuse_nulls(model, fields: tuple[str, ...]):
    nulls = [f for f in fields if f in model.model_fields_set and getattr(model, f) is None]
    if nulls:
        raise ValueError(f"{', '.join(nulls)} cannot be null")
    return model


# --- products ----------------------------------------------------------------------------------------


class ProductCreate(Strict):
    name: Name
    sku: Sku | None = None
    description: str = Field("", max_length=20_000)
    price: Money | None = None
    currency: Currency | None = None
    stock: int = Field(0, ge=0, le=INT4_MAX)
    status: Status = "draft"
    category_id: uuid.UUID | None = None
    attributes: Attributes = Field(default_factory=dict)
    images: list[uuid.UUID] = Field(default_factory=list, max_length=50)

    @model_validator(mode="after")
    def _currency(self):
        if self.price is not None and self.currency is None:
            raise ValueError("a price needs a currency")
        return self


class ProductUpdate(Strict):
    """Only the fields sent change; `version` (or an If-Match header) must name the version read."""

    version: int | None = Field(None, ge=1, le=INT4_MAX)
    name: Name | None = None
    sku: Sku | None = None
    description: str | None = Field(None, max_length=20_000)
    price: Money | None = None
    currency: Currency | None = None
    stock: int | None = Field(None, ge=0, le=INT4_MAX)
    status: Status | None = None
    category_id: uuid.UUID | None = None
    attributes: Attributes | None = None
    images: list[uuid.UUID] | None = Field(None, max_length=50)

    @model_validator(mode="after")
    def _nulls(self):
        return _refuse_nulls(self, ("name", "description", "stock", "status", "attributes", "images"))

    def changes(self) -> dict:
        """The fields sent, minus `version`; explicit nulls clear nullable fields."""
        return {k: getattr(self, k) for k in self.model_fields_set if k != "version"}


class ProductFilters(BaseModel):
    """The filters and sort of a product list, shared by GET /products and its export. Prices compare
    within one currency: sort=price, min_price and max_price need `currency` (a catalog may hold EUR
    and USD; 10 of what?)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    q: str | None = Field(None, max_length=200)
    status: Status | None = None
    category: uuid.UUID | None = None
    include_subcategories: bool = False
    currency: Currency | None = None
    min_price: Money | None = None
    max_price: Money | None = None
    has_sku: bool | None = None
    sort: Literal["relevance", "name", "price", "created_at", "updated_at"] | None = None
    order: Literal["asc", "desc"] | None = None

    @model_validator(mode="after")
    def _one_currency(self):
        priced = [f for f in ("min_price", "max_price") if getattr(self, f) is not None]
        if self.sort == "price":
            priced.insert(0, "sort=price")
        if priced and self.currency is None:
            raise ValueError(
                f"{' and '.join(priced)} {'needs' if len(priced) == 1 else 'need'} a currency "
                "(prices compare within one currency): add currency, e.g. currency=EUR"
            )
        if self.min_price is not None and self.max_price is not None and self.min_price > self.max_price:
            raise ValueError("min_price is above max_price: no price is in that range")
        return self


class ProductQuery(ProductFilters):
    limit: int = Field(50, ge=1, le=MAX_LIMIT)
    cursor: str | None = None


ExportFormat = Literal["csv", "xlsx"]


class ProductExportQuery(ProductFilters):
    format: ExportFormat


class ExportQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    format: ExportFormat


class DeleteQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    hard: bool = False


# --- categories --------------------------------------------------------------------------------------


class CategoryCreate(Strict):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    parent_id: uuid.UUID | None = None


class CategoryUpdate(Strict):
    """Only the fields sent change; `version` (or an If-Match header) must name the version read."""

    name: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    parent_id: uuid.UUID | None = None  # null moves the category to the top level
    version: int | None = Field(None, ge=1, le=INT4_MAX)

    @model_validator(mode="after")
    def _nulls(self):
        return _refuse_nulls(self, ("name",))


# --- candidates --------------------------------------------------------------------------------------


class CandidateUpdate(Strict):
    """Only the fields sent change; `version` (or an If-Match header) must name the version read."""

    name: Name | None = None
    price: Money | None = None
    currency: Currency | None = None
    sku: Sku | None = None
    qty: Quantity | None = None
    attributes: Attributes | None = None
    version: int | None = Field(None, ge=1, le=INT4_MAX)

    @model_validator(mode="after")
    def _nulls(self):
        return _refuse_nulls(self, ("name", "attributes", "version"))


class NoFields(Strict):
    """The body of an action such as accept: `{}`, still sent as JSON (no cross-site form posts)."""


Choice = Literal["update", "create", "skip"]
CHOICE_DESCRIPTION = (
    "what to do when the candidate matches a product (its `proposal`): `update` applies "
    "the proposed changes to it, `create` makes a new draft product, `skip` rejects "
    "the candidate as already in the catalog"
)


class CandidateAccept(Strict):
    """Accepting a candidate that matches a product (by SKU, or a likely duplicate by name) needs a
    `choice`; `update` also needs the product's version read (the proposal's `product_version`, or an
    If-Match header with its ETag), as PATCH /products/{id} does: none is 428, another one 409 (412 for
    If-Match)."""

    choice: Choice | None = Field(None, description=CHOICE_DESCRIPTION)
    product_version: int | None = Field(
        None,
        ge=1,
        le=INT4_MAX,
        description=("the proposal's product_version: required with choice update (or an If-Match header)"),
    )


class CandidateReject(Strict):
    """Rejecting a candidate, with an optional short reason (stored, audited, in the candidate)."""

    reason: (
        Annotated[
            str,
            BeforeValidator(lambda v: v.strip() if isinstance(v, str) else v),
            Field(min_length=1, max_length=200),
        ]
        | None
    ) = None


CandidateStatus = Literal["pending", "accepted", "rejected", "superseded"]


class CandidateQuery(BaseModel):
    """The review queue: candidates across jobs, pending ones by default (`status=all`: every one)."""

    model_config = ConfigDict(extra="forbid")

    status: CandidateStatus | Literal["all"] = "pending"
    job_id: uuid.UUID | None = None
    media_id: uuid.UUID | None = None
    min_confidence: float | None = Field(None, ge=0, le=1)
    max_confidence: float | None = Field(None, ge=0, le=1)
    has_sku: bool | None = None
    sort: Literal["created_at", "confidence", "name"] = "created_at"
    order: Literal["asc", "desc"] | None = Field(
        None, description="newest first by default; confidence (least sure first) and name ascend"
    )
    limit: int = Field(50, ge=1, le=MAX_LIMIT)
    cursor: str | None = None

    @model_validator(mode="after")
    def _range(self):
        low, high = self.min_confidence, self.max_confidence
        if low is not None and high is not None and low > high:
            raise ValueError("min_confidence is above max_confidence")
        return self


class CandidateReopen(Strict):
    """Reopening a decided candidate; `archive_product` also archives the product its accept created."""

    archive_product: bool = False


class CandidateBulk(Strict):
    action: Literal["accept", "reject"]
    ids: list[uuid.UUID] = Field(min_length=1, max_length=MAX_LIMIT)
    choice: Literal["create", "skip"] | None = Field(
        None,
        description=(
            "accept only, for every id: what to do with a candidate that matches a product (`create` a new "
            "draft product, `skip` it as already in the catalog); `update` names each product's version, so "
            "it is accepted one by one (POST /candidates/{id}/accept)"
        ),
    )


# --- admin users and audit ---------------------------------------------------------------------------


class AdminCreate(Strict):
    email: Annotated[str, Field(min_length=3, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")]
    password: Annotated[str, Field(min_length=1, max_length=1024)]
    role: Role = "editor"


class AdminUpdate(Strict):
    """Only the fields sent change; `version` (or an If-Match header) must name the version read."""

    role: Role | None = None
    is_active: bool | None = None
    password: Annotated[str, Field(min_length=1, max_length=1024)] | None = None
    version: int | None = Field(None, ge=1, le=INT4_MAX)

    @model_validator(mode="after")
    def _nulls(self):
        return _refuse_nulls(self, ("role", "is_active", "password", "version"))


class ListQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    limit: int = Field(50, ge=1, le=MAX_LIMIT)
    cursor: str | None = None


class AuditQuery(ListQuery):
    entity: str | None = Field(None, max_length=50)
    entity_id: str | None = Field(None, max_length=100)
    actor: str | None = Field(None, max_length=320)
    action: str | None = Field(None, max_length=50)
    since: datetime | None = None
    until: datetime | None = None
