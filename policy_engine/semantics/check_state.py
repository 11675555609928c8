"""The state the checker's passes share: the files being checked, the diagnostics found so far,
and the symbol table, rules, invariants and hierarchies the passes build up in turn.

Also the small wording helpers every pass uses to name kinds in messages.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from ..language import ast
from ..language.documents import Document
from ..language.errors import Diagnostic, did_you_mean, suggestion_help
from ..language.source import Span
from .attribute_table import Attribute
from .vocabulary import Hierarchy

SUGGESTION_BUDGET = 20_000
"""Names compared with misspelt ones for `did you mean` hints, in one check: twenty hints among a
thousand names, a hundred among two hundred; a second at most whatever the policy."""


@dataclass(frozen=True)
class Symbol:
    """A declared name: what kind of thing it is and where it was declared."""

    name: str
    kind: str  # "party" | "data" | "purpose" | "obligation" | "context" | "condition"
    span: Span | None


@dataclass
class CheckState:
    """What one run of the checker knows so far; each pass reads it and adds to it."""

    files: list[ast.PolicyFile]
    diagnostics: list[Diagnostic] = field(default_factory=list)
    symbols: dict[str, Symbol] = field(default_factory=dict)
    term_decls: dict[str, ast.TermDecl] = field(default_factory=dict)
    context: dict[str, ast.ContextDecl] = field(default_factory=dict)
    conditions: dict[str, ast.ConditionDecl] = field(default_factory=dict)
    """The named conditions, by name."""
    rules: list[ast.Rule] = field(default_factory=list)
    invariants: list[ast.Invariant] = field(default_factory=list)
    overrides: list[ast.Override] = field(default_factory=list)
    lifted: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Override id → the ids of the deny rules it lifts, in the order the rules are written."""
    edges: dict[str, list[tuple[str, str, ast.Name]]] = field(default_factory=dict)
    hierarchies: dict[str, Hierarchy] = field(default_factory=dict)
    documents: list[Document] = field(default_factory=list)
    """The source documents the policy names (read before checking), whose sections its
    citations must name."""
    no_decisions: list[ast.NoDecision] = field(default_factory=list)
    attribute_decls: dict[tuple[str, str], ast.AttributeDecl] = field(default_factory=dict)
    """(kind, name) → the declaration of the attribute ``name`` of ``kind`` terms."""
    attributes: dict[tuple[str, str], Attribute] = field(default_factory=dict)
    """(kind, name) → the attribute with every term's value (:class:`.attributes.Attribute`)."""
    placements: list[tuple[ast.Name, ast.TermDecl]] = field(default_factory=list)
    """Terms of a package placed under other terms by a declaration of the using policy
    (``party law25.staff under planiso.staff``): each name and the declaration that places it."""
    comparisons_left: int = SUGGESTION_BUDGET
    """How many more names may be compared with a misspelt one for a `did you mean` hint."""

    def error(
        self,
        code: str,
        message: str,
        span: Span | None,
        help: str | None = None,
        notes: tuple[tuple[str, Span], ...] = (),
    ) -> None:
        self.diagnostics.append(Diagnostic(code, message, span, help, "error", notes))

    def warn(self, code: str, message: str, span: Span | None, help: str | None = None) -> None:
        self.diagnostics.append(Diagnostic(code, message, span, help, "warning"))

    def items(self) -> Iterator[ast.Item]:
        for file in self.files:
            yield from file.items

    def items_by_package(self) -> Iterator[tuple[str, ast.Item]]:
        """Every statement with the package its file belongs to (empty: the policy's own)."""
        for file in self.files:
            for item in file.items:
                yield file.package, item

    def names_of(self, *kinds: str) -> list[str]:
        return [s.name for s in self.symbols.values() if s.kind in kinds]

    def suggest(self, word: str, *kinds: str) -> str | None:
        """`did you mean …?` among the names of ``kinds`` (every name when none is given), while
        the check's budget of comparisons lasts (:meth:`near`)."""
        if not self._spend(len(self.symbols)):
            return None
        return suggestion_help(word, self.names_of(*kinds) if kinds else self.symbols)

    def near(self, word: str, candidates: Sequence[str]) -> list[str]:
        """Close spellings of ``word`` among ``candidates`` while the budget lasts: a file with
        thousands of unknown names among thousands of declared ones would otherwise cost their
        product (minutes), only to offer hints nobody reads past the first screen."""
        return did_you_mean(word, candidates) if self._spend(len(candidates)) else []

    def _spend(self, comparisons: int) -> bool:
        if comparisons > self.comparisons_left:
            return False
        self.comparisons_left -= comparisons
        return True


def kind_word(kind: str) -> str:
    """How messages name a kind: `data category` for ``data``, and so on."""
    return ast.KIND_WORDS.get(kind, kind)


def article(word: str) -> str:
    """The indefinite article for ``word``: `a` or `an`."""
    return "an" if word[:1] in "aeiou" else "a"
