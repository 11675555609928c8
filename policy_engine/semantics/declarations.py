"""The passes that build the vocabulary: declaring every name once (terms, obligations, context
keys, rule and invariant ids) and linking the terms into acyclic hierarchies."""

from __future__ import annotations

import itertools

from ..language import ast
from ..language.limits import MAX_RULES, MAX_TERMS
from .attributes import declare_attribute
from .check_state import CheckState, Symbol, article, kind_word
from .namespacing import local_part
from .package_checks import namespaces_used, own_key_name, own_name, place
from .vocabulary import Hierarchy, find_cycle

HIERARCHY_KINDS: tuple[ast.DeclKind, ...] = ("party", "data", "purpose", "obligation")


def declare_names(state: CheckState) -> None:
    """Every term, obligation and context key is declared once; rule ids are unique."""
    rule_ids: dict[str, ast.Rule | ast.Override] = {}
    invariant_ids: dict[str, ast.Invariant] = {}
    namespaces: set[str] | None = None  # the packages' namespaces, once a key needs them
    for package, item in state.items_by_package():
        if isinstance(item, ast.Invariant):
            own_name(state, package, item.id, "an invariant")
            _declare_invariant(state, item, invariant_ids)
        elif isinstance(item, ast.Rule | ast.Override):
            own_name(
                state, package, item.id, "a rule" if isinstance(item, ast.Rule) else "an override"
            )
            _declare_rule(state, item, rule_ids)
        elif isinstance(item, ast.NoDecision):
            state.no_decisions.append(item)
        elif isinstance(item, ast.AttributeDecl):
            last = item.name.value.rsplit(".", 1)[-1]
            hint = (
                f"write the name without a namespace (`attribute {last} of {item.kind}: …`); a "
                "package's attribute is declared in the package, and the policy's terms give "
                f"it values (`with {item.name.value} = …`)"
            )
            own_name(state, package, item.name, "an attribute", hint)
            declare_attribute(state, item)
        elif isinstance(item, ast.ContextDecl):
            if namespaces is None:
                namespaces = namespaces_used(state)
            own_key_name(state, package, item.name, namespaces)
            _declare_symbols(state, item, item.name, "context")
        elif isinstance(item, ast.ConditionDecl):
            own_name(state, package, item.name, "a named condition")
            _declare_symbols(state, item, item.name, "condition")
        elif isinstance(item, ast.TermDecl):
            for name in item.names:
                if local_part(package, name.value) is None and item.kind != "obligation":
                    state.placements.append((name, item))
                else:
                    own_name(
                        state,
                        package,
                        name,
                        f"{article(kind_word(item.kind))} {kind_word(item.kind)}",
                    )
                    _declare_symbols(state, item, name, item.kind)
    _refuse_too_many(state)


def _refuse_too_many(state: CheckState) -> None:
    """A policy declares at most ``MAX_TERMS`` names and has at most ``MAX_RULES`` rules and
    invariants: the first one past either limit is an error."""
    if len(state.symbols) > MAX_TERMS:
        past = next(itertools.islice(state.symbols.values(), MAX_TERMS, None))
        state.error(
            "too-many-terms",
            f"this is name {MAX_TERMS + 1:,} of the policy's terms and context keys; a policy "
            f"may declare at most {MAX_TERMS:,}",
            past.span,
            "a vocabulary of this size is not supported",
        )
    statements = (
        i for i in state.items() if isinstance(i, ast.Rule | ast.Override | ast.Invariant)
    )
    past_rule = next(itertools.islice(statements, MAX_RULES, None), None)
    if past_rule is not None:
        state.error(
            "too-many-rules",
            f"this is rule {MAX_RULES + 1:,} of the policy (invariants counted); a policy may "
            f"have at most {MAX_RULES:,}",
            past_rule.id.span,
            "a policy of this size is not supported",
        )


def _declare_invariant(
    state: CheckState, item: ast.Invariant, invariant_ids: dict[str, ast.Invariant]
) -> None:
    first = invariant_ids.get(item.id.value)
    if first is not None:
        state.error(
            "duplicate-invariant",
            f"invariant id `{item.id.value}` is used twice",
            item.id.span,
            "give each invariant its own id",
            notes=(("first used here", first.id.span),) if first.id.span else (),
        )
    else:
        invariant_ids[item.id.value] = item
        state.invariants.append(item)


def _declare_rule(
    state: CheckState, item: ast.Rule | ast.Override, rule_ids: dict[str, ast.Rule | ast.Override]
) -> None:
    """Rules and overrides share one namespace of ids (an override names the rules it lifts)."""
    previous = rule_ids.get(item.id.value)
    if previous is not None and previous.id.span is not None:
        word = "rule" if isinstance(item, ast.Rule) else "override"
        state.error(
            "duplicate-rule",
            f"{word} id `{item.id.value}` is used twice",
            item.id.span,
            "rule ids are stable references in decisions and logs; give each rule its own"
            if isinstance(item, ast.Rule) and isinstance(previous, ast.Rule)
            else "rules and overrides share their ids: give each its own",
            notes=(("first used here", previous.id.span),),
        )
    else:
        rule_ids[item.id.value] = item
        if isinstance(item, ast.Rule):
            state.rules.append(item)
        else:
            state.overrides.append(item)


def _declare_symbols(
    state: CheckState,
    item: ast.TermDecl | ast.ContextDecl | ast.ConditionDecl,
    name: ast.Name,
    kind: str,
) -> None:
    """Enter a name a term, context or named-condition declaration introduces, refusing one
    seen before (they share one namespace)."""
    existing = state.symbols.get(name.value)
    if existing is not None:
        _duplicate_declaration(state, name, existing)
        return
    state.symbols[name.value] = Symbol(name.value, kind, name.span)
    if isinstance(item, ast.TermDecl):
        state.term_decls[name.value] = item
    elif isinstance(item, ast.ConditionDecl):
        state.conditions[name.value] = item
    else:
        state.context[name.value] = item


def _duplicate_declaration(state: CheckState, name: ast.Name, existing: Symbol) -> None:
    notes = (
        (
            (
                f"first declared here as {article(kind_word(existing.kind))} "
                f"{kind_word(existing.kind)}",
                existing.span,
            ),
        )
        if existing.span
        else ()
    )
    state.error(
        "duplicate-declaration",
        f"`{name.value}` is declared twice",
        name.span,
        "every party, data category, purpose, obligation, context key and named condition needs "
        "a name of its own",
        notes=notes,
    )


def link_hierarchies(state: CheckState) -> None:
    """Parents exist and are of the same kind; hierarchies have no cycles."""
    for kind in HIERARCHY_KINDS:
        state.edges[kind] = []
    for name, decl in state.term_decls.items():
        for parent in decl.parents:
            _link_parent(state, name, decl, parent)
    for placed, decl in state.placements:
        if place(state, placed, decl):
            for parent in decl.parents:
                _link_parent(state, placed.value, decl, parent)
    for kind in HIERARCHY_KINDS:
        _build_hierarchy(state, kind)


def _link_parent(state: CheckState, name: str, decl: ast.TermDecl, parent: ast.Name) -> None:
    """Record the edge from ``parent`` to ``name``, or report why there can be none."""
    target = state.symbols.get(parent.value)
    word = kind_word(decl.kind)
    if target is None:
        state.error(
            "unknown-parent",
            f"unknown {word} `{parent.value}`",
            parent.span,
            state.suggest(parent.value, decl.kind)
            or f"declare it first: `{decl.kind} {parent.value}`",
        )
    elif target.kind != decl.kind:
        state.error(
            "wrong-kind-parent",
            f"`{name}` is {article(word)} {word} but its parent `{parent.value}` is "
            f"{article(kind_word(target.kind))} {kind_word(target.kind)}",
            parent.span,
            f"a {word} can only sit under another {word}",
        )
    elif parent.value == name:
        state.error(
            "cycle",
            f"`{name}` is declared under itself",
            parent.span,
            "remove it from its own parents",
        )
    else:
        state.edges[decl.kind].append((parent.value, name, parent))


def _build_hierarchy(state: CheckState, kind: ast.DeclKind) -> None:
    """Build the hierarchy of ``kind`` from its edges; with a cycle, report it and drop them."""
    edges = state.edges[kind]
    cycle = find_cycle((p, c) for p, c, _ in edges)
    terms = [n for n, d in state.term_decls.items() if d.kind == kind]
    if cycle is not None:
        # Point at the parent link that closes the cycle.
        closing = next(
            (ref for p, c, ref in edges if p == cycle[-2] and c == cycle[-1]), edges[0][2]
        )
        shown = " → ".join(f"`{t}`" for t in reversed(cycle))
        state.error(
            "cycle",
            f"the {kind_word(kind)} hierarchy has a cycle: {shown}",
            closing.span,
            "a term cannot be above and below the same term; remove one of these parent links",
        )
        edges = []
    state.hierarchies[kind] = Hierarchy.build(kind, terms, ((p, c) for p, c, _ in edges))
