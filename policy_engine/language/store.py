"""The engine's cache folder: a restricted, atomic store of plain data and syntax trees.

Entries are read with an unpickler that can only construct plain containers, the language's
syntax-tree classes, spans and diagnostics, so a cache folder shared between users, or a tampered
file, cannot run code; anything unreadable is ignored (and removed). Writes are atomic (a
temporary file, then a rename), so concurrent processes can share one folder. It knows nothing of
what it stores: the parser keeps its grammar tables here and :mod:`policy_engine.engine.cache`
keeps compiled images.

Location: ``$POLICY_ENGINE_CACHE_DIR``, else ``$XDG_CACHE_HOME/policy-engine``, else
``~/.cache/policy-engine``. ``POLICY_ENGINE_CACHE=off`` turns it off.
"""

from __future__ import annotations

import builtins
import contextlib
import io
import os
import pickle
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import ast, errors, source
from .source import Source

FORMAT = 3
"""Bumped whenever what is stored changes shape."""

_ALLOWED: dict[str, set[str]] = {
    "policy_engine.language.ast": {
        name
        for name, value in vars(ast).items()
        if isinstance(value, type) and value.__module__ == ast.__name__
    },
    "policy_engine.language.source": {"Span"},
    "policy_engine.language.errors": {"Diagnostic"},
    "builtins": {"frozenset", "set", "tuple", "list", "dict"},
}
_MODULES = {
    "policy_engine.language.ast": ast,
    "policy_engine.language.source": source,
    "policy_engine.language.errors": errors,
    "builtins": builtins,
}


class _SourcesPickler(pickle.Pickler):
    """Writes a reference to one of the policy's sources instead of its text."""

    def __init__(self, out: io.BufferedIOBase | Any, sources: Sequence[Source]) -> None:
        super().__init__(out, protocol=pickle.HIGHEST_PROTOCOL)
        self._positions = {id(s): i for i, s in enumerate(sources)}

    def persistent_id(self, obj: Any) -> Any:
        if isinstance(obj, Source):
            return self._positions[id(obj)]  # a KeyError for a foreign source: not cached
        return None


class _EngineOnlyUnpickler(pickle.Unpickler):
    """Constructs nothing but the engine's syntax-tree classes, diagnostics and plain
    containers; source references resolve to the sources being loaded."""

    def __init__(self, data: bytes, sources: Sequence[Source]) -> None:
        super().__init__(io.BytesIO(data))
        self._sources = sources

    def find_class(self, module: str, name: str) -> Any:
        if name in _ALLOWED.get(module, ()):
            return getattr(_MODULES[module], name)
        raise pickle.UnpicklingError(f"the cache may not construct {module}.{name}")

    def persistent_load(self, pid: Any) -> Any:
        if type(pid) is not int or not 0 <= pid < len(self._sources):
            raise pickle.UnpicklingError(f"no source {pid!r}")
        return self._sources[pid]


def enabled() -> bool:
    return os.environ.get("POLICY_ENGINE_CACHE", "").lower() not in ("0", "off", "false", "no")


def folder() -> Path:
    explicit = os.environ.get("POLICY_ENGINE_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(Path.home(), ".cache")
    return Path(base) / "policy-engine"


def read(name: str, sources: Sequence[Source]) -> Any:
    if not enabled():
        return None
    path = folder() / name
    try:
        data = path.read_bytes()
    except OSError:
        return None
    try:
        found = _EngineOnlyUnpickler(data, sources).load()
    except Exception:  # corrupt, truncated, foreign or from another engine build: ignore it
        found = None
    if not (isinstance(found, dict) and found.get("format") == FORMAT):
        with contextlib.suppress(OSError):
            path.unlink()
        return None
    return found["content"]


def write(name: str, content: Any, sources: Sequence[Source]) -> None:
    if not enabled():
        return
    target = folder()
    try:
        target.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=target, suffix=".tmp")
        with os.fdopen(handle, "wb") as out:
            _SourcesPickler(out, sources).dump({"format": FORMAT, "content": content})
        os.replace(temporary, target / name)
    except (OSError, pickle.PicklingError, RecursionError, KeyError):
        with contextlib.suppress(OSError, UnboundLocalError):
            os.unlink(temporary)
