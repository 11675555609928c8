"""Loading a policy: read its packages, check and compile it once, or restore the compiled image
from the cache (:mod:`.cache`, and :mod:`.package_cache` for a policy that uses packages)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..language.document_files import fingerprint, reread
from ..language.documents import Document
from ..language.errors import Diagnostic
from ..language.package_folders import Folders
from ..language.packages import LoadedPolicy, read_policy
from ..language.source import Source
from ..semantics.checker import CheckedPolicy
from ..semantics.packages import check_loaded
from . import cache, image, package_cache
from .compiler import CompiledPolicy, compile_policy


@dataclass
class Loaded:
    """What :class:`~.policy.Policy` keeps of a load."""

    compiled: CompiledPolicy
    warnings: list[Diagnostic]
    documents: list[Document]
    """Every source document, the packages' too (named ``law25.p39_1``)."""
    sources: list[Source]
    """The policy's own rule files (a package's files in a folder of its own are not)."""
    package_sources: list[Source]
    """The rule files of its packages, depth first in the order of the uses."""


def load(sources: list[Source], folders: Folders) -> Loaded:
    """The policy of ``sources`` (its packages read from ``folders``), checked and compiled."""
    restored = _restore(sources, folders)
    if restored is not None:
        return restored
    policy = read_policy(sources, folders)
    checked: CheckedPolicy = check_loaded(policy)
    compiled = compile_policy(checked, policy.version)
    own = list(policy.sources)
    every = list(policy.every_source())
    found = Loaded(compiled, checked.warnings, list(checked.documents), own, every[len(own) :])
    if cache.enabled():
        _keep_image(found, sources, policy)
    return found


def _restore(sources: list[Source], folders: Folders) -> Loaded | None:
    """The policy from the cache, when an entry of exactly these rule files (and, with packages,
    of exactly the files of every package) exists and every source document it records reads
    back unchanged."""
    stored = cache.load(sources)
    if stored is None:
        return None
    own, every = sources, sources
    if "manifest" in stored:
        manifest = package_cache.valid_manifest(stored["manifest"])
        names = stored.get("own")
        if manifest is None or not isinstance(names, tuple):
            return None
        by_name = {s.name: s for s in sources}
        if not all(isinstance(n, str) and n in by_name for n in names):
            return None
        own = [by_name[n] for n in names]
        again = package_cache.reread(manifest, own, folders)
        if again is None:
            return None
        every, extra = again
        stored = cache.load(every, extra)
        if stored is None:
            return None
    documents = _documents(stored.get("documents", ()), folders)
    if documents is None:
        return None
    compiled, warnings = image.restore(
        stored, every, lambda: check_loaded(read_policy(sources, folders))
    )
    return Loaded(compiled, warnings, documents, list(own), every[len(own) :])


def _documents(recorded: object, folders: Folders) -> list[Document] | None:
    if not isinstance(recorded, list) or not all(
        isinstance(d, tuple) and len(d) == 5 and all(isinstance(p, str) for p in d)
        for d in recorded
    ):
        return None
    documents = [reread(d, folders.provided) for d in recorded]
    if any(d is None for d in documents):
        return None
    return [d for d in documents if d is not None]


def _keep_image(found: Loaded, sources: Sequence[Source], policy: LoadedPolicy) -> None:
    """Store the policy's image for the next load. A policy the image cannot describe (a rule
    without a place in the sources, say, built by other means than the parser) is simply not
    cached: the cache never stands in the way of a load."""
    every = list(policy.every_source())
    try:
        captured = image.capture(found.compiled, found.warnings, every)
    except (ValueError, TypeError):
        return
    captured["documents"] = [fingerprint(d) for d in found.documents]
    if not policy.packages:
        cache.save(sources, captured)
        return
    manifest, reads = package_cache.manifest_of(policy)
    cache.save(every, captured, package_cache.image_key(manifest, reads))
    cache.save(sources, {"manifest": manifest, "own": tuple(s.name for s in policy.sources)})
