"""A local worker process: receives job ids over a pipe from the dispatcher in the API process and runs
them with warm engines. It ignores Ctrl-C (the parent decides when it stops) and exits when the pipe
closes, which is also what happens when the parent dies."""

from __future__ import annotations

import logging
import os
import signal
from multiprocessing.connection import Connection

from ocrgw.settings import Settings


def main(conn: Connection, settings: Settings) -> None:
    os.environ["OMP_THREAD_LIMIT"] = "1"
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    from ocrgw.ops.logs import configure_logging

    configure_logging(settings.log_format, settings.log_level, settings.access_log)  # as the API process's
    from ocrgw.pipeline.runner import WorkerContext, run

    ctx = WorkerContext(settings)
    ctx.warm()  # the models a default job reads with, loaded before the first job arrives
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
        try:
            conn.send(("done", job_id, status))
        except (BrokenPipeError, OSError):
            return
