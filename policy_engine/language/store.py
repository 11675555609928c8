"""The engine's cache folder: a restricted, atomic store of plain data and syntax trees.

Entries are read with an unpickler that can only construct plain containers, the language's
syntax-tree classes, spans and diagnostics, so a tampered file cannot run code; anything
unreadable is ignored (and removed). A tampered entry could still say something else than the
rule files do, so only what the user alone can write is trusted: the folder is created 0700, and
a folder or an entry that another user owns or that group or others may write is neither read
nor written (one warning). Each entry records the name it was stored under (a hash of the engine
and of the policy files), so an entry copied to another name is never used. Writes are atomic (a
temporary file, then a rename), so concurrent processes can share one folder. It knows nothing of
what it stores: the parser keeps its grammar tables here and :mod:`policy_engine.engine.cache`
keeps compiled images.

Location: ``$POLICY_ENGINE_CACHE_DIR``, else ``$XDG_CACHE_HOME/policy-engine``, else
``~/.cache/policy-engine``. ``POLICY_ENGINE_CACHE=off`` turns it off.
"""

from __future__ import annotations

import builtins
import contextlib
import decimal
import io
import os
import pickle
import stat
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import ast, ast_attributes, ast_expressions, ast_names, ast_time, ast_types, errors, source
from .source import Source

FORMAT = 9
"""Bumped whenever what is stored changes shape (5: the syntax tree split into modules; 6: dates,
instants and durations; 7: a context key may supply a package's keys; 8: decimals, list
defaults, term attributes; 9: keys of one term, their attributes, attributes' presence)."""

_TREE_MODULES = (ast, ast_names, ast_types, ast_expressions, ast_time, ast_attributes)
"""The modules of the syntax tree; the cache may construct the classes each defines."""

_ALLOWED: dict[str, set[str]] = {
    **{
        module.__name__: {
            name
            for name, value in vars(module).items()
            if isinstance(value, type) and value.__module__ == module.__name__
        }
        for module in _TREE_MODULES
    },
    "policy_engine.language.source": {"Span"},
    "policy_engine.language.errors": {"Diagnostic"},
    "builtins": {"frozenset", "set", "tuple", "list", "dict"},
    "decimal": {"Decimal"},  # a decimal default, made from its text
}
_MODULES = {
    **{module.__name__: module for module in _TREE_MODULES},
    "policy_engine.language.source": source,
    "policy_engine.language.errors": errors,
    "builtins": builtins,
    "decimal": decimal,
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
    """The content stored under ``name``, or None: when there is none, when it cannot be read,
    when it was stored under another name (a swapped entry), or when the folder or the entry is
    not the user's own or others may write it (then it is not even opened)."""
    target = trusted_folder()
    if target is None:
        return None
    path = target / name
    try:
        with open(path, "rb", opener=_no_follow) as handle:
            if not _private(os.fstat(handle.fileno())):
                return None
            data = handle.read()
    except OSError:
        return None
    try:
        found = _EngineOnlyUnpickler(data, sources).load()
    except Exception:  # corrupt, truncated, foreign or from another engine build: ignore it
        found = None
    if not (
        isinstance(found, dict) and found.get("format") == FORMAT and found.get("name") == name
    ):
        with contextlib.suppress(OSError):
            path.unlink()
        return None
    return found["content"]


def write(name: str, content: Any, sources: Sequence[Source]) -> None:
    """Keep ``content`` under ``name`` (atomically; the entry records its own name, so that an
    entry copied to another name is never used). Nothing is written to a folder
    :func:`trusted_folder` refuses."""
    target = trusted_folder()
    if target is None:
        return
    try:
        handle, temporary = tempfile.mkstemp(dir=target, suffix=".tmp")
        with os.fdopen(handle, "wb") as out:
            entry = {"format": FORMAT, "name": name, "content": content}
            _SourcesPickler(out, sources).dump(entry)
        os.replace(temporary, target / name)
    except (OSError, pickle.PicklingError, RecursionError, KeyError):
        with contextlib.suppress(OSError, UnboundLocalError):
            os.unlink(temporary)


_WARNED: set[str] = set()


def trusted_folder() -> Path | None:
    """The cache folder, created private (0700) when missing; None when the cache is off or the
    folder is not the user's own or others may write to it. A folder refused is said once per
    process (a warning), and then neither read nor written: entries someone else could have
    written are never trusted."""
    if not enabled():
        return None
    target = folder()
    try:
        target.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = os.stat(target)
    except OSError:
        return None
    if _private(info):
        return target
    if str(target) not in _WARNED:
        _WARNED.add(str(target))
        warnings.warn(
            f"policy-engine: not using the cache folder `{target}`: it is not yours alone "
            "(owned by another user, or others may write to it); policies load uncached",
            RuntimeWarning,
            stacklevel=2,
        )
    return None


def _private(info: os.stat_result) -> bool:
    """Owned by this user, and neither group nor others may write to it."""
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return False
    getuid = getattr(os, "getuid", None)
    return getuid is None or info.st_uid == getuid()


def _no_follow(path: str, flags: int) -> int:
    """Open without following a symbolic link at the entry itself."""
    return os.open(path, flags | getattr(os, "O_NOFOLLOW", 0))
