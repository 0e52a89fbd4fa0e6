"""Tier profiles: the vendors' documented free and standard tiers as sets of limits an operator copies
onto a key (``ocrgw keys limit KEY --tier NAME``, or the admin API), so a key behaves as the tier its
users' code was written against: Azure's free tier answers the 21st call of a minute with 429 and reads
only a document's first two pages, OCR.space's free plan refuses a 2 MB file. A tier is copied, not
referred to: changing a profile here changes no existing key, and an operator may edit a copied row.

Figures are the vendors' published ones (see ../shared/contracts and each vendor's limits page); where a
vendor publishes none (Huawei's default throttle), the figure is ours and the description says so."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

MB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Tier:
    name: str
    description: str
    services: tuple[str, ...]  # each gets its own copy of ``limits`` (its own bucket and quota)
    limits: dict[str, Any] = field(default_factory=dict)  # KeyLimit columns
    subscription_required: bool = False  # the key may then call only the services it is subscribed to
    subscribe: bool = False  # subscribe the key to ``services`` too (a tier that requires subscriptions)


_VISION = ("azure-read", "azure-imageanalysis")
_TIERS = (
    Tier(
        "azure-vision-free",
        "Azure AI Vision F0: 20 calls a minute, 5,000 a month, 4 MB files, a PDF's or TIFF's first 2 pages.",
        _VISION,
        {
            "rate": 20,
            "rate_seconds": 60,
            "burst": 20,
            "pages_quota": 5000,
            "quota_period": "month",
            "max_document_pages": 2,
            "max_file_bytes": 4 * MB,
        },
    ),
    Tier(
        "azure-vision-standard",
        "Azure AI Vision S1: 10 calls a second.",
        _VISION,
        {"rate": 10, "rate_seconds": 1, "burst": 10},
    ),
    Tier(
        "azure-docintel-free",
        "Document Intelligence F0: 20 calls a minute, 500 pages a month, 4 MB files, a document's first 2 pages.",
        ("azure-docintel",),
        {
            "rate": 20,
            "rate_seconds": 60,
            "burst": 20,
            "pages_quota": 500,
            "quota_period": "month",
            "max_document_pages": 2,
            "max_file_bytes": 4 * MB,
        },
    ),
    Tier(
        "azure-docintel-standard",
        "Document Intelligence S0: 15 analyze calls a second.",
        ("azure-docintel",),
        {"rate": 15, "rate_seconds": 1, "burst": 15},
    ),
    Tier(
        "ocrspace-free",
        "OCR.space Free: 500 requests a day, 1 MB files, a PDF's first 3 pages.",
        ("ocrspace",),
        {"rate": 500, "rate_seconds": 86400, "burst": 500, "max_document_pages": 3, "max_file_bytes": 1 * MB},
    ),
    Tier(
        "ocrspace-pro",
        "OCR.space PRO: 300,000 requests a month, 5 MB files, a PDF's first 3 pages.",
        ("ocrspace",),
        {
            "rate": 300_000,
            "rate_seconds": 30 * 86400,
            "burst": 300_000,
            "max_document_pages": 3,
            "max_file_bytes": 5 * MB,
        },
    ),
    Tier(
        "huawei-general-text",
        "Huawei Cloud OCR General Text, subscribed: 10 calls a second (ocrgw's figure; Huawei's own "
        "default is per account and unpublished). Other Huawei APIs answer ModelArts.4204 until subscribed.",
        ("huawei-general-text",),
        {"rate": 10, "rate_seconds": 1, "burst": 10},
        subscription_required=True,
        subscribe=True,
    ),
    Tier(
        "huawei-passport",
        "Huawei Cloud OCR Passport, subscribed: 10 calls a second (ocrgw's figure, as above).",
        ("huawei-passport",),
        {"rate": 10, "rate_seconds": 1, "burst": 10},
        subscription_required=True,
        subscribe=True,
    ),
)
TIERS: dict[str, Tier] = {t.name: t for t in _TIERS}
