"""A compiled policy as plain data — what the compiled cache stores — and back.

An image holds what deciding needs and nothing it can rebuild cheaply: for every rule its id,
effect, scope, obligation names and where its text is; each hierarchy's parent links (closures are
made on demand: :mod:`policy_engine.semantics.vocabulary`); the context declarations, the name →
kind table and the loading warnings. It holds no rule syntax trees: building a hundred thousand
nodes back costs more than the whole budget of a cached load. A restored rule re-parses its own
text the first time its conditions are needed (a fraction of a millisecond, once), and the
checked syntax trees of the whole policy are rebuilt only if an analysis asks for them
(``CompiledPolicy.checked``).

Images contain only builtins, the syntax-tree classes of :mod:`policy_engine.ast` (context
declarations) and :class:`~policy_engine.errors.Diagnostic` (warnings); sources are referred to by
their position in the policy's list of sources, which the cache key pins.
"""

from __future__ import annotations

import functools
import io
import pickle
from array import array
from collections.abc import Callable, Sequence
from dataclasses import fields
from decimal import Decimal
from typing import Any

from ..language import ast
from ..language.errors import Diagnostic
from ..language.source import Source, Span
from ..language.time_values import TimeValue, time_value
from ..semantics.attribute_table import Attribute
from ..semantics.checker import CheckedPolicy
from ..semantics.package_use import PackageUse
from ..semantics.resolve import Resolver
from ..semantics.term_keys import KeyAttributes
from ..semantics.vocabulary import Hierarchy
from .compiler import (
    CompiledOverride,
    CompiledPolicy,
    CompiledRule,
    RuleAbout,
    RuleLogic,
    assemble,
    condition_builder,
    symbol_tables,
)
from .image_reparse import Reparse
from .time_operands import key_time_kind

Image = dict[str, Any]


def capture(
    compiled: CompiledPolicy, warnings: list[Diagnostic], sources: Sequence[Source]
) -> Image:
    """The image of a policy just compiled from ``sources`` (its rules have their trees)."""
    index = {id(source): i for i, source in enumerate(sources)}
    line_starts = [_line_starts(source.text) for source in sources]
    conditions: dict[Any, int] = {}  # encoded condition → its number (rules share them)

    def row(rule: CompiledRule) -> tuple[Any, ...]:
        span = rule.source.span
        if span is None or id(span.source) not in index:
            raise ValueError(f"rule `{rule.id}` has no place in the policy's sources")
        which = index[id(span.source)]
        starts = line_starts[which]
        begin = starts[span.line - 1] + span.column - 1
        end = starts[span.end_line - 1] + span.end_column - 1
        return (
            rule.id,
            rule.effect,
            tuple(_sorted(scope) for scope in (rule.parties, rule.data, rule.purposes)),
            tuple(plan.names for plan in rule.obligations),
            (which, span.line, span.column, begin, end),
            (rule.about.citation, rule.about.description),
            tuple(conditions.setdefault(c, len(conditions)) for c in _encode_logic(rule)),
        )

    # Rows go into the image a chunk at a time, each chunk already pickled: the rows of a large
    # policy and the pickler's memo of all their objects would otherwise add some 14 MiB to the
    # peak of a cold load (10,000 rules), a third of the load itself.
    chunks = [
        pickle.dumps([row(rule) for rule in compiled.rules[at : at + _CHUNK]], _PROTOCOL)
        for at in range(0, len(compiled.rules), _CHUNK)
    ]
    overrides = _encode_overrides(compiled.overrides, conditions)
    return {
        **_versions(compiled, sources),
        "hierarchies": {kind: dict(h.parent_links) for kind, h in compiled.hierarchies.items()},
        "context": {name: key.decl for name, key in compiled.context.items()},
        "kinds": dict(compiled.symbol_tables[1]),
        "attributes": [_attribute_row(a) for a in compiled.attributes.values()],
        "rules": chunks,
        "conditions": list(conditions),
        "overrides": overrides,
        "warnings": list(warnings),
        "obligation_forms": dict(compiled.obligation_forms),
        "named": _declarations(compiled.checked),
    }


def _attribute_row(attribute: Attribute) -> tuple[Any, ...]:
    """An attribute as plain data: a date's or an instant's values as the whole numbers they
    are (the cache constructs no value of the calendar's classes)."""
    values = {t: int(v) if isinstance(v, TimeValue) else v for t, v in attribute.values.items()}
    kind, name = attribute.kind, attribute.name
    return (kind, name, attribute.type, values, dict(attribute.origins))


def _attribute(
    kind: Any, name: str, type_: ast.ValueType, values: dict[str, Any], origins: dict[str, str]
) -> Attribute:
    """An attribute back from :func:`_attribute_row`."""
    time = key_time_kind(type_)
    if time is not None:
        values = {t: time_value(time, v) for t, v in values.items()}
    return Attribute(kind, name, type_, values, origins)


def _versions(compiled: CompiledPolicy, sources: Sequence[Source]) -> Image:
    """The policy's version, the packages it uses (with theirs), and the package of each source
    (to rename a package's rule re-parsed from its text as it was checked)."""
    packages_of = {file.name: file.package for file in compiled.checked.files}
    return {
        "version": compiled.version,
        "packages": [
            (u.namespace, u.folder, u.version, dict(u.supplies), u.decl) for u in compiled.packages
        ],
        "file_packages": [packages_of.get(source.name, "") for source in sources],
    }


def _declarations(checked: CheckedPolicy) -> tuple[Any, ...]:
    """What resolving a re-parsed rule needs (:class:`~policy_engine.semantics.resolve.Resolver`):
    the named conditions and the obligation declarations that have a condition or parameters."""
    obligations = {
        id(d): d
        for d in checked.term_decls.values()
        if d.kind == "obligation" and (d.condition is not None or d.parameters)
    }
    return (dict(checked.conditions), list(obligations.values()))


def _resolved(resolver: Callable[[], Resolver], load: Callable[[], ast.Rule]) -> ast.Rule:
    """A rule re-parsed from its text, meaning what the checker made it mean."""
    return resolver().rule(load())


def restore(
    image: Image, sources: Sequence[Source], load_checked: Callable[[], CheckedPolicy]
) -> tuple[CompiledPolicy, list[Diagnostic]]:
    """The compiled policy and its warnings from an image made from exactly ``sources``."""
    hierarchies = {
        kind: Hierarchy.restore(kind, links) for kind, links in image["hierarchies"].items()
    }
    tables = symbol_tables(image["context"], image["kinds"])
    attributes = {(row[0], row[1]): _attribute(*row) for row in image["attributes"]}
    builder = condition_builder(hierarchies, tables, image["context"], attributes)
    named_conditions, obligation_decls = image["named"]
    keyed = KeyAttributes({n: d.type for n, d in image["context"].items()}, attributes)
    resolver = functools.cache(lambda: Resolver(named_conditions, obligation_decls, keyed))
    rules = []
    decoded = _Conditions(image["conditions"])
    rows = (row for chunk in image["rules"] for row in _PlainUnpickler(chunk).load())
    uses = tuple(PackageUse(*use) for use in image["packages"])
    types = {n: d.type for n, d in image["context"].items()}
    reparse = Reparse(sources, image["file_packages"], uses, (types, attributes))
    for position, row in enumerate(rows):
        rule_id, effect, scopes, obligations, where, (citation, description), logic = row
        about = RuleAbout(citation, description, sources[where[0]].name, where[1])
        load = reparse.loader(where)
        rules.append(
            CompiledRule(
                position,
                rule_id,
                effect,
                scopes,
                obligations,
                about,
                builder,
                load=functools.partial(_resolved, resolver, load),
                logic=functools.partial(decoded.logic, logic),
            )
        )
    compiled = assemble(
        image["version"],
        hierarchies,
        image["context"],
        tables,
        tuple(rules),
        load_checked,
        image["obligation_forms"],
        attributes,
    )
    compiled.overrides = _decode_overrides(image["overrides"], decoded)
    compiled.packages = uses
    return compiled, list(image["warnings"])


def _encode_overrides(
    overrides: tuple[CompiledOverride, ...], conditions: dict[Any, int]
) -> list[tuple[Any, ...]]:
    """The overrides as plain rows, their conditions numbered among the rules' conditions."""

    def number(expr: ast.Expr | None) -> int:
        return conditions.setdefault(_encode(expr), len(conditions))

    return [
        (
            o.id,
            tuple(o.about),
            number(o.condition),
            o.lifts,
            tuple((names, number(when)) for names, when in o.obligations),
            number(o.trigger),
        )
        for o in overrides
    ]


def _decode_overrides(rows: list[Any], decoded: _Conditions) -> tuple[CompiledOverride, ...]:
    return tuple(
        CompiledOverride(
            override_id,
            RuleAbout(*about),
            decoded.get(condition),
            lifts,
            tuple((names, decoded.get(when)) for names, when in clauses),
            decoded.get(trigger),
        )
        for override_id, about, condition, lifts, clauses, trigger in rows
    )


# ---- conditions as plain data ------------------------------------------------------------------
# A condition is stored as nested tuples `(class number, field, ...)` without its places (no other
# tuple of a condition starts with a number), so equal
# conditions of different rules are stored (and decoded) once. Rules keep their places in their
# text, which explanations re-parse.

_EXPR_CLASSES: dict[str, type] = {
    cls.__name__: cls
    for cls in (
        ast.And,
        ast.Or,
        ast.Not,
        ast.Compare,
        ast.Member,
        ast.Presence,
        ast.Truth,
        ast.Literal_,
        ast.NameRef,
        ast.RequestRef,
        ast.AttributeRef,
        ast.KeyAttributeRef,
        ast.AttributePresence,
        ast.ListLiteral,
        ast.Name,
        ast.NamedCondition,
        ast.Citation,
        ast.TimeLiteral,
        ast.Shifted,
        ast.Duration,
        ast.Now,
    )
}
_EXPR_CLASSES["Decimal"] = Decimal  # a decimal literal, stored as its text: (code, "0.75")
_FIELDS = {
    name: ("value", "span")
    if cls is ast.Name
    else ()
    if cls is Decimal
    else tuple(f.name for f in fields(cls))
    for name, cls in _EXPR_CLASSES.items()
}
_CODES = {name: code for code, name in enumerate(_EXPR_CLASSES)}
_BY_CODE = list(_EXPR_CLASSES.values())


def _encode_logic(rule: CompiledRule) -> tuple[Any, ...]:
    """The rule's condition, exceptions, obligation conditions and the overrides' parts of them
    (:class:`RuleLogic`), encoded (hashable)."""
    return tuple(_encode(part) for part in rule.logic_for_image())


def _encode(node: Any) -> Any:
    if node is None or type(node) in (str, int, bool):
        return node
    if type(node) is Decimal:
        return (_CODES["Decimal"], str(node))
    if type(node) is tuple:
        return tuple(_encode(item) for item in node)
    if isinstance(node, Span):
        return None
    name = type(node).__name__
    if name not in _CODES:
        raise TypeError(f"no plain form for {name}")
    return (_CODES[name], *(_encode(getattr(node, f)) for f in _FIELDS[name]))


class _Conditions:
    """The image's conditions, each decoded the first time a rule needs it."""

    def __init__(self, encoded: list[Any]) -> None:
        self.encoded = encoded
        self.decoded: dict[int, Any] = {}

    def logic(self, numbers: tuple[int, ...]) -> RuleLogic:
        return RuleLogic(*(self.get(n) for n in numbers))

    def get(self, number: int) -> Any:
        found = self.decoded.get(number)
        if found is None:
            found = self.decoded[number] = _decode(self.encoded[number])
        return found


def _decode(data: Any) -> Any:
    if type(data) is not tuple:
        return data
    if data and type(data[0]) is int:
        return _BY_CODE[data[0]](*(_decode(item) for item in data[1:]))
    return tuple(_decode(item) for item in data)


_CHUNK = 1000
_PROTOCOL = pickle.HIGHEST_PROTOCOL


class _PlainUnpickler(pickle.Unpickler):
    """Reads a chunk of rule rows: plain containers, strings and numbers, nothing else."""

    def __init__(self, data: bytes) -> None:
        super().__init__(io.BytesIO(data))

    def find_class(self, module: str, name: str) -> Any:
        raise pickle.UnpicklingError(f"a rule row may not hold {module}.{name}")

    def persistent_load(self, pid: Any) -> Any:
        raise pickle.UnpicklingError("a rule row may not refer to anything")


def _line_starts(text: str) -> array[int]:
    """Offset of the first character of every line (Lark counts lines by ``\\n``); an array,
    not a list of int objects (40,000 lines of a large file)."""
    starts = array("q", [0])
    at = text.find("\n")
    while at != -1:
        starts.append(at + 1)
        at = text.find("\n", at + 1)
    return starts


def _sorted(scope: frozenset[str] | None) -> tuple[str, ...] | None:
    return None if scope is None else tuple(sorted(scope))
