"""Group commit for the decision log: one writer appends the entries of every request that
arrived meanwhile in one transaction.

A request hands its entries to :meth:`DecisionLogWriter.append` and waits; the call returns
only after the transaction holding those entries has committed (or raises the error that stopped
it), so a decision is never answered before it is logged. While one group is being written, the
next requests queue up and become the next group: under load each transaction carries many
entries, and its fixed costs (``BEGIN``, the lock, reading the chain head, ``COMMIT`` and its
flush, the round trips to PostgreSQL) are paid once per group instead of once per request. When
the service is idle a group is one request, written at once: no request waits for others.

The writer is a task on the server's event loop, not a thread: its database I/O
(:meth:`Storage.append_decisions_async`) is awaited there beside the HTTP traffic. A writer
thread would have to win the GIL back from the busy event loop after every blocking call, which
cost more CPU and latency than the writes themselves.

The chain is unchanged: the writer is the one appender of the process, entries are chained in
the order they were submitted, and each group goes through the storage's append, which chains
the group after the last entry in the database. A request's entries are never split across two
transactions (a batch is logged all or nothing).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import contextvars
import logging
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from .storage import Storage, StorageError

logger = logging.getLogger("policy_engine.service")

#: Entries per transaction at most (a single request larger than this is still one transaction).
MAX_GROUP_ENTRIES = 20_000
#: How long a group waits at most for requests still being decided to join it (seconds).
GATHER_SECONDS = 0.002
#: A group already this large is written at once: waiting for more would only delay it (a batch
#: of a thousand decisions has nothing to gain from the next request's few entries).
GATHER_UNTIL = 256

Entries = Sequence[Mapping[str, Any]]
Pending = tuple[Entries, "asyncio.Future[None]"]


class _Ticket:
    """One request the writer expects entries from; ``arrived`` once it appended or ended."""

    __slots__ = ("arrived",)

    def __init__(self) -> None:
        self.arrived = False


_TICKET: contextvars.ContextVar[_Ticket | None] = contextvars.ContextVar(
    "policy_engine_log_ticket", default=None
)


class DecisionLogWriter:
    """The process's one appender to the decision log (see the module's docstring).

    It starts on the event loop of the first :meth:`append` and serves that loop until
    :meth:`close`. :meth:`append_blocking` is for code running outside the loop (a worker thread,
    or no server at all, where it appends directly)."""

    def __init__(
        self,
        storage: Storage,
        max_group: int = MAX_GROUP_ENTRIES,
        gather: float = GATHER_SECONDS,
    ) -> None:
        self.storage = storage
        self.max_group = max_group
        self.gather = gather
        self.expected = 0
        """Requests being served that may still append (see :meth:`expecting`)."""
        self._pending: list[Pending] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self.groups = 0
        """Transactions written so far (for tests and the curious)."""

    @contextlib.contextmanager
    def expecting(self) -> Iterator[None]:
        """Around a request that may append (on the event loop): until it appends, or ends
        without appending, the writer counts it as expected. While requests are expected, a
        group waits for them, up to :attr:`gather` seconds: under load a transaction then
        carries every request being decided instead of the one or two that happened to be ready
        first, and costs a fraction of the CPU and the flushes per decision. An idle service never
        waits: nothing else is expected."""
        ticket = _Ticket()
        self.expected += 1
        token = _TICKET.set(ticket)
        try:
            yield
        finally:
            _TICKET.reset(token)
            self._arrived(ticket)

    def _arrived(self, ticket: _Ticket | None) -> None:
        if ticket is not None and not ticket.arrived:
            ticket.arrived = True
            self.expected -= 1
            if self._wake is not None:
                self._wake.set()

    async def append(self, entries: Entries, ticket: _Ticket | None = None) -> None:
        """Queue ``entries`` for the next group; returns once they are committed."""
        self._arrived(ticket or _TICKET.get(None))
        if not entries:
            return
        if self._closed:
            raise StorageError("the decision log writer is shut down")
        loop = asyncio.get_running_loop()
        if self._task is None:
            self._loop = loop
            self._wake = asyncio.Event()
            self._task = loop.create_task(self._run(), name="policy-engine-log-writer")
        elif loop is not self._loop:
            raise RuntimeError("the decision log writer serves one event loop")
        assert self._wake is not None
        future: asyncio.Future[None] = loop.create_future()
        self._pending.append((entries, future))
        self._wake.set()
        await future

    def append_blocking(self, entries: Entries, timeout: float = 60.0) -> None:
        """:meth:`append` from a thread that is not the writer's event loop: through the loop's
        writer when it runs, else directly (one transaction, no grouping)."""
        loop = self._loop
        if loop is not None and self._task is not None and not self._task.done():
            try:
                running = asyncio.get_running_loop()
            except RuntimeError:
                running = None
            if running is loop:
                raise RuntimeError("append_blocking called on the writer's own event loop")
            # The request's ticket, if any, lives in this thread's context, not the loop's.
            future = asyncio.run_coroutine_threadsafe(self.append(entries, _TICKET.get(None)), loop)
            try:
                future.result(timeout)
            except concurrent.futures.TimeoutError:
                future.cancel()
                raise StorageError("the decision log did not commit in time") from None
            return
        if self._closed:
            raise StorageError("the decision log writer is shut down")
        self.storage.append_decisions(entries)

    async def close(self) -> None:
        """Write what is queued, then stop. Later appends are refused."""
        self._closed = True
        task = self._task
        if task is None:
            return
        assert self._wake is not None
        self._wake.set()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await self.storage.aclose()

    def _queued(self) -> int:
        return sum(len(entries) for entries, _ in self._pending)

    def _take(self) -> list[Pending]:
        """The next group: queued submissions up to :attr:`max_group` entries (at least one),
        leaving out requests that stopped waiting (cancelled: they are not logged)."""
        group: list[Pending] = []
        size = 0
        taken = 0
        for entries, future in self._pending:
            if group and size + len(entries) > self.max_group:
                break
            taken += 1
            if not future.done():
                group.append((entries, future))
                size += len(entries)
        del self._pending[:taken]
        return group

    async def _run(self) -> None:
        assert self._wake is not None
        while True:
            if not self._pending:
                if self._closed:
                    return
                self._wake.clear()
                await self._wake.wait()
                continue
            await self._gather()
            group = self._take()
            if group:
                await self._write(group)

    async def _gather(self) -> None:
        """Wait while requests being served have not queued their entries yet, at most
        :attr:`gather` seconds (see :meth:`expecting`), unless the queued entries already make
        a large group (:data:`GATHER_UNTIL`)."""
        assert self._loop is not None and self._wake is not None
        deadline = self._loop.time() + self.gather
        while self.expected > 0 and not self._closed and self._queued() < GATHER_UNTIL:
            remaining = deadline - self._loop.time()
            if remaining <= 0:
                return
            self._wake.clear()
            try:
                async with asyncio.timeout(remaining):
                    await self._wake.wait()
            except TimeoutError:
                return

    async def _write(self, group: list[Pending]) -> None:
        try:
            await self.storage.append_decisions_async(
                [entry for entries, _ in group for entry in entries]
            )
        except Exception as exc:
            unreachable = isinstance(exc, StorageError) and not exc.refused
            if len(group) > 1 and not unreachable:
                # The database refused some request's values (or something else went wrong with
                # them): write each request on its own, so that only the requests at fault fail.
                # (A database that is down fails the whole group at once instead.)
                logger.warning("a decision-log group of %d requests failed: %s", len(group), exc)
                for one in group:
                    await self._write([one])
                return
            for _, future in group:
                if not future.done():
                    # An exception of its own for each waiting request, not one shared object.
                    if isinstance(exc, StorageError):
                        future.set_exception(StorageError(str(exc), refused=exc.refused))
                    else:
                        future.set_exception(exc)
            return
        self.groups += 1
        for _, future in group:
            if not future.done():
                future.set_result(None)
