"""What the generated-SDK tests share: the live spec of a running server, the document they read and how its
text is scored. The clients are generated from the served /v1/openapi.json (the native API's own document,
the one the README tells client authors to generate from), not from create_app() in the test process, so
they see exactly what a client author downloads."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
from rapidfuzz.distance import Levenshtein
from tests.conftest import Server, doc, manifest_row

IMAGE = "page/tess_phototest.tif"
MAX_CER = 0.05


def cer(hyp: str, ref: str) -> float:
    """Character error rate over whitespace-normalised, casefolded text, as the other end-to-end tests score."""
    h, r = " ".join(hyp.split()).casefold(), " ".join(ref.split()).casefold()
    return Levenshtein.distance(h, r) / max(1, len(r))


def document() -> tuple[Path, str]:
    """The phototest page and its ground-truth text from tests/data's manifest."""
    return doc(IMAGE), manifest_row(IMAGE)["text"]


def save_live_spec(srv: Server, path: Path) -> dict:
    """GET /v1/openapi.json from the running server and write it where a generator can read it."""
    r = httpx.get(srv.url + "/v1/openapi.json", timeout=30)
    assert r.status_code == 200, r.text
    spec = r.json()
    assert spec["paths"] and all(p.startswith("/v1/") for p in spec["paths"]), sorted(spec["paths"])
    path.write_text(json.dumps(spec))
    return spec
