"""Lease owners (``jobs.leases``): a lease held by a process of this host that is gone ends at once. A killed
worker that nobody reaped yet is a zombie: it has exited, so it counts as gone (a SIGKILLed server's
workers can stay zombies until the container's init reaps them, and their jobs then waited out the whole
lease)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

from ocrgw.jobs.leases import owner_id, owner_is_dead


def test_a_live_process_holds_its_lease() -> None:
    assert owner_id() == f"{socket.gethostname()}:{os.getpid()}"
    assert not owner_is_dead(owner_id())


def test_an_exited_process_unreaped_or_reaped_is_dead() -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    owner = f"{socket.gethostname()}:{child.pid}"
    deadline = time.monotonic() + 10
    while not owner_is_dead(owner):  # not reaped yet: a zombie, which must count as dead
        assert time.monotonic() < deadline, "an exited, unreaped child still counted as alive"
        time.sleep(0.05)
    child.wait()
    assert owner_is_dead(owner)


def test_other_hosts_and_garbage_are_never_guessed_dead() -> None:
    assert not owner_is_dead(None)
    assert not owner_is_dead("")
    assert not owner_is_dead("another-host:1")
    assert not owner_is_dead(f"{socket.gethostname()}:not-a-pid")
