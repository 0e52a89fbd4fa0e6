"""The scale-out queue: Celery over Redis (or RabbitMQ by the broker URL). Messages carry a job id and
nothing else, results are never stored in the broker, and every delivery goes through the same claim in
SQL, so redelivery after a lost worker is harmless and bounded by the job's attempt count."""

from __future__ import annotations

import logging
import os

import anyio
from celery import Celery, signals
from celery.exceptions import SoftTimeLimitExceeded

from ocrgw.queue.worker_process import lower_priority, warm
from ocrgw.settings import Settings, get_settings

log = logging.getLogger("ocrgw.celery")
TASK = "ocrgw.run_job"


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
    )
    return app


class CeleryQueue:
    """The API side: publish a committed job's id. Publishing is blocking network I/O, so it runs in a
    thread; a broker that is down costs nothing but time, because the reaper publishes again later."""

    def __init__(self, settings: Settings) -> None:
        self.app = make_celery(settings)

    async def enqueue(self, job_id: str) -> None:
        try:
            await anyio.to_thread.run_sync(lambda: self.app.send_task(TASK, args=[job_id]))
        except Exception as exc:  # broker down: the job is safe in SQL, the reaper re-publishes it
            log.warning("could not publish job %s (%s); the reaper will retry", job_id, exc)

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
    _ctx = WorkerContext(settings, timeout_errors=(SoftTimeLimitExceeded,))
    warm(_ctx)  # the models jobs read with, now rather than on the first job


@celery_app.task(name=TASK)
def run_job(job_id: str) -> str:
    from ocrgw.pipeline.runner import WorkerContext, run

    global _ctx
    if _ctx is None:  # a solo pool or an eager call: no worker_process_init
        _ctx = WorkerContext(get_settings(), timeout_errors=(SoftTimeLimitExceeded,))
    try:
        return run(job_id, _ctx)
    except SoftTimeLimitExceeded:  # raised between pages; the runner has already marked the job
        return "timeout"
