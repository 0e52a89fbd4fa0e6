"""A local worker process: receives job ids over a pipe from the dispatcher in the API process and runs
a job for each (the queued one first in fair order: ``jobs.fairness``) with warm engines, at a lower CPU
priority than the API. It ignores Ctrl-C (the parent decides when it stops) and exits when the pipe
closes, which is also what happens when the parent dies."""

from __future__ import annotations

import logging
import os
import signal
import time
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING

from ocrgw.settings import Settings

if TYPE_CHECKING:
    from ocrgw.pipeline.runner import WorkerContext


def main(conn: Connection, settings: Settings) -> None:
    os.environ["OMP_THREAD_LIMIT"] = "1"
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    lower_priority(settings)
    from ocrgw.ops.logs import configure_logging

    configure_logging(settings.log_format, settings.log_level, settings.access_log)  # as the API process's
    from ocrgw.db import worker_commits
    from ocrgw.pipeline.runner import WorkerContext, run

    worker_commits(settings)  # PostgreSQL only: SQLite's WAL mode commits so already
    ctx = WorkerContext(settings)
    warm(ctx)
    from ocrgw.ops.heap import freeze_startup_objects

    freeze_startup_objects("worker")
    conn.send(("ready", ctx.worker_id))
    while True:
        try:
            job_id = conn.recv()
        except (EOFError, OSError):
            return
        if job_id is None:
            return
        try:
            status = run(job_id, ctx)
        except Exception:
            logging.getLogger("ocrgw.worker").exception("job %s: runner error", job_id)
            status = "error"
        try:  # the job run, which the fair claim may have chosen over the one the message named
            conn.send(("done", ctx.ran or job_id, status))
        except (BrokenPipeError, OSError):
            return


def warm(ctx: WorkerContext) -> None:
    """Load what jobs read with before the first one arrives: the context's own models (Tesseract, the
    orientation and language models) and the engines of the server's mode, PP-OCR's detector and
    recogniser included when the mode or the second opinion uses them. Logged with what it cost, since
    it delays the worker's readiness."""
    started = time.perf_counter()
    ctx.warm()
    settings = ctx.settings
    languages = tuple(m for m in settings.default_language.replace(",", "+").split("+") if m)
    engines = ctx.engines.warm(languages, second=settings.reread_below > 0)
    logging.getLogger("ocrgw.worker").info(
        "engines warm: %s in %.2f s",
        ", ".join(f"{e.name}:{e.languages}" for e in engines),
        time.perf_counter() - started,
        extra={"engines": [e.name for e in engines]},
    )


def lower_priority(settings: Settings) -> None:
    """Yield the CPU to the API process (``OCRGW_WORKER_NICE``): with every core reading documents, the
    API's event loop otherwise waits its turn behind them and a submit's p99 grew to seconds. Niceness
    only weighs against processes of the same session on Linux's autogroup scheduler, which is what the
    API and the workers it starts are; Celery workers run it in each pool child (``celery_app``)."""
    if settings.worker_nice:
        os.nice(settings.worker_nice)
