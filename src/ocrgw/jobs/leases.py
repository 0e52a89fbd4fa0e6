"""Lease owners are "host:pid" of the worker process that claimed a job. A lease held by a process that
no longer exists on this very host can be ended at once instead of waiting for it to run out; leases of
other hosts can only run out."""

from __future__ import annotations

import os
import socket


def owner_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def owner_is_dead(owner: str | None) -> bool:
    """True only when the owner was a process on this host that is gone (never guesses about others)."""
    if not owner:
        return False
    host, _, pid = owner.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False
