"""Hostile-body probes of issue 17, repeatable: what large base64 bodies cost the API process, and how long
/health waits meanwhile. Prints, per server (this checkout, and with ``--compare SRC`` the same probes
against the ``src`` folder SRC, side by side in one run):

* ``json``: five concurrent ~60 MB base64 bodies with a valid key, one per dialect that takes base64
  (native ``base64``, Document Intelligence ``base64Source``, Huawei ``image``, the stream API ``image``
  with its key a member before it, OCR.space's form-encoded ``base64Image``): the API process's peak
  growth (VmHWM, reset before), and /health latency polled every 50 ms from a separate process;
* ``nokey``: four concurrent 69 MB JSON bodies to the stream API with no key anywhere: the answers, the
  API process's peak growth and how long each took.

Run from the repository root (a few minutes; only 127.0.0.1 is contacted):

    .venv/bin/python bench/hostile.py
    .venv/bin/python bench/hostile.py --compare /tmp/old/src --json /tmp/hostile.json
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

import httpx
from PIL import Image, ImageDraw, ImageFont

from _common import OcrgwServer, load_average

MIB = 1024 * 1024
DECODED = 44 * MIB
POLLER = """
import sys, time, httpx
url, stop, out = sys.argv[1], sys.argv[2], []
import os
client = httpx.Client(timeout=30)  # one kept connection: httpx.get builds a client (and SSL context) per call
client.get(url)
while not os.path.exists(stop):
    t = time.monotonic()
    try:
        client.get(url)
    except httpx.HTTPError:
        pass
    out.append(time.monotonic() - t)
    time.sleep(0.05)
out = out or [0.0]  # a probe over before the first poll
print(max(out) * 1000, sorted(out)[int(len(out) * 0.99)] * 1000, len(out))
"""


def text_png() -> bytes:
    img = Image.new("L", (640, 120), 255)
    ImageDraw.Draw(img).text((20, 30), "Hello World 2024", fill=0, font=ImageFont.load_default(40))
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def rss(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(field)


def concurrently(srv: OcrgwServer, posts: list[tuple[str, dict[str, str], bytes]]) -> dict:
    """Send ``posts`` at once; the API's peak growth, /health's slowest and p99 (ms), each answer."""
    pid = srv.proc.pid  # type: ignore[union-attr]
    httpx.get(srv.url + "/health", timeout=10)
    base = rss(pid, "VmRSS")
    Path(f"/proc/{pid}/clear_refs").write_text("5")
    stop = Path(tempfile.mktemp(prefix="hostile-stop-"))
    poller = subprocess.Popen(
        [sys.executable, "-c", POLLER, srv.url + "/health", str(stop)], stdout=subprocess.PIPE, text=True
    )
    answers: list[tuple[str, int, float]] = []

    def post(path: str, headers: dict[str, str], body: bytes) -> None:
        started = time.monotonic()
        try:
            status = httpx.post(srv.url + path, content=body, headers=headers, timeout=600).status_code
        except httpx.HTTPError as exc:
            status = -1 if "reset" not in str(exc).lower() else 0
        answers.append((path, status, round(time.monotonic() - started, 2)))

    threads = [threading.Thread(target=post, args=item) for item in posts]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stop.touch()
    slowest, p99, polls = (float(x) for x in poller.communicate(timeout=60)[0].split())
    stop.unlink()
    grown = (rss(pid, "VmHWM") - base) / MIB
    return {
        "api_peak_growth_mb": round(grown),
        "health_max_ms": round(slowest),
        "health_p99_ms": round(p99),
        "health_polls": int(polls),
        "answers": answers,
    }


def probes(srv: OcrgwServer, key: str) -> dict:
    text = base64.b64encode(text_png() + random.Random(17).randbytes(DECODED)).decode()
    uri = "data:image/png;base64," + text
    json_ct = {"Content-Type": "application/json"}
    posts = [
        ("/v1/jobs", {**json_ct, "X-API-Key": key}, json.dumps({"base64": text}).encode()),
        (
            "/documentintelligence/documentModels/prebuilt-read:analyze?api-version=2024-11-30",
            {**json_ct, "Ocp-Apim-Subscription-Key": key},
            json.dumps({"base64Source": text}).encode(),
        ),
        (
            "/v2/0123456789abcdef/ocr/general-text",
            {**json_ct, "X-Auth-Token": key},
            json.dumps({"image": text}).encode(),
        ),
        ("/ocr", json_ct, json.dumps({"api_key": key, "image": uri}).encode()),
        (
            "/parse/image",
            {"Content-Type": "application/x-www-form-urlencoded"},
            urlencode({"apikey": key, "base64Image": uri}).encode(),
        ),
    ]
    out = {"json": concurrently(srv, posts)}
    del posts
    nokey = json.dumps({"image": base64.b64encode(random.Random(3).randbytes(52 * MIB)).decode()}).encode()
    out["nokey"] = concurrently(srv, [("/ocr", json_ct, nokey)] * 4)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--compare", metavar="SRC", help="also probe a server started from this src folder")
    p.add_argument("--json", type=Path)
    args = p.parse_args()
    here = str(Path(__file__).resolve().parents[1] / "src")
    results = {}
    for name, src in [("this", here)] + ([("base", args.compare)] if args.compare else []):
        with tempfile.TemporaryDirectory() as d:
            env = {"OCRGW_AUTH": "key", "OCRGW_MAX_UPLOAD_BYTES": str(64 * MIB), "PYTHONPATH": src}
            os.environ["PYTHONPATH"] = src
            srv = OcrgwServer(2, Path(d), env)
            srv.start()
            try:
                key = srv.log().partition("Ocp-Apim-Subscription-Key: ")[2].split()[0]
                results[name] = probes(srv, key)
            finally:
                srv.stop()
    print(f"load average {load_average()}")
    for probe in ("json", "nokey"):
        print(f"\n{probe}:")
        for name, res in results.items():
            r = res[probe]
            print(
                f"  {name:5} API +{r['api_peak_growth_mb']} MB peak, /health max {r['health_max_ms']} ms "
                f"p99 {r['health_p99_ms']} ms ({r['health_polls']} polls); answers {r['answers']}"
            )
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
