"""Completion, by what is written before the cursor:

* inside an obligation's parentheses, where an argument's name goes (``retain_for(`` or
  ``retain_for(years = 6, ``): the obligation's parameters not yet given;
* after a qualifier (``law25.``, ``law25.base.``, ``record.``): the names declared under it, a
  package's (its terms, keys, conditions, rules…) and the packages it uses; after ``party.``,
  ``data.`` or ``purpose.``, or a key of one term (``recipient.``): the attributes of that kind;
* anywhere else: the keywords, the terms, the context keys and the named conditions (the
  packages' under their qualified names); nothing inside a string or a comment.

The first two replace only what is written after the last dot (or the ``(``), whatever the
client takes a word to be.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from lsprotocol import types as lsp
from pygls.workspace.position_codec import PositionCodec

from ..language import ast
from ..language.grammar import reserved_words
from ..language.keywords import phrase_text, syntax
from ..language.printer import parameter_text
from .convert import position
from .hover import KIND_WORDS
from .hover_names import TERM_KINDS
from .index import Declared, Index
from .tokens import enclosing_call, in_text, word_before

Kind = lsp.CompletionItemKind
COMPLETION_KINDS = {
    "party": Kind.Class,
    "data": Kind.Struct,
    "purpose": Kind.Enum,
    "obligation": Kind.Event,
    "context": Kind.Variable,
    "condition": Kind.Function,
}
MEMBER_KINDS = {
    **COMPLETION_KINDS,
    "rule": Kind.Method,
    "override": Kind.Method,
    "invariant": Kind.Method,
    "package": Kind.Module,
}
"""What may follow a qualifier: rules too (an override ``lifts law25.some_rule``)."""

_QUALIFIED = re.compile(
    r"(?<![A-Za-z0-9_.])((?:[A-Za-z_][A-Za-z0-9_]*\.)+)([A-Za-z_][A-Za-z0-9_]*)?$"
)


def keywords() -> list[str]:
    """Every keyword of the grammar, its phrases written out (``not a decision``)."""
    phrases = [phrase_text(pattern) for pattern, _ in syntax().phrases.values()]
    return sorted(reserved_words()) + phrases


def completions(
    index: Index,
    lines: Sequence[str],
    line: int,
    column: int,
    codec: PositionCodec,
    typed: str | None = None,
) -> list[lsp.CompletionItem]:
    """What completes the text at 0-based ``line`` and ``column`` (in characters); ``typed``
    is the character that asked for completion as it was typed (``.`` or ``(``), when one did:
    then only what follows it is offered."""
    text = lines[line]
    if in_text(text, column):
        return []
    call = enclosing_call(lines, line, column)
    if call is not None and call.at_name:
        parameters = _parameters(call.name, index)
        if parameters is not None:
            written = len(word_before(text, column))
            edit = _replacing(lines, line, column, written, codec)
            return [
                _parameter_item(p, call.name, edit)
                for p in parameters
                if p.name.value not in call.given
            ]
    qualified = _QUALIFIED.search(text[:column])
    if qualified is not None:
        edit = _replacing(lines, line, column, len(qualified.group(2) or ""), codec)
        return members(qualified.group(1)[:-1], index, edit)
    return [] if typed else everything(index)


def everything(index: Index) -> list[lsp.CompletionItem]:
    """The keywords, the terms, the context keys and the named conditions (the editor filters
    them by what has been typed)."""
    items = [lsp.CompletionItem(label=w, kind=Kind.Keyword, sort_text=f"2{w}") for w in keywords()]
    for kind, item_kind in COMPLETION_KINDS.items():
        for name in index.names(kind):
            declared = index.declarations(name, kind)[0]
            items.append(
                lsp.CompletionItem(
                    label=name,
                    kind=item_kind,
                    detail=KIND_WORDS[kind],
                    documentation=getattr(declared.item, "description", None),
                    sort_text=f"1{name}",
                )
            )
    return items


Edit = tuple[lsp.Position, lsp.Position]
"""The range a completion replaces: what has been typed of the name it completes."""


def _replacing(
    lines: Sequence[str], line: int, column: int, typed: int, codec: PositionCodec
) -> Edit:
    return position(lines, line, column - typed, codec), position(lines, line, column, codec)


def _item(
    label: str,
    kind: lsp.CompletionItemKind,
    detail: str,
    edit: Edit,
    documentation: str | None = None,
    new_text: str | None = None,
) -> lsp.CompletionItem:
    replaced = lsp.Range(start=edit[0], end=edit[1])
    return lsp.CompletionItem(
        label=label,
        kind=kind,
        detail=detail,
        documentation=documentation,
        filter_text=label,
        text_edit=lsp.TextEdit(range=replaced, new_text=new_text or label),
    )


def members(qualifier: str, index: Index, edit: Edit) -> list[lsp.CompletionItem]:
    """The names written after ``qualifier.``: the attributes of a kind of term, or the names
    under a namespace or a dotted key's first parts."""
    kind = qualifier if qualifier in TERM_KINDS else index.term_key_kind(qualifier)
    if kind is not None:  # `party.`, or `recipient.` of a key of one term: the kind's attributes
        return [
            _item(d.name, Kind.Property, f"{qualifier}.{d.name}: {d.item.type.describe()}", edit)
            for d in index.every("attribute")
            if isinstance(d.item, ast.AttributeDecl) and d.item.kind == kind
        ]
    namespaces = set(index.packages.namespaces())
    found: dict[str, lsp.CompletionItem] = {}
    for declared in index.every():
        if declared.kind in MEMBER_KINDS and declared.name.startswith(qualifier + "."):
            rest = declared.name[len(qualifier) + 1 :]
            inner = rest.split(".", 1)[0]
            if inner != rest and f"{qualifier}.{inner}" in namespaces:
                found.setdefault(inner, _item(inner, Kind.Module, "package", edit))
            elif rest not in found:
                found[rest] = _member(declared, rest, edit)
    return list(found.values())


def _member(declared: Declared, label: str, edit: Edit) -> lsp.CompletionItem:
    detail = f"{KIND_WORDS.get(declared.kind, declared.kind)} {declared.name}"
    description = getattr(declared.item, "description", None)
    return _item(label, MEMBER_KINDS[declared.kind], detail, edit, description)


def _parameters(obligation: str, index: Index) -> tuple[ast.ParamDecl, ...] | None:
    for declared in index.declarations(obligation, "obligation"):
        if isinstance(declared.item, ast.TermDecl) and declared.item.parameters:
            return declared.item.parameters
    return None


def _parameter_item(parameter: ast.ParamDecl, obligation: str, edit: Edit) -> lsp.CompletionItem:
    name = parameter.name.value
    where = f"a parameter of `{obligation}`"
    return _item(name, Kind.Property, parameter_text(parameter), edit, where, f"{name} = ")
