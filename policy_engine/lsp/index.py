"""What a policy declares and where, read from each rule file's syntax tree: the names hover,
go to definition, completion and document symbols need.

Each file is parsed on its own, so a file with a syntax error does not hide what the others
declare; of a file that does not parse now, its last good parse stands in (positions as they
were).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from ..language import ast
from ..language.errors import PolicyError
from ..language.parser import parse_source
from ..language.source import Source, Span

TERM_KINDS = ("party", "data", "purpose", "obligation")


@dataclass(frozen=True)
class Declared:
    """One name a statement declares: a term, a context key, a rule, an invariant or the name
    of a source document."""

    kind: str
    """``party``, ``data``, ``purpose``, ``obligation``, ``context``, ``attribute``,
    ``condition``, ``rule``, ``invariant`` or ``source``."""
    name: str
    span: Span
    """Where the name is written in its statement."""
    item: ast.Item


def declared_in(item: ast.Item) -> Iterator[Declared]:
    """The names ``item`` declares, with where each is written."""
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
    else:
        named = []
    for kind, name in named:
        if name is not None and name.span is not None:
            yield Declared(kind, name.value, name.span, item)


class Index:
    """Every declaration of a policy's files, by name, and the term hierarchies."""

    def __init__(self, files: Sequence[ast.PolicyFile]) -> None:
        self.files = list(files)
        self._by_name: dict[str, list[Declared]] = {}
        self._parents: dict[tuple[str, str], list[str]] = {}
        for file in self.files:
            for item in file.items:
                for found in declared_in(item):
                    self._by_name.setdefault(found.name, []).append(found)
                if isinstance(item, ast.TermDecl):
                    for name in item.names:
                        known = self._parents.setdefault((item.kind, name.value), [])
                        known += [p.value for p in item.parents if p.value not in known]

    def declarations(self, name: str) -> list[Declared]:
        return self._by_name.get(name, [])

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
            for found in self.declarations(name[at + 1 :]):
                item = found.item
                if isinstance(item, ast.AttributeDecl) and item.kind == key.type.kind:
                    return key, item
        return None

    def key_attributes(self) -> list[str]:
        """Every ``key.attribute`` a key of one term may read."""
        out = []
        for key in self.names("context"):
            decl = self._declared(key, "context")
            if decl is None or not isinstance(decl.type, ast.TermType):
                continue
            for attribute in self.names("attribute"):
                for found in self.declarations(attribute):
                    item = found.item
                    if isinstance(item, ast.AttributeDecl) and item.kind == decl.type.kind:
                        out.append(f"{key}.{attribute}")
        return sorted(set(out))

    def _declared(self, name: str, kind: str) -> ast.ContextDecl | None:
        for found in self.declarations(name):
            if found.kind == kind and isinstance(found.item, ast.ContextDecl):
                return found.item
        return None

    def file(self, name: str) -> ast.PolicyFile | None:
        return next((f for f in self.files if f.name == name), None)


class Parses:
    """The syntax tree of each rule file, kept by name while its text is unchanged; a file
    that stops parsing keeps its last good tree."""

    KEPT = 2000

    def __init__(self) -> None:
        self._kept: dict[str, tuple[str, ast.PolicyFile | None]] = {}
        self._good: dict[str, ast.PolicyFile] = {}

    def parse(self, source: Source) -> ast.PolicyFile | None:
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

    def index(self, sources: Iterable[Source]) -> Index:
        return Index([f for s in sources if (f := self.parse(s)) is not None])
