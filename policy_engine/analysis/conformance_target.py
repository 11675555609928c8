"""Which package ``conforms`` compares a policy with, and what of the policy is that package's:
its rules, its context keys the policy does not supply, its terms.

Everything of a package ``N`` carries its namespace (docs/language.md, "Packages"): its rule
ids, its terms and its keys are ``N.name`` (a package of a package too: ``N.inner.name``), except
a key the using policy supplies, which the package's rules read under the supplying key's name.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from ..engine.compiler import CompiledPolicy
from ..engine.policy import Policy
from ..language import ast
from ..language.errors import Diagnostic, PolicyError, suggestion_help
from ..semantics.package_use import PackageUse
from .budget import Budget
from .conditions import keys_of
from .conformance import conformance
from .conformance_report import ConformanceReport
from .scopes import KINDS


class UnknownPackage(PolicyError):
    """``--to`` names no package the policy uses."""


@dataclass(frozen=True)
class PackageSide:
    """What of a policy is one package's, and what the policy's requests are."""

    use: PackageUse
    rules: frozenset[str]
    """The ids of the package's rules and overrides."""
    absent: tuple[str, ...]
    """The package's keys that the policy neither supplies nor reads (in a condition of its
    rules or overrides): no request sends them."""
    terms: dict[str, list[str]]
    """The parties, data and purposes of the policy's requests: every term not the package's."""


def find_use(compiled: CompiledPolicy, to: str, policy_name: str) -> PackageUse:
    """The package ``to`` names: a namespace the policy uses, or the folder of one."""
    uses = list(compiled.packages)
    for use in uses:
        if use.namespace == to:
            return use
    folder = os.path.realpath(to)
    found = [use for use in uses if os.path.realpath(use.folder) == folder]
    if len(found) == 1:
        return found[0]
    listed = ", ".join(f"`{u.namespace}` ({_shown(u.folder)})" for u in uses)
    if found:
        message = f"`{to}` is the folder of several packages of `{policy_name}`: {listed}"
        raise UnknownPackage([Diagnostic("unknown-package", message, None, "name its namespace")])
    if not uses:
        message = f"`{policy_name}` uses no package"
        help_text = (
            "conforms compares a policy with a package it uses: the policy says "
            '`use NAME from "folder"` and places its terms under the package\'s'
        )
    else:
        message = f"`{to}` is not a package of `{policy_name}`"
        hint = suggestion_help(to, [u.namespace for u in uses])
        help_text = (hint + " " if hint else "") + f"the policy uses {listed}"
    raise UnknownPackage([Diagnostic("unknown-package", message, None, help_text)])


def _shown(folder: str) -> str:
    """A package's folder as the user would write it: relative to here when it is below."""
    relative = os.path.relpath(folder) if os.path.isabs(folder) else folder
    return folder if relative.startswith("..") else relative


def package_side(compiled: CompiledPolicy, use: PackageUse) -> PackageSide:
    prefix = use.namespace + "."
    checked = compiled.checked
    ids = [r.id.value for r in checked.rules] + [o.id.value for o in checked.overrides]
    rules = frozenset(i for i in ids if i.startswith(prefix))
    read: set[str] = set()
    statements: list[ast.Rule | ast.Override] = [*checked.rules, *checked.overrides]
    for statement in statements:
        if statement.id.value in rules:
            continue
        # What the policy's statement says: its conditions, the clauses' (with the conditions
        # their obligations are declared with), never what the overrides add to a rule.
        exceptions = statement.exceptions if isinstance(statement, ast.Rule) else ()
        clauses = (c.condition for c in statement.obligations)
        for expr in (statement.condition, *exceptions, *clauses):
            if expr is not None:
                read |= keys_of(expr, compiled.context, compiled.now_key)
    absent = tuple(sorted(k for k in compiled.context if k.startswith(prefix) and k not in read))
    terms = {
        kind: [t for t in compiled.hierarchies[kind].ordered if not t.startswith(prefix)]
        for kind in KINDS
    }
    return PackageSide(use, rules, absent, terms)


def conforms(
    policy: Policy, to: str, policy_name: str, budget: Budget | None = None
) -> ConformanceReport:
    """``policy-engine conforms POLICY --to PACKAGE``: the requests of the policy's own terms
    that its own rules allow and the package's do not (or allow lacking its obligations)."""
    compiled = policy.compiled
    side = package_side(compiled, find_use(compiled, to, policy_name))
    return conformance(
        compiled,
        side.rules,
        side.absent,
        terms=side.terms,
        names=(policy_name, side.use.namespace),
        budget=budget,
    )
