"""Page-budget benchmark (issue 17 item 2): a worker's peak memory on pages that are small uploads but huge
bitmaps, through a real server with one local worker, Azure Read v3.2 submits.

* ``png``: 9990 x 9990 RGB PNG, white with three lines of 120 px text (~380 KB, 100 MP decoded);
* ``pdf``: a ~600-byte one-page PDF, MediaBox 200 x 200 inches, one line of 1000-point text.

For each, the worker's high-water resident set is reset (``/proc/PID/clear_refs``) before the submit and
read until the job ends; printed with its resting size before, its size after, the job's status and time,
the page's size and lines. Run from the repository root (a minute; only 127.0.0.1 is contacted):

    .venv/bin/python bench/page_budget.py
    .venv/bin/python bench/page_budget.py pdf --env OCRGW_MAX_READ_MEGAPIXELS=100

``--env`` passes settings to the server (the budget at 100 is the intake cap: no reduction, as before it
existed)."""

from __future__ import annotations

import argparse
import io
import json
import sys
import tempfile
import time
from pathlib import Path

import httpx
from PIL import Image, ImageDraw, ImageFont

from _common import OCTET_STREAM, READ_ANALYZE, OcrgwServer, peak_rss_mb
from memory import worker_pid

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository: tests.bodies
from tests.bodies import poster_pdf

DEJAVU = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
TEXT = ["A very large page of a few lines", "drawn on a mostly white canvas", "to see the worker memory"]


def png_bomb() -> bytes:
    img = Image.new("RGB", (9990, 9990), "white")
    draw = ImageDraw.Draw(img)
    font = ImageFont.truetype(str(DEJAVU), 120) if DEJAVU.exists() else ImageFont.load_default(120)
    for i, text in enumerate(TEXT):
        draw.text((400, 400 + i * 200), text, fill="black", font=font)
    buf = io.BytesIO()
    img.save(buf, "PNG", compress_level=9)
    return buf.getvalue()


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def measure(server: OcrgwServer, name: str, body: bytes) -> dict:
    """Submit one document and follow the worker's peak until the job ends."""
    worker = worker_pid(server)
    Path(f"/proc/{worker}/clear_refs").write_text("5")  # VmHWM := VmRSS
    resting = _rss_mb(worker)
    r = httpx.post(server.url + READ_ANALYZE, content=body, headers=OCTET_STREAM, timeout=60)
    r.raise_for_status()
    started, peak = time.monotonic(), 0.0
    while True:
        peak = max(peak, peak_rss_mb(worker))
        op = httpx.get(r.headers["Operation-Location"], timeout=30).json()
        if op["status"] in ("succeeded", "failed"):
            break
        time.sleep(0.05)
    peak = max(peak, peak_rss_mb(worker))
    pages = (op.get("analyzeResult") or {}).get("readResults") or [{}]
    return {
        "input": name,
        "bytes": len(body),
        "status": op["status"],
        "seconds": round(time.monotonic() - started, 1),
        "worker_resting_mb": round(resting),
        "worker_peak_mb": round(peak),
        "worker_after_mb": round(_rss_mb(worker)),
        "page": {k: pages[0].get(k) for k in ("width", "height", "unit")},
        "lines": [line["text"] for line in pages[0].get("lines", [])],
        "error": op.get("error") or (op.get("analyzeResult") or {}).get("errors"),
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("inputs", nargs="*", help="png, pdf (default: both)")
    p.add_argument("--env", action="append", default=[], help="NAME=VALUE for the server")
    args = p.parse_args()
    env = {"OCRGW_WORKER_MAX_MEMORY_MB": "100000", **dict(kv.split("=", 1) for kv in args.env)}
    makers = {"png": png_bomb, "pdf": poster_pdf}
    if unknown := set(args.inputs) - set(makers):
        p.error(f"unknown inputs {sorted(unknown)}")
    with tempfile.TemporaryDirectory(prefix="ocrgw-page-budget-") as tmp:
        server = OcrgwServer(1, Path(tmp), env)
        server.start()
        try:
            time.sleep(2)  # the worker warms its engines after /health answers
            for name in args.inputs or list(makers):
                print(json.dumps(measure(server, name, makers[name]())), flush=True)
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
