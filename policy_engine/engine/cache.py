"""The compiled-policy cache, so loading an unchanged policy skips parsing, checking and
compiling: an entry is the policy's image (:mod:`policy_engine.engine.image`), kept in the
restricted store of :mod:`policy_engine.language.store`.

Entries are keyed by a hash of the engine's version, its grammar and the modules that define what
an image holds (every module of the language, semantics and engine steps), and of every file's
name and text: an entry can only ever match the exact input it was made from, so it is never
stale.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Sequence
from pathlib import Path

from .._version import __version__
from ..language import store
from ..language.grammar import grammar_text
from ..language.source import Source, hash_named
from .image import Image

_STEPS = ("language", "semantics", "engine")
"""The packages whose code decides what an image means: editing any of them invalidates it."""


@functools.cache
def _engine_fingerprint() -> bytes:
    digest = hashlib.sha256(f"{store.FORMAT}\0{__version__}\0".encode())
    digest.update(grammar_text().encode())
    package = Path(__file__).resolve().parent.parent
    for step in _STEPS:
        for module in sorted((package / step).glob("*.py")):
            digest.update(f"{step}/{module.name}".encode() + b"\0" + module.read_bytes())
    return digest.digest()


def key(sources: Sequence[Source], extra: str = "") -> str:
    """The entry of exactly these rule files (``extra``: what else the entry depends on, the
    files read from a policy's packages: :mod:`.package_cache`)."""
    digest = hashlib.sha256(_engine_fingerprint())
    digest.update(extra.encode() + b"\0")
    hash_named(digest, sources)
    return digest.hexdigest()


def enabled() -> bool:
    """Whether an image made now can be kept (the cache is on and its folder trusted)."""
    return store.trusted_folder() is not None


def load(sources: Sequence[Source], extra: str = "") -> Image | None:
    """The image of exactly these sources, if a readable entry exists."""
    image = store.read(f"{key(sources, extra)}.pickle", sources)
    return image if isinstance(image, dict) else None


def save(sources: Sequence[Source], image: Image, extra: str = "") -> None:
    """Keep the image for next time; a cache that cannot be written is not an error."""
    store.write(f"{key(sources, extra)}.pickle", image, sources)
