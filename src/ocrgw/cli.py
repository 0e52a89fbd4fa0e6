"""The `ocrgw` command: `serve` (API + local workers on the embedded default), `api` and `worker` (scale-out
on Celery), `migrate`, `keys` (with their limits and subscriptions: ``tenancy.commands``), `tiers`, `usage`
(billing records), and `ocr` (a client: OCR files through a running server's native API). Every command
reads the same OCRGW_* settings, so they all act on the same data dir and database."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from ocrgw.settings import Settings


def _settings(args: argparse.Namespace, **forced: Any) -> Settings:
    overrides: dict[str, Any] = {}  # validated by Settings, which also reads OCRGW_* for the rest
    for name in ("host", "port", "workers", "data_dir", "log_level"):
        value = getattr(args, name, None)
        if value is not None:
            overrides[name] = value
    return Settings(**{**overrides, **forced})


def cmd_migrate(args: argparse.Namespace) -> int:
    from ocrgw.migrate import upgrade

    settings = _settings(args)
    upgrade(settings)
    print(f"database is up to date: {settings.sync_database_url}")
    return 0


def _own_command() -> str:
    """How to run this command again, for hints: `ocrgw` when that is what the PATH finds, else the path it
    was started by (`./dev.sh serve` starts `.venv/bin/ocrgw`, which is not on the PATH)."""
    argv0 = sys.argv[0]
    if Path(argv0).name != "ocrgw":  # python -m ocrgw.cli
        return f"{sys.executable} -m ocrgw.cli"
    found = shutil.which("ocrgw")
    return "ocrgw" if found and Path(found).resolve() == Path(argv0).resolve() else argv0


def _bootstrap_key(settings: Settings) -> None:
    """First start with auth on and no keys at all: make one, so a newcomer can call the API at once."""
    from ocrgw.auth import new_key
    from ocrgw.auth import repository as repo
    from ocrgw.db import sync_sessionmaker

    with sync_sessionmaker(settings).begin() as s:
        if repo.list_keys(s):
            return
        row, secret = new_key("first-key")
        repo.add_key(s, row)
    print(
        "\n  No API keys existed, so one was created (it is shown only this once):\n"
        f"    Ocp-Apim-Subscription-Key: {secret}\n"
        f"  More: `{_own_command()} keys create --name NAME`; list/revoke: `{_own_command()} keys list|revoke`.\n",
        file=sys.stderr,
        flush=True,
    )


def _uvicorn_logging(settings: Settings) -> dict[str, Any]:
    """uvicorn keeps its hands off logging (ocrgw's handler formats its lines too, never in colour), and its
    access log is off: ocrgw's own (ops.http) has the route template, the request id and the duration."""
    return {"log_level": settings.log_level.lower(), "log_config": None, "use_colors": False, "access_log": False}


def cmd_serve(args: argparse.Namespace) -> int:

    from ocrgw.migrate import upgrade
    from ocrgw.ops.logs import configure_logging

    settings = _settings(args, queue="local")
    os.environ["OMP_THREAD_LIMIT"] = "1"  # inherited by the worker processes
    if settings.metrics_enabled:  # before prometheus_client is imported; the worker processes inherit it
        from ocrgw.ops import multiproc

        multiproc.prepare(settings.data_dir / "metrics")

    configure_logging(settings.log_format, settings.log_level, settings.access_log)
    upgrade(settings)
    if settings.auth == "key" and settings.bootstrap_key:
        _bootstrap_key(settings)
    print(
        f"ocrgw: serving on http://{settings.host}:{settings.port} with {settings.workers} worker process(es); "
        f"data in {settings.data_dir}",
        file=sys.stderr,
        flush=True,
    )
    return _serve_http(settings)


def _serve_http(settings: Settings) -> int:
    """The API process under uvicorn, as both `serve` and `api` run it."""
    import uvicorn

    from ocrgw.main import create_app

    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        proxy_headers=True,
        timeout_graceful_shutdown=15,
        **_uvicorn_logging(settings),
    )
    return 0


def cmd_api(args: argparse.Namespace) -> int:
    """Scale-out API: no local workers; job ids go to Celery. The schema must exist (`ocrgw migrate`)."""

    from ocrgw.ops.logs import configure_logging

    settings = _settings(args, queue="celery")
    configure_logging(settings.log_format, settings.log_level, settings.access_log)
    print(
        f"ocrgw api: serving on http://{settings.host}:{settings.port}; jobs to {settings.broker_url}; "
        f"database {settings.sync_database_url.split('@')[-1]}; blobs: {settings.blob_store}",
        file=sys.stderr,
        flush=True,
    )
    return _serve_http(settings)


def cmd_worker(args: argparse.Namespace) -> int:
    """Scale-out worker: a Celery prefork pool, one warm engine per child. With a metrics port, the main
    process serves /metrics for all its children (multi-process mode, one directory per port)."""
    import socket

    os.environ["OMP_THREAD_LIMIT"] = "1"
    if args.data_dir:
        os.environ["OCRGW_DATA_DIR"] = args.data_dir  # the Celery app reads its settings from the environment
    if args.log_level:
        os.environ["OCRGW_LOG_LEVEL"] = args.log_level
    if args.metrics_port is not None:
        os.environ["OCRGW_WORKER_METRICS_PORT"] = str(args.metrics_port)
    from ocrgw.settings import get_settings

    settings = get_settings()
    if settings.worker_metrics_port:  # before prometheus_client is imported; the children inherit it
        from ocrgw.ops import multiproc

        multiproc.prepare(settings.data_dir / "metrics" / f"worker-{settings.worker_metrics_port}")
        from ocrgw.ops.metrics import serve_worker_metrics

        serve_worker_metrics(settings.worker_metrics_port, settings.worker_metrics_host)
    from ocrgw.ops.logs import use_colour
    from ocrgw.queue.celery_app import celery_app

    concurrency = args.concurrency or os.cpu_count() or 1
    # Celery's start-up banner goes to stdout in colour whenever stderr is a terminal (and ignores NO_COLOR
    # values click cannot read as a boolean): colour only when both streams are terminals.
    colour = use_colour(sys.stdout) and use_colour(sys.stderr)
    celery_app.worker_main(
        [
            *([] if colour else ["--no-color"]),
            "worker",
            "--pool=prefork",
            f"--concurrency={concurrency}",
            f"--loglevel={settings.log_level.upper()}",
            "-Q",
            settings.celery_queue,
            "-n",
            f"ocrgw-{os.getpid()}@{socket.gethostname()}",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ]
    )
    return 0


def cmd_keys(args: argparse.Namespace) -> int:
    from ocrgw.auth import derive_sk
    from ocrgw.auth import repository as repo
    from ocrgw.db import sync_sessionmaker
    from ocrgw.migrate import upgrade

    settings = _settings(args)
    upgrade(settings)
    maker = sync_sessionmaker(settings)
    if args.keys_cmd == "create":
        row, secret = _create_key(maker, args)
        if row is None:
            return 2
        sk = derive_sk(settings.resolved_secret_key, row.access_key) if row.access_key else None
        if args.quiet:
            print(secret if sk is None else f"{secret} {row.access_key} {sk}")
        else:
            print(
                f"created {'admin ' if row.is_admin else ''}key {row.name!r} (id {row.id}"
                f"{', tier ' + args.tier if args.tier else ''}). "
                f"The secret is shown only now:\n{secret}"
            )
            if sk is not None:
                print(
                    "AK/SK pair (Huawei SDK-HMAC-SHA256 and AWS SigV4 signing; for boto3 the AK is the access key id "
                    f"and the SK the secret access key):\n  AK {row.access_key}\n  SK {sk}"
                )
        return 0
    if args.keys_cmd == "revoke":
        with maker.begin() as s:
            n = repo.revoke_key(s, args.key)
        if not n:
            print(f"no active key matches {args.key!r} (give its id, name or prefix)", file=sys.stderr)
            return 1
        print(f"revoked {n} key(s)")
        return 0
    from ocrgw.tenancy import commands

    return commands.run(args, settings)  # list, show, limit, subscribe, unsubscribe


def _create_key(maker: Any, args: argparse.Namespace) -> tuple[Any, str]:
    """A new key (with a tier's limits copied onto it if --tier names one); (None, "") if refused."""
    from ocrgw.errors import OcrgwError
    from ocrgw.tenancy import admin

    try:
        with maker.begin() as s:
            return admin.create_key(s, args.name, admin=args.admin, with_access_key=args.aksk, tier=args.tier)
    except OcrgwError as exc:
        print(exc.message, file=sys.stderr)
        return None, ""


def cmd_tiers(args: argparse.Namespace) -> int:
    from ocrgw.tenancy import commands

    return commands.tiers(args)


def _day(text: str) -> date:
    """A UTC day for --since/--until: YYYY-MM-DD, `today`, or `Nd` (N days before today)."""
    from ocrgw.clock import utcnow

    today = utcnow().date()
    try:
        if text == "today":
            return today
        if text.endswith("d") and text[:-1].isdigit():
            return today - timedelta(days=int(text[:-1]))
        return date.fromisoformat(text)
    except ValueError:
        pass
    raise argparse.ArgumentTypeError(f"{text!r} is not a day: give YYYY-MM-DD, today, or Nd (N days ago)")


def cmd_usage(args: argparse.Namespace) -> int:
    from ocrgw.db import sync_sessionmaker
    from ocrgw.errors import OcrgwError
    from ocrgw.jobs import usage
    from ocrgw.migrate import upgrade

    settings = _settings(args)
    upgrade(settings)
    try:
        usage.check_filters(args.service, args.since, args.until)
    except OcrgwError as exc:
        print(exc.message, file=sys.stderr)
        return 2
    if args.since and args.until and args.since > args.until:  # an operator's typo (the API answers no days)
        print("`since` is after `until`.", file=sys.stderr)
        return 2
    with sync_sessionmaker(settings)() as s:
        key_ids = None
        if args.key is not None:
            key_ids = list(s.execute(usage.matching_keys_stmt(args.key)).scalars())
            if not key_ids:
                print(f"no key matches {args.key!r} (give its id, name, prefix or AK)", file=sys.stderr)
                return 1
        stmt = usage.report_stmt(key_ids=key_ids, service=args.service, since=args.since, until=args.until)
        rows = usage.to_rows(s.execute(stmt).all())
    print(_usage_text(rows, args.format), end="")
    return 0


def _usage_text(rows: list, fmt: str) -> str:
    """Usage rows (jobs.usage.UsageRow) as a table with a total line, CSV with a header, or JSON
    (the shape of GET /v1/usage)."""
    import csv
    import io
    import json

    fields = ("day", "key_id", "key_name", "service", "calls", "pages")
    records = [{f: getattr(r, f) for f in fields} | {"day": r.day.isoformat()} for r in rows]
    calls, pages = sum(r.calls for r in rows), sum(r.pages for r in rows)
    if fmt == "json":
        return json.dumps({"items": records, "calls": calls, "pages": pages}, indent=2) + "\n"
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.DictWriter(out, fields, lineterminator="\n")
        writer.writeheader()
        writer.writerows(records)
        return out.getvalue()
    line = "{:10}  {:36}  {:16}  {:20}  {:>10}  {:>10}\n"
    text = line.format("day", "key_id", "key name", "service", "calls", "pages")
    for r in records:
        name = (r["key_name"] or "-")[:16]
        text += line.format(r["day"], r["key_id"] or "-", name, r["service"], r["calls"], r["pages"])
    return text + line.format("total", "", "", "", calls, pages)


def cmd_ocr(args: argparse.Namespace) -> int:
    from ocrgw import client

    return client.main(args)


def _keys_parser(sub: Any) -> None:
    """`keys` (create, list, revoke here; show, limit, subscribe, unsubscribe from tenancy) and `tiers`."""
    kp = sub.add_parser("keys", help="manage API keys")
    ks = kp.add_subparsers(dest="keys_cmd", required=True)
    kc = ks.add_parser("create", help="create a key and print its secret once")
    kc.add_argument("--name", default="default")
    kc.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="print only the secret (with --aksk: the secret, the AK and the SK, space-separated)",
    )
    kc.add_argument("--admin", action="store_true", help="may issue keys through the API (POST /generate_api_key)")
    kc.add_argument(
        "--aksk",
        action="store_true",
        help="also issue an AK/SK pair for signed requests (Huawei SDK-HMAC-SHA256, AWS SigV4 for Textract)",
    )
    kc.add_argument("--tier", help="copy a tier profile's limits onto the key (`tiers` lists them)")
    kl = ks.add_parser("list", help="list keys (never their secrets), with their tiers and subscriptions")
    kl.add_argument("--format", choices=["table", "json"], default="table")
    kr = ks.add_parser("revoke", help="revoke a key by id, name, prefix or AK")
    kr.add_argument("key")
    from ocrgw.tenancy.arguments import add_parsers

    add_parsers(ks, sub)
    kp.set_defaults(func=cmd_keys)
    sub.choices["tiers"].set_defaults(func=cmd_tiers)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="ocrgw", description="Self-hosted OCR gateway.")
    p.add_argument("--data-dir", dest="data_dir", help="data directory (OCRGW_DATA_DIR)")
    sub = p.add_subparsers(dest="cmd", required=True)

    sp = sub.add_parser("serve", help="run the API with local worker processes (SQLite by default)")
    sp.add_argument("--host")
    sp.add_argument("--port", type=int)
    sp.add_argument("--workers", type=int, help="worker processes (default: number of cores)")
    sp.add_argument("--log-level", help="info, debug, warning, ... (OCRGW_LOG_LEVEL; default info)")
    sp.set_defaults(func=cmd_serve)

    ap = sub.add_parser("api", help="run the API only, handing jobs to Celery workers (scale-out)")
    ap.add_argument("--host")
    ap.add_argument("--port", type=int)
    ap.add_argument("--log-level", help="info, debug, warning, ... (OCRGW_LOG_LEVEL; default info)")
    ap.set_defaults(func=cmd_api)

    wp = sub.add_parser("worker", help="run a Celery worker that reads documents (scale-out)")
    wp.add_argument("--concurrency", type=int, help="child processes (default: number of cores)")
    wp.add_argument("--log-level", help="info, debug, warning, ... (OCRGW_LOG_LEVEL; default info)")
    wp.add_argument(
        "--metrics-port",
        type=int,
        help="serve Prometheus /metrics for this worker's children on this port "
        "(OCRGW_WORKER_METRICS_PORT; default: none)",
    )
    wp.set_defaults(func=cmd_worker)

    mp = sub.add_parser("migrate", help="create or upgrade the database schema")
    mp.set_defaults(func=cmd_migrate)

    _keys_parser(sub)

    up = sub.add_parser("usage", help="billable calls and pages read per key, service and UTC day")
    up.add_argument("--key", help="only this key: its id, name, prefix or AK")
    up.add_argument("--service", help="only this service, e.g. azure-read, huawei-general-text, native")
    up.add_argument("--since", type=_day, help="from this UTC day, inclusive: YYYY-MM-DD, today, or Nd (N days ago)")
    up.add_argument("--until", type=_day, help="up to this UTC day, inclusive (same forms)")
    up.add_argument("--format", choices=["table", "csv", "json"], default="table")
    up.set_defaults(func=cmd_usage)

    op = sub.add_parser("ocr", help="OCR files through a running ocrgw server (native API), one output per input")
    op.add_argument("files", nargs="+", metavar="FILE")
    op.add_argument(
        "--server",
        default=os.environ.get("OCRGW_SERVER", "http://127.0.0.1:8000"),
        help="server base URL (OCRGW_SERVER; default http://127.0.0.1:8000)",
    )
    op.add_argument("--key", default=os.environ.get("OCRGW_API_KEY"), help="API key (OCRGW_API_KEY)")
    op.add_argument("--format", choices=["txt", "json", "hocr", "alto", "tsv", "pdf", "md", "html"], default="txt")
    op.add_argument("--out", default=".", help="output directory (default: the current one)")
    op.add_argument("--languages", help="e.g. en, de,fr or eng+deu (default: the server's)")
    op.add_argument(
        "--mode",
        choices=["default", "accurate"],
        help="accurate: the second engine (English, Chinese), ~3x the time (default: the server's)",
    )
    op.add_argument("--concurrency", type=int, default=4, help="files in flight at once (default 4)")
    op.add_argument("--timeout", type=float, default=600.0, help="seconds to wait for one file (default 600)")
    op.set_defaults(func=cmd_ocr)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
