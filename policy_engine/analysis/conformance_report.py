"""The result of ``conforms``: the requests a policy allows that a package it uses does not (and
the package's obligations that the policy's decision lacks), grouped like a diff, each group
with a request that shows it."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

FindingKind = Literal["not-allowed", "obligations"]
"""``not-allowed``: the policy allows, the package denies; ``obligations``: both allow, and the
package requires obligations that the policy's decision does not carry."""


class SideDecision(BaseModel):
    """What one side decides on a group's example, as the evaluator decided it."""

    effect: str
    rules: list[str]
    """The rules that decided: the allows that granted, or the denies that denied."""
    obligations: list[str]


class ConformanceGroup(BaseModel):
    kind: FindingKind
    parties: list[str]
    data: list[str]
    purposes: list[str]
    exact: list[str]
    """Terms in the lists above that stand only for themselves, not for the terms below them."""
    when: str
    """The contexts of the finding, in words."""
    policy_rules: list[str]
    policy_citations: list[str]
    """The citations of ``policy_rules``, in the same order ("" for a rule that cites nothing)."""
    policy_obligations: list[str]
    package_effect: str
    package_rules: list[str]
    package_citations: list[str]
    package_obligations: list[str]
    lacking: list[str]
    """The package's obligations that no obligation of the policy's decision fulfils (the same
    obligation, or one declared below it)."""
    requests: int
    """How many (cell, context class) requests of the space this group stands for."""
    example: dict[str, object]
    """A request of the group: party, data, purpose and context."""
    example_policy: SideDecision
    """The policy's own rules on the example (the evaluator's decision)."""
    example_package: SideDecision
    """The package's rules on the example (the evaluator's decision)."""


class ConformanceReport(BaseModel):
    policy: str
    package: str
    policy_version: str
    policy_rules: int
    """How many rules are the policy's own (every rule not from the package)."""
    package_rules: int
    absent_keys: list[str]
    """The package's context keys that the policy does not supply: no request of the policy
    sends them, so each is missing (or takes the package's default) on the package's side."""
    groups: list[ConformanceGroup]
    requests_compared: int
    """Requests of the policy's space (each a class of contexts) that were compared."""
    requests_found: int
    """How many of them are findings."""

    @property
    def conforms(self) -> bool:
        return not self.groups
