"""The server's lifetime around a :class:`PolicyService`: at start, the heap settled, reloads on
SIGHUP, (with ``watch_interval``) a watcher of the rule files and (with ``anchor_path``) anchors
of the decision log's head on a schedule; at shutdown, those stopped, the decision log's queue
written, a last anchor written and the storage closed."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from fastapi import FastAPI

from .heap import settle_heap
from .log_anchor_sink import AnchorSink, anchor_every, write_anchor
from .policy_service import PolicyService

logger = logging.getLogger("policy_engine.service")


def lifespan_of(
    service: PolicyService, anchors: AnchorSink | None = None
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """The app's lifespan for ``service``, anchoring its log to ``anchors`` (see the module)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        loop = asyncio.get_running_loop()
        pending: set[asyncio.Future[None]] = set()
        settle_heap()
        sighup = _reload_on_hangup(loop, service, pending)
        interval = service.config.watch_interval
        watcher = asyncio.create_task(watch(service, interval)) if interval > 0 else None
        every = service.config.anchor_interval
        anchoring = (
            asyncio.create_task(anchor_every(anchors, every))
            if anchors is not None and every > 0
            else None
        )
        try:
            yield
        finally:
            for task in (watcher, anchoring):
                if task is not None:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
            if sighup is not None:
                loop.remove_signal_handler(sighup)
            if pending:
                await asyncio.gather(*pending, return_exceptions=True)
            await service.close()
            if anchors is not None:  # the head once every queued entry is written
                await write_anchor(anchors)
            service.storage.close()

    return lifespan


def _reload_on_hangup(
    loop: asyncio.AbstractEventLoop, service: PolicyService, pending: set[asyncio.Future[None]]
) -> int | None:
    """Reload on SIGHUP where the platform allows; returns the signal handled, or None."""

    def schedule_reload() -> None:
        # SIGHUP: reload in a worker thread; the event loop keeps answering meanwhile.
        future = loop.run_in_executor(None, service.reload_quietly, "signal")
        pending.add(future)
        future.add_done_callback(pending.discard)

    sighup: int | None = getattr(signal, "SIGHUP", None)
    if sighup is None:
        return None
    try:
        loop.add_signal_handler(sighup, schedule_reload)
    except (NotImplementedError, RuntimeError, ValueError) as exc:
        logger.warning("cannot reload on SIGHUP here: %s", exc)
        return None
    return sighup


async def watch(service: PolicyService, interval: float) -> None:
    """Poll the rule files' names, mtimes and sizes every ``interval`` seconds; reload when they
    change. A change that does not load is refused once (logged, counted), not every poll."""
    while True:
        await asyncio.sleep(interval)
        try:
            if await asyncio.to_thread(service.files_changed):
                await asyncio.to_thread(service.reload_quietly, "watch")
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("the policy file watcher failed; it keeps watching")
