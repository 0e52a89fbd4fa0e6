"""`ocrgw ocr`, the batch client, run as a user runs it (a subprocess) against a real server: one output
per input in each format, concurrent submits against a server whose backlog bound makes it answer 429,
which the client waits out, and a bad file reported without stopping the others."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pypdfium2 as pdfium
from PIL import Image, ImageDraw, ImageFont
from rapidfuzz.distance import Levenshtein

from tests.conftest import Server

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
WORDS = ["Alpha one", "Bravo two", "Charlie three", "Delta four", "Echo five", "Foxtrot six"]


def _image(text: str, path: Path) -> Path:
    im = Image.new("L", (640, 120), 255)
    font = ImageFont.truetype(FONT, 44) if Path(FONT).exists() else ImageFont.load_default(44)
    ImageDraw.Draw(im).text((20, 30), text, fill=0, font=font)
    im.save(path)
    return path


def _run(srv: Server, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ocrgw.cli", "ocr", "--server", srv.url, "--key", srv.key, *args],
        capture_output=True,
        text=True,
        timeout=300,
    )


def _long_pdf(path: Path, pages: int = 4) -> Path:
    ims = [Image.new("L", (2480, 3508), 255) for _ in range(pages)]
    font = ImageFont.truetype(FONT, 60) if Path(FONT).exists() else ImageFont.load_default(60)
    for i, im in enumerate(ims):
        draw = ImageDraw.Draw(im)
        for row in range(40):
            draw.text(
                (150, 150 + row * 80), f"Page {i + 1} line {row + 1} keeps the only worker busy", fill=0, font=font
            )
    ims[0].save(path, format="PDF", save_all=True, append_images=ims[1:], resolution=300)
    return path


def test_batch_to_text_with_a_busy_server_and_a_bad_file(make_server, tmp_path: Path) -> None:
    # One worker, kept busy by a long PDF, and a backlog bound of 1 already reached: the client's
    # concurrent submits must meet 429s and wait them out.
    import httpx

    srv: Server = make_server(
        workers=1, env={"OCRGW_MAX_BACKLOG": "1", "OCRGW_BACKLOG_RETRY_AFTER_SECONDS": "1"}
    ).start()
    busy = httpx.post(
        srv.url + "/v1/jobs",
        headers={"X-API-Key": srv.key},
        timeout=60,
        files={"file": ("long.pdf", _long_pdf(tmp_path / "long.pdf").read_bytes())},
    )
    assert busy.status_code == 202, busy.text
    deadline = time.monotonic() + 60
    while httpx.get(busy.json()["links"]["self"], headers={"X-API-Key": srv.key}).json()["status"] == "queued":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    # A second job waits behind it, filling the backlog: every submit now gets 429 until the PDF is done.
    filler = httpx.post(
        srv.url + "/v1/jobs",
        headers={"X-API-Key": srv.key},
        timeout=60,
        files={"file": ("f.png", _image("Filler", tmp_path / "filler.png").read_bytes())},
    )
    assert filler.status_code == 202, filler.text
    src = tmp_path / "in"
    (src / "sub").mkdir(parents=True)
    files = [_image(w, src / f"doc{i}.png") for i, w in enumerate(WORDS)]
    files.append(_image("Golf seven", src / "sub" / "doc0.png"))  # same name, other folder
    bad = src / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 20)
    out = tmp_path / "out"
    proc = _run(srv, *map(str, [*files, bad]), "--format", "txt", "--out", str(out), "--concurrency", "6")
    assert proc.returncode == 1, proc.stderr  # one file failed
    assert "broken.png" in proc.stderr and "InvalidImage" in proc.stderr
    assert "7 of 8 done, 1 failed" in proc.stderr
    throttled = int(proc.stderr.rsplit("server busy ", 1)[1].split(" ")[0])
    assert throttled > 0, proc.stderr  # the client met 429s and still finished every file
    for i, w in enumerate(WORDS):
        assert (out / f"doc{i}.txt").read_text().strip() == w
    assert (out / "doc0-2.txt").read_text().strip() == "Golf seven"
    assert sorted(p.name for p in out.iterdir()) == sorted([f"doc{i}.txt" for i in range(6)] + ["doc0-2.txt"])


def test_formats_json_hocr_pdf(own_key: Server, tmp_path: Path) -> None:
    srv = own_key
    doc = _image("Searchable words here", tmp_path / "page.png")
    for fmt, name in (("json", "page.json"), ("hocr", "page.hocr"), ("pdf", "page.pdf")):
        proc = _run(srv, str(doc), "--format", fmt, "--out", str(tmp_path / fmt))
        assert proc.returncode == 0, proc.stderr
        data = (tmp_path / fmt / name).read_bytes()
        if fmt == "json":
            assert b'"text":"Searchable words here\\n"' in data
        elif fmt == "hocr":
            assert b"ocrx_word" in data and b">Searchable<" in data
        else:
            text = pdfium.PdfDocument(data)[0].get_textpage().get_text_range()
            assert Levenshtein.distance(" ".join(text.split()), "Searchable words here") <= 2
    # The same file with the same options reuses its job (the client sends an Idempotency-Key).
    import httpx

    listed = httpx.get(srv.url + "/v1/jobs", headers={"X-API-Key": srv.key}).json()["items"]
    assert len(listed) == 2  # json and hocr share one job (same options); pdf asked for a searchable PDF
    assert _run(srv, str(doc), "--out", str(tmp_path / "again")).returncode == 0
    # --mode accurate reaches the worker: the JSON result's page says which engine read it.
    proc = _run(srv, str(doc), "--format", "json", "--mode", "accurate", "--out", str(tmp_path / "accurate"))
    assert proc.returncode == 0, proc.stderr
    data = (tmp_path / "accurate" / "page.json").read_bytes()
    assert b'"name":"rapidocr"' in data and b"Searchable words here" in data


def test_a_missing_or_refused_key_stops_at_once(embedded_server: Server, tmp_path: Path) -> None:
    """Every file would be refused the same way: one message, exit status 2, and the files not yet sent stay
    unsent (at most --concurrency submits reach the server), rather than one MissingKey per file."""
    srv = embedded_server
    files = [_image(w, tmp_path / f"doc{i}.png") for i, w in enumerate(WORDS)]
    env = {k: v for k, v in os.environ.items() if k not in ("OCRGW_API_KEY", "OCRGW_SERVER")}
    for key_args, code in (([], "MissingKey"), (["--key", "not-a-key"], "InvalidKey")):
        before = srv.log().count('"POST /v1/jobs 401 ')
        proc = subprocess.run(
            [sys.executable, "-m", "ocrgw.cli", "ocr", "--server", srv.url, *key_args, "--concurrency", "2"]
            + [str(f) for f in files]
            + ["--out", str(tmp_path / "out")],
            capture_output=True,
            text=True,
            timeout=120,
            env=env,
        )
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr.count(code) == 1, proc.stderr
        assert ("--key" in proc.stderr) == (not key_args), proc.stderr  # without a key, says how to give one
        assert "0 of 6 done" in proc.stderr, proc.stderr
        time.sleep(0.5)  # the access log line of the last refused submit
        assert 1 <= srv.log().count('"POST /v1/jobs 401 ') - before <= 2, srv.log()[-3000:]
    assert not list((tmp_path / "out").iterdir())
