"""Huawei Cloud OCR (API v2): general text and passports, with X-Auth-Token or AK/SK signed requests:
routes, parse (auth, options, languages, the image), render, schemas; signing.py verifies AK/SK signatures,
errors.py is Huawei's `{"error_code", "error_msg"}` envelope."""

from __future__ import annotations

from ocrgw.dialects import Dialect
from ocrgw.dialects.huawei import routes
from ocrgw.dialects.huawei.errors import render_error
from ocrgw.dialects.huawei.schemas import SCHEMAS

HUAWEI = Dialect(
    name="huawei",
    router=routes.router,
    prefixes=("/v2/",),
    render_error=render_error,
    tags=(
        {
            "name": routes.TAG,
            "description": "Huawei Cloud OCR general-text and passport, AK/SK-signed or `X-Auth-Token`.",
        },
    ),
    schemas=SCHEMAS,
)
DIALECTS = (HUAWEI,)
