"""Scale-out's notices of job ends (``jobs.endings``), over the broker's Redis: a Celery worker publishes
a job's id once its run has committed the job's end; each API process subscribes once and wakes the
synchronous requests waiting on that job, which then read it from SQL. The message is the id alone, and
pub/sub delivers it only to whoever is subscribed at that moment: a notice lost to a reconnect costs the
waiter its SQL fallback interval (``sync_poll_seconds``), nothing more. Redis rather than PostgreSQL's
LISTEN/NOTIFY: the broker is already there in every scale-out deployment (SQLite ones too), and it holds
no database connection per API process."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from ocrgw.jobs.endings import Endings
from ocrgw.settings import Settings

log = logging.getLogger("ocrgw.notices")
_SCHEMES = ("redis://", "rediss://", "unix://")
_client: Any = None  # a worker process's own connection, made on its first publish (after the fork)


def supported(settings: Settings) -> bool:
    """Notices need the broker to be Redis; with another broker the waiters poll SQL."""
    return settings.broker_url.startswith(_SCHEMES)


def channel(settings: Settings) -> str:
    """One channel per Celery queue: deployments sharing a broker do not wake each other's waiters."""
    return f"ocrgw:job-ended:{settings.celery_queue}"


def publish(settings: Settings, job_id: str) -> None:
    """The worker side, after a run: best effort, since a lost notice only delays a waiter."""
    global _client
    if not settings.job_end_notify or not supported(settings):
        return
    try:
        if _client is None:
            import redis

            _client = redis.Redis.from_url(settings.broker_url, socket_timeout=2, socket_connect_timeout=2)
        _client.publish(channel(settings), job_id)
    except Exception as exc:
        log.debug("could not publish the end of job %s (%r)", job_id, exc)


async def listen_forever(settings: Settings, endings: Endings) -> None:
    """The API side: one subscription for the process's life, reconnecting with a growing delay.
    ``endings.live`` says whether notices can come; every (re)subscription wakes all waiters, since a
    notice given while the connection was down is gone."""
    import redis.asyncio as aioredis

    delay = 0.5
    while True:
        client = aioredis.Redis.from_url(
            settings.broker_url, socket_connect_timeout=5, health_check_interval=10, socket_keepalive=True
        )
        try:
            async with client.pubsub(ignore_subscribe_messages=True) as ps:
                await ps.subscribe(channel(settings))
                endings.live = True
                endings.wake_all()
                delay = 0.5
                while True:
                    # A timeout, not a blocking read: each call also sends the health check's PING, so a
                    # connection that died silently raises here instead of hanging forever.
                    msg = await ps.get_message(ignore_subscribe_messages=True, timeout=5.0)
                    if msg is not None and msg.get("type") == "message":
                        data = msg["data"]
                        endings.ended(data.decode() if isinstance(data, bytes) else str(data))
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("job-end notices: Redis subscription lost (%r); waiters poll SQL until it is back", exc)
        finally:
            endings.live = False
            try:
                await client.aclose()
            except Exception as exc:  # a connection already broken
                log.debug("closing the notices connection: %r", exc)
        await asyncio.sleep(delay)
        delay = min(delay * 2, 30.0)
