"""The API process's lifespan: builds the shared context once (database, blob store, queue, key resolver),
recovers work a previous run left, and runs the background loops (reaper, retention purge, callback
delivery) until shutdown, when the local workers get their grace period."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

from fastapi import FastAPI

from ocrgw.auth import KeyResolver
from ocrgw.context import AppContext
from ocrgw.db import make_async_engine, make_async_sessionmaker
from ocrgw.jobs import callbacks
from ocrgw.jobs.endings import Endings
from ocrgw.ops.heap import freeze_startup_objects
from ocrgw.queue import JobQueue, reaper
from ocrgw.queue.local import LocalDispatcher
from ocrgw.settings import Settings
from ocrgw.storage import make_blob_store


def lifespan(settings: Settings) -> Callable[[FastAPI], contextlib.AbstractAsyncContextManager[Any]]:
    @contextlib.asynccontextmanager
    async def run(app: FastAPI) -> AsyncIterator[None]:
        engine = make_async_engine(settings)
        db = make_async_sessionmaker(engine)
        store = make_blob_store(settings, db)
        dispatcher: LocalDispatcher | None = None
        queue: JobQueue
        endings = Endings()
        listen: list = []
        if settings.queue == "celery":
            from ocrgw.queue import notices
            from ocrgw.queue.celery_app import CeleryQueue

            queue = CeleryQueue(settings)
            if notices.supported(settings):
                listen.append(notices.listen_forever(settings, endings))
        else:
            queue = dispatcher = LocalDispatcher(settings, db, endings)
        app.state.ctx = AppContext(settings, db, queue, store, KeyResolver(settings, db), endings)
        app.state.dispatcher = dispatcher
        if dispatcher is not None:
            await dispatcher.start()
            # Work left by a previous run: leases of processes that are gone, then everything queued.
            await reaper.free_dead_leases(db)
            await reaper.sweep(db, dispatcher, settings, startup=True)
        tasks = [
            asyncio.create_task(reaper.run_forever(db, queue, settings)),
            asyncio.create_task(reaper.purge_forever(db, store, settings)),
            asyncio.create_task(callbacks.deliver_forever(db, settings)),
            *(asyncio.create_task(c) for c in listen),
        ]
        freeze_startup_objects("api")  # ops.heap: full collections then skip what lives for the process's life
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            if dispatcher is not None:
                await dispatcher.stop(settings.shutdown_grace_seconds)
            app.state.ctx.inserts.close()
            await engine.dispose()

    return run
