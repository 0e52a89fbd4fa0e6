"""The naive app bench/submit.py measures ocrgw's submit path against: a FastAPI app written the obvious
way, with nothing ocrgw has (no key, no limits, no type sniffing, no queue, no logging of its own). Per
``POST /v1/jobs`` it streams the body into a file, inserts one row into a database and answers 202 with
the row's id. Everything runs on the event loop, as a first version of such an app would: plain file
writes and a plain driver connection (sqlite3 in WAL mode with synchronous=NORMAL, as ocrgw's SQLite;
or psycopg in autocommit against PostgreSQL). uvicorn runs it with its defaults (its access log on).

Run by bench/submit.py as ``python bench/_naive_submit.py --port P --spool DIR --db DB`` where DB is a
SQLite file path or a ``postgresql://`` URL (the table is created if missing)."""

from __future__ import annotations

import argparse
import sqlite3
import time
import uuid
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS jobs (id TEXT PRIMARY KEY, status TEXT NOT NULL, path TEXT NOT NULL, "
    "size INTEGER NOT NULL, created_at DOUBLE PRECISION NOT NULL)"
)


def connect(db: str) -> tuple[Any, str]:
    """A connection and its placeholder mark."""
    if db.startswith("postgresql://"):
        import psycopg

        con = psycopg.connect(db, autocommit=True)
        with con.transaction():  # two processes starting at once: IF NOT EXISTS alone races in the catalogue
            con.execute("SELECT pg_advisory_xact_lock(16)")
            con.execute(SCHEMA)
        return con, "%s"
    con = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=NORMAL")
    con.execute(SCHEMA)
    return con, "?"


def make_app(spool: Path, db: str) -> FastAPI:
    spool.mkdir(parents=True, exist_ok=True)
    con, mark = connect(db)
    insert = f"INSERT INTO jobs (id, status, path, size, created_at) VALUES ({', '.join([mark] * 5)})"
    app = FastAPI()

    @app.post("/v1/jobs", status_code=202)
    async def submit(request: Request) -> JSONResponse:
        job_id = uuid.uuid4().hex
        path = spool / job_id
        size = 0
        with open(path, "wb") as fh:  # noqa: ASYNC230 (naive on purpose: blocking writes on the loop)
            async for chunk in request.stream():
                fh.write(chunk)
                size += len(chunk)
        con.execute(insert, (job_id, "queued", str(path), size, time.time()))  # autocommit: one transaction
        return JSONResponse({"id": job_id, "status": "queued"}, status_code=202)

    @app.get("/health")
    async def health() -> dict:
        return {"status": "ok"}

    return app


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--spool", type=Path, required=True)
    p.add_argument("--db", required=True, help="a SQLite file, or a postgresql:// URL")
    args = p.parse_args()
    uvicorn.run(make_app(args.spool, args.db), host=args.host, port=args.port)


if __name__ == "__main__":
    main()
