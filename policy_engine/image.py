"""A compiled policy as plain data — what the compiled cache stores — and back.

An image holds what deciding needs and nothing it can rebuild cheaply: for every rule its id,
effect, scope, obligation names and where its text is; each hierarchy's parent links and ancestor
closure; the context declarations, the name → kind table and the loading warnings. It holds no rule
syntax trees: building a hundred thousand nodes back costs more than the whole budget of a cached
load. A restored rule re-parses its own text the first time its conditions are needed (a fraction
of a millisecond, once), and the checked syntax trees of the whole policy are rebuilt only if an
analysis asks for them (``CompiledPolicy.checked``).

Images contain only builtins, the syntax-tree classes of :mod:`policy_engine.ast` (context
declarations) and :class:`~policy_engine.errors.Diagnostic` (warnings); sources are referred to by
their position in the policy's list of sources, which the cache key pins.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

from .checker import CheckedPolicy
from .compiler import (
    CompiledPolicy,
    CompiledRule,
    RuleAbout,
    assemble,
    condition_builder,
    symbol_tables,
)
from .errors import Diagnostic
from .parser import parse_rule
from .source import Source
from .vocabulary import Hierarchy

Image = dict[str, Any]


def capture(
    compiled: CompiledPolicy, warnings: list[Diagnostic], sources: Sequence[Source]
) -> Image:
    """The image of a policy just compiled from ``sources`` (its rules have their trees)."""
    index = {id(source): i for i, source in enumerate(sources)}
    line_starts = [_line_starts(source.text) for source in sources]
    rules = []
    for rule in compiled.rules:
        tree = rule.source
        span = tree.span
        if span is None or id(span.source) not in index:
            raise ValueError(f"rule `{rule.id}` has no place in the policy's sources")
        which = index[id(span.source)]
        starts = line_starts[which]
        begin = starts[span.line - 1] + span.column - 1
        end = starts[span.end_line - 1] + span.end_column - 1
        rules.append(
            (
                rule.id,
                rule.effect,
                tuple(_sorted(scope) for scope in (rule.parties, rule.data, rule.purposes)),
                tuple(plan.names for plan in rule.obligations),
                (which, span.line, span.column, begin, end),
                (rule.about.citation, rule.about.description),
            )
        )
    return {
        "version": compiled.version,
        "hierarchies": {
            kind: (dict(h.parent_links), {t: tuple(a) for t, a in h.ancestors.items()})
            for kind, h in compiled.hierarchies.items()
        },
        "context": {name: key.decl for name, key in compiled.context.items()},
        "kinds": dict(compiled.symbol_tables[1]),
        "rules": rules,
        "warnings": list(warnings),
    }


def restore(
    image: Image, sources: Sequence[Source], load_checked: Callable[[], CheckedPolicy]
) -> tuple[CompiledPolicy, list[Diagnostic]]:
    """The compiled policy and its warnings from an image made from exactly ``sources``."""
    hierarchies = {
        kind: Hierarchy.restore(kind, links, ancestors)
        for kind, (links, ancestors) in image["hierarchies"].items()
    }
    tables = symbol_tables(image["context"], image["kinds"])
    builder = condition_builder(hierarchies, tables)
    rules = []
    for position, row in enumerate(image["rules"]):
        rule_id, effect, scopes, obligations, where, (citation, description) = row
        which, line, column, begin, end = where
        source = sources[which]
        about = RuleAbout(citation, description, source.name, line)
        load = functools.partial(parse_rule, source, line, column, begin, end)
        rules.append(
            CompiledRule(position, rule_id, effect, scopes, obligations, about, builder, load=load)
        )
    compiled = assemble(
        image["version"], hierarchies, image["context"], tables, tuple(rules), load_checked
    )
    return compiled, list(image["warnings"])


def _line_starts(text: str) -> list[int]:
    """Offset of the first character of every line (Lark counts lines by ``\\n``)."""
    starts = [0]
    at = text.find("\n")
    while at != -1:
        starts.append(at + 1)
        at = text.find("\n", at + 1)
    return starts


def _sorted(scope: frozenset[str] | None) -> tuple[str, ...] | None:
    return None if scope is None else tuple(sorted(scope))
