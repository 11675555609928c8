"""What a policy declares and where, read from each rule file's syntax tree: the names hover,
go to definition, completion and document symbols need, its packages' under the names the
policy writes (``law25.contractor``, :mod:`.packages`).

Each file is parsed on its own, so a file with a syntax error does not hide what the others
declare; of a file that does not parse now, its last good parse stands in (positions as they
were).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from ..language import ast
from ..language.errors import PolicyError
from ..language.parser import parse_source
from ..language.source import Source, Span
from .packages import Packages

TERM_KINDS = ("party", "data", "purpose", "obligation")


@dataclass(frozen=True)
class Declared:
    """One name a statement declares: a term, a context key, a rule, an invariant or the name
    of a source document."""

    kind: str
    """``party``, ``data``, ``purpose``, ``obligation``, ``context``, ``attribute``,
    ``condition``, ``rule``, ``override``, ``invariant``, ``source`` or ``package``."""
    name: str
    span: Span
    """Where the name is written in its statement."""
    item: ast.Item
    package: str = ""
    """The namespace of the package whose file declares it (empty: the policy's own)."""


def declared_in(item: ast.Item, package: str = "") -> Iterator[Declared]:
    """The names ``item`` (of a file of ``package``) declares, with where each is written."""
    named: list[tuple[str, ast.Name | None]]
    if isinstance(item, ast.TermDecl):
        named = [(item.kind, n) for n in item.names]
    elif isinstance(item, ast.ContextDecl):
        named = [("context", item.name)]
    elif isinstance(item, ast.AttributeDecl):
        named = [("attribute", item.name)]
    elif isinstance(item, ast.ConditionDecl):
        named = [("condition", item.name)]
    elif isinstance(item, ast.Rule):
        named = [("rule", item.id)]
    elif isinstance(item, ast.Override):
        named = [("override", item.id)]
    elif isinstance(item, ast.Invariant):
        named = [("invariant", item.id)]
    elif isinstance(item, ast.SourceDecl):
        named = [("source", item.name)]
    elif isinstance(item, ast.UseDecl):
        named = [("package", item.namespace)]
    else:
        named = []
    for kind, name in named:
        if name is not None and name.span is not None:
            yield Declared(kind, name.value, name.span, item, package)


class Index:
    """Every declaration of a policy's files and of its packages', by name, and the term
    hierarchies (a package's term placed by the policy has the parents of both)."""

    def __init__(self, files: Sequence[ast.PolicyFile], packages: Packages | None = None) -> None:
        self.files = list(files)
        """The policy's own rule files."""
        self.packages = packages or Packages()
        self._by_name: dict[str, list[Declared]] = {}
        self._parents: dict[tuple[str, str], list[str]] = {}
        self.supplied_by: dict[str, str] = {}
        """A package's key (``law25.destination``) → the policy's key that supplies it."""
        for file in [*self.packages.files(), *self.files]:  # a package's declaration first
            for item in file.items:
                self._add(item, file.package)

    def _add(self, item: ast.Item, package: str) -> None:
        for found in declared_in(item, package):
            self._by_name.setdefault(found.name, []).append(found)
        if isinstance(item, ast.TermDecl):
            for name in item.names:
                known = self._parents.setdefault((item.kind, name.value), [])
                known += [p.value for p in item.parents if p.value not in known]
        elif isinstance(item, ast.ContextDecl) and not package:
            for supplied in item.supplies:
                self.supplied_by.setdefault(supplied.value, item.name.value)

    def declarations(self, name: str, kind: str | None = None) -> list[Declared]:
        found = self._by_name.get(name, [])
        return found if kind is None else [d for d in found if d.kind == kind]

    def every(self, kind: str | None = None) -> list[Declared]:
        """Every declaration (of one kind), the packages' first."""
        every = [d for found in self._by_name.values() for d in found]
        return every if kind is None else [d for d in every if d.kind == kind]

    def names(self, kind: str) -> list[str]:
        """Every name of one kind, sorted."""
        return sorted({n for n, found in self._by_name.items() for d in found if d.kind == kind})

    def parents(self, kind: str, term: str) -> list[str]:
        return self._parents.get((kind, term), [])

    def ancestors(self, kind: str, term: str) -> list[str]:
        """Every term above ``term``, nearest first (a hierarchy may have several parents)."""
        seen = {term}
        order: list[str] = []
        level = [term]
        while level:
            above = [p for t in level for p in self.parents(kind, t) if p not in seen]
            above = list(dict.fromkeys(above))
            seen.update(above)
            order += above
            level = above
        return order

    def key_attribute(self, name: str) -> tuple[ast.ContextDecl, ast.AttributeDecl] | None:
        """For ``recipient.location``: the key of one term and the attribute of its kind that
        the name reads, when it reads one (a declared context key of that name reads none)."""
        at = len(name)
        while (at := name.rfind(".", 0, at)) > 0:
            key = self._declared(name[:at], "context")
            if key is None or not isinstance(key.type, ast.TermType):
                continue
            for found in self.declarations(name[at + 1 :], "attribute"):
                item = found.item
                if isinstance(item, ast.AttributeDecl) and item.kind == key.type.kind:
                    return key, item
        return None

    def term_key_kind(self, name: str) -> str | None:
        """The kind of a key of one term (``recipient: party`` → ``party``), else None."""
        key = self._declared(name, "context")
        return key.type.kind if key is not None and isinstance(key.type, ast.TermType) else None

    def _declared(self, name: str, kind: str) -> ast.ContextDecl | None:
        for found in self.declarations(name, kind):
            if isinstance(found.item, ast.ContextDecl):
                return found.item
        return None

    def file(self, name: str) -> ast.PolicyFile | None:
        return next((f for f in self.files if f.name == name), None)


class Parses:
    """The syntax tree of each rule file, kept by name while its text is unchanged; a file
    that stops parsing keeps its last good tree. The requests and the checks' threads share
    it (one parse at a time)."""

    KEPT = 2000

    def __init__(self) -> None:
        self._kept: dict[str, tuple[str, ast.PolicyFile | None]] = {}
        self._good: dict[str, ast.PolicyFile] = {}
        self._lock = threading.Lock()

    def parse(self, source: Source) -> ast.PolicyFile | None:
        with self._lock:
            return self._parse(source)

    def _parse(self, source: Source) -> ast.PolicyFile | None:
        kept = self._kept.get(source.name)
        if kept is not None and kept[0] == source.text:
            return kept[1] or self._good.get(source.name)
        try:
            tree: ast.PolicyFile | None = parse_source(source)
        except PolicyError:
            tree = None
        if len(self._kept) >= self.KEPT:
            self._kept.clear()
            self._good.clear()
        self._kept[source.name] = (source.text, tree)
        if tree is not None:
            self._good[source.name] = tree
        return tree or self._good.get(source.name)

    def index(self, sources: Iterable[Source], packages: Packages | None = None) -> Index:
        return Index([f for s in sources if (f := self.parse(s)) is not None], packages)
