"""Huawei Cloud OCR (API v2): general text and passports, with X-Auth-Token or AK/SK signed requests."""

from __future__ import annotations

from ocrgw.dialects import Dialect
from ocrgw.dialects.huawei import router
from ocrgw.dialects.huawei.errors import render_error

HUAWEI = Dialect(
    name="huawei",
    router=router.build_router(),
    prefixes=("/v2/",),
    render_error=render_error,
    tags=(
        {
            "name": router.TAG,
            "description": "Huawei Cloud OCR general-text and passport, AK/SK-signed or `X-Auth-Token`.",
        },
    ),
    schemas=router.EXTRA_SCHEMAS,
)
DIALECTS = (HUAWEI,)
