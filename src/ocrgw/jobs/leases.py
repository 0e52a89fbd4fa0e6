"""Lease owners are "host:pid" of the worker process that claimed a job. A lease held by a process that
no longer exists on this very host can be ended at once instead of waiting for it to run out; leases of
other hosts can only run out."""

from __future__ import annotations

import os
import socket
from pathlib import Path


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
    return _is_zombie(int(pid))


def _is_zombie(pid: int) -> bool:
    """A killed process whose parent died too stays a zombie until init reaps it, which a container's
    init may do late or never: it has exited, so its lease may end now (Linux; elsewhere, never guessed)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[:1] == ["Z"]
