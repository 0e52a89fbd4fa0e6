"""Where a synchronous API's waiting request (``jobs.service.wait``) learns that its job ended: the API
process's notices of job ends, by job id. The embedded dispatcher gives a notice when its worker process
reports a job done (``queue.local``); in scale-out, Celery workers publish the id on the broker's Redis
and the API process's subscription hands it here (``queue.notices``). Polling SQL instead (from 20 ms,
growing x1.5) added 10-50 ms to a lone small image's answer (bench/latency.py).

A notice carries only the id and only wakes the waiter, which then reads the job from SQL, the one
source of truth; the SQL poll goes on at a slow pace (``sync_poll_seconds``) so a lost notice costs
latency, never a result. While no notices can come (no notifier, or the subscription is down), the
waiter polls at the old quick pace.

``heard`` counts the notices and wake-ups handled: a request that took it before its job was queued and
finds it unchanged (and notices live) once it watches the job knows that no end of any job was heard in
between, its own included, so it sleeps without the first SQL read (a round trip on the API and the
database while the worker claims the job)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator


class Endings:
    def __init__(self) -> None:
        self._waiters: dict[str, set[asyncio.Event]] = {}
        # True while a notifier feeds ``ended``: the local dispatcher, or a connected Redis subscription.
        self.live = False
        self.heard = 0  # notices (``ended``) and wake-ups (``wake_all``) handled so far

    def quiet_since(self, heard: int) -> bool:
        """Nothing was heard since ``heard`` (taken earlier) and notices still come: a job queued after
        that moment and watched now has not ended, or its notice is still to come."""
        return self.live and self.heard == heard

    @contextlib.contextmanager
    def watch(self, job_id: str) -> Iterator[asyncio.Event]:
        """An event set when ``job_id`` ends (or may have: see ``wake_all``), for the block's duration.
        Register before reading the job's state, so a notice can't slip in between."""
        event = asyncio.Event()
        self._waiters.setdefault(job_id, set()).add(event)
        try:
            yield event
        finally:
            events = self._waiters.get(job_id)
            if events is not None:
                events.discard(event)
                if not events:
                    del self._waiters[job_id]

    def ended(self, job_id: str) -> None:
        """A notice: the job's end is committed (or it was handed back); its waiters read SQL again."""
        self.heard += 1
        for event in self._waiters.get(job_id, ()):
            event.set()

    def wake_all(self) -> None:
        """Notices may have been lost (a subscription that reconnected): every waiter reads SQL again."""
        self.heard += 1
        for events in self._waiters.values():
            for event in events:
                event.set()
