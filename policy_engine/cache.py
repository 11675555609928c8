"""A cache of parsed rule files, so loading an unchanged policy skips the parser.

Entries are keyed by a hash of the engine's own grammar and syntax-tree definitions and of every
file's name and text: an entry can only ever match the exact input it was made from, so it is
never stale. They are read with an unpickler that can only construct the engine's syntax-tree
classes, so a cache folder shared between users, or a tampered file, cannot run code; anything
unreadable is ignored (and rewritten). Writes are atomic (a temporary file, then a rename), so
concurrent processes can share one folder.

Location: ``$POLICY_ENGINE_CACHE_DIR``, else ``$XDG_CACHE_HOME/policy-engine``, else
``~/.cache/policy-engine``. ``POLICY_ENGINE_CACHE=off`` turns it off.
"""

from __future__ import annotations

import builtins
import contextlib
import functools
import hashlib
import io
import os
import pickle
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import ast, source
from ._version import __version__
from .parser import grammar_text
from .source import Source

FORMAT = 1
"""Bumped whenever what is stored changes shape."""

_ALLOWED: dict[str, set[str]] = {
    "policy_engine.ast": {
        name
        for name, value in vars(ast).items()
        if isinstance(value, type) and value.__module__ == ast.__name__
    },
    "policy_engine.source": {"Source", "Span"},
    "builtins": {"frozenset", "set", "tuple", "list", "dict"},
}
_MODULES = {"policy_engine.ast": ast, "policy_engine.source": source, "builtins": builtins}


class _EngineOnlyUnpickler(pickle.Unpickler):
    """Constructs nothing but the engine's syntax-tree classes and plain containers."""

    def find_class(self, module: str, name: str) -> Any:
        if name in _ALLOWED.get(module, ()):
            return getattr(_MODULES[module], name)
        raise pickle.UnpicklingError(f"the cache may not construct {module}.{name}")


def enabled() -> bool:
    return os.environ.get("POLICY_ENGINE_CACHE", "").lower() not in ("0", "off", "false", "no")


def folder() -> Path:
    explicit = os.environ.get("POLICY_ENGINE_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(Path.home(), ".cache")
    return Path(base) / "policy-engine"


@functools.cache
def _engine_fingerprint() -> bytes:
    digest = hashlib.sha256(f"{FORMAT}\0{__version__}\0".encode())
    digest.update(grammar_text().encode())
    digest.update(Path(ast.__file__).read_bytes())
    digest.update(Path(source.__file__).read_bytes())
    return digest.digest()


def key(sources: Sequence[Source]) -> str:
    digest = hashlib.sha256(_engine_fingerprint())
    for src in sources:
        digest.update(src.name.encode() + b"\0" + src.text.encode() + b"\0")
    return digest.hexdigest()


def load(sources: Sequence[Source]) -> list[ast.PolicyFile] | None:
    """The parsed files of exactly these sources, if a readable entry exists."""
    if not enabled():
        return None
    path = folder() / f"{key(sources)}.pickle"
    try:
        data = path.read_bytes()
    except OSError:
        return None
    try:
        files = _EngineOnlyUnpickler(io.BytesIO(data)).load()
    except Exception:  # corrupt, truncated, foreign or from another engine build: ignore it
        with contextlib.suppress(OSError):
            path.unlink()
        return None
    if not (isinstance(files, list) and all(isinstance(f, ast.PolicyFile) for f in files)):
        return None
    return files


def store(sources: Sequence[Source], files: list[ast.PolicyFile]) -> None:
    """Keep the parsed files for next time; a cache that cannot be written is not an error."""
    if not enabled():
        return
    target = folder()
    try:
        target.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=target, suffix=".tmp")
        with os.fdopen(handle, "wb") as out:
            pickle.dump(files, out, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(temporary, target / f"{key(sources)}.pickle")
    except (OSError, pickle.PicklingError, RecursionError):
        with contextlib.suppress(OSError, UnboundLocalError):
            os.unlink(temporary)
