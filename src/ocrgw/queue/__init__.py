"""How a job id reaches a worker. The queue carries ids only; SQL holds the truth, so any queue may lose
or repeat an id and the reaper and the claim make up for it."""

from __future__ import annotations

from typing import Protocol


class JobQueue(Protocol):
    async def enqueue(self, job_id: str) -> None:
        """Hand a committed job's id to the workers. Never called before the job's insert commits."""
        ...

    def knows(self, job_id: str) -> bool:
        """True if the id is certainly still waiting or running here (the reaper then leaves it alone)."""
        ...
