"""What the pages say about a rule (or an override): its id, effect, sentence, conditions and
obligations in words, its citations and its place, as JSON-ready dictionaries."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..engine.compiled import requirements
from ..engine.compiler import CompiledOverride, CompiledPolicy, CompiledRule
from ..language import ast
from ..traceability.cell_conditions import words


def _scope(names: tuple[ast.Name, ...] | None, any_words: str) -> str:
    return any_words if names is None else ", ".join(n.value for n in names)


def sentence(rule: ast.Rule) -> str:
    """The rule's sentence as the language writes it: ``allow a to use b for c``."""
    verb = "to use" if rule.effect == "allow" else "from using"
    return (
        f"{rule.effect} {_scope(rule.parties, 'any party')} {verb} "
        f"{_scope(rule.data, 'any data')} for {_scope(rule.purposes, 'any purpose')}"
    )


def conditions(rule: ast.Rule) -> list[str]:
    """The rule's ``when`` and each ``unless``, in words."""
    said = [] if rule.condition is None else [f"when {words(rule.condition)}"]
    return said + [f"unless {words(e)}" for e in rule.exceptions]


def obligations(rule: ast.Rule | ast.Override) -> list[dict[str, Any]]:
    return [
        {
            "names": [text for text, _, _ in requirements(clause)],
            "when": None if clause.condition is None else f"when {words(clause.condition)}",
        }
        for clause in rule.obligations
    ]


def rule_card(rule: CompiledRule) -> dict[str, Any]:
    """Everything a page shows of one rule."""
    tree = rule.source
    about = rule.about
    return {
        "id": rule.id,
        "effect": rule.effect,
        "description": about.description,
        "sentence": sentence(tree),
        "conditions": conditions(tree),
        "obligations": obligations(tree),
        "citation": about.citation,
        "ground": None if tree.ground is None else tree.ground.text,
        "file": about.file,
        "line": about.line,
        "location": about.location,
    }


def override_card(override: ast.Override, compiled: CompiledOverride) -> dict[str, Any]:
    """Everything a page shows of one override: what it lifts (the deny rules it names, or
    those citing a section, and which rules that is), its condition and obligations."""
    if override.citing:
        lifts = "denies citing " + ", ".join(c.text for c in override.citing)
    else:
        lifts = ", ".join(n.value for n in override.lifts)
    about = compiled.about
    return {
        "id": compiled.id,
        "effect": "override",
        "description": about.description,
        "sentence": f"override {compiled.id} lifts {lifts}",
        "lifts": list(compiled.lifts),
        "conditions": [f"when {words(override.condition)}"],
        "obligations": obligations(override),
        "citation": about.citation,
        "ground": None,
        "file": about.file,
        "line": about.line,
        "location": about.location,
    }


def override_cards(policy: CompiledPolicy) -> dict[str, dict[str, Any]]:
    """Every override's card, by id, in the order written."""
    compiled = {o.id: o for o in policy.overrides}
    return {o.id.value: override_card(o, compiled[o.id.value]) for o in policy.checked.overrides}


def rule_ref(rule: CompiledRule) -> dict[str, str]:
    """A rule named in a list: id, effect, citation and place."""
    return {
        "id": rule.id,
        "effect": rule.effect,
        "citation": rule.about.citation,
        "location": rule.about.location,
    }


def rules_by_id(compiled: CompiledPolicy) -> dict[str, CompiledRule]:
    return {rule.id: rule for rule in compiled.rules}


def cards(rules: Iterable[CompiledRule]) -> list[dict[str, Any]]:
    return [rule_card(r) for r in sorted(rules, key=lambda r: r.position)]
