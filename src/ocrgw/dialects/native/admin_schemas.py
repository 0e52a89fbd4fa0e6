"""Named schemas of the native admin API (``/v1/admin``, ``dialects.native.admin``): keys, their limits,
subscriptions, tiers and the queue per key. Bounds here are ``tenancy.admin``'s (which checks them again
for the CLI), so a generated client and the spec refuse what the server would."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, model_validator

from ocrgw.tenancy.admin import INT32, INT64, SCOPES
from ocrgw.tenancy.tiers import TIERS

# A key's name: 1-200 characters, no control characters (PostgreSQL refuses NUL in text).
NAME_PATTERN = r"^[^\x00-\x1f\x7f]{1,200}$"
_KEY_ID = "9b1c3f0e-6a0d-4c55-9f59-3f0c8d1e2a77"
_LIMIT_EXAMPLE: dict[str, Any] = {
    "rate": 20,
    "rate_seconds": 60,
    "burst": 20,
    "pages_quota": 500,
    "quota_period": "month",
}


def _tier_enum(schema: dict[str, Any]) -> None:
    """The tier names on the string branch of an optional field (beside anyOf, null would be refused)."""
    for branch in schema.get("anyOf", ()):
        if branch.get("type") == "string":
            branch["enum"] = list(TIERS)


class _Numbers(BaseModel):
    """A body whose numbers are JSON numbers only: pydantic's lax mode would also take `true` as 1 and
    `"5"` as 5, which the spec calls the wrong type (5.0 stays an integer, as JSON Schema has it). Checked
    on the raw body, so that the fields' schemas stay plain integers with their bounds."""

    @model_validator(mode="before")
    @classmethod
    def _json_numbers(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for name, value in data.items():
                wanted = cls.model_fields.get(name)
                numeric = wanted is not None and wanted.annotation in (int | None, int, float | None)
                if numeric and value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
                    raise ValueError(f"{name} must be a number, not {value!r}")
        return data


class LimitSettings(_Numbers):
    """A key's limits for one service (or `*`: every service of the key together), as a whole: a field
    left out or null is no limit. A service's own row replaces the key's `*` row for that service."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [_LIMIT_EXAMPLE]})

    rate: int | None = Field(None, ge=1, le=INT32, description="Calls allowed per `rate_seconds`.")
    rate_seconds: int = Field(1, ge=1, le=INT32, description="The rate's window in seconds (60: per minute).")
    burst: int | None = Field(
        None, ge=1, le=INT32, description="Of the rate's calls, how many may come at once (default: `rate`)."
    )
    concurrent_jobs: int | None = Field(None, ge=0, le=INT32, description="Jobs queued or running at once.")
    pages_quota: int | None = Field(None, ge=0, le=INT64, description="Pages read per `quota_period`.")
    quota_period: Literal["day", "month"] = Field("month", description="UTC day or calendar month.")
    max_document_pages: int | None = Field(
        None, ge=1, le=INT32, description="Read only a document's first N pages (as Azure's free tiers do)."
    )
    max_file_bytes: int | None = Field(None, ge=0, le=INT64, description="Refuse larger files (413).")
    backlog_share: float | None = Field(
        None,
        gt=0,
        le=1,
        description="The key's share of the server's backlog bound (OCRGW_MAX_BACKLOG); on the `*` row only.",
    )


class Limits(LimitSettings):
    """A key's limit row as stored."""

    model_config = ConfigDict(extra="ignore")

    service: str = Field(description="The service limited, or `*` for every service of the key together.")
    tier: str | None = Field(None, description="The tier profile it was copied from; null if set by hand.")


class SubscriptionSettings(_Numbers):
    """A subscription, with a purchased package of calls or none (pay-per-use only)."""

    model_config = ConfigDict(extra="forbid")

    package_calls: int | None = Field(
        None, ge=0, le=INT64, description="Calls purchased, used before pay-per-use. Changing it starts it anew."
    )


class SubscriptionStatus(BaseModel):
    """A key's subscription and its package, billed as Huawei bills: the package's calls first, then
    pay-per-use. Calls are the key's billable calls of the service since the UTC day it started."""

    service: str
    created_at: datetime = Field(description="When the subscription, or its current package, started.")
    package_calls: int | None
    calls: int = Field(description="Billable calls since the subscription's (or package's) first UTC day.")
    package_used: int
    package_remaining: int | None = Field(description="Null without a package.")
    pay_per_use_calls: int = Field(description="Calls past the package (all of them without one).")


class AdminKey(BaseModel):
    """An API key as the operator sees it; its secret is never shown again after its creation."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": _KEY_ID,
                    "name": "team-a",
                    "prefix": "3f9a0c1d",
                    "access_key": None,
                    "admin": False,
                    "created_at": "2026-01-05T09:00:00Z",
                    "revoked_at": None,
                    "subscription_required": False,
                    "tiers": ["azure-docintel-free"],
                    "limits": [{**_LIMIT_EXAMPLE, "service": "azure-docintel", "tier": "azure-docintel-free"}],
                    "subscriptions": [],
                }
            ]
        }
    )

    id: str
    name: str
    prefix: str = Field(description="The secret's first 8 characters, to tell keys apart.")
    access_key: str | None = Field(description="Its Huawei-style AK, if it has one.")
    admin: bool = Field(description="May use this admin API and read usage.")
    created_at: datetime
    revoked_at: datetime | None
    subscription_required: bool = Field(description="May call only the services it is subscribed to.")
    tiers: list[str] = Field(description="Tier profiles its limit rows were copied from.")
    limits: list[Limits]
    subscriptions: list[SubscriptionStatus]


class AdminKeyList(BaseModel):
    """Every key, revoked ones included, oldest first."""

    items: list[AdminKey]


class KeyCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"name": "team-a", "tier": "ocrspace-free"}]}
    )

    name: str = Field(pattern=NAME_PATTERN, description="A name for people (1-200 characters).")
    admin: StrictBool = Field(False, description="May use this admin API and read usage.")
    access_key: StrictBool = Field(False, description="Also issue a Huawei-style AK/SK pair (SDK-HMAC-SHA256).")
    tier: str | None = Field(None, description="A tier profile to copy onto the key.", json_schema_extra=_tier_enum)


class KeyCreated(BaseModel):
    """The new key and its secret, shown this once (only its SHA-256 is stored)."""

    key: AdminKey
    secret: str = Field(description="The API key to send (X-API-Key, Ocp-Apim-Subscription-Key, apikey, ...).")
    secret_key: str | None = Field(None, description="The SK of its AK, when `access_key` was asked for.")


class KeyUpdate(BaseModel):
    """Fields to change; those left out or null stay. `tier` copies a tier profile onto the key."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, pattern=NAME_PATTERN)
    admin: StrictBool | None = None
    subscription_required: StrictBool | None = Field(
        None, description="May call only the services it is subscribed to."
    )
    tier: str | None = Field(None, description="A tier profile to copy onto the key.", json_schema_extra=_tier_enum)


class Tier(BaseModel):
    """A vendor's documented tier as limits to copy onto a key (one row per service it names)."""

    name: str
    description: str
    services: list[str]
    limits: LimitSettings
    subscription_required: bool
    subscribe: bool = Field(description="Applying it subscribes the key to its services.")


class TierList(BaseModel):
    items: list[Tier]
    services: list[str] = Field(description="Every service a limit or a subscription may name.")


class QueueEntry(BaseModel):
    """One key's jobs not yet ended."""

    key_id: str | None = Field(description="Null for jobs submitted while auth was off.")
    key_name: str | None
    queued: int = Field(description="Waiting for a worker.")
    running: int = Field(description="Being read.")


class QueueReport(BaseModel):
    """Jobs not yet ended per key, busiest first, and their sums."""

    items: list[QueueEntry]
    queued: int
    running: int


SCOPE_ENUM: dict[str, Any] = {"enum": list(SCOPES)}
