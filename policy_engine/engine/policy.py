"""The loaded policy: parse, check and compile once (or restore the compiled image from the
cache), then decide requests."""

from __future__ import annotations

import gc
import os
import posixpath
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from ..language.document_files import DOCUMENT_SUFFIXES
from ..language.documents import Document
from ..language.errors import Diagnostic, PolicyError, PolicySyntaxError, RequestError
from ..language.files import read_sources
from ..language.hidden_breaks import lone_surrogates
from ..language.package_folders import DiskFolders, Folders, NoFolders, TextFolders
from ..language.source import Source
from ..semantics.package_use import PackageUse
from .compiler import CELL_CACHE_SIZE, CompiledPolicy
from .decision import Decision
from .evaluator import decide_fast
from .loading import load
from .models import ReasonModel
from .reasons import ReasonBook
from .request import normalize_context, resolve_term


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector around work that keeps many new objects alive
    (loading a policy, a batch of decisions). Every collection such work triggers would walk
    all those objects and every object already in the process, again and again; the engine's
    objects form no garbage cycles that need collecting meanwhile. Existing objects are set
    aside (``gc.freeze``, a constant-time splice) and both steps are undone afterwards, so
    nothing stays frozen and collection resumes as before."""
    was_enabled = gc.isenabled()
    gc.disable()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
        if was_enabled:
            gc.enable()


class Policy:
    """A loaded, checked and compiled policy. Immutable, thread-safe; ``decide`` is pure.

    Each (party, data, purpose) cell a request names is specialized into generated code the
    first time; at most ``cell_cache_size`` cells are kept (least recently used first out).
    """

    def __init__(
        self,
        sources: list[Source],
        documents: Mapping[str, str] | None = None,
        *,
        cell_cache_size: int = CELL_CACHE_SIZE,
        folders: Folders | None = None,
    ) -> None:
        """``sources`` are the rule files; ``documents``, when given, the texts of the source
        documents by path (else they are read from beside the rule files). ``folders`` is where
        the packages the policy uses are read from: by default the disk, or, when
        ``documents`` are given, the rule files given (a package's files among them)."""
        halves = [d for source in sources for d in lone_surrogates(source)]
        if halves:  # before the text is hashed, which cannot encode them
            raise PolicySyntaxError(halves)
        if folders is None:
            given = {s.name: s.text for s in sources}
            folders = DiskFolders() if documents is None else TextFolders(given, documents)
        with collector_paused():
            loaded = load(sources, folders)
        self.compiled: CompiledPolicy = loaded.compiled
        self.warnings: list[Diagnostic] = loaded.warnings
        self.documents: list[Document] = loaded.documents
        """The source documents the policy names (``source "file"``), read and checked; a
        package's are named under its namespace (``law25.p39_1``)."""
        self.sources: list[Source] = loaded.sources
        """The policy's own rule files (not its packages')."""
        self.package_sources: list[Source] = loaded.package_sources
        """The rule files of the packages it uses (docs/language.md, "Packages")."""
        self.version = self.compiled.version
        self.compiled.limit_cells(cell_cache_size)
        self._book = ReasonBook(self.compiled, self.version)
        # Plain string sets: a request naming declared terms is checked with three lookups.
        hierarchies = self.compiled.hierarchies
        self._parties = frozenset(hierarchies["party"].terms)
        self._data = frozenset(hierarchies["data"].terms)
        self._purposes = frozenset(hierarchies["purpose"].terms)

    @property
    def rules(self) -> list[ReasonModel]:
        """A summary of every rule: id, effect, citation, description and place."""
        return sorted((self._book.reason(rule) for rule in self.compiled.rules), key=lambda r: r.id)

    def terms(self, kind: str) -> list[str]:
        """The declared terms of one hierarchy: ``party``, ``data``, ``purpose``, ``obligation``."""
        return self.compiled.hierarchies[kind].terms

    @property
    def packages(self) -> list[PackageUse]:
        """The packages the policy uses, at any depth: namespace, folder, version and the keys
        the policy supplies (docs/semantics.md, "Packages")."""
        return list(self.compiled.packages)

    def package_of(self, rule_id: str) -> str | None:
        """The namespace of the package a rule or invariant comes from (the deepest, for a
        package of a package); None for the policy's own."""
        found = [
            u.namespace for u in self.compiled.packages if rule_id.startswith(u.namespace + ".")
        ]
        return max(found, key=len) if found else None

    @property
    def ledger_key(self) -> str | None:
        """The context key marked ``from consent ledger``: the one the decision service fills
        from its consent ledger. None when the policy marks no key (the checker allows at most
        one, a ``set of purpose``). :meth:`decide` itself never consults a ledger."""
        for name, key in self.compiled.context.items():
            if key.decl.source == "consent ledger":
                return name
        return None

    @property
    def now_key(self) -> str | None:
        """The context key declared ``is now``: the decision's time, which ``now`` in a
        condition reads. The request states it like any other key (so a decision can be
        replayed); :meth:`decide` never reads a clock. None when the policy declares none."""
        return self.compiled.now_key

    def decide(
        self,
        party: str,
        data: str,
        purpose: str,
        context: Mapping[str, Any] | None = None,
    ) -> Decision:
        """May ``party`` use ``data`` for ``purpose`` given ``context``?

        Raises :class:`UnknownTermError` for an undeclared term and :class:`RequestError` for a
        context key that is undeclared or of the wrong type; never answers such a request.
        """
        compiled = self.compiled
        try:
            known = party in self._parties and data in self._data and purpose in self._purposes
        except TypeError:  # a list or an object: unhashable, and resolve_term says what it is
            known = False
        if known:
            terms = (party, data, purpose)
        else:
            terms = (
                resolve_term(compiled, "party", party),
                resolve_term(compiled, "data", data),
                resolve_term(compiled, "purpose", purpose),
            )
        given = {} if context is None else context
        outcome = decide_fast(compiled, terms, normalize_context(compiled, given))
        return Decision(outcome, self._book, terms, given)

    def decide_many(self, requests: Iterable[Mapping[str, Any]]) -> list[Decision]:
        """Decide requests in order; each is a mapping with ``party``, ``data``, ``purpose`` and
        optionally ``context``. A malformed request raises its error with a note naming its
        position (``request 3``); :meth:`decide` gives the same answer one at a time."""
        with collector_paused():
            return self._decide_all(requests)

    def _decide_all(self, requests: Iterable[Mapping[str, Any]]) -> list[Decision]:
        decide = self.decide
        out: list[Decision] = []
        append = out.append
        for index, request in enumerate(requests):
            try:
                party = request["party"]
                data = request["data"]
                purpose = request["purpose"]
                context = request.get("context")
            except (KeyError, TypeError, AttributeError):
                raise RequestError(
                    [
                        Diagnostic(
                            "bad-request",
                            f"request {index} must be an object with `party`, `data`, `purpose` "
                            "and optionally `context`",
                        )
                    ]
                ) from None
            try:
                append(decide(party, data, purpose, context))
            except PolicyError as exc:
                exc.add_note(f"in request {index}")
                raise
        return out


def load_policy(path: str | os.PathLike[str], *, cell_cache_size: int = CELL_CACHE_SIZE) -> Policy:
    """Load a policy from a ``.policy`` file or a folder of them (read as one policy). At most
    ``cell_cache_size`` cells are kept specialized (see :class:`Policy`)."""
    return Policy(read_sources(path), cell_cache_size=cell_cache_size)


def load_policy_text(
    text: str | Mapping[str, str],
    name: str = "<policy>",
    *,
    cell_cache_size: int = CELL_CACHE_SIZE,
) -> Policy:
    """Load a policy from text, or from a mapping of file name → text read as one policy.

    In a mapping, the entries whose names end in ``.txt``, ``.md`` (…) are the source
    documents the rule files name (``source "policy.txt"``); nothing is read from disk. A
    package the rule files use (``use law25 from "../law25"``) is read from the mapping too:
    its rule files are the entries under its folder (``law25/rules.policy``)."""
    if isinstance(text, str):
        return Policy(
            [Source(name, text)], {}, cell_cache_size=cell_cache_size, folders=NoFolders()
        )
    rules = {n: t for n, t in text.items() if not n.lower().endswith(DOCUMENT_SUFFIXES)}
    documents = {
        posixpath.normpath(n): t for n, t in text.items() if n.lower().endswith(DOCUMENT_SUFFIXES)
    }
    sources = [Source(n, t) for n, t in sorted(rules.items())]
    return Policy(sources, documents, cell_cache_size=cell_cache_size)
