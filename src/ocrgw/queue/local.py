"""The embedded queue: an in-process dispatcher in the API process feeding N local worker processes.
Each slot owns one process and sends it one job id at a time, for which it runs the queued job first
in fair order across keys (``jobs.fairness``, not necessarily that one); a process that dies or overruns the time
limit is replaced, and its job goes back to SQL as queued (one attempt spent) or failed when none remain.
The slot that hears a job end gives the notice a synchronous API's waiting request sleeps on
(``jobs.endings``): the worker has committed the job's end before it replies."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing as mp
from dataclasses import dataclass
from multiprocessing.connection import Connection

from sqlalchemy.ext.asyncio import async_sessionmaker

from ocrgw.jobs import repository as repo
from ocrgw.jobs.endings import Endings
from ocrgw.queue import worker_process
from ocrgw.settings import Settings

log = logging.getLogger("ocrgw.dispatcher")
_CTX = mp.get_context("spawn")  # the API process runs threads and an event loop: never fork it


@dataclass
class _Worker:
    process: mp.process.BaseProcess
    conn: Connection
    worker_id: str = ""
    tasks: int = 0


class LocalDispatcher:
    def __init__(self, settings: Settings, db: async_sessionmaker, endings: Endings | None = None) -> None:
        self.settings = settings
        self.db = db
        self.endings = endings
        if endings is not None:
            endings.live = True  # the slots below give every notice, from the process's start
        self._queue: asyncio.Queue[str] = asyncio.Queue()
        self._known: set[str] = set()  # queued here or in flight: the reaper must not add them twice
        self._slots: list[asyncio.Task] = []
        self._workers: dict[int, _Worker] = {}
        self._inflight: dict[int, str] = {}
        self._closing = False

    # ------------------------------------------------------------------------------------------- API
    async def enqueue(self, job_id: str) -> None:
        if job_id in self._known or self._closing:
            return
        self._known.add(job_id)
        self._queue.put_nowait(job_id)

    def knows(self, job_id: str) -> bool:
        return job_id in self._known

    @property
    def depth(self) -> int:
        return self._queue.qsize()

    def live_workers(self) -> int:
        return sum(1 for w in self._workers.values() if w.process.is_alive())

    def worker_pids(self) -> list[int]:
        return [w.process.pid for w in self._workers.values() if w.process.pid]

    async def start(self) -> None:
        started = await asyncio.gather(*(self._spawn() for _ in range(self.settings.workers)))
        self._workers = dict(enumerate(started))
        self._slots = [asyncio.create_task(self._slot(i), name=f"slot-{i}") for i in self._workers]

    async def stop(self, grace: float = 10.0) -> None:
        """Let running jobs finish for ``grace`` seconds; hand back the rest without spending an attempt."""
        self._closing = True
        if self._inflight:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(grace):
                    while self._inflight:
                        await asyncio.sleep(0.1)
        unfinished = dict(self._inflight)  # the slots forget their job when cancelled
        for t in self._slots:
            t.cancel()
        await asyncio.gather(*self._slots, return_exceptions=True)
        for i, w in list(self._workers.items()):
            await self._terminate(w)
            if i in unfinished:
                await self._release(w, refund=True)

    # ------------------------------------------------------------------------------------ internals
    async def _spawn(self) -> _Worker:
        parent, child = _CTX.Pipe()
        proc = _CTX.Process(target=worker_process.main, args=(child, self.settings), daemon=True)
        await asyncio.to_thread(proc.start)
        child.close()
        worker = _Worker(proc, parent)
        msg = await self._receive(worker, timeout=120)
        if not msg or msg[0] != "ready":
            await self._terminate(worker)
            raise RuntimeError("worker process failed to start")
        worker.worker_id = msg[1]
        return worker

    async def _receive(self, w: _Worker, timeout: float) -> tuple | None:
        """The worker's next message, or None if it died or overran ``timeout``."""
        loop = asyncio.get_running_loop()
        fut: asyncio.Future = loop.create_future()

        def ready() -> None:
            if not fut.done():
                fut.set_result(None)

        loop.add_reader(w.conn.fileno(), ready)
        loop.add_reader(w.process.sentinel, ready)
        try:
            async with asyncio.timeout(timeout):
                await fut
        except TimeoutError:
            return None
        finally:
            loop.remove_reader(w.conn.fileno())
            loop.remove_reader(w.process.sentinel)
        try:
            if w.conn.poll():
                return w.conn.recv()
        except (EOFError, OSError):
            pass
        return None

    async def _terminate(self, w: _Worker) -> None:
        with contextlib.suppress(OSError):
            w.conn.close()
        if w.process.is_alive():
            w.process.kill()
        await asyncio.to_thread(w.process.join, 5)

    async def _release(self, w: _Worker, *, refund: bool) -> str | None:
        """Hand back the job a stopped or lost worker held: found by its lease, since the fair claim
        may have taken another job than the message named. Returns its id (None if it held none)."""
        async with self.db.begin() as s:
            job_id = await repo.held_by(s, w.worker_id)
            if job_id is not None:
                await repo.release(s, job_id, w.worker_id, refund=refund)
        return job_id

    async def _slot(self, i: int) -> None:
        while True:
            job_id = await self._queue.get()
            if self._closing:  # shutting down: the job stays queued in SQL for the next start
                return
            w = self._workers[i]
            self._inflight[i] = job_id
            try:
                try:
                    w.conn.send(job_id)
                    msg = await self._receive(w, self.settings.job_timeout_seconds)
                except (BrokenPipeError, OSError):
                    msg = None
                self._known.discard(job_id)
                if msg and msg[0] == "done":
                    self._ended(msg[1])  # the job run, not necessarily the message's (``jobs.fairness``)
                    w.tasks += 1
                    if self._worn(w):
                        await self._terminate(w)
                        self._workers[i] = await self._respawn()
                    continue
                # The process died (crash, OOM kill, SIGKILL) or overran the time limit.
                log.warning("worker %s lost while running job %s; replacing it", w.worker_id, job_id)
                await self._terminate(w)
                held = await self._release(w, refund=False)
                if held is not None:
                    self._ended(held)  # failed now if it has no attempt left; else queued again below
                self._workers[i] = await self._respawn()
                # The message was spent without a run to its end: the jobs it concerned get one again.
                async with self.db() as s:
                    for again in {job_id} if held is None else {job_id, held}:
                        job = await repo.get_job(s, again)
                        if job is not None and job.status == repo.Q:
                            await self.enqueue(job.id)
            except asyncio.CancelledError:
                raise
            except Exception:  # the reaper will find the job again; the slot must live on
                log.exception("dispatcher slot %d: error after job %s", i, job_id)
            finally:
                self._inflight.pop(i, None)

    def _worn(self, w: _Worker) -> bool:
        """Recycle a worker after ``worker_max_tasks`` jobs, or once its resident memory is over
        ``worker_max_memory_mb`` after a job (as Celery's pool does with its children): a page that
        inflated a worker to gigabytes leaves most of it held by the allocator, and N such workers
        would hold N times that."""
        s = self.settings
        if s.worker_max_tasks and w.tasks >= s.worker_max_tasks:
            return True
        rss = resident_mb(w.process.pid)
        if s.worker_max_memory_mb and rss > s.worker_max_memory_mb:
            log.info(
                "worker %s holds %.0f MB after a job (limit %d MB); replacing it",
                w.worker_id,
                rss,
                s.worker_max_memory_mb,
            )
            return True
        return False

    def _ended(self, job_id: str) -> None:
        if self.endings is not None and self.settings.job_end_notify:
            self.endings.ended(job_id)

    async def _respawn(self) -> _Worker:
        delay = 0.5
        while True:
            try:
                return await self._spawn()
            except Exception:
                log.exception("could not start a worker process; retrying in %.1fs", delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30)


def resident_mb(pid: int | None) -> float:
    """A process's resident memory from procfs (a small in-memory read, no disk); 0 when it is gone."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except (OSError, ValueError):
        pass
    return 0.0
