"""The claim protocol against a real SQLite database: one owner at a time, leases that lapse, attempts
that run out, and page writes that replace rather than duplicate."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from ocrgw.db import sync_sessionmaker
from ocrgw.jobs import repository as repo
from ocrgw.jobs.models import Job
from ocrgw.jobs.schemas import LineResult, PageResult, WordResult
from ocrgw.jobs.states import JobStatus
from ocrgw.migrate import upgrade
from ocrgw.settings import Settings


@pytest.fixture
def db(tmp_path: Path):
    settings = Settings(data_dir=tmp_path)
    upgrade(settings)
    return sync_sessionmaker(settings)


def _job(db, max_attempts: int = 2) -> str:
    now = repo.utcnow()
    job_id = str(uuid.uuid4())
    with db.begin() as s:
        s.add(
            Job(
                id=job_id,
                dialect="test",
                status="queued",
                spec={},
                blob_key="x",
                media_type="image/png",
                size_bytes=1,
                created_at=now,
                updated_at=now,
                attempts=0,
                max_attempts=max_attempts,
                pages_done=0,
            )
        )
    return job_id


def _page(no: int, text: str) -> PageResult:
    box = [0, 0, 10, 0, 10, 5, 0, 5]
    words = [WordResult(t, box, 0.9) for t in text.split()]
    return PageResult(no, 100, 50, "pixel", 0.0, None, [], [LineResult(text, box, 0.9, words)])


def test_one_claim_wins(db) -> None:
    job_id = _job(db)
    with db.begin() as s:
        assert repo.claim(s, job_id, "w1", lease=60) is not None
    with db.begin() as s:
        assert repo.claim(s, job_id, "w2", lease=60) is None
    with db() as s:
        job = s.get(Job, job_id)
        assert (job.status, job.lease_owner, job.attempts) == ("running", "w1", 1)


def test_expired_lease_is_taken_over_and_old_owner_cannot_write(db) -> None:
    job_id = _job(db, max_attempts=3)
    with db.begin() as s:
        repo.claim(s, job_id, "w1", lease=0.05)
    time.sleep(0.1)
    with db.begin() as s:
        assert repo.claim(s, job_id, "w2", lease=60) is not None
    with pytest.raises(repo.LeaseLost), db.begin() as s:
        repo.write_page(s, job_id, "w1", _page(1, "stale"), lease=60)
    with db.begin() as s:
        assert not repo.finish(s, job_id, "w1", JobStatus.SUCCEEDED)
        assert repo.finish(s, job_id, "w2", JobStatus.SUCCEEDED)


def _dead_owner() -> str:
    """A lease owner naming a process of this host that has exited (and been reaped)."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return f"{socket.gethostname()}:{proc.pid}"


def test_a_redelivered_message_takes_its_job_back_from_a_dead_worker_at_once(db) -> None:
    """A worker that died mid-job holds a lease that has not run out. The job's redelivered message finds
    its job not takeable, ends the dead process's lease and takes the job at once; with another job
    queued, it takes that one and the next message takes the lost run first. A message that takes its own
    job never touches another worker's lease."""
    lost, dead = _job(db, max_attempts=3), _dead_owner()
    with db.begin() as s:
        assert repo.claim(s, lost, dead, lease=600).id == lost
    other = _job(db)
    with db.begin() as s:  # its own job is queued: the one statement, the dead lease left alone
        assert repo.claim(s, other, "w1", lease=60).id == other
    with db() as s:
        assert s.get(Job, lost).lease_owner == dead
    with db.begin() as s:  # the redelivery, nothing else queued: its own job, at once
        taken = repo.claim(s, lost, "w2", lease=60)
        assert (taken.id, taken.lease_owner, taken.attempts) == (lost, "w2", 2)

    lost2, dead2 = _job(db, max_attempts=3), _dead_owner()
    with db.begin() as s:
        assert repo.claim(s, lost2, dead2, lease=600).id == lost2
    queued = _job(db)
    with db.begin() as s:  # the redelivery while another job waits: that job, and the lost run is freed
        assert repo.claim(s, lost2, "w3", lease=60).id == queued
    with db.begin() as s:  # the queued job's own message: the lost run first
        taken = repo.claim(s, queued, "w4", lease=60)
        assert (taken.id, taken.lease_owner, taken.attempts) == (lost2, "w4", 2)


def test_attempts_run_out(db) -> None:
    job_id = _job(db, max_attempts=2)
    for worker in ("w1", "w2"):
        with db.begin() as s:
            assert repo.claim(s, job_id, worker, lease=0.01) is not None
        time.sleep(0.05)
    with db.begin() as s:
        assert repo.claim(s, job_id, "w3", lease=60) is None
    with db() as s:
        job = s.get(Job, job_id)
        assert (job.status, job.error_code, job.attempts) == ("failed", "WorkerCrashed", 2)


def test_page_write_is_idempotent(db) -> None:
    job_id = _job(db)
    with db.begin() as s:
        repo.claim(s, job_id, "w1", lease=60)
    for text in ("first try", "second try wins"):
        with db.begin() as s:
            repo.write_page(s, job_id, "w1", _page(1, text), lease=60)
    with db.begin() as s:
        repo.write_page(s, job_id, "w1", _page(2, "page two"), lease=60)
    with db() as s:
        assert repo.done_page_numbers(s, job_id) == {1, 2}
        assert s.get(Job, job_id).pages_done == 2
        texts = s.execute(repo.select(repo.Line.text).order_by(repo.Line.id)).scalars().all()
        words = s.execute(repo.select(repo.func.count()).select_from(repo.Word)).scalar_one()
    assert texts == ["second try wins", "page two"]
    assert words == 5
