"""Where ``serve`` keeps anchors of the decision log's head, outside the database: appended as one
JSON line each to a file (opened ``O_APPEND``, fsync'd), or written as a new file each in a folder
(written whole, fsync'd, then renamed into place). The service writes one every
``anchor_interval`` seconds and one at shutdown, once the log's queue is written
(:mod:`.lifespan`)."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
from pathlib import Path
from typing import Any

from .log_anchor import LogHead, make_anchor
from .storage_base import Storage
from .storage_sqlite import SQLiteStorage
from .storage_types import now_text

logger = logging.getLogger("policy_engine.service")

#: Anchor files are not secret (counts, ids, hashes, a MAC), only kept apart from the database.
ANCHOR_FILE_MODE = 0o644


class AnchorPathError(Exception):
    """The anchor path cannot take anchors (no such folder, or the database file itself)."""


class AnchorSink:
    """Anchors of ``storage``'s log head, written to ``path``: a folder (a file per anchor) if
    it is one, otherwise a file that each anchor is appended to as one line. Checked now, so
    that a path that cannot work fails before the service starts."""

    def __init__(self, path: str, storage: Storage) -> None:
        self.path = path
        self.storage = storage
        self.folder = Path(path).is_dir()
        self._lock = threading.Lock()
        self._last: LogHead | None = None
        self.written = 0
        """Anchors written so far (for tests and the curious)."""
        _check_path(path, storage, self.folder)

    def write(self) -> dict[str, Any]:
        """Anchor the log's head now; returns the anchor written."""
        with self._lock:
            head = self.storage.log_head(self._last)
            anchor = make_anchor(head, self.storage.url, now_text(), self.storage.log_key)
            line = json.dumps(anchor, separators=(",", ":")) + "\n"
            if self.folder:
                _write_new_file(Path(self.path), anchor, line.encode("utf-8"))
            else:
                _append_line(self.path, line.encode("utf-8"))
            self._last = head
            self.written += 1
            return anchor


def _check_path(path: str, storage: Storage, folder: bool) -> None:
    target = Path(path)
    if isinstance(storage, SQLiteStorage) and storage.path != ":memory:":
        database = os.path.realpath(storage.path)
        sides = {database + suffix for suffix in ("", "-wal", "-shm", "-journal")}
        if os.path.realpath(target) in sides:
            raise AnchorPathError(
                f"the anchor path `{path}` is the database file itself: anchors must be kept "
                "apart from the log they anchor"
            )
    if folder:
        return
    if target.exists() and not target.is_file():
        raise AnchorPathError(f"the anchor path `{path}` is neither a file nor a folder")
    if not target.parent.is_dir():
        raise AnchorPathError(
            f"the anchor path `{path}`: the folder `{target.parent}` does not exist"
        )
    try:  # created now if it is not there: a file that cannot be written fails at start
        os.close(os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, ANCHOR_FILE_MODE))
    except OSError as exc:
        raise AnchorPathError(f"cannot write anchors to `{path}`: {exc.strerror}") from None


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _append_line(path: str, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, ANCHOR_FILE_MODE)
    try:
        _write_all(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_new_file(folder: Path, anchor: dict[str, Any], data: bytes) -> None:
    stamp = "".join(c for c in str(anchor["time"]) if c.isalnum() or c == ".")
    name = f"anchor-{stamp}-{os.getpid()}-{anchor['last_seq']:012d}.json"
    temporary = folder / f".{name}.tmp"
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, ANCHOR_FILE_MODE)
    try:
        _write_all(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(temporary, folder / name)
    directory = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


async def write_anchor(sink: AnchorSink) -> None:
    """Anchor the head now, in a worker thread; a failure is logged, not raised."""
    try:
        await asyncio.to_thread(sink.write)
    except Exception:
        logger.exception("writing an anchor of the decision log to `%s` failed", sink.path)


async def anchor_every(sink: AnchorSink, interval: float) -> None:
    """Anchor the head every ``interval`` seconds, until cancelled."""
    while True:
        await asyncio.sleep(interval)
        await write_anchor(sink)
