"""`ocrgw keys show|limit|subscribe|unsubscribe`, `keys list --format json`, `keys create --tier` and
`ocrgw tiers` (``tenancy.commands`` over ``tenancy.admin``) as an operator runs them, on a real SQLite
database, and against running servers of both deployments: a limit set from the command line is in
force on the server within the policy cache's 5 s."""

from __future__ import annotations

import io
import json
import sqlite3
import time
import uuid
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from ocrgw.cli import main
from ocrgw.tenancy.tiers import TIERS
from tests.conftest import Server, doc

LINE = doc("line/uw3_0768_010009.png").read_bytes()


@dataclass
class Ran:
    returncode: int
    stdout: str
    stderr: str


def _run(data_dir: Path, *args: str) -> Ran:
    """`ocrgw --data-dir DIR ARGS...` in this process (the command's own main(), a second each saved on
    starting Python); a usage error's exit is its return code, as in a shell."""
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        try:
            code = main(["--data-dir", str(data_dir), *args])
        except SystemExit as exc:
            code = int(exc.code or 0)
    return Ran(code, out.getvalue(), err.getvalue())


def cli(data_dir: Path, *args: str) -> str:
    ran = _run(data_dir, *args)
    assert ran.returncode == 0, (args, ran.stderr)
    return ran.stdout


def _show(data_dir: Path, key: str) -> dict:
    return json.loads(cli(data_dir, "keys", "show", key, "--format", "json"))


def test_limit_command_sets_patches_and_refuses(tmp_path: Path) -> None:
    cli(tmp_path, "keys", "create", "--name", "alice", "-q")
    out = json.loads(
        cli(tmp_path, "keys", "limit", "alice", "--rate", "20/minute", "--burst", "5", "--pages", "100/day",
                  "--format", "json")
    )  # fmt: skip
    (every,) = out["limits"]
    assert (every["service"], every["rate"], every["rate_seconds"], every["burst"]) == ("*", 20, 60, 5)
    assert (every["pages_quota"], every["quota_period"], every["tier"]) == (100, "day", None)
    cli(tmp_path, "keys", "limit", "alice", "--service", "azure-read", "--concurrent", "2", "--max-file-mb", "4")
    cli(tmp_path, "keys", "limit", "alice", "--rate", "none", "--backlog-share", "0.25")  # a patch: the rest stays
    limits = {row["service"]: row for row in _show(tmp_path, "alice")["limits"]}
    assert limits["*"]["rate"] is None and limits["*"]["burst"] is None and limits["*"]["pages_quota"] == 100
    assert limits["*"]["backlog_share"] == 0.25
    assert (limits["azure-read"]["concurrent_jobs"], limits["azure-read"]["max_file_bytes"]) == (2, 4 * 1024 * 1024)
    table = cli(tmp_path, "keys", "show", "alice")
    assert "100 pages/day, 0.25 of the backlog" in table and "2 jobs at once, files up to 4 MB" in table

    refused = (
        (("--service", "azure-read", "--backlog-share", "0.5"), 2, "set it on the key's * row"),
        (("--service", "azure-reed", "--rate", "1/s"), 2, "Unknown service 'azure-reed'"),
        (("--rate", "0/1"), 2, "rate must be between 1 and"),
        (("--burst", "3", "--service", "native"), 2, "burst needs a rate"),
        (("--backlog-share", "1.5"), 2, "at most 1"),
        (("--rate", "fast"), 2, "is not a rate"),
        (("--pages", "10/week"), 2, "is not a quota"),
        (("--tier", "gold"), 2, "invalid choice: 'gold'"),
        (("--clear", "--service", "native"), 1, "no limits of its own for native"),
    )
    for args, code, message in refused:
        r = _run(tmp_path, "keys", "limit", "alice", *args)
        assert r.returncode == code and message in r.stderr, (args, r.returncode, r.stderr)
    r = _run(tmp_path, "keys", "limit", "nobody", "--rate", "1/s")
    assert r.returncode == 1 and "No API key matches 'nobody'" in r.stderr, r.stderr

    cli(tmp_path, "keys", "limit", "alice", "--service", "azure-read", "--clear")
    assert [row["service"] for row in _show(tmp_path, "alice")["limits"]] == ["*"]
    cli(tmp_path, "keys", "create", "--name", "erin", "-q")
    assert "limits: none" in cli(tmp_path, "keys", "limit", "erin")  # no option: shown, nothing written
    assert _show(tmp_path, "erin")["limits"] == []


def test_tiers_and_subscriptions(tmp_path: Path) -> None:
    listing = json.loads(cli(tmp_path, "tiers", "--format", "json"))
    assert [t["name"] for t in listing["items"]] == list(TIERS)
    assert "Document Intelligence F0" in cli(tmp_path, "tiers")
    out = cli(tmp_path, "keys", "create", "--name", "bob", "--tier", "azure-docintel-free")
    assert "tier azure-docintel-free" in out.splitlines()[0] and len(out.strip().splitlines()[-1]) == 32
    r = _run(tmp_path, "keys", "create", "--name", "carol", "--tier", "gold")
    assert r.returncode == 2 and "Unknown tier 'gold'; the tiers are: azure-vision-free" in r.stderr, r.stderr

    shown = json.loads(cli(tmp_path, "keys", "limit", "bob", "--tier", "huawei-passport", "--format", "json"))
    assert shown["tiers"] == ["azure-docintel-free", "huawei-passport"] and shown["subscription_required"]
    assert [s["service"] for s in shown["subscriptions"]] == ["huawei-passport"]
    cli(tmp_path, "keys", "subscribe", "bob", "huawei-general-text", "--package", "5")
    r = _run(tmp_path, "keys", "subscribe", "bob", "*")
    assert r.returncode == 2 and "Unknown service '*'" in r.stderr, r.stderr
    assert "unsubscribed 'bob'" in cli(tmp_path, "keys", "unsubscribe", "bob", "huawei-passport")
    r = _run(tmp_path, "keys", "unsubscribe", "bob", "huawei-passport")
    assert r.returncode == 1 and "not subscribed" in r.stderr, r.stderr
    cli(tmp_path, "keys", "limit", "bob", "--subscription-required", "no")
    assert not _show(tmp_path, "bob")["subscription_required"]


def test_package_is_used_first_then_pay_per_use(tmp_path: Path) -> None:
    """The package's status from the usage table: calls since the subscription's UTC day, the package's
    first, the rest pay-per-use; other services' calls and earlier days' do not count."""
    cli(tmp_path, "keys", "create", "--name", "dave", "-q")
    cli(tmp_path, "keys", "subscribe", "dave", "huawei-general-text", "--package", "5")
    key_id = _show(tmp_path, "dave")["id"]
    today = datetime.now(UTC).date()
    with sqlite3.connect(tmp_path / "ocrgw.db") as conn:
        conn.executemany(
            "insert into usage (day, key_id, service, calls, pages) values (?, ?, ?, ?, ?)",
            [
                ((today - timedelta(days=1)).isoformat(), key_id, "huawei-general-text", 10, 10),
                (today.isoformat(), key_id, "huawei-general-text", 7, 7),
                (today.isoformat(), key_id, "huawei-passport", 3, 3),
            ],
        )
    (sub,) = _show(tmp_path, "dave")["subscriptions"]
    assert (sub["calls"], sub["package_used"], sub["package_remaining"], sub["pay_per_use_calls"]) == (7, 5, 0, 2)
    row = cli(tmp_path, "keys", "show", "dave").splitlines()[-1].split()
    assert row[0] == "huawei-general-text" and row[2:] == ["5", "5", "0", "2"], row
    cli(tmp_path, "keys", "subscribe", "dave", "huawei-general-text", "--package", "100")  # a new package
    (sub,) = _show(tmp_path, "dave")["subscriptions"]
    assert (sub["package_calls"], sub["package_used"], sub["package_remaining"]) == (100, 7, 93)


def test_keys_are_named_by_id_start_or_an_unambiguous_name(tmp_path: Path) -> None:
    for _ in range(2):
        cli(tmp_path, "keys", "create", "--name", "dup", "-q")
    listing = json.loads(cli(tmp_path, "keys", "list", "--format", "json"))["items"]
    first, second = (k["id"] for k in listing)
    r = _run(tmp_path, "keys", "show", "dup")
    assert r.returncode == 2 and first in r.stderr and second in r.stderr and "give its id" in r.stderr
    assert _show(tmp_path, first[:8])["id"] == first
    cli(tmp_path, "keys", "revoke", first)
    assert _show(tmp_path, "dup")["id"] == second  # the active one of the two
    table = cli(tmp_path, "keys", "list")
    assert "tiers" in table.splitlines()[0] and table.count("dup") == 2


def test_a_limit_from_the_command_line_reaches_the_server(server: Server) -> None:
    name = f"cli-{uuid.uuid4().hex[:8]}"
    secret = server.cli("keys", "create", "--name", name, "-q").strip()

    def submit() -> int:
        files = {"file": ("a.png", LINE)}
        return httpx.post(server.url + "/v1/jobs", headers={"X-API-Key": secret}, files=files, timeout=60).status_code

    assert submit() == 202
    server.cli("keys", "limit", name, "--concurrent", "0")
    deadline = time.monotonic() + 8  # policy.CACHE_SECONDS
    while (status := submit()) == 202:
        assert time.monotonic() < deadline
        time.sleep(0.5)
    assert status == 429
    server.cli("keys", "limit", name, "--clear")
    deadline = time.monotonic() + 8
    while submit() != 202:
        assert time.monotonic() < deadline
        time.sleep(0.5)
