"""The compiled-policy cache, so loading an unchanged policy skips parsing, checking and
compiling: an entry is the policy's image (:mod:`policy_engine.image`).

Entries are keyed by a hash of the engine's version, its grammar and the modules that define what
an image holds, and of every file's name and text: an entry can only ever match the exact input it
was made from, so it is never stale. They are read with an unpickler that can only construct plain
containers, the engine's syntax-tree classes and diagnostics, so a cache folder shared between
users, or a tampered file, cannot run code; anything unreadable is ignored (and rewritten). Writes
are atomic (a temporary file, then a rename), so concurrent processes can share one folder.

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

from . import ast, errors, source
from ._version import __version__
from .image import Image
from .parser import grammar_text
from .source import Source

FORMAT = 2
"""Bumped whenever what is stored changes shape."""

_ALLOWED: dict[str, set[str]] = {
    "policy_engine.ast": {
        name
        for name, value in vars(ast).items()
        if isinstance(value, type) and value.__module__ == ast.__name__
    },
    "policy_engine.source": {"Span"},
    "policy_engine.errors": {"Diagnostic"},
    "builtins": {"frozenset", "set", "tuple", "list", "dict"},
}
_MODULES = {
    "policy_engine.ast": ast,
    "policy_engine.source": source,
    "policy_engine.errors": errors,
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


@functools.cache
def _engine_fingerprint() -> bytes:
    digest = hashlib.sha256(f"{FORMAT}\0{__version__}\0".encode())
    digest.update(grammar_text().encode())
    # Every module of the engine (not the service): an edited checkout never reads an old entry.
    package = Path(__file__).resolve().parent
    for module in sorted(package.glob("*.py")):
        digest.update(module.name.encode() + b"\0" + module.read_bytes())
    return digest.digest()


def key(sources: Sequence[Source]) -> str:
    digest = hashlib.sha256(_engine_fingerprint())
    for src in sources:
        digest.update(src.name.encode() + b"\0")
        src.hash_into(digest)
        digest.update(b"\0")
    return digest.hexdigest()


def load(sources: Sequence[Source]) -> Image | None:
    """The image of exactly these sources, if a readable entry exists."""
    image = _read(f"{key(sources)}.pickle", sources)
    return image if isinstance(image, dict) else None


def store(sources: Sequence[Source], image: Image) -> None:
    """Keep the image for next time; a cache that cannot be written is not an error."""
    _write(f"{key(sources)}.pickle", image, sources)


def load_parser_tables(name: str) -> Any:
    """Lark's analysed grammar (plain containers only), stored by :func:`store_parser_tables`.
    Building the LALR tables from the grammar costs ~80 ms in every process; loading them ~7."""
    return _read(name, ())


def store_parser_tables(name: str, tables: Any) -> None:
    _write(name, tables, ())


def _read(name: str, sources: Sequence[Source]) -> Any:
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


def _write(name: str, content: Any, sources: Sequence[Source]) -> None:
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
