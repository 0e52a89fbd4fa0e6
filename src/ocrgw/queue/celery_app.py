"""The scale-out queue: Celery over Redis (or RabbitMQ by the broker URL). Messages carry a job id and
nothing else, results are never stored in the broker, and every delivery goes through the same claim in
SQL, so redelivery after a lost worker is harmless and bounded by the job's attempt count."""

from __future__ import annotations

import asyncio
import logging
import os
import time

import anyio
from celery import Celery, signals
from celery.exceptions import SoftTimeLimitExceeded

from ocrgw import ids
from ocrgw.db import worker_commits
from ocrgw.ops.heap import freeze_startup_objects
from ocrgw.queue import notices
from ocrgw.queue.worker_process import lower_priority, warm
from ocrgw.settings import Settings, get_settings

log = logging.getLogger("ocrgw.celery")
TASK = "ocrgw.run_job"


def _options(job_id: str) -> dict[str, object]:
    """What ``send_task`` would otherwise work out per message: a task id (kombu's ``uuid4``, a kernel call
    that lets go of the GIL, where ``ids`` draws from a pool), the arguments' text for the worker's logs
    (``saferepr`` of them, made here exactly and cheaply: the one argument is a job id), and no parent
    task (there is none in the API process). ~1.5-2 % of the API process's time under a PostgreSQL submit
    load (py-spy --gil)."""
    return {"task_id": ids.new_id(), "argsrepr": repr([job_id]), "kwargsrepr": "{}", "add_to_parent": False}


WARM_UP_SECONDS = 120.0  # a new pool child's engines warm within this


def make_celery(settings: Settings) -> Celery:
    app = Celery("ocrgw", broker=settings.broker_url, set_as_current=False)
    hard = settings.job_timeout_seconds
    app.conf.update(
        task_default_queue=settings.celery_queue,
        task_ignore_result=True,
        result_backend=None,
        task_acks_late=True,  # a job id leaves the broker only after its run ends
        task_reject_on_worker_lost=True,  # a killed child's job goes back; SQL caps how often
        worker_prefetch_multiplier=1,
        task_time_limit=hard,
        task_soft_time_limit=min(settings.job_soft_timeout_seconds, hard * 0.9),
        # Redis hands an unacknowledged message to another worker after this: it must outlast a job.
        broker_transport_options={"visibility_timeout": int(hard) + 300},
        worker_max_tasks_per_child=settings.worker_max_tasks or None,
        worker_max_memory_per_child=settings.worker_max_memory_mb * 1024,  # KiB
        broker_connection_retry_on_startup=True,
        broker_connection_timeout=5,
        task_publish_retry_policy={"max_retries": 2, "interval_start": 0.2, "interval_step": 0.5},
        worker_hijack_root_logger=False,
        worker_send_task_events=False,
        # A pool child says it is up only after worker_process_init, where it warms its engines (and on a
        # machine's first start derives PP-OCR's models, ~15 s): Celery's default 4 s killed children that
        # warmed slower under load, and each replacement again, so a killed child's job waited ~100 s.
        # The same bound as the embedded dispatcher's (queue/local.py).
        worker_proc_alive_timeout=WARM_UP_SECONDS,
    )
    return app


class CeleryQueue:
    """The API side: publish a committed job's id. Publishing is blocking network I/O, so it runs in a
    thread; a broker that is down costs nothing but time, because the reaper publishes again later.

    The ids of concurrent submits are published together, a message each but one thread hop and one
    producer for all (as ``jobs.inserts`` commits their rows together): a hop and a producer per id cost
    about a fifth more CPU per submit on the API process than the publish itself. Each ``enqueue`` still
    returns only once its id was handed to the broker (or that failed)."""

    def __init__(self, settings: Settings) -> None:
        self.app = make_celery(settings)
        self._ids: list[tuple[str, asyncio.Future[None]]] = []
        self._publisher: asyncio.Task[None] | None = None

    async def enqueue(self, job_id: str) -> None:
        done = asyncio.get_running_loop().create_future()
        self._ids.append((job_id, done))
        if self._publisher is None:
            self._publisher = asyncio.create_task(self._publish())
        await asyncio.shield(done)

    async def _publish(self) -> None:
        batch: list[tuple[str, asyncio.Future[None]]] = []
        try:
            while self._ids:
                batch, self._ids = self._ids, []
                ids = [job_id for job_id, _ in batch]
                try:
                    await anyio.to_thread.run_sync(self._send, ids)
                except Exception as exc:  # broker down: the jobs are safe in SQL, the reaper re-publishes them
                    log.warning("could not publish %d job(s) (%s); the reaper will retry", len(ids), exc)
                for _, done in batch:
                    if not done.done():
                        done.set_result(None)
        finally:
            self._publisher = None
            for _, done in batch + self._ids:  # only when this task was cancelled (the process is stopping)
                if not done.done():
                    done.cancel()

    def _send(self, job_ids: list[str]) -> None:
        """One broker round trip for the batch where the transport can (kombu's ``Producer.batch``: on
        Redis one pipeline of LPUSHes; other transports publish each message at once), the queue declared
        by its first message only. That halves the publish's CPU on the API (bench/README, "Celery's
        publish"). If the batch fails, each id is sent again on its own with the retry policy: a message
        sent twice is harmless, since every delivery goes through the same claim in SQL."""
        with self.app.producer_or_acquire() as producer:
            try:
                with producer.batch():
                    for n, job_id in enumerate(job_ids):
                        declare: list[object] | None = None if n == 0 else []
                        self.app.send_task(
                            TASK, args=[job_id], producer=producer, retry=False, declare=declare, **_options(job_id)
                        )
                return
            except Exception as exc:
                log.info("batched publish of %d job(s) failed (%s); sending each with retries", len(job_ids), exc)
            for job_id in job_ids:
                self.app.send_task(TASK, args=[job_id], producer=producer, **_options(job_id))

    def knows(self, job_id: str) -> bool:
        return False

    def ping(self) -> None:
        """Raise unless the broker answers (readiness)."""
        with self.app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=3)


# ------------------------------------------------------------------------------------- worker side
# `ocrgw worker` imports this module in the Celery main process; prefork children inherit `celery_app`
# and build their warm engines once each in worker_process_init.
celery_app = make_celery(get_settings())
_ctx = None


@signals.setup_logging.connect
def _setup_logging(loglevel: int | str | None = None, **_: object) -> None:
    """Celery configures no logging of its own when this signal has a receiver: the worker and its children
    log in ocrgw's format (JSON or text), and job lines carry the job's request id."""
    from ocrgw.ops.logs import configure_logging

    settings = get_settings()
    configure_logging(settings.log_format, loglevel or settings.log_level, settings.access_log)


@signals.worker_process_init.connect
def _warm_child(**_: object) -> None:
    global _ctx
    os.environ["OMP_THREAD_LIMIT"] = "1"
    from ocrgw.pipeline.runner import WorkerContext

    settings = get_settings()
    lower_priority(settings)  # an API process on the same host keeps answering while the pool reads
    worker_commits(settings)
    _ctx = WorkerContext(settings, timeout_errors=(SoftTimeLimitExceeded,))
    started = time.monotonic()
    warm(_ctx)  # the models jobs read with, now rather than on the first job
    freeze_startup_objects("worker")  # ops.heap
    # Celery's " ready." comes before its children have warmed: this line says when one can read at full pace.
    log.info("worker child %d warmed in %.1f s", os.getpid(), time.monotonic() - started)


@celery_app.task(name=TASK)
def run_job(job_id: str) -> str:
    from ocrgw.pipeline.runner import WorkerContext, run

    global _ctx
    if _ctx is None:  # a solo pool or an eager call: no worker_process_init
        worker_commits(get_settings())
        _ctx = WorkerContext(get_settings(), timeout_errors=(SoftTimeLimitExceeded,))
    try:
        return run(job_id, _ctx)
    except SoftTimeLimitExceeded:  # raised between pages; the runner has already marked the job
        return "timeout"
    finally:  # the job's end is committed (or it was not ours): wake the API's waiters on the job run
        notices.publish(_ctx.settings, _ctx.ran or job_id)
