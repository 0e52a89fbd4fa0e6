"""README.md's shell examples, run as a newcomer runs them: each command is taken from the README's fenced
`sh` blocks and run by bash against a real server (`ocrgw serve`, real workers and Tesseract), with only the
placeholders filled in: the port, the key (`KEY=...`), the ids the README abbreviates (`2f0d6f8e-...`) and
documents named as the README names them (`scan.png`, `scan.pdf`, ...) rendered into the working directory.
`.venv/bin/ocrgw` there runs this checkout's `ocrgw`. An example that drifts from the server, or a new sh
block nobody looked at, fails here."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from tests.conftest import REPO, Server

README = REPO / "README.md"
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
README_URL = "http://127.0.0.1:8000"
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"

# The sh blocks the tests below run, each found by a line of it.
MARKERS = [
    ".venv/bin/ocrgw keys create --name alice",
    '/vision/v3.2/read/analyze"',
    "-F mode=accurate",
    ".venv/bin/ocrgw ocr scans/",
    "/vision/v2.1/read/core/asyncBatchAnalyze",
    "imageanalysis:analyze",
    "prebuilt-read:analyze",
    "prebuilt-layout:analyze",
    "/parse/image",
    "ocr/general-text",
    "Textract.DetectDocumentText",
    "/v1/images:annotate?key=$KEY",
    "--data-binary @- http://127.0.0.1:8000/ocr",
    "/v1/languages",
    ".venv/bin/ocrgw usage --since 7d",
    ".venv/bin/ocrgw tiers",
    '"name": "team-b"',
]

# sh blocks this file does not run, each by a line it contains, and why. Every other sh block must be run.
NOT_RUN = {
    "./dev.sh serve     #": "installs packages and starts a server of its own",
    "/batch_process": "fetches https://example.com URLs (the tests reach only loopback)",
    "openapi-python-client generate": "installs generators from the registries; tests/sdk/ runs both",
    "sudo apt-get install": "installs a system package",
    "OCRGW_DATABASE_URL=postgresql": "scale-out hosts; tests/test_scaleout.py runs that deployment",
    "./dev.sh test -k azure": "the test suite and the benchmarks themselves",
}


def sh_blocks() -> list[str]:
    return re.findall(r"^```sh\n(.*?)^```", README.read_text(), flags=re.S | re.M)


def block(marker: str) -> str:
    found = [b for b in sh_blocks() if marker in b]
    assert len(found) == 1, f"{len(found)} sh blocks in README.md contain {marker!r}"
    return found[0]


def commands(text: str) -> list[str]:
    """The block's commands: comment lines (sample output) dropped, continued lines (`\\`, `|`) joined."""
    out: list[str] = []
    current = ""
    for line in text.splitlines():
        if not current and (not line.strip() or line.lstrip().startswith("#")):
            continue
        current += line + "\n"
        if not line.rstrip().endswith(("\\", "|")):
            out.append(current)
            current = ""
    assert not current, f"unfinished command: {current!r}"
    return out


class Shell:
    """bash in a working directory, the README's commands one at a time; variables a command assigns
    (`KEY=...`, `export ...`) are kept for the next ones, as in a terminal."""

    def __init__(self, cwd: Path, srv: Server) -> None:
        self.cwd, self.srv = cwd, srv
        self.env = {
            **os.environ,
            "OCRGW_DATA_DIR": str(srv.data_dir),  # the README's "same data directory"
            "LC_ALL": "C.UTF-8",
        }
        self.env.pop("KEY", None)
        self.env.pop("OCRGW_SERVER", None)
        self.env.pop("OCRGW_API_KEY", None)
        shim = cwd / ".venv" / "bin" / "ocrgw"  # the checkout's `ocrgw`, where ./dev.sh would put it
        shim.parent.mkdir(parents=True, exist_ok=True)
        shim.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} -m ocrgw.cli "$@"\n')
        shim.chmod(0o755)

    def run(self, command: str, subs: dict[str, str] | None = None, check: bool = True) -> str:
        command = command.replace(README_URL, self.srv.url).replace("KEY=...", f"KEY={self.srv.key}")
        for old, new in (subs or {}).items():
            command = command.replace(old, new)
        assigned = re.match(r"(?:export\s+)?([A-Za-z_]+=\S*(?:\s+[A-Za-z_]+=\S*)*)", command)
        if assigned:  # run it, and keep what it set
            names = [a.split("=", 1)[0] for a in assigned.group(1).split()]
            probe = command.rstrip("\n") + "\n" + "".join(f'printf "%s\\0" "${name}"\n' for name in names)
            values = self._bash(probe).split("\0")
            self.env.update(zip(names, values, strict=False))
            return ""
        return self._bash(command, check)

    def _bash(self, script: str, check: bool = True) -> str:
        proc = subprocess.run(
            ["bash", "-o", "pipefail", "-c", script],
            cwd=self.cwd,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if check:
            assert proc.returncode == 0, f"{script}\nexit {proc.returncode}\n{proc.stderr}\n{proc.stdout[:2000]}"
        return proc.stdout


def page(path: Path, lines: list[str], size: tuple[int, int] = (1100, 260), noise: int = 0) -> Path:
    """A rendered text page; `noise` adds grain that PNG cannot compress, for a big file that still reads."""
    im = Image.new("RGB", size, (255, 255, 255))
    font = ImageFont.truetype(FONT, 44) if Path(FONT).exists() else ImageFont.load_default(44)
    draw = ImageDraw.Draw(im)
    for i, line in enumerate(lines):
        draw.text((50, 50 + i * 90), line, fill=(0, 0, 0), font=font)
    if noise:
        grain = np.random.default_rng(13).integers(0, noise, (size[1], size[0], 3), dtype=np.int16)
        im = Image.fromarray((np.asarray(im).astype(np.int16) - grain).clip(0, 255).astype(np.uint8))
    path.parent.mkdir(parents=True, exist_ok=True)
    im.save(path, **({"resolution": 300} if path.suffix == ".pdf" else {}))
    return path


SCAN = ["Quarterly report", "Revenue grew steadily"]


def words(text: str) -> list[str]:
    return re.findall(r"\w+", text)


@pytest.fixture(scope="module")
def srv(embedded_server: Server) -> Server:
    """The shared embedded server (two workers, default settings but an 8 MiB upload limit; the README's
    large page is ~1.5 MB): the README's commands need a running server, not one of their own."""
    return embedded_server


@pytest.fixture
def shell(srv: Server, tmp_path: Path) -> Shell:
    return Shell(tmp_path, srv)


def _until(shell: Shell, command: str, subs: dict[str, str], done: str, timeout: float = 90) -> str:
    """Run a README status command again until its output shows `done`, as a person re-runs it."""
    deadline = time.monotonic() + timeout
    while done not in (out := shell.run(command, subs)):
        assert time.monotonic() < deadline, out
        time.sleep(0.3)
    return out


def test_every_sh_block_is_run_or_excused() -> None:
    for text in sh_blocks():
        hits = [m for m in [*MARKERS, *NOT_RUN] if m in text]
        assert len(hits) == 1, f"README sh block matched by {hits} (want exactly one test or excuse):\n{text}"


def test_ocrgw_is_called_the_same_way_everywhere() -> None:
    """`./dev.sh serve` puts `ocrgw` in .venv, not on the PATH: every command the README gives says so."""
    readme = README.read_text()
    bare = [
        line
        for text in sh_blocks()
        for line in commands(text)
        if re.search(r"(^|[;|&(]\s*)ocrgw\s", re.sub(r"\s#.*", "", line, flags=re.S).strip(), flags=re.M)
    ]
    assert not bare, bare
    # Inline, a command to type (`ocrgw keys create --aksk`) says so too; a command's name (`ocrgw serve`) may not.
    inline = [c for c in re.findall(r"`(ocrgw [^`]*)`", readme) if len(c.split()) > 2]
    assert not inline, inline


def test_keys(shell: Shell) -> None:
    create, listing, revoke = commands(block(".venv/bin/ocrgw keys create --name alice"))
    secret = shell.run(create).strip().splitlines()[-1]
    assert re.fullmatch(r"[0-9a-f]{32}", secret), secret
    r = httpx.get(f"{shell.srv.url}/v1/jobs", headers={"X-API-Key": secret})
    assert r.status_code == 200, r.text
    assert "alice" in shell.run(listing) and secret not in shell.run(listing)
    assert "revoked 1 key(s)" in shell.run(revoke)


def test_azure_read_curl_pair(shell: Shell) -> None:
    page(shell.cwd / "scan.png", SCAN)
    key, submit, result = commands(block('/vision/v3.2/read/analyze"'))
    shell.run(key)
    location = shell.run(submit)
    assert location.lower().startswith("operation-location: "), location
    op = re.search(UUID, location)
    assert op and f"{shell.srv.url}/vision/v3.2/read/analyzeResults/{op[0]}" in location
    body = json.loads(_until(shell, result, {"2f0d6f8e-...": op[0]}, '"succeeded"'))
    lines = [ln["text"] for ln in body["analyzeResult"]["readResults"][0]["lines"]]
    assert lines == SCAN, body


def test_native_curl(shell: Shell) -> None:
    page(shell.cwd / "scan.pdf", SCAN)
    page(shell.cwd / "receipt.jpg", ["Coffee 3.50", "Total 3.50"])
    shell.run("KEY=...")
    submit, status, result, accurate, layout, markdown = commands(block("-F mode=accurate"))
    job = json.loads(shell.run(submit))
    assert job["status"] == "queued" and job["progress"]["pages_total"] == 1, job
    _until(shell, status, {"0c5e...": job["id"]}, '"status":"succeeded"')
    shell.run(result, {"0c5e...": job["id"]})
    hocr = (shell.cwd / "scan.hocr").read_text()
    assert "ocrx_word" in hocr and ">Quarterly<" in hocr, hocr[:500]
    job = json.loads(shell.run(accurate))
    assert job["status"] == "queued", job
    done = _until(shell, status, {"0c5e...": job["id"]}, '"status":"succeeded"')
    assert '"status":"succeeded"' in done
    page(shell.cwd / "form.png", ["Supplies order", "Please tick the items you need."], size=(1400, 300))
    job = json.loads(shell.run(layout))
    _until(shell, status, {"0c5e...": job["id"]}, '"status":"succeeded"')
    md = shell.run(markdown, {"0c5e...": job["id"]})
    assert "Supplies order" in md and "Please tick the items you need." in md, md


def test_cli_client(shell: Shell) -> None:
    page(shell.cwd / "scans" / "first.pdf", ["First scanned page"])
    page(shell.cwd / "scans" / "second.pdf", ["Second scanned page"])
    page(shell.cwd / "receipts" / "shop.jpg", ["Coffee 3.50", "Total 3.50"])
    shell.run("KEY=...")
    for command in commands(block(".venv/bin/ocrgw ocr scans/")):
        shell.run(command)
    texts = shell.cwd / "texts"
    assert (texts / "first.txt").read_text().strip() == "First scanned page"
    assert (texts / "second.txt").read_text().strip() == "Second scanned page"
    assert words((texts / "shop.txt").read_text()) == ["Coffee", "3", "50", "Total", "3", "50"]


def test_v21_batch_read_curl_pair(shell: Shell) -> None:
    page(shell.cwd / "scan.png", SCAN)
    shell.run("KEY=...")
    submit, result = commands(block("/vision/v2.1/read/core/asyncBatchAnalyze"))
    op = re.search(UUID, shell.run(submit))
    assert op
    body = json.loads(_until(shell, result, {"5d9e07c1-...": op[0]}, '"Succeeded"'))
    assert [ln["text"] for ln in body["recognitionResults"][0]["lines"]] == SCAN


def test_image_analysis_curl(shell: Shell) -> None:
    page(shell.cwd / "scan.png", SCAN)
    shell.run("KEY=...")
    (analyze,) = commands(block("imageanalysis:analyze"))
    body = json.loads(shell.run(analyze))
    assert [ln["text"] for b in body["readResult"]["blocks"] for ln in b["lines"]] == SCAN, body


def test_document_intelligence_curl(shell: Shell) -> None:
    page(shell.cwd / "contract.pdf", ["This contract is signed"])
    shell.run("KEY=...")
    (submit,) = commands(block("prebuilt-read:analyze"))
    location = shell.run(submit)
    path = rf"/documentintelligence/documentModels/prebuilt-read/analyzeResults/{UUID}\?api-version=2024-11-30"
    assert re.search(path, location), location


def test_document_intelligence_layout_curl(shell: Shell) -> None:
    page(shell.cwd / "form.png", ["Supplies order"])
    shell.run("KEY=...")
    (submit,) = commands(block("prebuilt-layout:analyze"))
    location = shell.run(submit)
    path = rf"/documentintelligence/documentModels/prebuilt-layout/analyzeResults/{UUID}\?api-version=2024-11-30"
    assert re.search(path, location), location


def test_ocrspace_curl(shell: Shell) -> None:
    page(shell.cwd / "scan.png", SCAN)
    shell.run("KEY=...")
    (parse,) = commands(block("/parse/image"))
    body = json.loads(shell.run(parse))
    assert body["OCRExitCode"] == 1, body
    assert words(body["ParsedResults"][0]["ParsedText"]) == words(" ".join(SCAN))
    assert body["ParsedResults"][0]["TextOverlay"]["Lines"], body  # isOverlayRequired=true


BIG = ["Large scan for Huawei", "sent through a pipe"]


def test_huawei_curl_with_a_large_image(shell: Shell) -> None:
    """The base64 of a page over 1 MB is far longer than one command-line argument may be (128 KiB)."""
    scan = page(shell.cwd / "scan.png", BIG, size=(1600, 1000), noise=24)
    assert scan.stat().st_size > 1_000_000
    shell.run("KEY=...")
    (recognise,) = commands(block("ocr/general-text"))
    body = json.loads(shell.run(recognise))
    assert [w["words"] for w in body["result"]["words_block_list"]] == BIG, body
    assert body["result"]["direction"] != -1, body  # detect_direction=true reached the server


def test_textract_curl_signed_with_sigv4(shell: Shell) -> None:
    """curl's own SigV4 (`--aws-sigv4`) with the AK/SK pair a fresh `keys create --aksk` prints."""
    page(shell.cwd / "scan.png", SCAN)
    body = json.loads(shell.run(block("Textract.DetectDocumentText")))
    assert [b["Text"] for b in body["Blocks"] if b["BlockType"] == "LINE"] == SCAN, body


def test_google_vision_curl_with_a_large_image(shell: Shell) -> None:
    scan = page(shell.cwd / "scan.png", BIG, size=(1600, 1000), noise=24)
    assert scan.stat().st_size > 1_000_000
    shell.run("KEY=...")
    (annotate,) = commands(block("/v1/images:annotate?key=$KEY"))
    (response,) = json.loads(shell.run(annotate))["responses"]
    assert response["fullTextAnnotation"]["text"] == "\n".join(BIG) + "\n", response.get("error")
    assert response["textAnnotations"][0]["locale"] == "en"


def test_streaming_server_curl_with_a_large_image(shell: Shell) -> None:
    page(shell.cwd / "scan.png", BIG, size=(1600, 1000), noise=24)
    shell.run("KEY=...")
    (recognise,) = commands(block("--data-binary @- http://127.0.0.1:8000/ocr"))
    assert words(json.loads(shell.run(recognise))["text"]) == words(" ".join(BIG))


def test_languages_curl(shell: Shell) -> None:
    (languages,) = commands(block("/v1/languages"))
    body = json.loads(shell.run(languages))
    assert {"model": "eng", "codes": ["en"]} in body["languages"] and body["default"] == "eng", body


def test_usage_commands(shell: Shell) -> None:
    table, to_csv, admin, curl = commands(block(".venv/bin/ocrgw usage --since 7d"))
    assert shell.run(table).splitlines()[-1].split()[0] == "total"
    shell.run(to_csv)
    assert (shell.cwd / "usage.csv").read_text().startswith("day,key_id,key_name,service,calls,pages")
    shell.run(admin)
    body = json.loads(shell.run(curl))
    assert set(body) == {"items", "calls", "pages"} and all(i["service"] == "azure-read" for i in body["items"])


def test_tenancy_commands(shell: Shell) -> None:
    tiers, create, limit, tier, subscribe, show, clear, listing = commands(block(".venv/bin/ocrgw tiers"))
    assert "azure-docintel-free" in shell.run(tiers)
    assert re.fullmatch(r"[0-9a-f]{32}", shell.run(create).strip().splitlines()[-1])
    for command in (limit, tier, subscribe):
        shell.run(command)
    shown = shell.run(show)
    assert "20/60s burst 5, 4 jobs at once, 10000 pages/month" in shown, shown
    assert "tier huawei-general-text" in shown and "tier azure-docintel-free" in shown, shown
    assert re.search(r"huawei-passport +\S+ +1000 +0 +1000 +0", shown), shown
    shell.run(clear)
    (team,) = [k for k in json.loads(shell.run(listing))["items"] if k["name"] == "team-a"]
    assert [row["service"] for row in team["limits"]] == ["*", "huawei-general-text"], team
    assert {s["service"] for s in team["subscriptions"]} == {"huawei-general-text", "huawei-passport"}
    assert team["subscription_required"]


def test_admin_api_curls(shell: Shell) -> None:
    admin, create, put, queue = commands(block('"name": "team-b"'))
    shell.run(admin)
    made = json.loads(shell.run(create))
    assert made["key"]["name"] == "team-b" and made["key"]["tiers"] == ["ocrspace-free"], made
    row = json.loads(shell.run(put, {"5e0c2a71-...": made["key"]["id"]}))
    assert (row["service"], row["concurrent_jobs"], row["backlog_share"]) == ("*", 2, 0.25), row
    assert set(json.loads(shell.run(queue))) == {"items", "queued", "running"}
