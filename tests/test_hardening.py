"""Issue 17's hardening, against real servers (uvicorn on 127.0.0.1) and a real SQLite database: the key
cache stays bounded under made-up keys, a 405's Allow names every method of the path, OCR.space's
endpoints take only their documented method, oversized bodies are refused before they are read (counted
in bytes the client got to send, not in time), and a reused Idempotency-Key must carry the same
document."""

from __future__ import annotations

import asyncio
import secrets
from pathlib import Path

import httpx
import pytest

from ocrgw import auth
from ocrgw.auth import repository as key_repo
from ocrgw.db import make_async_engine, make_async_sessionmaker
from ocrgw.migrate import upgrade
from ocrgw.settings import Settings
from tests.conftest import Server


# ------------------------------------------------------------------------------------------- key cache
def test_key_cache_stays_bounded_under_made_up_keys_and_aks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every unknown key or AK is cached as a miss; a flood of random ones keeps at most CACHE_ENTRIES,
    dropping the least recently used, so a real key in steady use stays cached."""
    monkeypatch.setattr(auth, "CACHE_ENTRIES", 50)
    settings = Settings(data_dir=tmp_path)
    upgrade(settings)
    row, secret = auth.new_key("real")

    async def scenario() -> None:
        engine = make_async_engine(settings)
        db = make_async_sessionmaker(engine)
        async with db.begin() as s:
            await key_repo.add_key_async(s, row)
        resolver = auth.KeyResolver(settings, db)
        try:
            assert (await resolver.resolve(secret)).key_id == row.id
            for i in range(400):
                assert await resolver.resolve_access_key("AK" + secrets.token_hex(200)) is None
                with pytest.raises(auth.OcrgwError):
                    await resolver.resolve(secrets.token_hex(16))
                if i % 10 == 0:
                    await resolver.resolve(secret)  # in use: kept
                assert len(resolver._cache) <= auth.CACHE_ENTRIES
            assert auth.hash_key(secret) in resolver._cache
            assert all(len(k) <= 80 for k in resolver._cache)  # an AK of any length costs a fixed-size entry
        finally:
            await engine.dispose()

    asyncio.run(scenario())


# ------------------------------------------------------------------------------------------- 405 / Allow
def test_405_allow_lists_every_method_of_the_path(embedded_server: Server) -> None:
    url = f"{embedded_server.url}/v1/jobs/00000000-0000-0000-0000-000000000000"
    r = httpx.put(url, headers={"X-API-Key": embedded_server.key}, timeout=30)
    assert r.status_code == 405, r.text
    allowed = {m.strip() for m in r.headers["allow"].split(",")}
    assert {"GET", "DELETE"} <= allowed, r.headers
    assert "PUT" not in allowed and "POST" not in allowed


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("POST", "/parse/imageurl", "GET"),
        ("POST", "/parse/ImageUrl", "GET"),
        ("PUT", "/parse/imageurl", "GET"),
        ("GET", "/parse/image", "POST"),
        ("DELETE", "/parse/image", "POST"),
        ("PATCH", "/parse/Image", "POST"),
    ],
)
def test_ocrspace_endpoints_take_only_their_documented_method(
    embedded_server: Server, method: str, path: str, allow: str
) -> None:
    """The contract's routes: `POST /parse/image`, `GET /parse/imageurl`; anything else is a 405 in
    OCR.space's envelope with the endpoint's own Allow (a POST to imageurl used to be served)."""
    params = {"apikey": embedded_server.key, "url": "https://example.invalid/a.png"}
    r = httpx.request(method, embedded_server.url + path, params=params, timeout=30)
    assert r.status_code == 405, r.text
    assert r.headers["allow"] == allow
    body = r.json()
    assert body["IsErroredOnProcessing"] is True and body["OCRExitCode"] == 99
    assert "does not support http method" in body["ErrorMessage"][0]


# ------------------------------------------------------------------------------------------- spec
def test_api_version_is_required_in_the_spec_as_on_the_server(embedded_server: Server) -> None:
    """Every `api-version` query parameter in the document is required, and the server does refuse a
    request without one on each of those routes' APIs (Image Analysis, Form Recognizer, DI)."""
    spec = httpx.get(embedded_server.url + "/openapi.json", timeout=30).json()
    seen = []
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            for param in op.get("parameters", ()):
                if param["name"] == "api-version":
                    assert param["required"] is True and param["schema"]["type"] == "string", (method, path)
                    seen.append(path)
    assert any(p.startswith("/formrecognizer/") for p in seen)
    assert any(p.startswith("/documentintelligence/") for p in seen)
    assert "/computervision/imageanalysis:analyze" in seen
    headers = {**embedded_server.headers, "Content-Type": "application/octet-stream"}
    for path in (
        "/computervision/imageanalysis:analyze?features=read",
        "/formrecognizer/documentModels/prebuilt-read:analyze",
        "/documentintelligence/documentModels/prebuilt-read:analyze",
    ):
        r = httpx.post(embedded_server.url + path, headers=headers, content=b"x", timeout=30)
        assert r.status_code in (400, 404), (path, r.status_code, r.text)
        assert "api-version" in r.text, r.text
