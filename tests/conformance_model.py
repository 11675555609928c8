"""The soundness harness of ``conforms``: a random policy of ``soundness_model`` (every construct
of the language), its rules and overrides split at random into the policy's own and a
package's, some of its context keys held absent and some of its terms chosen as the policy's;
``conformance`` of the whole policy is compared with a brute-force walk over ``SoundUniverse``:
every request over the chosen terms whose context leaves the held keys out, decided by the
policy's own rules and overrides alone and by the package's alone (each loaded as a policy of its
own: an override lifts only the rules of its side), is a finding exactly when the first allows
and the second denies, or allows with an obligation the first does not carry.

``tests/test_soundness_packages.py`` does the same on policies laid out in package folders."""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import dataclass, replace
from typing import Any

import policy_engine
from policy_engine import load_policy_text
from policy_engine.analysis.conformance import conformance
from policy_engine.language.printer import obligation_text

from .soundness_model import (
    MUTATIONS,
    Choices,
    Disagreement,
    HarnessError,
    SoundUniverse,
    Spec,
    cell_keys,
    decide,
    expr_keys,
    fitted,
    flag,
    gen_spec,
    mutate,
    pick,
    reported_cells,
    some,
    spec_text,
    universe_cost,
)
from .test_analysis import rule_exprs
from .test_properties import KINDS, Request, lifted_ids


@dataclass(frozen=True)
class Split:
    """Which rules and overrides are the package's, which keys no request sends, and the
    policy's terms."""

    package: frozenset[str]
    absent: frozenset[str]
    terms: dict[str, list[str]]


def gen_case(c: Choices, limit: int) -> tuple[Spec, Split] | None:
    """A policy and its split, or None when the policy's universe is over ``limit`` requests.
    Half the time the package is a mutation of the policy's own rules (a rule added, removed or
    changed; see ``mutate``), so that the two sides mostly agree and differ in a few requests;
    otherwise the rules of one random policy are split at random."""
    spec = fitted(gen_spec(c, (0, 0)), limit)
    if spec is None:
        return None
    if flag(c):
        allows = [r.id for r in spec.rules if r.effect == "allow"]
        # Mostly keep an allow on the policy's side, and its denies on the package's: a policy
        # that allows nothing conforms.
        kept = {pick(c, allows)} if allows and c.number(0, 3) else set()
        package = {r.id for r in spec.rules if c.number(0, 3 if r.effect == "deny" else 1)}
        package -= kept
        # Mostly each override on the side of the rules it lifts; sometimes on the other.
        for override in spec.overrides:
            lifted = set(lifted_ids(spec.rules, override))
            if (lifted <= package) == (c.number(0, 3) != 0):
                package.add(override.id)
        return spec, gen_split(c, spec, frozenset(package))
    kinds = [m for m in MUTATIONS if m not in ("attribute", "override")]
    kind = pick(c, [*kinds, "constant", "obligations", "exception"])
    mutated, _ = mutate(c, spec, kind)
    theirs = [replace(r, id=f"p{r.id}") for r in mutated.rules] if mutated.keys == spec.keys else []
    # The package's overrides: the policy's, lifting the package's copies of the rules.
    overrides = [
        replace(o, id=f"p{o.id}", lifts=tuple(f"p{r}" for r in o.lifts))
        for o in spec.overrides
        if theirs
    ]
    own = list(spec.rules)
    if flag(c):  # the policy forgets some of the obligations its package requires
        own = [replace(r, obligations=r.obligations[: c.number(0, 1)]) for r in own]
    both = replace(spec, rules=(*own, *theirs), overrides=(*spec.overrides, *overrides))
    if universe_cost([both]) > limit:
        return None
    ids = {r.id for r in theirs} | {o.id for o in overrides}
    return both, gen_split(c, both, frozenset(ids))


def gen_split(c: Choices, spec: Spec, package: frozenset[str]) -> Split:
    """The split with the package's rules, a random part of the keys held absent, and all the
    terms or a random part of them."""
    # Mostly keys only the package reads, as `conforms` holds them: a key of the policy's own
    # rules held absent makes them unknown.
    own = [e for r in spec.rules if r.id not in package for e in rule_exprs(r)]
    read = set().union(*(expr_keys(e) for e in own)) if c.number(0, 3) else set()
    absent = frozenset(k.name for k in spec.keys if k.name not in read and c.number(0, 2) != 0)
    terms = {}
    for kind in KINDS:
        every = spec.vocab.terms(kind)
        terms[kind] = sorted(some(c, every, 1, len(every)) if c.number(0, 3) == 0 else every)
    return Split(package, absent, terms)


def obligations_of(decision: policy_engine.Decision) -> set[str]:
    """Each obligation with its arguments (``ob0(n = 0)``): two with other arguments differ."""
    return {
        obligation_text(d.name, tuple(d.parameters.items())) for d in decision.obligation_details
    }


def finding_kind(own: policy_engine.Decision, package: policy_engine.Decision) -> str | None:
    """What ``conforms`` must report for one request (obligations have no hierarchy here)."""
    if own.effect != "allow":
        return None
    if package.effect != "allow":
        return "not-allowed"
    return "obligations" if obligations_of(package) - obligations_of(own) else None


def _sides(spec: Spec, split: Split) -> tuple[policy_engine.Policy, ...]:
    """The whole policy, the policy's own rules and overrides, and the package's."""
    own = replace(
        spec,
        rules=tuple(r for r in spec.rules if r.id not in split.package),
        overrides=tuple(o for o in spec.overrides if o.id not in split.package),
    )
    theirs = replace(
        spec,
        rules=tuple(r for r in spec.rules if r.id in split.package),
        overrides=tuple(o for o in spec.overrides if o.id in split.package),
    )
    try:
        return tuple(load_policy_text(spec_text(s)) for s in (spec, own, theirs))
    except policy_engine.PolicyError as exc:
        raise HarnessError(f"a generated policy does not load: {exc}") from exc


def compare_conformance(
    spec: Spec, split: Split, tally: Counter[str] | None = None
) -> tuple[int, list[Disagreement]]:
    """Every verdict of ``conformance`` against the brute force; the number of requests decided
    and the disagreements."""
    spec = replace(spec, invariants=())
    text = spec_text(spec)
    combined, own, theirs = _sides(spec, split)
    out: list[Disagreement] = []

    def disagree(message: str, request: Request | None = None) -> None:
        message += f" [package statements {sorted(split.package)}, absent {sorted(split.absent)}]"
        out.append(Disagreement("conforms", message, text, request))

    try:
        report = conformance(combined.compiled, split.package, split.absent, terms=split.terms)
    except Exception as exc:
        return 0, [Disagreement("crash", f"conforms raised {type(exc).__name__}: {exc}", text)]
    if tally is not None:
        tally.update(f"conforms: {g.kind} group" for g in report.groups)
        tally.update(["conforms: policies"] + ["conforms: no finding"] * (not report.groups))
    reported = reported_cells(spec.vocab, report.groups)
    universe = SoundUniverse([spec])
    requests = 0
    for cell in itertools.product(*(split.terms[k] for k in KINDS)):
        kinds: dict[str, Request] = {}
        for context in universe.contexts(cell_keys([spec], cell) - split.absent):
            request = Request(*cell, context)
            requests += 1
            kind = finding_kind(decide(own, request), decide(theirs, request))
            if kind is not None:
                kinds.setdefault(kind, request)
        said = reported.pop(cell, set())
        for kind in sorted(set(kinds) - said):
            disagree(f"cell {cell}: {kind} here, but conforms reports {sorted(said)}", kinds[kind])
        for kind in sorted(said - set(kinds)):
            disagree(f"cell {cell}: conforms reports {kind}, but no request of it is {kind}")
    for cell, said in reported.items():
        disagree(f"cell {cell} is not one of the policy's, but conforms reports {sorted(said)}")
    return requests + _check_examples(report, split, own, theirs, disagree), out


def _check_examples(
    report: Any,
    split: Split,
    own: policy_engine.Policy,
    theirs: policy_engine.Policy,
    disagree: Any,
) -> int:
    """Each group's example is a request of the policy (no absent key sent) and a finding of the
    group's kind, with the obligations the group says."""
    for group in report.groups:
        example = group.example
        context = dict(example["context"])
        request = Request(example["party"], example["data"], example["purpose"], context)
        mine, package = decide(own, request), decide(theirs, request)
        kind = finding_kind(mine, package)
        if set(context) & split.absent:
            disagree("the example of a group sends a key no request sends", request)
        elif kind != group.kind:
            disagree(f"the example of a {group.kind} group is {kind or 'no finding'}", request)
        elif group.kind == "obligations" and (
            sorted(obligations_of(package) - obligations_of(mine)) != group.lacking
        ):
            disagree("the example of an obligations group lacks other obligations", request)
    return len(report.groups)
