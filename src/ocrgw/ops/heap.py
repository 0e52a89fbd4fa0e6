"""Every long-lived process (the API's lifespan, an embedded worker, a Celery pool child) calls
``freeze_startup_objects`` once it has built what it keeps for life: the app and its routes, the
database engine, the OCR engines and their models' Python wrappers.

Why: CPython's full (generation 2) collection walks every tracked object. The API process holds ~150,000
of them after assembly (FastAPI's routes and models, pydantic, SQLAlchemy, Celery), and one full
collection then takes ~50 ms, during which the event loop answers nobody: under a steady load of
submits, each one lands in some request's latency (the p99). ``gc.freeze`` moves the objects alive now to
a permanent generation that collections skip (CPython documents it for pre-fork servers, to spare
copy-on-write pages; here it is for the walk it saves), so a full collection walks only what was made
since: ~3 ms in the API under load instead of 66-71 ms (bench/README, "Session 12").
Frozen objects are never freed, so it runs after a collection and only once startup is done; objects
made later are collected as before."""

from __future__ import annotations

import gc
import logging
import time

log = logging.getLogger("ocrgw.heap")


def freeze_startup_objects(who: str) -> int:
    """Collect, then freeze every object alive; returns how many are frozen (logged at debug)."""
    started = time.perf_counter()
    gc.collect()
    gc.freeze()
    frozen = gc.get_freeze_count()
    log.debug("%s: %d startup objects frozen in %.0f ms", who, frozen, (time.perf_counter() - started) * 1000)
    return frozen
