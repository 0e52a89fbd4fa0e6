"""Random ids as the whole project makes them (job ids, blob keys, request ids, admission tickets, Azure's
``apim-request-id``): version-4 UUIDs, as ``uuid.uuid4`` makes them, from the operating system's random
source. A leaf module anyone may import.

Why not ``uuid.uuid4`` itself: it asks the kernel for 16 bytes per id (``os.urandom``), and CPython lets
go of the GIL around that call. A submit makes three ids (its request, its admission, its job) on the
event loop and one (its blob key) in the thread that writes the body; each time the loop thread let go,
the blob writers or the SQLite writer took the interpreter and the loop waited for it back. Drawing the
bytes 4 KiB at a time makes the same ids with one kernel call per 256: ``bench/submit.py --db sqlite
--paths native,azure --compare`` (3 rounds, workers paused) went from 1,078 / 1,077 to 1,175 / 1,210
requests/s, the API's CPU per submit 1.02 -> 0.96 ms (bench/README.md, "Session 13" under ``submit.py``).

The bytes are still the kernel's CSPRNG output, each handed out once: the pool is taken under a lock
(threads share it) and dropped in a forked child (``os.register_at_fork``), so a worker process forked
from a parent that had bytes left never repeats the parent's ids."""

from __future__ import annotations

import os
import threading
import uuid

_POOL_BYTES = 4096
_lock = threading.Lock()
_pool = b""
_pos = 0


def _forget() -> None:
    """In a forked child: the parent still holds these bytes, so they are not ours to hand out."""
    global _pool, _pos, _lock
    _lock = threading.Lock()  # a lock held by another thread at the fork would stay held in the child
    _pool, _pos = b"", 0


os.register_at_fork(after_in_child=_forget)


def _random16() -> bytes:
    global _pool, _pos
    with _lock:
        if _pos + 16 > len(_pool):
            _pool, _pos = os.urandom(_POOL_BYTES), 0
        out = _pool[_pos : _pos + 16]
        _pos += 16
    return out


def uuid4() -> uuid.UUID:
    """A random (version 4, RFC 4122 variant) UUID, as ``uuid.uuid4()`` returns."""
    return uuid.UUID(bytes=_random16(), version=4)


def new_id() -> str:
    """A UUID4 in its canonical text form (``8-4-4-4-12`` hex digits): job ids, tickets, request ids."""
    return str(uuid4())


def new_hex() -> str:
    """A UUID4 as 32 hex digits: blob keys and request ids."""
    return uuid4().hex
