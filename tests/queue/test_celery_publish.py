"""The scale-out queue's API side on a real Redis: concurrent submits' ids are published together (one
thread hop, one producer and one pipeline for all), still one message per job id, and each ``enqueue``
returns once its id is in the broker."""

from __future__ import annotations

import asyncio
import base64
import json
import uuid

import redis
from tests.conftest import RedisServer, scaleout_available, unavailable

from ocrgw.queue.celery_app import CeleryQueue
from ocrgw.settings import Settings


def _queued_ids(client: redis.Redis, queue: str) -> list[str]:
    ids = []
    for raw in client.lrange(queue, 0, -1):
        message = json.loads(raw)
        args, _kwargs, _embed = json.loads(base64.b64decode(message["body"]))
        ids.append(args[0])
    return ids


def test_concurrent_enqueues_are_published_as_one_message_each(redis_server, tmp_path) -> None:
    settings = Settings(data_dir=tmp_path, broker_url=f"{redis_server.url}/3", celery_queue="ocrgw-publish-test")
    client = redis.Redis.from_url(settings.broker_url)
    client.delete(settings.celery_queue)
    queue = CeleryQueue(settings)
    sends: list[int] = []
    send = queue._send
    queue._send = lambda ids: (sends.append(len(ids)), send(ids))[1]  # type: ignore[method-assign]

    async def scenario() -> None:
        ids = [f"job-{i}" for i in range(40)]
        await asyncio.gather(*(queue.enqueue(i) for i in ids))
        assert sorted(_queued_ids(client, settings.celery_queue)) == sorted(ids)  # in before enqueue returned
        assert sum(sends) == 40 and len(sends) < 40, sends  # several ids per thread hop

    asyncio.run(scenario())
    client.delete(settings.celery_queue)


def test_a_batch_of_ids_reaches_redis_in_one_pipeline(tmp_path) -> None:
    """Forty ids cost Redis a few reads, not one round trip each (the publish's CPU on the API halves).
    A private server, so no other client's commands are counted."""
    if not scaleout_available():
        unavailable("the scale-out queue needs redis-server (.ci/run starts the machine's services)")
    server = RedisServer(tmp_path / "redis").start()
    try:
        settings = Settings(data_dir=tmp_path, broker_url=f"{server.url}/0", celery_queue="ocrgw-pipeline-test")
        client = redis.Redis.from_url(settings.broker_url)
        queue = CeleryQueue(settings)
        queue._send(["warm-up"])  # the producer's connection and the queue's declaration
        before = client.info("stats")["total_reads_processed"]
        ids = [f"job-{i}" for i in range(40)]
        queue._send(ids)
        reads = client.info("stats")["total_reads_processed"] - before
        assert _queued_ids(client, settings.celery_queue) == list(reversed(["warm-up", *ids]))
        assert reads < 10, f"{reads} reads for 40 ids: not pipelined"
    finally:
        server.stop()


def test_each_message_has_its_own_task_id_and_the_job_id_as_its_arguments_text(redis_server, tmp_path) -> None:
    """The message fields ``_send`` fills in itself instead of leaving them to Celery: a distinct task id
    each (a UUID), and the arguments' text the worker logs, as Celery's saferepr would have written it."""
    settings = Settings(data_dir=tmp_path, broker_url=f"{redis_server.url}/4", celery_queue="ocrgw-headers-test")
    client = redis.Redis.from_url(settings.broker_url)
    client.delete(settings.celery_queue)
    try:
        ids = [f"job-{i}" for i in range(20)]
        CeleryQueue(settings)._send(ids)
        headers = [json.loads(raw)["headers"] for raw in reversed(client.lrange(settings.celery_queue, 0, -1))]
        assert [h["argsrepr"] for h in headers] == [repr([i]) for i in ids]
        assert all(h["kwargsrepr"] == "{}" and h["task"] == "ocrgw.run_job" for h in headers)
        task_ids = [h["id"] for h in headers]
        assert len(set(task_ids)) == len(ids)
        assert all(uuid.UUID(t).version == 4 for t in task_ids)
    finally:
        client.delete(settings.celery_queue)
