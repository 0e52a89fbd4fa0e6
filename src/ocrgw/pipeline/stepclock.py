"""Worker side, every stage of a page: the wall time each step records as ``ms`` in the page's stored
steps, which is how bench/throughput.py tells where a page's time went (decode, border, denoise, deskew,
upscale, recognize, rereads, style...)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def ms_since(started: float) -> float:
    """Milliseconds since a ``time.perf_counter()`` reading, as the steps store them."""
    return round(1000 * (time.perf_counter() - started), 1)


class Clock:
    """Puts each stage's wall time, as ``ms``, on the first step the stage recorded in ``steps``."""

    def __init__(self, steps: list[dict]) -> None:
        self.steps = steps
        self.since = time.perf_counter()
        self.seen = len(steps)

    def mark(self) -> None:
        if len(self.steps) > self.seen:
            self.steps[self.seen]["ms"] = ms_since(self.since)
        self.since, self.seen = time.perf_counter(), len(self.steps)

    def run(self, stage: Callable[..., Any], *args: Any) -> Any:
        """``stage(*args)``, its time marked on the step it records."""
        out = stage(*args)
        self.mark()
        return out
