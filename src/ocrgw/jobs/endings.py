"""Where a synchronous API's waiting request (``jobs.service.wait``) learns that its job ended: the API
process's notices of job ends, by job id. The embedded dispatcher gives a notice when its worker process
reports a job done (``queue.local``); in scale-out, Celery workers publish the id on the broker's Redis
and the API process's subscription hands it here (``queue.notices``). Polling SQL instead (from 20 ms,
growing x1.5) added 10-50 ms to a lone small image's answer (bench/latency.py).

A notice carries only the id and only wakes the waiter, which then reads the job from SQL, the one
source of truth; the SQL poll goes on at a slow pace (``sync_poll_seconds``) so a lost notice costs
latency, never a result. While no notices can come (no notifier, or the subscription is down), the
waiter polls at the old quick pace."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator


class Endings:
    def __init__(self) -> None:
        self._waiters: dict[str, set[asyncio.Event]] = {}
        # True while a notifier feeds ``ended``: the local dispatcher, or a connected Redis subscription.
        self.live = False

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
        for event in self._waiters.get(job_id, ()):
            event.set()

    def wake_all(self) -> None:
        """Notices may have been lost (a subscription that reconnected): every waiter reads SQL again."""
        for events in self._waiters.values():
            for event in events:
                event.set()
