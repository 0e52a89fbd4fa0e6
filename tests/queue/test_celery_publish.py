"""The scale-out queue's API side on a real Redis: concurrent submits' ids are published together (one
thread hop and one producer for all), still one message per job id, and each ``enqueue`` returns once its
id is in the broker."""

from __future__ import annotations

import asyncio
import base64
import json

import redis

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
