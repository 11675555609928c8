"""Soundness on package layouts: the random policies of the soundness harness (every construct of
the language), written as a using policy and one or two packages in real folders
(``soundness_layouts``: a package beside or inside its user's folder, a package that uses one of
its own, terms of the policy under the package's and the package's placed under the policy's,
keys supplied across, invariants, rules and overrides on both sides, the policy's overrides
lifting a package's denies), against the brute force over the universe of the spec they were
split from:

1. the engine decides every request of the universe as the reference evaluator decides the
   spec (with every name qualified as the layout writes it), and ``check`` of the using policy
   says what the brute force finds: each invariant, the package's included, is proven exactly
   when no request of the combined policy breaks it (a package's invariants are checked against
   every rule the policy holds, its own and the packages'); ``never-applies``, shadowed and
   redundant rules, overlaps and the overrides' findings, a package's rules and overrides
   included;
2. ``check`` of a package's folder alone says what the brute force finds on what that folder
   means alone (its own names and statements, and its packages');
3. ``diff`` between two layouts of two versions (a rule, override, default or declaration of a
   package or of the policy changed) reports, cell by cell, what the brute force finds, and the
   version of the policy, and of each package whose folders changed, changes exactly then;
4. the matrix of the using policy says, for every cell and request of the universe, what the
   reference decides (effect and obligations), and names the rules and overrides it owes it to;
5. ``policy-engine conforms POLICY --to PACKAGE`` (for every package of the layout, a package's
   package included) reports exactly the requests over the policy's terms whose contexts leave
   out the package's keys the policy neither supplies nor mentions, that the policy's statements
   allow and the package's (its folder's and its packages') do not, or allow without an
   obligation the package requires: each side decided by the reference evaluator over the
   combined vocabulary, an override lifting only its own side's denies.

Every test runs a fixed set of examples (``derandomize``): a failure reproduces.
``benchmarks/soundness.py --layouts`` runs those of ``check`` and ``diff`` on many more.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import assume, event, given, note, settings
from hypothesis import strategies as st

from policy_engine.analysis.conformance_target import conforms
from policy_engine.engine.request import normalize_context
from policy_engine.semantics import declarations
from policy_engine.traceability.matrix import build_matrix
from policy_engine.traceability.verdicts import NEVER

from .soundness_layouts import (
    FEATURES,
    Arrangement,
    Layout,
    LayoutRealisation,
    SpecPolicy,
    features,
    flat_context,
    gen_layout,
    group_cells,
    interface_disagreements,
    sees,
    with_policy_override,
    with_policy_terms,
)
from .soundness_model import (
    Disagreement,
    SoundReference,
    SoundUniverse,
    Spec,
    cell_keys,
    cells_of,
    compare_check,
    compare_diff,
    expr_keys,
    fitted,
    flag,
    gen_spec,
    mutate,
    nested,
    override_exprs,
    pick,
    rule_exprs_in,
    universe_cost,
)
from .test_matrix import check_rules, holds
from .test_properties import KINDS, Request, RuleSpec, Vocab, lifted_ids
from .test_soundness import SOUNDNESS_SETTINGS, Recheck, assert_agree, generated, seeds

LAYOUT_SETTINGS = settings(SOUNDNESS_SETTINGS, derandomize=True)
"""The soundness settings, on a fixed set of examples."""

LAYOUT_LIMIT = 1200
"""At most this many requests per example: the flat harness (``test_soundness``) has the larger
universes; these examples are about what packages change."""


@st.composite
def layouts(
    draw: st.DrawFn, invariants: tuple[int, int] = (0, 2), derived: bool | None = None
) -> tuple[Spec, Layout]:
    """A policy and its layout, a third of the time with an override above a package lifting
    one of its denies (``with_policy_override``)."""
    seed = draw(seeds)
    note(f"c = RandomChoices(Random({seed})); fitted(gen_spec(c, {invariants}, {derived}), …)")
    c = generated(seed)
    spec = fitted(gen_spec(c, invariants, derived), LAYOUT_LIMIT)
    assume(spec is not None)
    assert spec is not None
    layout = gen_layout(c, spec)
    if c.number(0, 2) == 0:
        lifted, layout_lifted = with_policy_override(c, spec, layout)
        if universe_cost([lifted]) <= LAYOUT_LIMIT:
            spec, layout = lifted, layout_lifted
    return spec, layout


@st.composite
def conforms_cases(draw: st.DrawFn) -> tuple[Spec, Layout, str]:
    """A layout where the policy declares terms of its own under the spec's (see
    ``with_policy_terms``), half the time with an override of the policy's that lifts a
    package's deny (see ``with_policy_override``), and one of its packages."""
    seed = draw(seeds)
    note(f"c = RandomChoices(Random({seed})); fitted(gen_spec(c, (0, 0)), …)")
    c = generated(seed)
    spec = fitted(gen_spec(c, (0, 0)), LAYOUT_LIMIT)
    assume(spec is not None)
    assert spec is not None
    layout = gen_layout(c, spec)
    with_terms, layout_with_terms = with_policy_terms(c, spec, layout)
    if universe_cost([with_terms]) <= LAYOUT_LIMIT:
        spec, layout = with_terms, layout_with_terms
    if flag(c):
        lifted, layout_lifted = with_policy_override(c, spec, layout)
        if universe_cost([lifted]) <= LAYOUT_LIMIT:
            spec, layout = lifted, layout_lifted
    return spec, layout, pick(c, layout.levels[1:])


@st.composite
def layout_versions(draw: st.DrawFn) -> tuple[Spec, Spec, str, Layout]:
    """A policy, a mutation of it, and one layout for both."""
    seed = draw(seeds)
    note(f"c = RandomChoices(Random({seed})); fitted(gen_spec(c, (0, 0)), …); mutate(c, …)")
    c = generated(seed)
    old = fitted(gen_spec(c, invariants=(0, 0)), LAYOUT_LIMIT)
    assume(old is not None)
    assert old is not None
    new, change = mutate(c, old)
    assume(universe_cost([old, new]) <= LAYOUT_LIMIT)
    return old, new, change, gen_layout(c, old)


def render(found: list[Any], text: str) -> str:
    return f"{len(found)} disagreement(s); the first:\n{found[0]}\n--- layout ---\n{text}"


VERDICTS = ("decide", "crash", "invariant", "never-applies", "shadowed-by-deny", "redundant-rule")
VERDICTS += ("deny-overrides-allow", "override", "diff")


def recheck_check(layout: Layout) -> Recheck:
    def recheck(versions: tuple[Spec, ...]) -> list[Disagreement]:
        return compare_check(versions[0], realise=LayoutRealisation(layout, versions))[1]

    return recheck


def recheck_diff(layout: Layout) -> Recheck:
    def recheck(versions: tuple[Spec, ...]) -> list[Disagreement]:
        old, new = versions
        return compare_diff(old, new, realise=LayoutRealisation(layout, versions))[1]

    return recheck


# ---- 1, 2: the engine and check -----------------------------------------------------------------


@settings(LAYOUT_SETTINGS, max_examples=25)
@given(layouts(invariants=(0, 3)))
def test_check_of_a_layout_matches_brute_force(case: tuple[Spec, Layout]) -> None:
    """Decisions and ``check`` (the module's 1), and the interface tools rely on (the package of
    each rule and file, the packages, their versions and the keys supplied) as the layout writes
    it. A disagreement is shown on a minimised policy (in the same layout) and as drawn."""
    spec, layout = case
    realise = LayoutRealisation(layout, [spec])
    for feature in sorted(features(realise.arrangement, spec)):
        event(feature)  # pytest --hypothesis-show-statistics counts them
    try:
        _, found = compare_check(spec, realise=realise)
        assert_agree(found, VERDICTS, (spec,), recheck_check(layout))
        interface = interface_disagreements(spec, realise.load(spec), realise.arrangement)
        assert not interface, render(interface, realise.text(spec))
    finally:
        realise.close()


@settings(LAYOUT_SETTINGS, max_examples=10)
@given(layouts(invariants=(0, 3), derived=True))
def test_check_of_a_layout_with_a_derived_rule_matches_brute_force(
    case: tuple[Spec, Layout],
) -> None:
    """Shadowed and redundant rules, and overlaps, across the package and the policy."""
    spec, layout = case
    realise = LayoutRealisation(layout, [spec])
    try:
        _, found = compare_check(spec, realise=realise)
        assert_agree(found, VERDICTS, (spec,), recheck_check(layout))
    finally:
        realise.close()


@settings(LAYOUT_SETTINGS, max_examples=12)
@given(layouts(invariants=(0, 3)), st.data())
def test_check_of_a_package_alone_matches_brute_force(
    case: tuple[Spec, Layout], data: st.DataObject
) -> None:
    spec, layout = case
    package = data.draw(st.sampled_from(layout.levels[1:]))
    alone = Arrangement(layout, [spec]).sub_spec(spec, package)
    assume(alone.rules and all(alone.vocab.terms(k) for k in KINDS))
    realise = LayoutRealisation(layout, [alone], top=package)
    try:
        _, found = compare_check(alone, realise=realise)
        assert not found, render([d.render() for d in found], "")
        interface = interface_disagreements(alone, realise.load(alone), realise.arrangement)
        assert not interface, render(interface, realise.text(alone))
    finally:
        realise.close()


# ---- 3: diff -------------------------------------------------------------------------------------


def version_changes(
    realise: LayoutRealisation, old: tuple[Spec, SpecPolicy], new: tuple[Spec, SpecPolicy]
) -> list[str]:
    """The policy's version, and each package's, changes exactly when its folders' (or its
    packages') rule files change."""
    arrangement = realise.arrangement
    before, after = (arrangement.files(spec) for spec, _ in (old, new))
    out = []
    changed = {n for n in before.keys() | after.keys() if before.get(n) != after.get(n)}
    for level in arrangement.levels:
        folders = {arrangement.layout.folder(lv) for lv in arrangement.levels if sees(level, lv)}
        touched = any(n.rpartition("/")[0] in folders for n in changed)
        if level and touched:
            event(f"the version of a package changes ({arrangement.layout.shape})")
        if level == "":
            versions = (old[1].policy.version, new[1].policy.version)
        else:
            versions = tuple(  # type: ignore[assignment]
                next(u.version for u in p.policy.packages if u.namespace == level)
                for _, p in (old, new)
            )
        if (versions[0] != versions[1]) != touched:
            said = "changes" if versions[0] != versions[1] else "stays"
            out.append(f"the version of `{level or 'the policy'}` {said}, files changed: {touched}")
    return out


@settings(LAYOUT_SETTINGS, max_examples=20)
@given(layout_versions())
def test_diff_between_layouts_matches_brute_force(case: tuple[Spec, Spec, str, Layout]) -> None:
    old, new, change, layout = case
    realise = LayoutRealisation(layout, [old, new])
    try:
        _, found = compare_diff(old, new, change, realise=realise)
        assert_agree(found, VERDICTS, (old, new), recheck_diff(layout))
        versions = version_changes(realise, (old, realise.load(old)), (new, realise.load(new)))
        assert not versions, render(versions, realise.text(old) + "\n" + realise.text(new))
    finally:
        realise.close()


# ---- 4: the matrix -------------------------------------------------------------------------------


def matrix_disagreements(spec: Spec, layout: Layout) -> Iterator[str]:
    """Every verdict of the using policy's matrix against the reference on every request of the
    universe (the verdict's conditions read by the engine's evaluator, on the request as the
    layout names it)."""
    realise = LayoutRealisation(layout, [spec])
    try:
        loaded = realise.load(spec)
        policy, naming = loaded.policy, loaded.naming
        back = naming.back()
        verdicts = build_matrix(policy, "layout", prove=True).verdicts
        universe = SoundUniverse([spec])
        for cell in cells_of(spec.vocab):
            named = tuple(naming.names[t] for t in cell)
            verdict = verdicts.get(named, NEVER)  # type: ignore[call-overload]
            allowed, lifting, contexts = set(), set(), []
            for context in universe.contexts(cell_keys([spec], cell, invariants=False)):
                request = Request(*cell, context)
                ref = SoundReference(spec, request)
                expected = ref.decide()
                asked = naming.request(request)
                contexts.append(nested(asked.context))
                ctx = normalize_context(policy.compiled, nested(asked.context))
                is_allowed = expected["effect"] == "allow"
                allowed.add(is_allowed)
                said = f"{cell} {context}: the matrix says {verdict.status}"
                if verdict.status == "conditional":
                    assert verdict.condition is not None
                    if holds(policy.compiled, verdict.condition, ctx, named) != is_allowed:
                        yield f"{said}, the reference {expected['effect']}"
                elif (verdict.status == "always") != is_allowed:
                    yield f"{said}, the reference {expected['effect']}"
                if not is_allowed:
                    continue
                attached = {
                    naming.obligation_text(o.name)
                    for o in verdict.obligations
                    if o.condition is None or holds(policy.compiled, o.condition, ctx, named)
                }
                if attached != set(expected["details"]):
                    yield f"{said} with {sorted(attached)}, the reference {expected['details']}"
                if not set(expected["reasons"]) <= {back[r.id] for r in verdict.allows}:
                    yield f"{said} by {[r.id for r in verdict.allows]}: {expected['reasons']}"
                covering = [r for r in spec.rules if ref.covers(r)]
                for override, ids in ref.live_overrides():
                    would = any(ref.own_value(r)[0] is not False for r in covering if r.id in ids)
                    if would and ref.value(override.condition)[0] is True:
                        lifting.add(override.id)
            if verdict.status == "conditional" and allowed != {True, False}:
                yield f"{cell} is said conditional, but the reference decides it {allowed}"
            if {back[o.id] for o in verdict.overrides} != lifting:
                yield f"{cell}: the matrix names overrides {verdict.overrides}, not {lifting}"
            try:
                check_rules(policy, verdict, named, contexts)  # type: ignore[arg-type]
            except AssertionError as exc:
                yield f"{cell}: {exc}"
    finally:
        realise.close()


@settings(LAYOUT_SETTINGS, max_examples=12)
@given(layouts(invariants=(0, 0)))
def test_matrix_of_a_layout_matches_brute_force(case: tuple[Spec, Layout]) -> None:
    spec, layout = case
    found = list(itertools.islice(matrix_disagreements(spec, layout), 3))
    assert not found, render(found, LayoutRealisation(layout, [spec]).text(spec))


# ---- 5: conforms ---------------------------------------------------------------------------------


def mentioned(side: Spec, spec: Spec) -> set[str]:
    """The keys the rules and overrides of one side of ``spec`` mention (the declared
    conditions of the obligations they require included; an override that lifts no rule of
    ``spec`` is not written)."""
    exprs = [e for r in side.rules for e in rule_exprs_in(side, r)]
    written = [o for o in side.overrides if lifted_ids(spec.rules, o)]
    exprs += [e for o in written for e in override_exprs(side, o)]
    return set().union(*(expr_keys(e) for e in exprs)) if exprs else set()


def finding(own: dict[str, Any], theirs: dict[str, Any]) -> str | None:
    """What ``conforms`` reports of one request, from the reference's two decisions."""
    if own["effect"] != "allow":
        return None
    if theirs["effect"] != "allow":
        return "not-allowed"
    return "obligations" if set(theirs["details"]) - set(own["details"]) else None


def conforms_disagreements(spec: Spec, layout: Layout, package: str) -> Iterator[str]:
    realise = LayoutRealisation(layout, [spec])
    try:
        loaded = realise.load(spec)
        arrangement, naming = realise.arrangement, loaded.naming
        back = naming.back()
        report = conforms(loaded.policy, package, "user")
        own = arrangement.side(spec, package, theirs=False)
        theirs = arrangement.side(spec, package, theirs=True)
        # The package's keys (named under its namespace) that the policy's side never mentions.
        absent = {
            k.name for k in spec.keys if sees(package, arrangement.chain[k.name][-1])
        } - mentioned(own, spec)
        if {back[k] for k in report.absent_keys} != absent:
            yield f"absent keys {report.absent_keys}, the brute force {sorted(absent)}"
        terms = {
            k: [t for t in spec.vocab.terms(k) if not arrangement.below(package, t)] for k in KINDS
        }
        reported: dict[tuple[str, ...], set[str]] = {}
        for group in report.groups:
            for cell in group_cells(spec.vocab, group, back):
                reported.setdefault(cell, set()).add(group.kind)
        universe = SoundUniverse([spec])
        for cell in itertools.product(*(terms[k] for k in KINDS)):
            kinds: dict[str, Request] = {}
            for context in universe.contexts(cell_keys([spec], cell) - absent):
                request = Request(*cell, context)
                kind = finding(
                    SoundReference(own, request).decide(), SoundReference(theirs, request).decide()
                )
                if kind is not None:
                    kinds.setdefault(kind, request)
            said = reported.pop(cell, set())
            for kind in sorted(set(kinds) - said):
                yield f"cell {cell}: {kind} here ({kinds[kind]}), but conforms reports {said}"
            for kind in sorted(said - set(kinds)):
                yield f"cell {cell}: conforms reports {kind}, but no request of it is {kind}"
        for cell, said in reported.items():
            yield f"cell {cell} is not one of the policy's, but conforms reports {said}"
        for group in report.groups:
            example = group.example
            context = flat_context(dict(example["context"]))  # type: ignore[call-overload]
            request = naming.spec_request(
                Request(
                    str(example["party"]), str(example["data"]), str(example["purpose"]), context
                )
            )
            kind = finding(
                SoundReference(own, request).decide(), SoundReference(theirs, request).decide()
            )
            if set(request.context) & absent:
                yield f"the example {request} sends a key no request sends"
            elif kind != group.kind:
                yield f"the example {request} of a {group.kind} group is {kind}"
    finally:
        realise.close()


@settings(LAYOUT_SETTINGS, max_examples=25)
@given(conforms_cases())
def test_conforms_on_a_layout_matches_brute_force(case: tuple[Spec, Layout, str]) -> None:
    spec, layout, package = case
    found = list(itertools.islice(conforms_disagreements(spec, layout, package), 3))
    assert not found, render(found, LayoutRealisation(layout, [spec]).text(spec))


# ---- the layouts write what they must ------------------------------------------------------------


def test_the_layouts_of_fixed_seeds_write_every_package_construct() -> None:
    """The generator writes each construct of packages (``soundness_layouts.FEATURES``) in the
    layouts of the first 150 seeds (100 were enough before specs drew keys of one term)."""
    seen: set[str] = set()
    for seed in range(150):
        c = generated(seed)
        spec = fitted(gen_spec(c, (0, 2)), LAYOUT_LIMIT)
        if spec is not None:
            layout = gen_layout(c, spec)
            if c.number(0, 2) == 0:
                spec, layout = with_policy_override(c, spec, layout)
            seen |= features(Arrangement(layout, [spec]), spec)
    assert sorted(set(FEATURES) - seen) == []


def placed() -> tuple[Spec, Layout]:
    """The policy allows `pa0`; the package's term `pa1` is placed under it by the policy
    (``party pk.pa1 under pa0``), so the allow covers `pk.pa1` too."""
    vocab = Vocab(
        {"party": {"pa0": (), "pa1": ("pa0",)}, "data": {"da0": ()}, "purpose": {"pu0": ()}},
        ("ob0",),
    )
    rule = RuleSpec("r0", "allow", (("pa0",), None, None), None, (), (), "§1", None)
    at = (("pa0", ""), ("pa1", "pk"), ("da0", "pk"), ("pu0", ""), ("ob0", ""), ("r0", ""))
    return Spec(vocab, (), (rule,)), Layout("one", 0, "", at)


def test_the_harness_sees_a_placement_the_engine_would_ignore(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The reference reads the spec, not the layout: an engine that ignored the policy's
    placement of a package's term would refuse `pk.pa1`, and the harness says so."""
    spec, layout = placed()
    monkeypatch.setenv("POLICY_ENGINE_CACHE_DIR", str(tmp_path / "cache"))
    realise = LayoutRealisation(layout, [spec])
    assert "party pk.pa1 under pa0" in realise.text(spec)
    assert compare_check(spec, realise=realise) == (2, [])
    monkeypatch.setattr(declarations, "place", lambda *_: False)
    monkeypatch.setenv("POLICY_ENGINE_CACHE_DIR", str(tmp_path / "other-cache"))
    _, found = compare_check(spec, realise=realise)
    assert [(d.verdict, d.request) for d in found][:1] == [
        ("decide", Request("pa1", "da0", "pu0", {}))
    ]
    realise.close()
