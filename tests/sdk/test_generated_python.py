"""The Python client openapi-python-client generates from a running server's live /v1/openapi.json, used the
way a client author would: upload the phototest page by multipart (and once as raw bytes with the options in the
query string), poll getJob until it has succeeded, fetch getJobResult as JSON and score its text, find the
job with listJobs, delete it with deleteJob, and read a 404 as the native ErrorResponse. Both security
schemes of the spec are used (X-API-Key and HTTP Bearer).

Generation itself must be clean, with the generator's defaults (no config: the README's command as written):
a warning means the spec has something the generator cannot turn into code, and that is a spec bug (issue 8
item 2, issue 13 item 8), so the test fails on it."""

from __future__ import annotations

import contextlib
import importlib
import io
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

from tests.conftest import Server
from tests.sdk.common import MAX_CER, cer, document, save_live_spec

PACKAGE = "ocrgw_client"


def generate(spec_path: Path, out_dir: Path) -> Path:
    """Run the generator as its CLI; the venv's bin dir goes first on PATH because it formats its output
    with ruff (and warns when ruff is missing)."""
    package = out_dir / PACKAGE
    env = {**os.environ, "PATH": str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", "")}
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "openapi_python_client",
            "generate",
            "--path",
            str(spec_path),
            "--output-path",
            str(package),
            "--meta",
            "none",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    output = run.stdout + run.stderr
    assert run.returncode == 0, output
    assert "warning" not in output.lower(), output
    assert (package / "api" / "ocrgw_native_api" / "submit_job.py").is_file(), output
    return out_dir


@contextlib.contextmanager
def imported(root: Path) -> Iterator[Callable[[str], ModuleType]]:
    """Import the generated package from `root`, and forget it afterwards so nothing leaks into other tests."""
    sys.path.insert(0, str(root))
    try:
        yield lambda name: importlib.import_module(f"{PACKAGE}.{name}" if name else PACKAGE)
    finally:
        sys.path.remove(str(root))
        for name in [m for m in sys.modules if m == PACKAGE or m.startswith(PACKAGE + ".")]:
            del sys.modules[name]


def wait_done(get_job: ModuleType, client: Any, job_id: str, timeout: float = 60) -> Any:
    """Poll getJob through the generated client until the job has succeeded or failed."""
    deadline = time.monotonic() + timeout
    while True:
        op = get_job.sync(job_id, client=client)
        assert op is not None and hasattr(op, "status"), op
        if op.status.value in ("succeeded", "failed") or time.monotonic() > deadline:
            return op
        time.sleep(0.2)


def test_generated_python_client_submits_polls_and_fetches(sdk_server: Server, tmp_path: Path) -> None:
    path, truth = document()
    data = path.read_bytes()
    save_live_spec(sdk_server, tmp_path / "spec.json")
    root = generate(tmp_path / "spec.json", tmp_path)

    with imported(root) as mod:
        client_mod, models, types = mod(""), mod("models"), mod("types")
        api = {
            name: mod(f"api.ocrgw_native_api.{name}")
            for name in ("submit_job", "get_job", "get_job_result", "export_job_result", "list_jobs", "delete_job")
        }
        # The spec's APIKeyHeader scheme: the key as it is, in X-API-Key.
        client = client_mod.AuthenticatedClient(
            base_url=sdk_server.url, token=sdk_server.key, prefix="", auth_header_name="X-API-Key", timeout=60
        )

        form = models.SubmitForm(
            file=types.File(payload=io.BytesIO(data), file_name=path.name, mime_type="image/tiff"), languages="en"
        )
        submitted = api["submit_job"].sync_detailed(client=client, body=form)
        assert submitted.status_code == 202, submitted.content
        op = submitted.parsed
        assert isinstance(op, models.Operation), submitted.content
        assert submitted.headers["location"] == op.links.self_  # `self` is renamed in Python

        # Raw bytes, options as query parameters: the spec's third request body.
        raw = api["submit_job"].sync(
            client=client, body=types.File(payload=io.BytesIO(data)), languages="en", layout=True
        )
        assert isinstance(raw, models.Operation), raw

        for job in (op, raw):
            done = wait_done(api["get_job"], client, job.id)
            assert done.status.value == "succeeded", done
            assert (done.progress.pages_done, done.progress.pages_total) == (1, 1)
            result = api["get_job_result"].sync(job.id, client=client, format_="json")
            assert isinstance(result, models.Result), result
            assert cer(result.text, truth) <= MAX_CER, result.text
            words = [w for ln in result.pages[0].lines for w in ln.words]
            assert words and all(len(w.bbox) == 8 and 0 <= w.confidence <= 1 for w in words)
            layout = result.pages[0].layout
            if job is raw:  # layout=true: paragraphs covering every line, typed by the generated models
                assert isinstance(layout, models.Layout), layout
                covered = sorted(i for para in layout.paragraphs for i in para.lines)
                assert covered == list(range(len(result.pages[0].lines)))
                # exportJobResult: the export formats come back as the file's bytes, typed File
                fmt = models.ExportJobResultFormat
                markdown = api["export_job_result"].sync(job.id, fmt.MARKDOWN, client=client)
                assert isinstance(markdown, types.File), markdown
                assert cer(markdown.payload.read().decode(), truth) <= MAX_CER
                page = api["export_job_result"].sync_detailed(job.id, fmt.HTML, client=client)
                assert page.headers["content-type"].startswith("text/html"), page.headers
                assert page.parsed.payload.read().decode().startswith("<!DOCTYPE html>")
                pdf = api["export_job_result"].sync_detailed(job.id, fmt.PDF, client=client)  # not asked for
                assert pdf.status_code == 400 and isinstance(pdf.parsed, models.ErrorResponse), pdf.content
                assert pdf.parsed.error.code == "NotRequested"
            else:
                assert layout is None

        # The spec's HTTPBearer scheme, the generated client's default header.
        bearer = client_mod.AuthenticatedClient(base_url=sdk_server.url, token=sdk_server.key, timeout=60)
        listed = api["list_jobs"].sync(client=bearer, limit=100)
        assert isinstance(listed, models.OperationList), listed
        assert {op.id, raw.id} <= {item.id for item in listed.items}

        deleted = api["delete_job"].sync_detailed(op.id, client=client)
        assert deleted.status_code == 204, deleted.content
        gone = api["get_job"].sync_detailed(op.id, client=client)
        assert gone.status_code == 404
        assert isinstance(gone.parsed, models.ErrorResponse), gone.content
        assert gone.parsed.error.code == "NotFound" and gone.parsed.error.message

        anonymous = client_mod.Client(base_url=sdk_server.url, timeout=60)
        refused = api["list_jobs"].sync_detailed(client=anonymous)
        assert refused.status_code == 401 and isinstance(refused.parsed, models.ErrorResponse), refused.content
        _administers(mod, sdk_server, client)


def _administers(mod: Callable[[str], ModuleType], srv: Server, plain: Any) -> None:
    """The admin API through the generated client: typed bodies in, typed answers and errors out."""
    client_mod, models = mod(""), mod("models")
    names = ("create_key", "set_key_limit", "get_key", "list_tiers", "revoke_key", "list_keys")
    api = {name: mod(f"api.ocrgw_native_api.{name}") for name in names}
    admin_key = srv.cli("keys", "create", "--admin", "--name", "sdk-admin", "-q").strip()
    client = client_mod.AuthenticatedClient(
        base_url=srv.url, token=admin_key, prefix="", auth_header_name="X-API-Key", timeout=60
    )
    tier = next(t for t in models.KeyCreateTierType0 if t.value == "ocrspace-free")
    made = api["create_key"].sync(client=client, body=models.KeyCreate(name="sdk-made", tier=tier))
    assert isinstance(made, models.KeyCreated) and len(made.secret) == 32, made
    every = next(s for s in models.SetKeyLimitService if s.value == "*")
    row = api["set_key_limit"].sync(made.key.id, every, client=client, body=models.LimitSettings(concurrent_jobs=3))
    assert isinstance(row, models.Limits) and (row.service, row.concurrent_jobs) == ("*", 3), row
    key = api["get_key"].sync(made.key.id, client=client)
    assert key.tiers == ["ocrspace-free"] and {lim.service for lim in key.limits} == {"*", "ocrspace"}, key
    assert isinstance(api["list_tiers"].sync(client=client), models.TierList)
    assert api["revoke_key"].sync(made.key.id, client=client).revoked_at is not None
    refused = api["list_keys"].sync_detailed(client=plain)
    assert refused.status_code == 403 and refused.parsed.error.code == "Forbidden", refused.content
