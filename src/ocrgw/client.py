"""`ocrgw ocr FILES...`: a client of the native /v1 API for batches of documents. Submits several files at
once, polls them, writes one output per input, and shows a progress bar. It is polite to a busy server: a
429 is retried after its Retry-After, and network errors or 5xx answers back off and retry. Each submit
carries an Idempotency-Key derived from the file and the options, so a retried submit never makes a
second job. A key the server refuses (401/403) stops the batch at once with one message: every other file
would be refused the same way. Runs anywhere Python and ocrgw are installed; it needs no server-side access."""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import random
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from tqdm import tqdm

# --format -> (native format, file extension)
FORMATS = {
    "txt": ("text", "txt"),
    "json": ("json", "json"),
    "hocr": ("hocr", "hocr"),
    "alto": ("alto", "xml"),
    "tsv": ("tsv", "tsv"),
    "pdf": ("pdf", "pdf"),
    "md": ("markdown", "md"),
    "html": ("html", "html"),
}
MAX_TRIES = 8


class ClientError(Exception):
    """A document the server refused or could not read; the message is the server's."""


class AuthError(ClientError):
    """The server refused the key (or its absence): not about one file, so the batch stops."""


@dataclass
class Options:
    server: str
    key: str | None
    fmt: str
    out_dir: Path
    languages: str | None = None
    mode: str | None = None  # default | accurate (None: the server's)
    concurrency: int = 4
    poll_interval: float = 0.5
    timeout: float = 600.0
    throttled: int = 0  # 429s seen, for the summary
    retried: int = 0  # network errors and 5xx retried
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    auth_failed: AuthError | None = None  # set by the first refused call; no file is submitted after it


def output_paths(files: list[Path], out_dir: Path, ext: str) -> list[Path]:
    """One output per input, named after it; inputs with the same name from different folders get -2, -3."""
    used: dict[str, int] = {}
    paths = []
    for f in files:
        stem = f.stem
        n = used.get(stem, 0) + 1
        used[stem] = n
        paths.append(out_dir / (f"{stem}.{ext}" if n == 1 else f"{stem}-{n}.{ext}"))
    return paths


def _error_message(resp: httpx.Response) -> str:
    try:
        err = resp.json()["error"]
        return f"{err['code']}: {err['message']}"
    except (ValueError, KeyError, TypeError):
        return f"HTTP {resp.status_code}: {resp.text[:200]}"


def _auth_error(resp: httpx.Response, opts: Options) -> AuthError:
    detail = _error_message(resp)
    if opts.key:
        return AuthError(f"the server at {opts.server} refused the API key ({detail}); no further files submitted")
    return AuthError(
        f"the server at {opts.server} needs an API key ({detail}): give --key KEY or set OCRGW_API_KEY "
        "(`ocrgw keys create` on the server makes one)"
    )


async def _request(client: httpx.AsyncClient, opts: Options, method: str, url: str, **kw: Any) -> httpx.Response:
    """One call with the retry policy: a 429 is backpressure, not an error, so it is waited out (its
    Retry-After) for as long as the per-file timeout allows; 5xx and network errors back off and count
    against MAX_TRIES. A 401 or 403 raises AuthError: the key, not the file, is at fault."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + opts.timeout
    delay = 1.0
    failures = 0
    while True:
        try:
            resp = await client.request(method, url, **kw)
        except httpx.TransportError:
            failures += 1
            if failures >= MAX_TRIES:
                raise
            opts.retried += 1
            await asyncio.sleep(delay + random.random() * delay / 2)
            delay = min(delay * 2, 30)
            continue
        if resp.status_code == 429:
            opts.throttled += 1
            wait = resp.headers.get("retry-after", "")
            pause = (float(wait) if wait.replace(".", "", 1).isdigit() else delay) + random.random()
            if loop.time() + pause > deadline:
                raise ClientError(f"the server stayed busy for {opts.timeout:g} s (HTTP 429)")
            await asyncio.sleep(pause)
            continue
        if resp.status_code >= 500:
            failures += 1
            if failures < MAX_TRIES:
                opts.retried += 1
                await asyncio.sleep(delay + random.random() * delay / 2)
                delay = min(delay * 2, 30)
                continue
        if resp.status_code in (401, 403):
            raise _auth_error(resp, opts)
        return resp


async def ocr_one(client: httpx.AsyncClient, opts: Options, path: Path, out: Path) -> None:
    data = await asyncio.to_thread(path.read_bytes)
    native_fmt, _ = FORMATS[opts.fmt]
    fields = {"reading_order": "natural"}
    if opts.languages:
        fields["languages"] = opts.languages
    if opts.mode:
        fields["mode"] = opts.mode
    if native_fmt == "pdf":
        fields["searchable_pdf"] = "true"
    if native_fmt in ("markdown", "html"):  # headings, tables and checkboxes: the page's layout
        fields["layout"] = "true"
    idem = hashlib.sha256(data + json.dumps(fields, sort_keys=True).encode()).hexdigest()
    resp = await _request(
        client,
        opts,
        "POST",
        "/v1/jobs",
        files={"file": (path.name, data)},
        data=fields,
        headers={"Idempotency-Key": idem},
    )
    if resp.status_code != 202:
        raise ClientError(_error_message(resp))
    job = resp.json()
    deadline = asyncio.get_running_loop().time() + opts.timeout
    interval = opts.poll_interval
    while job["status"] not in ("succeeded", "failed"):
        if asyncio.get_running_loop().time() > deadline:
            raise ClientError(f"not finished after {opts.timeout:g} s (job {job['id']})")
        await asyncio.sleep(interval)
        interval = min(interval * 1.5, 5.0)
        resp = await _request(client, opts, "GET", f"/v1/jobs/{job['id']}")
        if resp.status_code != 200:
            raise ClientError(_error_message(resp))
        job = resp.json()
    if job["status"] == "failed":
        raise ClientError(f"{job['error']['code']}: {job['error']['message']}")
    resp = await _request(client, opts, "GET", f"/v1/jobs/{job['id']}/result", params={"format": native_fmt})
    if resp.status_code != 200:
        raise ClientError(_error_message(resp))
    tmp = out.with_name(out.name + ".part")
    await asyncio.to_thread(tmp.write_bytes, resp.content)
    await asyncio.to_thread(tmp.replace, out)  # a half-written output never has the final name


async def run(files: list[Path], opts: Options) -> dict[Path, str | None]:
    """OCR every file; returns each input's error message, or None where its output was written."""
    opts.out_dir.mkdir(parents=True, exist_ok=True)
    outputs = output_paths(files, opts.out_dir, FORMATS[opts.fmt][1])
    headers = {"X-API-Key": opts.key} if opts.key else {}
    results: dict[Path, str | None] = {}
    sem = asyncio.Semaphore(opts.concurrency)
    bar = tqdm(total=len(files), unit="file", file=sys.stderr, disable=None, dynamic_ncols=True)
    async with httpx.AsyncClient(
        base_url=opts.server.rstrip("/"),
        headers=headers,
        timeout=120,
        limits=httpx.Limits(max_connections=opts.concurrency * 2),
    ) as client:

        async def one(path: Path, out: Path) -> None:
            async with sem:
                if opts.auth_failed:  # refused key: the rest are not submitted
                    results[path] = str(opts.auth_failed)
                    return
                try:
                    await ocr_one(client, opts, path, out)
                    results[path] = None
                except AuthError as exc:
                    results[path] = str(exc)
                    if opts.auth_failed is None:  # files already in flight meet it too: say it once
                        opts.auth_failed = exc
                        bar.write(f"ocrgw ocr: {exc}", file=sys.stderr)
                except (ClientError, OSError, httpx.HTTPError) as exc:
                    results[path] = str(exc) or type(exc).__name__
                    bar.write(f"{path}: {results[path]}", file=sys.stderr)
                bar.update(1)
                bar.set_postfix(failed=sum(1 for v in results.values() if v), busy=opts.throttled, refresh=False)

        await asyncio.gather(*(one(p, o) for p, o in zip(files, outputs, strict=True)))
    bar.close()
    return results


def main(args: argparse.Namespace) -> int:
    files = [Path(f) for f in args.files]
    missing = [f for f in files if not f.is_file()]
    if missing:
        print(f"no such file: {', '.join(map(str, missing))}", file=sys.stderr)
        return 2
    opts = Options(
        server=args.server,
        key=args.key,
        fmt=args.format,
        out_dir=Path(args.out),
        languages=args.languages,
        mode=args.mode,
        concurrency=max(1, args.concurrency),
        timeout=args.timeout,
    )
    results = asyncio.run(run(files, opts))
    if opts.auth_failed:
        done = sum(1 for err in results.values() if err is None)
        print(f"stopped: {done} of {len(files)} done before the key was refused", file=sys.stderr)
        return 2
    failed = [p for p, err in results.items() if err]
    print(
        f"{len(files) - len(failed)} of {len(files)} done, {len(failed)} failed; outputs in {opts.out_dir} "
        f"(server busy {opts.throttled} time(s), {opts.retried} retried)",
        file=sys.stderr,
    )
    return 1 if failed else 0
