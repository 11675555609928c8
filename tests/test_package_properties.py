"""A policy that uses a package decides exactly like the same rules written in one folder with the
package's names prefixed: for random policies of the soundness harness (every construct), some
rules go into a package with every declaration and invariant, the others into the policy that
uses it, which supplies some of the package's keys from keys of its own, reads the package's
attributes under its namespace (`party.pkg.level`), declares an attribute of its own under the
same name (`level`: no clash), and places a party of its own under the package's with values of
both.

Written twice, as a package and its user (A: `pkg.x`, supplied keys `u_k`) and as one flat file
whose names are rewritten independently, by their text (B: `pkg_x`, `u_k`), the two must give every
sampled request the same decision (effect, deciding rules, obligations, missing keys), and `check`
the same verdict on every invariant. B is an ordinary policy, held against the brute force by the
harness itself (`tests/test_soundness.py`), and so A is too.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import policy_engine
from policy_engine import load_policy_text
from policy_engine.api import check_loaded

from .soundness_model import (
    KINDS,
    MISSING_VALUE,
    RandomChoices,
    SoundUniverse,
    Spec,
    cells_of,
    declarations_text,
    gen_spec,
    invariant_text,
    spec_exprs,
)
from .test_properties import ATTRIBUTES, named_in, rule_text

Rename = Callable[[str], str]


def _renamer(names: set[str], rename: Rename) -> Rename:
    """Rewrites each whole-word occurrence of ``names`` in a text (names never occur in the
    harness's strings, which are `c0`, `other`, `x`, … and never a term, key or id), a key
    whose term's attribute is read too (``kk_party.level``: the key, not the attribute)."""
    attributes = "|".join(ATTRIBUTES)
    pattern = re.compile(
        r"(?<![\w.])("
        + "|".join(sorted(map(re.escape, names), key=len, reverse=True))
        + rf")(?![\w])(?!\.(?!(?:{attributes})\b))"
    )
    return lambda text: pattern.sub(lambda m: rename(m.group(1)), text)


ATTRIBUTE = re.compile(rf"(?<![\w])({'|'.join(ATTRIBUTES)})(?![\w.])")
"""The attributes of the harness (``test_properties.ATTRIBUTES``) where they are declared, given
and read: `attribute level of party`, `with level = 2`, `party.level`, `kk_party.level`."""
READ_ATTRIBUTE = re.compile(rf"\.({'|'.join(ATTRIBUTES)})\b")
"""An attribute read in a condition, of the request's term or of a key's (`.level`)."""
OWN = "attribute {} of party: boolean \"the user's own: no clash with the package's\"\n"
"""An attribute the user declares under a name the package's attribute has too."""


def _extra_term(spec: Spec) -> tuple[str, str]:
    """The user's own party under the package's first, with a value of its own attribute and,
    when the package has `level`, of the package's (in A; then in B)."""
    given_a, given_b = ["level = true"], ["u_level = true"]
    if "level" in spec.vocab.attributes:
        given_a.insert(0, "pkg.level = 3")
        given_b.insert(0, "pkg_level = 3")
    return (
        f"party xq under pkg.pa0 with {', '.join(given_a)}\n",
        f"party u_xq under pkg_pa0 with {', '.join(given_b)}\n",
    )


def _texts(
    spec: Spec, chooser: random.Random
) -> tuple[dict[str, str], str, dict[str, str], set[str]]:
    """The package and its user (A), the flat policy (B), how each name of A reads in B, and the
    ids of the package's rules. The package's attributes are named under its namespace
    (`party.pkg.level` in A, `pkg_level` in B); the user declares its own `level` (`u_level` in
    B) and a party of its own under the package's, which gives it values of both."""
    in_package = {r.id for r in spec.rules if chooser.random() < 0.5}
    supplied = {k.name for k in spec.keys if chooser.random() < 0.5}
    terms = {t for kind in KINDS for t in spec.vocab.terms(kind)} | set(spec.vocab.obligations)
    terms |= {n[1] for e in spec_exprs(spec) for n in named_in(e)}  # named conditions
    keys = {k.name for k in spec.keys}
    ids = {r.id for r in spec.rules} | {i.id for i in spec.invariants}

    def in_a(name: str) -> str:
        return f"u_{name}" if name in supplied else f"pkg.{name}"

    def in_b(name: str) -> str:
        return f"u_{name}" if name in supplied else f"pkg_{name}"

    package_rules = tuple(r for r in spec.rules if r.id in in_package)
    user_rules = [r for r in spec.rules if r.id not in in_package]
    declarations = declarations_text(spec)  # every named condition, the user's rules' too
    package = declarations + "".join("\n" + rule_text(r) for r in package_rules)
    package += "".join("\n" + invariant_text(i) for i in spec.invariants)
    references = _renamer(terms | keys, in_a)
    suppliers = "".join(
        f"context u_{k.name}: {k.type_text()}{' is now' if k.now else ''} supplies pkg.{k.name}"
        # a set's default names the package's terms (`[pkg.pu1]`)
        + ("" if k.default is None else f" default {references(k.default_text())}")
        + "\n"
        for k in spec.keys
        if k.name in supplied
    )
    extra_a, extra_b = _extra_term(spec)
    user = (
        'use pkg from "../pkg"\n'
        + suppliers
        + OWN.format("level")
        + extra_a
        + "".join(READ_ATTRIBUTE.sub(r".pkg.\1", references(rule_text(r))) for r in user_rules)
    )
    flat_names = _renamer(terms | keys | (ids - {r.id for r in user_rules}), in_b)
    flat_references = _renamer(terms | keys, in_b)
    flat = flat_names(declarations)
    flat += "".join(flat_names(rule_text(r)) for r in package_rules)
    flat += "".join(flat_references(rule_text(r)) for r in user_rules)
    flat += "".join(flat_names(invariant_text(i)) for i in spec.invariants)
    flat = ATTRIBUTE.sub(r"pkg_\1", flat) + OWN.format("u_level") + extra_b
    to_flat = {in_a(n): in_b(n) for n in terms | keys} | {f"pkg.{i}": f"pkg_{i}" for i in ids}
    to_flat["xq"] = "u_xq"
    texts = {"pkg/p.policy": package, "user/u.policy": user}
    return texts, flat, to_flat, in_package


def _answer(
    policy: policy_engine.Policy, request: tuple[str, str, str, dict[str, Any]], to: Rename
) -> tuple[Any, ...]:
    d = policy.decide(*request)
    return (
        d.effect,
        sorted(to(r.id) for r in d.reasons),
        sorted(to(o) for o in d.obligations),
        sorted(to(m) for m in d.missing),
    )


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 2**32 - 1))
def test_a_package_decides_like_its_rules_written_with_prefixed_names(seed: int) -> None:
    # Half the time the terms have attributes (the package's, named under its namespace).
    spec = gen_spec(RandomChoices(random.Random(seed)), attributes=True if seed % 2 else None)
    chooser = random.Random(seed + 1)
    texts, flat, to_flat, in_package = _texts(spec, chooser)
    a = load_policy_text(texts)
    b = load_policy_text(flat)
    same = lambda name: to_flat.get(name, name)  # noqa: E731
    a_name = {v: k for k, v in to_flat.items()}
    universe = SoundUniverse([spec])
    cells = cells_of(spec.vocab)
    for _ in range(30):
        cell = chooser.choice(cells)
        if chooser.random() < 0.3:  # the user's own party, under the package's first
            cell = ("xq", cell[1], cell[2])
        context_b: dict[str, Any] = {}
        for key in spec.keys:
            value = chooser.choice(universe.values[key.name])
            if value is MISSING_VALUE:
                continue
            if key.base == "set":
                value = [f"pkg_{t}" for t in value]
            if key.base == "term":  # one term's name
                value = f"pkg_{value}"
            context_b[to_flat.get(f"pkg.{key.name}", f"u_{key.name}")] = value
        context_a = {
            a_name[k]: [a_name[t] for t in v]
            if isinstance(v, list) and k.endswith(_set_keys(spec))
            else a_name[v]
            if isinstance(v, str) and k.endswith(_term_keys(spec))
            else v
            for k, v in context_b.items()
        }
        request_a = (*(t if t == "xq" else f"pkg.{t}" for t in cell), context_a)
        request_b = (*(to_flat.get(t, f"pkg_{t}") for t in cell), context_b)
        assert _answer(a, request_a, same) == _answer(b, request_b, lambda n: n), (texts, flat)
    verdicts = [
        _verdicts(check_loaded(p, "p"), rename) for p, rename in ((a, same), (b, lambda n: n))
    ]
    assert verdicts[0] == verdicts[1]
    assert {r.id for r in a.rules if a.package_of(r.id) == "pkg"} == {
        f"pkg.{i}" for i in in_package
    }


def _set_keys(spec: Spec) -> tuple[str, ...]:
    return tuple(k.name for k in spec.keys if k.base == "set") or ("\0",)


def _term_keys(spec: Spec) -> tuple[str, ...]:
    return tuple(k.name for k in spec.keys if k.base == "term") or ("\0",)


def _verdicts(report: policy_engine.CheckReport, rename: Rename) -> tuple[Any, ...]:
    """What `check` found, by kind and by the rule or invariant it names first (its
    counterexamples may differ: names sort differently, and any counterexample will do)."""
    # A name, or an obligation with its arguments (`pkg.ob1(n = 1)`): each name in it renamed.
    found = sorted(
        (d.code, re.sub(r"[\w.]+", lambda m: rename(m.group(0)), d.message.split("`")[1]))
        for d in report.diagnostics
    )
    return report.invariants, report.proven, report.broken, report.undecided, found
