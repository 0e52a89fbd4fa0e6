"""Issue 17's hardening, against real servers (uvicorn on 127.0.0.1) and a real SQLite database: the key
cache stays bounded under made-up keys, a 405's Allow names every method of the path, OCR.space's
endpoints take only their documented method, oversized bodies are refused before they are read (counted
in bytes the client got to send, not in time), and a reused Idempotency-Key must carry the same
document."""

from __future__ import annotations

import asyncio
import secrets
import select
import socket
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


# ------------------------------------------------------------------------------------------- refusal before reading
MIB = 1024 * 1024
CHUNK = 256 * 1024
BOUNDARY = b"hardening-boundary"
FILE_PART = (
    b"--" + BOUNDARY + b'\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n'
    b"Content-Type: image/png\r\n\r\n\x89PNG\r\n\x1a\n"
)
MULTIPART = b"multipart/form-data; boundary=" + BOUNDARY
# What the kernel takes in before the server reads a byte (our 64 KiB send buffer, the server's receive
# buffer, autotuned up to a few MB on loopback) plus the first chunks the server does read.
IN_FLIGHT = 16 * MIB


def send_until_answered(
    port: int, head: bytes, *, prefix: bytes = b"", chunked: bool = False, limit: int = 1024 * MIB
) -> tuple[int, int, bytes]:
    """Post ``head`` then an endless body (``prefix`` then zeros, chunk-framed when ``chunked``) on a raw
    socket, watching for the answer between sends; the body bytes the kernel took before the answer
    began (or before the server shut the connection), the answer's status and its body. A server that
    reads the whole body would take ``limit`` bytes."""
    zeros = b"\0" * CHUNK
    frame = b"%x\r\n%s\r\n" % (len(zeros), zeros) if chunked else zeros
    first = b"%x\r\n%s\r\n" % (len(prefix), prefix) if chunked and prefix else prefix
    sock = socket.create_connection(("127.0.0.1", port), timeout=60)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 64 * 1024)
    try:
        sock.sendall(head + b"\r\n" + first)
        sent, at, view = len(first), 0, memoryview(frame)
        while sent < limit:
            readable, _, _ = select.select([sock], [sock], [], 60)
            if readable:
                break
            try:
                n = sock.send(view[at:])
            except (BrokenPipeError, ConnectionResetError):
                break
            sent, at = sent + n, (at + n) % len(view)
        raw = b""
        while True:
            got = sock.recv(65536)
            raw += got
            head_end = raw.find(b"\r\n\r\n")
            if not got or (head_end >= 0 and _complete(raw, head_end)):
                break
    finally:
        sock.close()
    status_line, _, _ = raw.partition(b"\r\n")
    return sent, int(status_line.split()[1]), raw[raw.find(b"\r\n\r\n") + 4 :]


def _complete(raw: bytes, head_end: int) -> bool:
    for line in raw[:head_end].split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(raw) - head_end - 4 >= int(value)
    return False


def request_head(path: str, content_type: bytes, *headers: str, declared: int | None = None) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", *headers]
    lines.append(f"Content-Length: {declared}" if declared is not None else "Transfer-Encoding: chunked")
    return "\r\n".join(lines).encode() + b"\r\nContent-Type: " + content_type + b"\r\n"


OCTET = b"application/octet-stream"
JSON = b"application/json"
URLENCODED = b"application/x-www-form-urlencoded"
DECLARED = [  # path, Content-Type, key header ("{key}" filled in), body prefix, status, a mark of the envelope
    ("/v1/jobs", OCTET, "X-API-Key", b"", 413, b'"code": "TooLarge"'),
    ("/v1/jobs", MULTIPART, "X-API-Key", FILE_PART, 413, b'"code": "TooLarge"'),
    ("/v1/jobs", JSON, "X-API-Key", b'{"base64": "', 413, b'"code": "TooLarge"'),
    ("/vision/v3.2/read/analyze", OCTET, "Ocp-Apim-Subscription-Key", b"", 400, b"InvalidImageSize"),
    ("/vision/v2.1/read/core/asyncBatchAnalyze", OCTET, "Ocp-Apim-Subscription-Key", b"", 400, b"InvalidImageSize"),
    (
        "/computervision/imageanalysis:analyze?features=read&api-version=2024-02-01",
        MULTIPART,
        "Ocp-Apim-Subscription-Key",
        FILE_PART,
        400,
        b"InvalidImageSize",
    ),
    (
        "/formrecognizer/documentModels/prebuilt-read:analyze?api-version=2023-07-31",
        OCTET,
        "Ocp-Apim-Subscription-Key",
        b"",
        400,
        b"InvalidContentLength",
    ),
    (
        "/documentintelligence/documentModels/prebuilt-read:analyze?api-version=2024-11-30",
        JSON,
        "Ocp-Apim-Subscription-Key",
        b'{"base64Source": "',
        400,
        b"InvalidContentLength",
    ),
    ("/parse/image", MULTIPART, "apikey", FILE_PART, 200, b"File failed validation. The request is too large"),
    ("/parse/image", URLENCODED, "apikey", b"base64Image=", 200, b"File failed validation. The request is too large"),
    ("/parse/image", MULTIPART, None, FILE_PART, 200, b"File failed validation. The request is too large"),
    ("/v2/0123456789abcdef/ocr/general-text", JSON, "X-Auth-Token", b'{"image": "', 413, b"APIG.0201"),
    ("/ocr_process", MULTIPART, "X-API-Key", FILE_PART, 413, b'"success": false'),
    ("/batch_process", MULTIPART, "X-API-Key", FILE_PART, 413, b'"success": false'),
    ("/ocr", JSON, "X-API-Key", b'{"image": "', 413, b"large"),
]


@pytest.mark.parametrize(("path", "ctype", "key_header", "prefix", "status", "mark"), DECLARED)
def test_declared_size_over_the_limit_is_refused_before_the_body_is_read(
    embedded_server: Server, path: str, ctype: bytes, key_header: str | None, prefix: bytes, status: int, mark: bytes
) -> None:
    """A declared Content-Length of 10 GiB: the dialect's too-large answer (its status and envelope: Azure's
    400 InvalidImageSize, OCR.space's HTTP 200 "File failed validation", Huawei's APIG 413, ...) arrives
    while the client has sent no more than what sits in socket buffers, and the connection is closed
    rather than drained. OCR.space with no key anywhere visible is told the size: the key could only be
    in the body, which is not read."""
    headers = [f"{key_header}: {embedded_server.key}"] if key_header else []
    head = request_head(path, ctype, *headers, declared=10 * 1024 * MIB)
    sent, got, body = send_until_answered(embedded_server.port, head, prefix=prefix)
    assert (got, mark in body) == (status, True), (got, body[:300])
    assert sent < IN_FLIGHT, sent


def test_ocrspace_with_no_key_stops_reading_a_chunked_body_after_a_few_mb(embedded_server: Server) -> None:
    """The probe's 6 GB stream to /parse/image with no key: the key can only be in the body, so at most
    KEY_WITHIN of it are read looking for one; then OCR.space's 403, not the upload read to its end."""
    from ocrgw.intake.core import KEY_WITHIN

    for ctype, prefix in ((MULTIPART, FILE_PART), (URLENCODED, b"language=eng&base64Image=")):
        sent, got, body = send_until_answered(
            embedded_server.port, request_head("/parse/image", ctype), prefix=prefix, chunked=True
        )
        assert got == 403 and b"No API key was provided" in body, (got, body[:300])
        assert KEY_WITHIN <= sent < KEY_WITHIN + IN_FLIGHT, sent


def test_ocrspace_key_in_the_query_is_checked_before_the_body(embedded_server: Server) -> None:
    sent, got, body = send_until_answered(
        embedded_server.port, request_head("/parse/image?apikey=not-a-key", MULTIPART), prefix=FILE_PART, chunked=True
    )
    assert got == 403 and b"The API key is invalid" in body, (got, body[:300])
    assert sent < IN_FLIGHT, sent


def test_oversized_chunked_bodies_are_not_read_to_their_end(embedded_server: Server) -> None:
    """No Content-Length: the limit (8 MiB here) is found while reading, the answer comes after at most
    DRAIN_BYTES more (so a client still uploading reads it), and the connection is then closed, not
    drained: a batch with one file over the limit is refused whole (413) rather than skipped by reading
    up to its ~1 GB cap."""
    from ocrgw.intake.core import DRAIN_BYTES

    bound = 8 * MIB + DRAIN_BYTES + IN_FLIGHT
    key = f"X-API-Key: {embedded_server.key}"
    for path, ctype, prefix in (("/v1/jobs", OCTET, b"\x89PNG\r\n\x1a\n"), ("/batch_process", MULTIPART, FILE_PART)):
        sent, got, body = send_until_answered(
            embedded_server.port, request_head(path, ctype, key), prefix=prefix, chunked=True
        )
        assert got == 413, (path, got, body[:300])
        assert sent < bound, (path, sent)
    assert httpx.get(embedded_server.url + "/health", timeout=10).status_code == 200


# ------------------------------------------------------------------------------------------- Idempotency-Key
def test_idempotency_key_reused_for_another_request_is_refused(own_key: Server) -> None:
    """A retry (same document, same options; a multipart retry has a new random boundary) replays the
    first job; the same key with another document or other options is a 400 IdempotencyKeyReused in the
    native envelope (as Stripe answers)."""
    from tests.dialects.ocrspace.test_ocrspace import PNG

    srv = own_key

    def submit(key: str, **kw: object) -> httpx.Response:
        hdrs = {"X-API-Key": srv.key, "Idempotency-Key": key, **kw.pop("headers", {})}  # type: ignore[dict-item]
        return httpx.post(srv.url + "/v1/jobs", headers=hdrs, timeout=60, **kw)  # type: ignore[arg-type]

    first = submit("pay-1", files={"file": ("doc.png", PNG)}, data={"language": "eng"})
    assert first.status_code == 202, first.text
    again = submit("pay-1", files={"file": ("doc.png", PNG)}, data={"language": "eng"})
    assert (again.status_code, again.json()["id"]) == (202, first.json()["id"])
    assert again.headers["idempotent-replayed"] == "true"
    for other in (
        {"files": {"file": ("doc.png", PNG + b"\0")}, "data": {"language": "eng"}},  # another document
        {"files": {"file": ("doc.png", PNG)}, "data": {"language": "deu"}},  # other options
        {"content": PNG, "headers": {"Content-Type": "image/png"}},  # the bytes, sent another way
    ):
        r = submit("pay-1", **other)
        assert r.status_code == 400, r.text
        err = r.json()["error"]
        assert err["code"] == "IdempotencyKeyReused" and err["param"] == "Idempotency-Key", err
        assert "can only be reused with the same request" in err["message"]
    # Raw bodies and their query options too; the original is still what a true retry gets.
    raw = submit("pay-2", content=PNG, headers={"Content-Type": "image/png"}, params={"language": "eng"})
    assert raw.status_code == 202
    same = submit("pay-2", content=PNG, headers={"Content-Type": "image/png"}, params={"language": "eng"})
    assert same.json()["id"] == raw.json()["id"]
    assert submit("pay-2", content=PNG, headers={"Content-Type": "image/png"}).status_code == 400
    listed = httpx.get(srv.url + "/v1/jobs", params={"limit": 100}, headers={"X-API-Key": srv.key}).json()["items"]
    assert len(listed) == 2


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_request_fingerprint_migration_up_down_up(tmp_path: Path, backend: str) -> None:
    """0012 adds jobs.request_fingerprint and takes it away again, on both databases."""
    import sqlalchemy as sa

    from ocrgw.migrate import alembic_config
    from tests.conftest import _pg_admin

    env: dict[str, object] = {"data_dir": tmp_path}
    name = f"ocrgw_fp_{secrets.token_hex(4)}"
    if backend == "postgresql":
        try:
            _pg_admin(f"CREATE DATABASE {name}")
        except Exception as exc:
            pytest.skip(f"PostgreSQL unavailable: {exc}")
        env["database_url"] = f"postgresql://postgres@127.0.0.1:5432/{name}"
    settings = Settings(**env)  # type: ignore[arg-type]
    try:
        from alembic import command

        def columns() -> set[str]:
            url = str(env.get("database_url") or f"sqlite:///{tmp_path / 'ocrgw.db'}")
            engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
            try:
                return {c["name"] for c in sa.inspect(engine).get_columns("jobs")}
            finally:
                engine.dispose()

        upgrade(settings)
        assert {"request_fingerprint", "fair_tag"} <= columns()
        command.downgrade(alembic_config(settings), "0012")
        assert "fair_tag" not in columns() and "request_fingerprint" in columns()
        command.downgrade(alembic_config(settings), "0011")
        assert "request_fingerprint" not in columns() and "idempotency_key" in columns()
        upgrade(settings)
        assert {"request_fingerprint", "fair_tag"} <= columns()
    finally:
        if backend == "postgresql":
            _pg_admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
