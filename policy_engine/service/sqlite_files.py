"""The SQLite database's files hold personal information (subjects, request contexts, consent
history): they are created readable by their owner only, and the service does not open a
database file that other users may read or write (``allow_readable_database`` lets it).

SQLite gives the files it creates beside the database (``-wal``, ``-shm``, ``-journal``) the
database file's own mode, so a database file created 0600 keeps all of them private;
:func:`make_private` also narrows any side file found wider than that.
"""

from __future__ import annotations

import contextlib
import os
import stat

PRIVATE = 0o600
#: Bits that let users other than the owner read or write a file.
SHARED_BITS = 0o066
SIDE_FILES = ("-wal", "-shm", "-journal")


def _files(path: str) -> list[str]:
    return [path] + [path + suffix for suffix in SIDE_FILES]


def exposed(path: str) -> list[str]:
    """The database file and side files at ``path`` that other users may read or write, each
    as ``name (mode 0644)``."""
    found = []
    for name in _files(path):
        try:
            mode = stat.S_IMODE(os.stat(name).st_mode)
        except OSError:
            continue
        if mode & SHARED_BITS:
            found.append(f"{name} (mode {mode:04o})")
    return found


def create_private(path: str) -> None:
    """Create the (empty) database file ``path`` with mode 0600 if it is not there yet; SQLite
    makes an empty file a new database."""
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE))


def make_private(path: str) -> None:
    """Narrow the side files of the database at ``path`` to 0600 when they are wider (the
    database file itself was checked, or allowed to be wider, before it was opened)."""
    for name in _files(path)[1:]:
        with contextlib.suppress(OSError):
            if stat.S_IMODE(os.stat(name).st_mode) & SHARED_BITS:
                os.chmod(name, PRIVATE)


def warning(path: str, found: list[str]) -> str:
    return (
        f"the SQLite database `{path}` holds personal information, and other users may read "
        f"or write it: {', '.join(found)}"
    )


def refusal(path: str, found: list[str]) -> str:
    return (
        f"{warning(path, found)}; `chmod 600` it (and its -wal, -shm), or set "
        "`allow_readable_database = true` in the service config to open it anyway"
    )
