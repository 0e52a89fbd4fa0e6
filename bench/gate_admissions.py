"""What one admission of a limited key costs the tenancy gate as the key's live admissions grow (the
component alone, not through the API: bench/limits.py measures the submit through HTTP). A key with a
concurrency limit that never refuses; for 0, 1,000 and 5,000 admissions already live, the median of 50
``Gate.admit`` calls, on SQLite and on a fresh PostgreSQL database.

    .venv/bin/python bench/gate_admissions.py            # both databases
    .venv/bin/python bench/gate_admissions.py --db sqlite
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

from ocrgw.auth import Principal
from ocrgw.auth.models import ApiKey
from ocrgw.clock import utcnow
from ocrgw.db import make_async_engine, make_async_sessionmaker, sync_sessionmaker
from ocrgw.migrate import upgrade
from ocrgw.settings import Settings
from ocrgw.tenancy.gate import Gate
from ocrgw.tenancy.models import Admission, KeyLimit
from ocrgw.tenancy.policy import Policies

PG = "postgresql://postgres@127.0.0.1:5432/{db}"
SIZES = (0, 1000, 5000)


async def measure(settings: Settings, calls: int) -> dict[int, float]:
    key_id = str(uuid.uuid4())
    with sync_sessionmaker(settings).begin() as s:
        s.add(ApiKey(id=key_id, name="bench", key_hash=key_id, prefix="bench", created_at=utcnow()))
        s.flush()
        s.add(KeyLimit(key_id=key_id, service="*", concurrent_jobs=10**6))
    engine = make_async_engine(settings)
    db = make_async_sessionmaker(engine)
    gate = Gate(db, Policies(db))
    out: dict[int, float] = {}
    try:
        for size in SIZES:
            with sync_sessionmaker(settings).begin() as s:
                have = s.query(Admission).count()
                s.add_all(
                    Admission(job_id=str(uuid.uuid4()), key_id=key_id, scope="*", at=utcnow())
                    for _ in range(size - have)
                )
            times = []
            for _ in range(calls):
                started = time.perf_counter()
                await gate.admit(Principal(key_id), "native")
                times.append(time.perf_counter() - started)
            out[size] = statistics.median(times) * 1000
    finally:
        await engine.dispose()
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    ap.add_argument("--calls", type=int, default=50)
    a = ap.parse_args()
    for db in ("sqlite", "postgresql") if a.db == "both" else (a.db,):
        tmp = Path(tempfile.mkdtemp(prefix="ocrgw-gate-"))
        if db == "sqlite":
            settings = Settings(data_dir=tmp)
            upgrade(settings)
            figures = asyncio.run(measure(settings, a.calls))
        else:
            import psycopg

            name = f"ocrgw_bench_gate_{secrets.token_hex(3)}"
            with psycopg.connect(PG.format(db="postgres"), autocommit=True) as con:
                con.execute(f'CREATE DATABASE "{name}"')
            try:
                settings = Settings(data_dir=tmp, database_url=PG.format(db=name))
                upgrade(settings)
                figures = asyncio.run(measure(settings, a.calls))
                sync_sessionmaker(settings).kw["bind"].dispose()
            finally:
                with psycopg.connect(PG.format(db="postgres"), autocommit=True) as con:
                    con.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        print(f"{db}: " + "; ".join(f"{n} live: {ms:.2f} ms" for n, ms in figures.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
