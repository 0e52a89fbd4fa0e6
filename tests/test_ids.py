"""ocrgw.ids: the pooled UUID4s are proper version-4 UUIDs, never repeat across threads or a fork, and
really come from a pool (one kernel call for many ids, the reason the module exists)."""

from __future__ import annotations

import os
import threading
import uuid

import pytest

from ocrgw import ids


def test_ids_are_version_4_rfc_4122_uuids_in_both_text_forms() -> None:
    for _ in range(600):  # more than one pool's worth (256 ids a pool)
        u = ids.uuid4()
        assert u.version == 4
        assert u.variant == uuid.RFC_4122
        assert uuid.UUID(ids.new_id()).version == 4
        h = ids.new_hex()
        assert len(h) == 32 and uuid.UUID(hex=h).version == 4


def test_threads_sharing_the_pool_never_get_the_same_id() -> None:
    made: list[list[str]] = [[] for _ in range(8)]

    def make(out: list[str]) -> None:
        for _ in range(2_000):
            out.append(ids.new_hex())

    threads = [threading.Thread(target=make, args=(out,)) for out in made]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    every = [i for out in made for i in out]
    assert len(every) == 16_000
    assert len(set(every)) == len(every)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork is POSIX only")
def test_a_forked_child_does_not_repeat_the_ids_its_parent_has_left_in_its_pool() -> None:
    ids.new_hex()  # the parent's pool now holds 255 ids' worth of bytes
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its next ids, through the pipe
        try:
            os.write(write, "".join(ids.new_hex() for _ in range(50)).encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as f:
        text = f.read().decode()
    os.waitpid(pid, 0)
    child = {text[i : i + 32] for i in range(0, len(text), 32)}
    parent = {ids.new_hex() for _ in range(50)}
    assert len(child) == 50
    assert not child & parent


def test_the_kernel_is_asked_once_for_a_pool_of_ids(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    real = os.urandom

    def counting(n: int) -> bytes:
        calls.append(n)
        return real(n)

    monkeypatch.setattr(os, "urandom", counting)
    made = {ids.new_hex() for _ in range(512)}
    assert len(made) == 512
    assert 2 <= len(calls) <= 3  # 512 ids: two pools of 256, and the one left over from before
    assert all(n >= 4096 for n in calls)
