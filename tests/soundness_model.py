"""The soundness harness: random policies over every construct of the language, an explicit finite
universe of requests built for each policy without the engine's help, and the comparison of every
verdict of ``check`` and ``diff`` with a brute-force walk over that universe.

Shared by ``tests/test_soundness.py`` (hypothesis draws the seeds) and ``benchmarks/soundness.py``:
every generator takes a :class:`Choices`, which answers "a whole number between low and high"
(:class:`RandomChoices` draws it from a ``random.Random``; any other source of choices fits).

What a policy may contain (each policy declares a random subset of the keys):

- context keys of every type (``boolean``, ``integer``, ``decimal``, ``string``, ``one of``,
  ``list of "…"``, ``list of string``, ``set of party|data|purpose``), sometimes with a
  ``default`` (a list, often empty, for the list and set keys);
- key-to-constant and key-to-key comparisons of every type and operator (integers and decimals
  with each other and with whole and decimal constants), chains of two to four number keys (``a <
  b and b < c``), string keys against each other and against ``one of`` keys;
- ``in`` / ``not in`` with list literals of strings and of terms, with ``list of`` keys (several
  list keys sharing one string key: ``s in km0 and s in kl0``; two string keys in one list and
  different: ``s in km0 and t in km0 and s != t``), with ``set of`` keys (the request's own term or
  a literal term) and with hierarchy terms (``data in da0``);
- ``is known`` / ``is missing``, ``not``, ``and``, ``or``, ``unless``, obligations with ``when``,
  several allow and deny rules per cell, hierarchies where a term has several parents;
- named conditions (``condition nc_… means …``), nested in each other, used in every place a
  condition can be; obligations declared with a condition (``obligation ob0 when …``) and with an
  integer or decimal parameter, with or without a default (``obligation ob1(n: integer default
  1)``, ``obligation ob1(x: decimal default 0.50)``), required as ``ob1``, ``ob1(n = 2)`` or
  ``ob1(x = 2.0)`` (decimals written several ways: decisions show each number in one form);
- invariants of the three forms (``never``, ``always allow``, ``always deny``) with ``when``,
  ``unless`` and ``except``;
- attributes of terms (``party.level``, ``data.zone``, ``purpose.open``, ``party.since`` a date:
  some terms give values, others inherit them, take the default or have none) compared with
  constants and keys (dates moved by durations, compared with date keys), in lists and list keys,
  and as truths; ``party.level is known`` and ``is missing``;
- keys of one term (``context kk_party: party``, sometimes with a default term): compared with a
  term, the request's own term and another such key (``kk_party = kj_party``), placed in the
  hierarchy on either side of ``in``, in lists of terms and in set keys, and the attributes of
  the term they name (``kk_party.level``, ``kk_party.since is known``);
- dotted keys (``rec.ks0``, ``rec.km0``: the requester compared with the record's author, looked
  up in its care team), which :func:`decide` sends as nested objects;
- overrides (several per policy) lifting one or more deny rules by id or the denies citing a
  section (rules then cite ``§1``, ``§2``, ``§2.1`` or ``§3``), with and without obligations.
- dates and instants (the ``time`` theme): `now`, a key compared with it and keys compared with
  constants, moved by any duration (``soundness_time``); or, a third of the time (and always in
  the ``cycles`` theme), keys compared in rings by fixed lengths (``soundness_cycles``).

Each policy has a theme (any key, or mostly several integer keys, a string key with two list keys,
two string keys with a list key, set keys, or dates) and is sometimes *sparse*: one or two rules
whose condition is one of those multi-key tests alone, no exception, no other constant. A sparse
policy is where a gap in the engine's partition shows: one more constant elsewhere often hides it.

The universe (:class:`SoundUniverse`) is built from the policy text alone and is provably large
enough:

- integers run from (least constant rounded down − n − 1) to (greatest constant rounded up + n +
  1), n the number of integer and decimal keys read (0 stands in when there is no constant): every
  order of the keys among themselves and the constants is realised; decimals are those integers,
  the decimal constants, and d values strictly between each two consecutive ones, d the number of
  decimal keys read (a decimal key can equal any value an integer key takes, or lie between);
- strings are the constants of every test that reads a free ``string`` or ``list of string`` key,
  the values of the ``one of`` and ``list of "…"`` keys such a test compares them with, the string
  defaults, and one fresh string per free string key read (enough for any pattern of equalities
  among them). Other strings cannot be told apart: a ``one of`` key takes its own values, a ``list
  of "…"`` key every subset of its values, and a ``list of string`` key every subset of those
  strings (only the membership of the tested strings can matter);
- a ``set of`` key takes every subset of its hierarchy's terms; booleans both values;
- an attribute of the request's term is, within a cell, a constant: every value terms give it and
  its default are constants of the keys compared with it (numbers and strings alike);
- a key without a default may also be missing; a key with one is missing exactly when it takes its
  default, which is in the universe (versions of a diff whose defaults differ get the missing key
  too).

In each cell only the keys that the rules covering it (and the invariants about it) read are varied:
no other key can change a decision, or an invariant's scope, there.

Whether a rule *applies* comes from :class:`SoundReference`, the independent reference evaluator of
``test_properties`` taught the per-policy schema; decisions come from the engine's ``decide`` (and
are compared with the reference's too, as a sanity check of the harness itself). A disagreement is
a :class:`Disagreement`; :func:`minimise` shrinks the policy (or pair of versions) that shows one.

How a spec is written for the engine is a :class:`Realisation`: one rule file (:data:`FLAT`), or
a using policy and its packages in folders (``tests/soundness_layouts.py``), which speaks the
spec's names to the comparisons, so that they run unchanged on either.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import re
import shlex
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any, Protocol, TypeVar

import policy_engine
from policy_engine import check_policy, load_policy_text

from . import diff_descriptions, soundness_cycles, soundness_time
from .test_analysis import rule_exprs
from .test_properties import (
    ATTRIBUTES,
    KINDS,
    PREFIX,
    DateValue,
    Expr,
    OverrideSpec,
    Reference,
    Request,
    RuleSpec,
    Truth,
    Vocab,
    ancestors,
    condition_declarations,
    draw_attributes,
    expr_text,
    lifted_ids,
    lit_text,
    named,
    override_texts,
    rule_text,
    undetermined_of,
)

T = TypeVar("T")

ENUM_POOL = ("c0", "c1", "c2")
"""The values of ``one of`` and ``list of "…"`` keys are drawn from these."""
STRING_POOL = ("c0", "c1", "other", "zz")
"""Constants compared with free string keys: some are values of the enumerated keys, one is the
engine's own choice of a fresh value ("other"), one is in no key's values."""
INT_CONSTANTS = (0, 1, 2)
DECIMAL_CONSTANTS = (Decimal("0.5"), Decimal("1.5"), Decimal("-1.25"), Decimal("2.0"))
"""Decimals compared with number keys: between the integers, and one equal to an integer."""
NUMBERS = ("int", "dec")
ZONES = ("x", "y", "z")
"""The values of the `zone` attribute of data categories (``test_properties.ATTRIBUTES``)."""
OPS = ("<", "<=", "=", "!=", ">", ">=")
FRESH = "fresh"
"""Prefix of the strings no condition mentions."""


# ---- choices -------------------------------------------------------------------------------------


class Choices(Protocol):
    def number(self, low: int, high: int) -> int: ...


class RandomChoices:
    """Choices drawn from a ``random.Random``."""

    def __init__(self, rng: Any) -> None:
        self._rng = rng

    def number(self, low: int, high: int) -> int:
        return int(self._rng.randint(low, high))


def pick(c: Choices, options: Sequence[T]) -> T:
    return options[c.number(0, len(options) - 1)]


def flag(c: Choices) -> bool:
    return c.number(0, 1) == 1


def some(c: Choices, options: Sequence[T], low: int, high: int) -> list[T]:
    """``low``..``high`` picks from ``options``, repeats removed, first-pick order kept."""
    return list(dict.fromkeys(pick(c, options) for _ in range(c.number(low, high))))


def permuted(c: Choices, items: Sequence[T]) -> list[T]:
    pool = list(items)
    out = []
    while pool:
        out.append(pool.pop(c.number(0, len(pool) - 1)))
    return out


# ---- the model -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Key:
    name: str
    base: str  # bool | int | str | enum | strlist | anylist | set | term
    values: tuple[str, ...] = ()  # the values of a `one of` / `list of "…"` key
    kind: str | None = None  # the terms of a `set of` key, or of a key of one term
    default: Any = None  # None: no default
    now: bool = False  # declared `is now` (a date or instant key)
    pair: tuple[str, int, str] | None = None
    """A date key compared with `now`: the side moved ("leaf" or "now"), by how much (0: never
    moved) and in what unit (see ``soundness_time``)."""
    ring: tuple[tuple[str, str], ...] = ()
    """On `now`'s key, the links of a ring of date keys compared by fixed lengths (see
    ``soundness_cycles``)."""

    def type_text(self) -> str:
        quoted = ", ".join(f'"{v}"' for v in self.values)
        return {
            "bool": "boolean",
            "int": "integer",
            "dec": "decimal",
            "str": "string",
            "enum": f"one of {quoted}",
            "strlist": f"list of {quoted}",
            "anylist": "list of string",
            "set": f"set of {self.kind}",
            "term": str(self.kind),
            "date": "date",
            "instant": "instant",
        }[self.base]

    def default_text(self) -> str:
        """The default as written: a list's items quoted, a set's terms bare."""
        if isinstance(self.default, tuple):
            shown = (v if self.base == "set" else lit_text(v) for v in self.default)
            return "[" + ", ".join(shown) + "]"
        if self.base == "term":
            return str(self.default)  # a term, without quotes
        return lit_text(self.default)

    def declaration(self) -> str:
        default = "" if self.default is None else f" default {self.default_text()}"
        now = " is now" if self.now else ""
        return f"context {self.name}: {self.type_text()}{now}{default}\n"


Scope = tuple[tuple[str, ...] | None, tuple[str, ...]]
"""(names, or None for any; excepted names)."""


@dataclass(frozen=True)
class ObDecl:
    """An obligation declared with a condition, an integer or decimal parameter, or both."""

    name: str
    when: Expr | None = None
    param: str | None = None
    default: int | str | None = None
    """An integer's default, or a decimal's as written (``"0.50"``)."""
    kind: str = "integer"

    def declaration(self) -> str:
        params = ""
        if self.param is not None:
            default = "" if self.default is None else f" default {self.default}"
            params = f"({self.param}: {self.kind}{default})"
        when = "" if self.when is None else f" when {expr_text(self.when)}"
        return f"obligation {self.name}{params}{when}\n"

    def argument_text(self, written: str) -> str:
        """An argument as a decision shows it: a decimal as the number it is, in one form
        (``0.50`` and ``0.5`` are ``0.5``, ``2.0`` is ``2``: docs/semantics.md, 32)."""
        if self.kind != "decimal" or "." not in written:
            return written
        text = written.rstrip("0").rstrip(".")
        return "0" if text == "-0" else text


DECIMAL_ARGUMENTS = ("0.5", "0.50", "2", "2.0", "-1.25", "10", "0.1000000000000000000001")
"""What a decimal parameter is given: equal numbers written differently, numbers whose text
sorts otherwise than their value (``10`` after ``2``), one no float holds."""

_USE = re.compile(r"^(\w+)(?:\((\w+) = (-?[\d.]+)\))?$")


def use_parts(use: str) -> tuple[str, str | None]:
    """``ob1(n = 2)`` → (``ob1``, ``"2"``); ``ob0`` → (``ob0``, None)."""
    match = _USE.match(use)
    assert match is not None, use
    return match[1], match[3]


@dataclass(frozen=True)
class InvariantSpec:
    id: str
    claim: str  # "never" | "allow" | "deny" (always allow / always deny)
    scopes: tuple[Scope, Scope, Scope]
    condition: Expr | None
    exceptions: tuple[Expr, ...]
    say_purposes: bool = True

    @property
    def expect(self) -> str:
        return "deny" if self.claim == "never" else self.claim


@dataclass(frozen=True, repr=False)
class Spec:
    vocab: Vocab
    keys: tuple[Key, ...]
    rules: tuple[RuleSpec, ...]
    invariants: tuple[InvariantSpec, ...] = ()
    ob_decls: tuple[ObDecl, ...] = ()
    overrides: tuple[OverrideSpec, ...] = ()

    def ob_decl(self, name: str) -> ObDecl | None:
        return next((d for d in self.ob_decls if d.name == name), None)

    def __repr__(self) -> str:  # what hypothesis prints for a falsifying example
        return "Spec(<<<\n" + spec_text(self) + ">>>)"

    def key(self, name: str) -> Key:
        for key in self.keys:
            if key.name == name:
                return key
        raise KeyError(name)

    def rule(self, rule_id: str) -> RuleSpec:
        return next(r for r in self.rules if r.id == rule_id)

    def without_rule(self, rule_id: str) -> Spec:
        return replace(self, rules=tuple(r for r in self.rules if r.id != rule_id))


# ---- rendering -----------------------------------------------------------------------------------


def scope_words(kind: str, scope: Scope) -> str:
    names, excepts = scope
    text = f"any {kind}" if names is None else ", ".join(names)
    return text + (f" except {', '.join(excepts)}" if excepts else "")


def invariant_text(inv: InvariantSpec) -> str:
    parties, data, purposes = inv.scopes
    head = "never" if inv.claim == "never" else f"always {inv.claim}"
    verb = "use" if inv.claim == "never" else ("to use" if inv.claim == "allow" else "from using")
    text = f"invariant {inv.id} §1\n  {head} {scope_words('party', parties)} {verb} "
    text += scope_words("data", data)
    if purposes != (None, ()) or inv.say_purposes:
        text += f" for {scope_words('purpose', purposes)}"
    if inv.condition is not None:
        text += f"\n  when {expr_text(inv.condition)}"
    for exception in inv.exceptions:
        text += f"\n  unless {expr_text(exception, redundant=True)}"
    return text + "\n"


def declarations_text(spec: Spec) -> str:
    """The attributes, the vocabulary, the obligations, the context keys and the named
    conditions the rules, invariants and obligation declarations use."""
    out = spec.vocab.attribute_lines()
    for kind in KINDS:
        for term in spec.vocab.parents[kind]:
            out.append(spec.vocab.term_line(kind, term))
    plain = [o for o in spec.vocab.obligations if spec.ob_decl(o) is None]
    if plain:
        out.append(f"obligation {', '.join(plain)}\n")
    out += [d.declaration() for d in spec.ob_decls]
    out += [key.declaration() for key in spec.keys]
    out += condition_declarations(spec_exprs(spec))
    return "".join(out)


def spec_text(spec: Spec) -> str:
    blocks = [rule_text(r) for r in spec.rules] + override_texts(spec.overrides, spec.rules)
    blocks += [invariant_text(i) for i in spec.invariants]
    return declarations_text(spec) + "".join("\n" + b for b in blocks)


# ---- generators ----------------------------------------------------------------------------------


def gen_vocab(c: Choices, most: int = 3, attributes: bool | None = None) -> Vocab:
    """One to ``most`` terms of each kind; a term's parents are earlier terms (a DAG: the third
    term may have two parents); ``attributes``: whether the terms have attributes (None:
    sometimes)."""
    parents: dict[str, dict[str, tuple[str, ...]]] = {}
    for kind in KINDS:
        terms = [f"{PREFIX[kind]}{i}" for i in range(c.number(1, most))]
        parents[kind] = {
            term: tuple(sorted(some(c, terms[:i], 0, 2))) if i else ()
            for i, term in enumerate(terms)
        }
    obligations = tuple(f"ob{i}" for i in range(c.number(1, 2)))
    without = c.number(0, 2)
    if attributes is False or (attributes is None and without):
        return Vocab(parents, obligations)
    # Sometimes attributes of the terms (`party.level`, `data.zone`, `purpose.open`).
    drawn, defaults = draw_attributes(c.number, parents)
    return Vocab(parents, obligations, drawn, defaults)


THEMES = ("any", "integers", "lists", "strings", "terms", "time")
"""What a policy's keys are about: anything, or mostly the keys of one family of tests (several
integer keys for chains; a string key and two list keys; two string keys and a list; sets;
dates). ``gen_spec`` also takes ``"cycles"``: dates in rings, always (``soundness_cycles``)."""


def gen_keys(c: Choices, theme: str = "any", vocab: Vocab | None = None) -> tuple[Key, ...]:
    keys: list[Key] = []

    def default(value: Any) -> Any:
        return value if c.number(0, 3) == 3 else None

    def count(low: int, high: int, themed: str, themed_low: int, themed_high: int) -> int:
        if theme == "any":
            return c.number(low, high)
        return c.number(themed_low, themed_high) if theme == themed else c.number(0, 1) * low

    n_ints = count(0, 3, "integers", 3, 3)
    n_strs = count(0, 2, "strings", 2, 2) if theme != "lists" else 1
    anylist = flag(c) if theme in ("any", "terms", "integers") else theme == "lists" or flag(c)
    strlist = flag(c) if theme in ("any", "terms", "integers", "strings") else True
    if theme == "strings" and not anylist:
        strlist = True
    if theme in ("integers", "terms", "time", "cycles"):
        n_strs, anylist, strlist = 0, False, False
    # In a policy about integers, one of them is sometimes a decimal (compared with the others).
    n_decs = c.number(0, 1) if theme in ("any", "integers") else 0
    n_ints -= min(n_ints - 1, n_decs) if theme == "integers" else 0
    for i in range(n_ints):  # integer keys first: chains need several
        keys.append(Key(f"ki{i}", "int", default=default(pick(c, INT_CONSTANTS))))
    for i in range(n_decs):
        given = default(pick(c, [*DECIMAL_CONSTANTS, *INT_CONSTANTS]))
        keys.append(Key(f"kr{i}", "dec", default=None if given is None else Decimal(given)))
    for i in range(n_strs):
        keys.append(Key(f"ks{i}", "str", default=default(pick(c, STRING_POOL))))
    if anylist:
        given = default(tuple(sorted(some(c, STRING_POOL, 0, 2))))
        keys.append(Key("km0", "anylist", default=given))
    if strlist:
        values = tuple(sorted(some(c, ENUM_POOL, 1, 3)))
        given = default(tuple(sorted(some(c, values, 0, 2))))
        keys.append(Key("kl0", "strlist", values, default=given))
    for i in range(c.number(0, 1)):
        values = tuple(sorted(some(c, ENUM_POOL, 1, 3)))
        keys.append(Key(f"ke{i}", "enum", values, default=default(pick(c, values))))
    for i in range(c.number(0, 1)):
        keys.append(Key(f"kb{i}", "bool", default=default(flag(c))))
    for kind in some(c, KINDS, 1 if theme == "terms" else 0, 2 if theme == "terms" else 1):
        terms = vocab.terms(kind) if vocab is not None else []
        given = default(tuple(sorted(some(c, terms, 0, 2)))) if terms else None
        keys.append(Key(f"kt_{kind}", "set", kind=kind, default=given))
    keys += term_keys(c, theme, vocab, default)
    if theme in ("lists", "strings") and flag(c):
        # Facts about the record the request is about, under one dotted name (`rec.ks0`,
        # `rec.km0`): the requester compared with its author, or looked up in its care team.
        keys = [replace(k, name=f"rec.{k.name}") if k.base != "str" or flag(c) else k for k in keys]
    if theme in ("time", "cycles"):
        keys += time_keys(c, ring=theme == "cycles" or c.number(0, 2) == 0)
    return tuple(keys)


def term_keys(
    c: Choices, theme: str, vocab: Vocab | None, default: Callable[[Any], Any]
) -> list[Key]:
    """Keys of one term (``kk_party: party``): in a policy about terms one or two kinds (and,
    sometimes, a second key of a kind, compared with the first); elsewhere sometimes one."""
    if vocab is None:
        return []
    if theme == "terms":
        kinds = some(c, KINDS, 1, 2)
    elif theme in ("any", "time"):
        kinds = some(c, ["party", "party", *KINDS], 0, 1)
    else:
        kinds = []
    found = []
    for kind in kinds:
        found.append(
            Key(f"kk_{kind}", "term", kind=kind, default=default(pick(c, vocab.terms(kind))))
        )
        if theme == "terms" and c.number(0, 2) == 0:
            found.append(Key(f"kj_{kind}", "term", kind=kind))
    return found


def time_keys(c: Choices, ring: bool = False) -> list[Key]:
    """A key declared `is now`, and a key compared with it, a key compared with constants or
    both (see ``soundness_time``); or (``ring``) keys compared with it and each other in a ring,
    sometimes with a key hanging off it (see ``soundness_cycles``); all dates or all instants."""
    kind = pick(c, ["date", "date", "instant"])
    if ring:
        links = tuple(soundness_cycles.ring_links(c))
        names = sorted({k for link in links for k in link} - {"kn"})
        found = [Key("kn", kind, now=True, ring=links), *(Key(n, kind) for n in names)]
        if c.number(0, 2) == 0:
            found.append(Key("kd3", kind, pair=soundness_time.pair_offset(c, kind)))
        return found
    found = [Key("kn", kind, now=True)]
    what = c.number(0, 4)
    if what >= 1:
        found.append(Key("kd0", kind, pair=soundness_time.pair_offset(c, kind)))
    if what != 1:
        found.append(Key("kd1", kind))
    return found


PATTERNS = ("chain", "two_lists", "two_strings", "set", "time_pair", "time_ring")


class ExprGen:
    """Draws well-typed conditions over one policy's keys and vocabulary."""

    def __init__(
        self,
        c: Choices,
        vocab: Vocab,
        keys: Sequence[Key],
        sparse: bool = False,
        ob_decls: Sequence[ObDecl] = (),
    ) -> None:
        self.c = c
        self.vocab = vocab
        self.ob_decls = {d.name: d for d in ob_decls}
        self.sparse = sparse
        """Patterns alone, no other test beside them: no constant hides a gap in the engine's
        classes (a policy with one more constant to compare with often works by luck)."""
        self.keys = list(keys)
        by: dict[str, list[Key]] = {}
        for key in keys:
            by.setdefault(key.base, []).append(key)
        self.by = by

    def of(self, *bases: str) -> list[Key]:
        return [k for b in bases for k in self.by.get(b, [])]

    def options(self) -> list[str]:
        ints, strs, texts = self.of(*NUMBERS), self.of("str"), self.of("str", "enum")
        lists = self.of("strlist", "anylist")
        found = ["hier", "known", "lit"]
        if self.of("bool"):
            found += ["bool"]
        if ints:
            found += ["int_const", "int_key"]
        if len(ints) >= 2:
            found += ["chain", "chain"]
        if texts:
            found += ["str_eq", "str_in_literal"]
        if lists:
            found += ["list_key"]
        if texts and self.of("strlist") and self.of("anylist"):
            found += ["two_lists", "two_lists"]
        if len(strs) >= 2 and lists:
            found += ["two_strings", "two_strings"]
        if self.of("set"):
            found += ["set"]
        if self.vocab.attributes:
            found += ["attr", "attr", "attr_known"]
        if self.of("term"):
            found += ["term_key", "term_key"]
            if any(
                ATTRIBUTES[n][0] == k.kind for n in self.vocab.attributes for k in self.of("term")
            ):
                found += ["key_attr", "key_attr"]
        if self.of("date", "instant"):
            found += ["time_const", "time_const"]
        if any(k.pair is not None for k in self.keys):
            found += ["time_pair", "time_pair", "time_pair"]
        if any(k.ring for k in self.keys):
            found += ["time_ring", "time_ring", "time_link"]
        return found

    def patterns(self) -> list[str]:
        """The tests that compare several keys at once (and sets), when the keys are there."""
        return [o for o in dict.fromkeys(self.options()) if o in PATTERNS]

    def pattern(self) -> Expr:
        """One of :meth:`patterns`, sometimes with one more test."""
        found = self.leaf(pick(self.c, self.patterns()))
        if not self.sparse and self.c.number(0, 3) == 0:
            found = (pick(self.c, ["and", "or"]), (found, self.leaf()))
        return found

    # operands
    def term(self, kind: str) -> Expr:
        return ("term", kind, pick(self.c, self.vocab.terms(kind)))

    def string_operand(self, key: Key | None) -> Expr:
        """A literal a key of ``key``'s type may be compared with (any string for free keys)."""
        if key is not None and key.base in ("enum", "strlist"):
            return ("lit", pick(self.c, key.values))
        return ("lit", pick(self.c, STRING_POOL))

    def maybe_swap(self, left: Expr, right: Expr) -> tuple[Expr, Expr]:
        return (right, left) if flag(self.c) else (left, right)

    def leaf(self, choice: str | None = None) -> Expr:
        c = self.c
        choice = choice or pick(c, self.options())
        if choice == "known":
            if not self.keys:
                return ("truth", ("lit", flag(c)))
            return ("known", pick(c, self.keys).name, flag(c))
        if choice == "lit":
            return ("truth", ("lit", flag(c)))
        if choice == "bool":
            key = pick(c, self.of("bool"))
            what = c.number(0, 2)
            if what == 0:
                return ("truth", ("key", key.name))
            right = ("lit", flag(c)) if what == 1 else ("key", pick(c, self.of("bool")).name)
            return ("cmp", pick(c, ["=", "!="]), *self.maybe_swap(("key", key.name), right))
        if choice == "int_const":
            number: Expr = ("key", pick(c, self.of(*NUMBERS)).name)
            constant: Expr = ("lit", self.number())
            return ("cmp", pick(c, OPS), *self.maybe_swap(number, constant))
        if choice == "int_key":
            a, b = (("key", pick(c, self.of(*NUMBERS)).name) for _ in range(2))
            if self.of("dec") and self.of("int") and flag(c):  # a decimal and an integer key
                a, b = self.maybe_swap(
                    ("key", pick(c, self.of("dec")).name), ("key", pick(c, self.of("int")).name)
                )
            return ("cmp", pick(c, OPS), a, b)
        if choice == "chain":
            return self.chain()
        if choice == "str_eq":
            key = pick(c, self.of("str", "enum"))
            left: Expr = ("key", key.name)
            if flag(c):
                right = self.string_operand(key)
            else:
                right = ("key", pick(c, self.of("str", "enum")).name)
            return ("cmp", pick(c, ["=", "!="]), *self.maybe_swap(left, right))
        if choice == "str_in_literal":
            maybe = pick(c, [None, *self.of("str", "enum")])
            left = self.string_operand(None) if maybe is None else ("key", maybe.name)
            items = tuple(self.string_operand(maybe) for _ in range(c.number(0, 3)))
            return ("in", flag(c), left, ("list", None, tuple(dict.fromkeys(items))))
        if choice == "list_key":
            target = pick(c, self.of("strlist", "anylist"))
            source = pick(c, [None, *self.of("str", "enum")])
            left = self.string_operand(target) if source is None else ("key", source.name)
            return ("in", c.number(0, 3) == 0, left, ("key", target.name))
        if choice == "two_lists":
            # One string key in a `list of string` key and in a `list of "…"` key.
            text: Expr = ("key", pick(c, self.of("str", "enum")).name)
            parts: list[Expr] = [
                ("in", c.number(0, 4) == 0, text, ("key", k.name))
                for k in permuted(c, [self.of("anylist")[0], self.of("strlist")[0]])
            ]
            if not self.sparse and c.number(0, 2) == 0:
                parts.append(self.leaf())
            return ("and", tuple(parts))
        if choice == "two_strings":
            # Two string keys in one list key, and different (or equal).
            s, t = permuted(c, self.of("str"))[:2]
            shared: Expr = ("key", pick(c, self.of("anylist", "strlist")).name)
            return (
                "and",
                (
                    ("in", False, ("key", s.name), shared),
                    ("in", c.number(0, 4) == 0, ("key", t.name), shared),
                    ("cmp", pick(c, ["!=", "!=", "="]), ("key", s.name), ("key", t.name)),
                ),
            )
        if choice == "attr":
            return self.attribute()
        if choice == "attr_known":
            return ("aknown", self.any_attribute(), flag(c))
        if choice == "term_key":
            return self.term_key()
        if choice == "key_attr":
            attributes = sorted(self.vocab.attributes)
            keys = [
                k for k in self.of("term") if any(ATTRIBUTES[n][0] == k.kind for n in attributes)
            ]
            key = pick(c, keys)
            names = [n for n in attributes if ATTRIBUTES[n][0] == key.kind]
            return self.attribute(("kattr", key.name, key.kind, pick(c, names)))
        if choice == "time_const":
            key = pick(c, self.of("date", "instant"))
            return soundness_time.const_leaf(c, key.name, key.base, key.now)
        if choice == "time_pair":
            leaf = next(k for k in self.keys if k.pair is not None)
            now = next(k for k in self.keys if k.now)
            assert leaf.pair is not None
            return soundness_time.pair_leaf(c, leaf.name, now.name, leaf.pair, leaf.base)
        if choice in ("time_ring", "time_link"):
            now = next(k for k in self.keys if k.ring)
            if choice == "time_link":
                return soundness_cycles.ring_leaf(c, pick(c, now.ring), now.base)
            return soundness_cycles.ring_pattern(c, now.ring, now.base)
        if choice == "set":
            key = pick(c, self.of("set"))
            assert key.kind is not None
            left = ("req", key.kind) if c.number(0, 2) else self.term(key.kind)
            return ("in", c.number(0, 3) == 0, left, ("key", key.name))
        return self.hierarchy()

    def attribute(self, attribute: Expr | None = None) -> Expr:
        """A test of an attribute of the request's term (or ``attribute``: of the term a key
        names), with a constant or a key of its type (a number key, a string key, a list key, a
        date key), or its truth; a date moved by a duration or not."""
        c = self.c
        if attribute is None:
            name = pick(c, sorted(self.vocab.attributes))
            attribute = ("attr", ATTRIBUTES[name][0], name)
        base = ATTRIBUTES[attribute[-1]][2]
        if base == "bool":
            keys = self.of("bool")
            if keys and flag(c):
                return ("cmp", pick(c, ["=", "!="]), attribute, ("key", pick(c, keys).name))
            return ("truth", attribute)
        if base == "int":
            keys = self.of(*NUMBERS)
            other = ("key", pick(c, keys).name) if keys and flag(c) else ("lit", self.number())
            return ("cmp", pick(c, OPS), *self.maybe_swap(attribute, other))
        if base == "date":
            return self.date_attribute(attribute)
        texts, lists = self.of("str", "enum"), self.of("strlist", "anylist")
        what = c.number(0, 2)
        if what == 1 and lists:
            return ("in", c.number(0, 3) == 0, attribute, ("key", pick(c, lists).name))
        if what == 2:
            items = tuple(dict.fromkeys(("lit", pick(c, ZONES)) for _ in range(c.number(1, 2))))
            return ("in", flag(c), attribute, ("list", None, items))
        other = ("key", pick(c, texts).name) if texts and flag(c) else ("lit", pick(c, ZONES))
        return ("cmp", pick(c, ["=", "!="]), *self.maybe_swap(attribute, other))

    def date_attribute(self, attribute: Expr) -> Expr:
        """A date attribute, moved or not, compared with a date key (``now`` too) or a date."""
        c = self.c
        side = attribute
        if flag(c):
            side = soundness_time.shifted(c, side, "date")
        dates = self.of("date")
        other: Expr = ("time", "date", pick(c, soundness_time.DATES))
        if dates and c.number(0, 3):
            key = pick(c, dates)
            other = ("now", key.name) if key.now and flag(c) else ("key", key.name)
        return ("cmp", pick(c, OPS), *self.maybe_swap(side, other))

    def any_attribute(self) -> Expr:
        """An attribute of the request's term or of the term a key names."""
        c = self.c
        name = pick(c, sorted(self.vocab.attributes))
        kind = ATTRIBUTES[name][0]
        keys = [k for k in self.of("term") if k.kind == kind]
        if keys and flag(c):
            return ("kattr", pick(c, keys).name, kind, name)
        return ("attr", kind, name)

    def term_key(self) -> Expr:
        """A test of a key of one term: with a term or the request's own (``=``, ``!=``), placed
        in the hierarchy (on either side of ``in``), in a list of terms or a set key, or
        compared with another key of its kind."""
        c = self.c
        key = pick(c, self.of("term"))
        kind = key.kind
        assert kind is not None
        ref: Expr = ("key", key.name)
        sets = [k for k in self.of("set") if k.kind == kind]
        pairs = [k for k in self.of("term") if k.kind == kind and k.name != key.name]
        what = c.number(0, 6)
        if what == 0:
            return ("cmp", pick(c, ["=", "!="]), *self.maybe_swap(ref, self.term(kind)))
        if what == 1:
            return ("in", flag(c), ref, self.term(kind))
        if what == 2:
            return ("in", flag(c), self.term(kind), ref)
        if what == 3:
            items = tuple(dict.fromkeys(self.term(kind) for _ in range(c.number(0, 3))))
            return ("in", flag(c), ref, ("list", kind, items))
        if what == 4:
            shape = c.number(0, 2)
            if shape == 0:
                return ("cmp", pick(c, ["=", "!="]), *self.maybe_swap(ref, ("req", kind)))
            return (
                "in",
                flag(c),
                *(((("req", kind)), ref) if shape == 1 else (ref, ("req", kind))),
            )
        if what == 5 and sets:
            return ("in", c.number(0, 3) == 0, ref, ("key", pick(c, sets).name))
        if pairs:
            other: Expr = ("key", pick(c, pairs).name)
            if flag(c):
                return ("cmp", pick(c, ["=", "!="]), ref, other)
            return ("in", flag(c), *self.maybe_swap(ref, other))
        return ("in", flag(c), ref, self.term(kind))

    def number(self) -> Any:
        """A constant to compare a number key with: mostly a whole number, and a decimal when
        the policy has a decimal key."""
        if self.of("dec") and flag(self.c):
            return pick(self.c, DECIMAL_CONSTANTS)
        return pick(self.c, INT_CONSTANTS)

    def obligation_use(self, name: str) -> str:
        """``name`` as a clause requires it: with an argument when it has a parameter (always
        when the parameter has no default, else sometimes)."""
        decl = self.ob_decls.get(name)
        if decl is None or decl.param is None or (decl.default is not None and flag(self.c)):
            return name
        values = DECIMAL_ARGUMENTS if decl.kind == "decimal" else INT_CONSTANTS
        return f"{name}({decl.param} = {pick(self.c, values)})"

    def ob_decl(self, name: str) -> ObDecl | None:
        """Sometimes a declaration for the obligation ``name``: with a condition, an integer or
        decimal parameter (with or without a default), or both."""
        what = self.c.number(0, 4)
        if what >= 3:
            return None
        when = None if what == 1 else (self.leaf() if flag(self.c) else self.expr(1))
        if what == 0:
            return ObDecl(name, when)
        if flag(self.c):
            return ObDecl(name, when, "x", pick(self.c, [None, *DECIMAL_ARGUMENTS]), "decimal")
        default = pick(self.c, [None, *INT_CONSTANTS])
        return ObDecl(name, when, "n", default)

    def chain(self) -> Expr:
        """``a < b and b < c …``: two to four integer keys, each compared with the next."""
        c = self.c
        ints = permuted(c, self.of(*NUMBERS))
        chained = ints[: max(2, min(len(ints), c.number(1, 4)))]
        # Mostly one direction all along (an order the keys must all take: a < b < c), else any
        # operator at each step.
        direction = pick(c, [["<"], ["<", "<="], [">", ">="], OPS])
        parts: list[Expr] = []
        for a, b in itertools.pairwise(chained):
            op = pick(c, direction)
            parts.append(("cmp", op, ("key", a.name), ("key", b.name)))
        if not self.sparse and c.number(0, 2) == 0:  # and a bound on one end
            end = pick(c, [chained[0], chained[-1]])
            bound = ("lit", self.number())
            parts.append(("cmp", pick(c, OPS), ("key", end.name), bound))
        return parts[0] if len(parts) == 1 else ("and", tuple(parts))

    def hierarchy(self) -> Expr:
        c = self.c
        kind = pick(c, KINDS)
        req: Expr = ("req", kind)
        what = c.number(0, 3)
        if what == 0:
            return ("cmp", pick(c, ["=", "!="]), *self.maybe_swap(req, self.term(kind)))
        if what == 1:
            return ("in", flag(c), req, self.term(kind))
        if what == 2:
            items = tuple(dict.fromkeys(self.term(kind) for _ in range(c.number(0, 3))))
            left = req if c.number(0, 3) else self.term(kind)
            return ("in", flag(c), left, ("list", kind, items))
        return ("in", flag(c), self.term(kind), req)

    def expr(self, depth: int = 0) -> Expr:
        choice = self.c.number(0, 10) if depth < 2 else 0
        if choice <= 5:
            return self.leaf()
        if choice == 6:
            return ("not", self.expr(depth + 1))
        if choice == 10:
            return named(self.expr(depth + 1))
        operands = tuple(self.expr(depth + 1) for _ in range(self.c.number(2, 3)))
        return ("and" if choice <= 8 else "or", operands)


def gen_rule(c: Choices, gen: ExprGen, rule_id: str, effect: str | None = None) -> RuleSpec:
    vocab = gen.vocab
    effect = effect or pick(c, ["allow", "deny"])
    scopes = tuple(
        None if c.number(0, 2) == 0 else tuple(some(c, vocab.terms(kind), 1, 2)) for kind in KINDS
    )
    what = c.number(0, 5)
    if (what >= 4 or gen.sparse) and gen.patterns():
        condition: Expr | None = gen.pattern()
    elif gen.sparse:
        condition = gen.leaf() if what else None
    else:
        condition = gen.expr() if what else None
    if condition is not None and c.number(0, 4) == 0:
        condition = named(condition)  # a multi-key pattern too, when sparse
    exceptions = () if gen.sparse else tuple(gen.expr(1) for _ in range(pick(c, [0, 0, 1, 2])))
    obligations: list[tuple[tuple[str, ...], Expr | None]] = []
    if effect == "allow":
        for _ in range(c.number(0, 2)):
            names = tuple(gen.obligation_use(n) for n in some(c, vocab.obligations, 1, 2))
            plain = gen.sparse or c.number(0, 2) == 0
            obligations.append((names, None if plain else gen.expr(depth=1)))
    return RuleSpec(rule_id, effect, scopes, condition, exceptions, tuple(obligations), "§1", None)


def gen_scope(c: Choices, vocab: Vocab, kind: str, names: Any = ()) -> Scope:
    """``names`` () draws them too; None (any) or a tuple is taken as given. Excepted terms may be
    anywhere (an except above a named term leaves the scope empty: the claim holds vacuously)."""
    if names == ():
        names = None if c.number(0, 2) == 0 else tuple(some(c, vocab.terms(kind), 1, 2))
    excepts = tuple(some(c, vocab.terms(kind), 1, 2)) if c.number(0, 3) == 0 else ()
    return names, excepts


def gen_invariant(
    c: Choices, gen: ExprGen, rules: Sequence[RuleSpec], inv_id: str
) -> InvariantSpec:
    # Often about the requests some rule speaks of, with that rule's condition; often the claim
    # that an allow rule never grants (or a deny never denies) there.
    rule = pick(c, rules) if rules and c.number(0, 2) else None
    if rule is not None and flag(c):
        claim = "never" if rule.effect == "allow" else "allow"
    else:
        claim = pick(c, ["never", "allow", "deny"])
    scopes = tuple(
        gen_scope(c, gen.vocab, kind, rule.scopes[n] if rule else ())
        for n, kind in enumerate(KINDS)
    )
    parts: list[Expr] = []
    if rule is not None and rule.condition is not None and flag(c):
        parts.append(rule.condition)
    for _ in range(0 if gen.sparse else pick(c, [0, 0, 1, 2])):
        leaf = gen.leaf()
        parts.append(("not", leaf) if c.number(0, 3) == 0 else leaf)
    condition = None if not parts else parts[0] if len(parts) == 1 else ("and", tuple(parts))
    exceptions = tuple(gen.leaf() for _ in range(0 if gen.sparse else pick(c, [0, 0, 1, 2])))
    return InvariantSpec(inv_id, claim, scopes, condition, exceptions, flag(c))  # type: ignore[arg-type]


def derived_rule(c: Choices, gen: ExprGen, rule: RuleSpec, rule_id: str) -> RuleSpec:
    """A rule close to ``rule``: a copy, wider or narrower (scope, condition, exceptions,
    obligations), or an unconditional deny over its scope."""
    what = c.number(0, 4)
    if what == 0:  # an unconditional deny over the same (or a wider) scope
        scopes = tuple(None if c.number(0, 2) == 0 else s for s in rule.scopes)
        return RuleSpec(rule_id, "deny", scopes, None, (), (), "§1", None)
    new = replace(rule, id=rule_id)
    if what == 1 and rule.condition is not None:  # a weaker or a stronger condition
        other = gen.leaf()
        new = replace(new, condition=(pick(c, ["or", "and"]), (rule.condition, other)))
    elif what == 2:  # wider scope
        new = replace(new, scopes=tuple(None if flag(c) else s for s in rule.scopes))
    elif what == 3:  # fewer exceptions, fewer obligations
        new = replace(new, exceptions=rule.exceptions[: c.number(0, len(rule.exceptions))])
        new = replace(new, obligations=rule.obligations[: c.number(0, len(rule.obligations))])
    if flag(c):
        new = replace(new, effect=pick(c, ["allow", "deny"]))
        if new.effect == "deny":
            new = replace(new, obligations=())
    return new


CITATIONS = ("§1", "§2", "§2.1", "§3")
"""What rules cite when a policy has overrides: `lifts denies citing §2` lifts those citing §2 and
§2.1."""


def gen_override(
    c: Choices, gen: ExprGen, rules: Sequence[RuleSpec], override_id: str
) -> OverrideSpec:
    """Lifts one or two deny rules by id, or the denies citing a section; a condition of any
    shape; sometimes obligations (an allow must carry them wherever it lifts a deny)."""
    denies = [r.id for r in rules if r.effect == "deny"] or [r.id for r in rules]
    citing = pick(c, ("§2", "§3", "§1")) if c.number(0, 2) == 0 else None
    names = tuple(some(c, denies, 1, 2))
    condition = gen.leaf() if gen.sparse or flag(c) else gen.expr(1)
    obligations: list[tuple[tuple[str, ...], Expr | None]] = []
    for _ in range(c.number(0, 2)):
        plain = gen.sparse or c.number(0, 2) == 0
        obligations.append(
            (
                tuple(gen.obligation_use(n) for n in some(c, gen.vocab.obligations, 1, 2)),
                None if plain else gen.leaf(),
            )
        )
    return OverrideSpec(override_id, names, citing, condition, tuple(obligations))


def with_overrides(
    c: Choices, gen: ExprGen, rules: tuple[RuleSpec, ...]
) -> tuple[tuple[RuleSpec, ...], tuple[OverrideSpec, ...]]:
    """Often none; else one to three overrides, and the rules citing sections of their own (so
    that lifting by citation picks some denies and not others)."""
    denies = [r for r in rules if r.effect == "deny"]
    if c.number(0, 2) == 0 or not denies:
        return rules, ()
    if flag(c):  # the allow an override is meant to let through: a deny's scope, granted
        used = {r.id for r in rules}
        allow_id = next(f"r{i}" for i in range(20) if f"r{i}" not in used)
        granted = gen_rule(c, gen, allow_id, "allow")
        rules = (*rules, replace(granted, scopes=pick(c, denies).scopes))
    cited = tuple(replace(r, citation=pick(c, CITATIONS)) for r in rules)
    return cited, tuple(gen_override(c, gen, cited, f"o{i}") for i in range(c.number(1, 3)))


def gen_spec(
    c: Choices,
    invariants: tuple[int, int] = (0, 3),
    derived: bool | None = None,
    theme: str | None = None,
    attributes: bool | None = None,
) -> Spec:
    """A random policy; ``invariants`` bounds how many invariants it states, ``derived`` says
    whether one rule is made from another (None: sometimes); ``theme`` one of :data:`THEMES`
    (None: any); ``attributes`` whether its terms have attributes (None: sometimes)."""
    theme = pick(c, THEMES) if theme is None else theme
    # Three integer keys take 10 to 12 values each: few cells, or the universe is too large.
    vocab = gen_vocab(c, c.number(1, 2) if theme == "integers" else 3, attributes)
    keys = gen_keys(c, theme, vocab)
    gen = ExprGen(c, vocab, keys, sparse=c.number(0, 2) == 0)
    ob_decls = tuple(d for name in vocab.obligations if (d := gen.ob_decl(name)) is not None)
    gen.ob_decls = {d.name: d for d in ob_decls}
    ids = permuted(c, [f"r{i}" for i in range(8)])
    rules = tuple(gen_rule(c, gen, ids[i]) for i in range(c.number(1, 2 if gen.sparse else 4)))
    if derived or (derived is None and c.number(0, 2) == 0):
        # A rule made from another: redundancy, shadowing, overlaps.
        # Written first: `fitted` drops rules from the end.
        rules = (derived_rule(c, gen, pick(c, rules), ids[len(rules)]), *rules)
    rules, overrides = with_overrides(c, gen, rules)
    invs = tuple(gen_invariant(c, gen, rules, f"inv{i}") for i in range(c.number(*invariants)))
    return Spec(vocab, keys, rules, invs, ob_decls, overrides)


def with_attribute_obligation(c: Choices, spec: Spec) -> Spec:
    """``spec`` with one more obligation clause on its first allow rule, whose condition reads
    an attribute of the request's terms (alone, with another test, negated or named): an
    obligation the allow may leave off for a term without a value (docs/semantics.md, 48)."""
    allows = [i for i, r in enumerate(spec.rules) if r.effect == "allow"]
    if not spec.vocab.attributes or not allows:
        return spec
    gen = ExprGen(c, spec.vocab, spec.keys, ob_decls=spec.ob_decls)
    test = gen.attribute()
    condition = pick(
        c,
        [
            test,
            ("and", (test, gen.leaf())),
            ("or", (gen.leaf(), test)),
            ("not", test),
            named(("or", (test, gen.leaf()))),
        ],
    )
    names = tuple(gen.obligation_use(n) for n in some(c, spec.vocab.obligations, 1, 2))
    index = allows[0]
    rule = spec.rules[index]
    rule = replace(rule, obligations=(*rule.obligations, (names, condition)))
    return replace(spec, rules=(*spec.rules[:index], rule, *spec.rules[index + 1 :]))


def with_named_attribute_test(c: Choices, spec: Spec) -> Spec:
    """``spec`` with its first rule's condition a named condition that reads an attribute of the
    request's terms and a key (the matrix shows such a name with the cell's values)."""
    if not spec.vocab.attributes or not spec.rules:
        return spec
    gen = ExprGen(c, spec.vocab, spec.keys, ob_decls=spec.ob_decls)
    parts = (gen.attribute(), gen.leaf())
    condition = named((pick(c, ["and", "or"]), parts if flag(c) else parts[::-1]))
    rule = replace(spec.rules[0], condition=condition if flag(c) else ("not", condition))
    return replace(spec, rules=(rule, *spec.rules[1:]))


# ---- mutations (for diff) ------------------------------------------------------------------------


def literal_sites(expr: Expr) -> list[tuple[Expr, Callable[[Expr], Expr]]]:
    """Every leaf of ``expr`` with a function that rebuilds ``expr`` with that leaf replaced."""
    tag = expr[0]
    if tag in ("and", "or"):
        out: list[tuple[Expr, Callable[[Expr], Expr]]] = []
        for i, operand in enumerate(expr[1]):
            for leaf, rebuild in literal_sites(operand):

                def outer(new: Expr, i: int = i, rebuild: Any = rebuild) -> Expr:
                    ops = list(expr[1])
                    ops[i] = rebuild(new)
                    return (tag, tuple(ops))

                out.append((leaf, outer))
        return out
    if tag == "not":
        inner: list[tuple[Expr, Callable[[Expr], Expr]]] = []
        for leaf, rebuild in literal_sites(expr[1]):

            def negated(new: Expr, rebuild: Callable[[Expr], Expr] = rebuild) -> Expr:
                return ("not", rebuild(new))

            inner.append((leaf, negated))
        return inner
    if tag == "named":
        # The body changes, so the name does (one name, one body).
        return [
            (leaf, lambda new, rebuild=rebuild: named(rebuild(new)))
            for leaf, rebuild in literal_sites(expr[2])
        ]

    def itself(new: Expr) -> Expr:
        return new

    return [(expr, itself)]


def tweak_leaf(c: Choices, spec: Spec, leaf: Expr) -> Expr | None:
    """The leaf with one constant changed, keeping it well typed; None when it has none."""
    if leaf[0] not in ("cmp", "in"):
        if leaf[0] == "truth" and leaf[1][0] == "lit":
            return ("truth", ("lit", not leaf[1][1]))
        return None
    left, right = leaf[2], leaf[3]
    keys = [spec.key(o[1]) for o in (left, right) if o[0] == "key"]
    enum = next((k for k in keys if k.base in ("enum", "strlist")), None)

    def other(value: Any) -> Any:
        if isinstance(value, bool):
            return not value
        if isinstance(value, int):
            return value + pick(c, [-2, -1, 1, 2])
        if isinstance(value, Decimal):
            return value + pick(c, [Decimal("-1"), Decimal("0.5"), Decimal("0.25"), 1])
        pool = enum.values if enum is not None else STRING_POOL
        if any(o[0] in ("attr", "kattr") for o in (left, right)):
            pool = ZONES  # the values of `data.zone`
        choices = [v for v in pool if v != value]
        return pick(c, choices) if choices else None

    for side in (3, 2):
        operand = leaf[side]
        if operand[0] == "lit":
            new = other(operand[1])
            if new is None:
                return None
            rebuilt = list(leaf)
            rebuilt[side] = ("lit", new)
            return tuple(rebuilt)
        if operand[0] == "list" and operand[1] is None and operand[2]:
            items = list(operand[2])
            i = c.number(0, len(items) - 1)
            new = other(items[i][1])
            if new is None:
                return None
            items[i] = ("lit", new)
            rebuilt = list(leaf)
            rebuilt[side] = ("list", None, tuple(dict.fromkeys(items)))
            return tuple(rebuilt)
    return None


MUTATIONS = (
    "add",
    "remove",
    "condition",
    "effect",
    "obligations",
    "exception",
    "default",
    "declaration",
    "attribute",
    "override",
)
"""The kinds of :func:`mutate`; anything else changes a constant of a condition."""


def _revalued(c: Choices, spec: Spec) -> tuple[Spec, str] | None:
    """One term given another value of an attribute, given one, or left without its own (then
    it inherits, or takes the default); a term whose parents come to disagree gets its own.
    Mostly an attribute some condition reads, and a change some term's value shows (a few
    tries): another changes no decision."""
    if not spec.vocab.attributes:
        return None
    read = {o[-1] for e in spec_exprs(spec) for leaf in leaves(e) for o in operands_of(leaf)
            if o[0] in ("attr", "kattr")}  # fmt: skip
    name = pick(c, sorted(read & set(spec.vocab.attributes) or spec.vocab.attributes))
    kind = ATTRIBUTES[name][0]
    for _ in range(4):
        term, own = _revalue_one(c, spec, name)
        vocab = replace(spec.vocab, attributes={**spec.vocab.attributes, name: own})
        if any(
            repr(vocab.attribute(name, t)) != repr(spec.vocab.attribute(name, t))
            for t in spec.vocab.terms(kind)
        ):
            break
    shown = lit_text(own[term]) if term in own else "none of its own"
    return replace(spec, vocab=vocab), f"term {term}: {kind}.{name} {shown}"


def _revalue_one(c: Choices, spec: Spec, name: str) -> tuple[str, dict[str, Any]]:
    """A term of the attribute's kind and the terms' own values once it is changed."""
    kind, _, base = ATTRIBUTES[name]
    own = dict(spec.vocab.attributes[name])
    term = pick(c, spec.vocab.terms(kind))
    choices: list[Any] = {
        "int": [-1, 0, 3],
        "str": list(ZONES),
        "bool": [True, False],
        "date": [DateValue("2024-02-29"), DateValue("2024-03-01"), DateValue("2023-12-31")],
    }[base]
    if term in own and flag(c):
        del own[term]
    else:
        own[term] = pick(c, [v for v in choices if repr(v) != repr(own.get(term))])
    resolved: dict[str, Any] = {}
    for t, parents in spec.vocab.parents[kind].items():  # parents come first
        inherited = {repr(resolved[p]): resolved[p] for p in parents if p in resolved}
        if t not in own and len(inherited) > 1:
            own[t] = next(iter(inherited.values()))  # the checker refuses parents that disagree
        if t in own:
            resolved[t] = own[t]
        elif inherited:
            resolved[t] = next(iter(inherited.values()))
    return term, own


def _redeclared(c: Choices, gen: ExprGen, spec: Spec) -> tuple[Spec, str] | None:
    """An obligation declared with another condition, or its parameter with another default."""
    if not spec.ob_decls:
        return None
    decl = pick(c, spec.ob_decls)
    if decl.default is not None and flag(c):
        values = DECIMAL_ARGUMENTS if decl.kind == "decimal" else (*INT_CONSTANTS, 3)
        default = pick(c, [v for v in values if v != decl.default])
        new = replace(decl, default=default)
    else:
        new = replace(decl, when=None if decl.when is not None and flag(c) else gen.leaf())
    decls = tuple(new if d is decl else d for d in spec.ob_decls)
    return replace(spec, ob_decls=decls), f"obligation {decl.name}: declared anew"


def mutate(c: Choices, spec: Spec, kind: str | None = None) -> tuple[Spec, str]:
    """Another version of ``spec``: one rule added, removed, its condition, effect or obligations
    changed, an exception added, a key's default changed (``kind``, one of :data:`MUTATIONS`) or
    a term's attribute value changed, an override changed, or a constant of a condition changed
    ("constant"); None picks one."""
    gen = ExprGen(c, spec.vocab, spec.keys, ob_decls=spec.ob_decls)
    rules = list(spec.rules)
    what = c.number(0, 10) if kind is None else [*MUTATIONS, "constant"].index(kind)
    index = c.number(0, len(rules) - 1)
    rule = rules[index]
    if what == 9 and any(r.effect == "deny" for r in rules):
        return _mutate_override(c, gen, spec)
    if what == 8 and (revalued := _revalued(c, spec)) is not None:
        return revalued
    if what == 0:
        used = {r.id for r in rules}
        new_id = next(f"r{i}" for i in range(20) if f"r{i}" not in used)
        rules.insert(c.number(0, len(rules)), gen_rule(c, gen, new_id))
        return replace(spec, rules=tuple(rules)), f"rule {new_id} added"
    if what == 1:
        del rules[index]
        return replace(spec, rules=tuple(rules)), f"rule {rule.id} removed"
    if what == 2:
        condition = None if c.number(0, 4) == 0 else gen.expr()
        rules[index] = replace(rule, condition=condition)
        return replace(spec, rules=tuple(rules)), f"rule {rule.id}: new condition"
    if what == 3:
        effect = "deny" if rule.effect == "allow" else "allow"
        rules[index] = replace(rule, effect=effect, obligations=())
        return replace(spec, rules=tuple(rules)), f"rule {rule.id}: now {effect}"
    if what == 4 and rule.effect == "allow":
        changed = gen_rule(c, gen, rule.id, "allow")
        rules[index] = replace(rule, obligations=changed.obligations)
        return replace(spec, rules=tuple(rules)), f"rule {rule.id}: new obligations"
    if what == 5:
        rules[index] = replace(rule, exceptions=(*rule.exceptions, gen.expr(depth=1)))
        return replace(spec, rules=tuple(rules)), f"rule {rule.id}: one more exception"
    if what == 6:
        # Dates and instants have no default (facts the request states).
        defaulted = [k for k in spec.keys if k.base not in ("date", "instant")]
        # Mostly a key some test compares with another key: its default is a value the other
        # key must be compared with too.
        paired = {
            name
            for r in rules
            for e in rule_exprs(r)
            for leaf in leaves(e)
            if len(names := {o[1] for o in operands_of(leaf) if o[0] == "key"}) > 1
            for name in names
        }
        if flag(c):
            defaulted = [k for k in defaulted if k.name in paired] or defaulted
        if defaulted:
            key = pick(c, defaulted)
            by_type: dict[str, list[Any]] = {
                "bool": [True, False],
                "int": list(INT_CONSTANTS),
                "dec": list(DECIMAL_CONSTANTS),
                "str": list(STRING_POOL),
                "enum": list(key.values),
                "strlist": [tuple(s) for s in subsets(key.values)],
                "anylist": [(), *((s,) for s in STRING_POOL)],
                "set": [tuple(s) for s in subsets(spec.vocab.terms(key.kind or "party"))][:4],
                "term": spec.vocab.terms(key.kind or "party"),
            }
            options = [None, *by_type[key.base]]
            options = [o for o in options if repr(o) != repr(key.default)]
            new_key = replace(key, default=pick(c, options))
            keys = tuple(new_key if k is key else k for k in spec.keys)
            return replace(spec, keys=keys), f"key {key.name}: default {new_key.default!r}"
    if what == 7 and (redeclared := _redeclared(c, gen, spec)) is not None:
        return redeclared
    # A constant of a condition.
    sites: list[tuple[int, str, int, Expr, Callable[[Expr], Expr]]] = []
    for i, r in enumerate(rules):
        exprs = [("condition", 0, r.condition)] if r.condition is not None else []
        exprs += [("exception", n, e) for n, e in enumerate(r.exceptions)]
        for where, n, e in exprs:
            for leaf, rebuild in literal_sites(e):
                sites.append((i, where, n, leaf, rebuild))
    for _ in range(4):
        if not sites:
            break
        i, where, n, leaf, rebuild = pick(c, sites)
        new_leaf = tweak_leaf(c, spec, leaf)
        if new_leaf is None:
            continue
        r = rules[i]
        if where == "condition":
            rules[i] = replace(r, condition=rebuild(new_leaf))
        else:
            exceptions = list(r.exceptions)
            exceptions[n] = rebuild(new_leaf)
            rules[i] = replace(r, exceptions=tuple(exceptions))
        return replace(spec, rules=tuple(rules)), f"rule {r.id}: a constant changed"
    # Nothing to tweak: change the rule's condition instead.
    rules[index] = replace(rule, condition=gen.expr())
    return replace(spec, rules=tuple(rules)), f"rule {rule.id}: new condition"


def _mutate_override(c: Choices, gen: ExprGen, spec: Spec) -> tuple[Spec, str]:
    """An override added, removed, or given another condition or other obligations."""
    overrides = list(spec.overrides)
    used = {o.id for o in overrides}
    if not overrides or c.number(0, 3) == 0:
        new_id = next(f"o{i}" for i in range(20) if f"o{i}" not in used)
        overrides.append(gen_override(c, gen, spec.rules, new_id))
        return replace(spec, overrides=tuple(overrides)), f"override {new_id} added"
    index = c.number(0, len(overrides) - 1)
    override = overrides[index]
    what = c.number(0, 3)
    if what == 0:
        del overrides[index]
        change = "removed"
    elif what == 1:
        overrides[index] = replace(override, condition=gen.expr(1))
        change = "new condition"
    elif what == 2 and override.obligations:  # the same clauses, other names: only names change
        pool = gen.vocab.obligations
        clauses = tuple(
            (tuple(gen.obligation_use(n) for n in some(c, pool, 1, 2)), w)
            for _, w in override.obligations
        )
        overrides[index] = replace(override, obligations=clauses)
        change = "obligations renamed"
    else:
        fresh = gen_override(c, gen, spec.rules, override.id)
        overrides[index] = replace(override, obligations=fresh.obligations)
        change = "new obligations"
    return replace(spec, overrides=tuple(overrides)), f"override {override.id}: {change}"


# ---- reading the model ---------------------------------------------------------------------------


def leaves(expr: Expr) -> Iterator[Expr]:
    if expr[0] in ("and", "or"):
        for operand in expr[1]:
            yield from leaves(operand)
    elif expr[0] == "not":
        yield from leaves(expr[1])
    elif expr[0] == "named":
        yield from leaves(expr[2])
    else:
        yield expr


def operands_of(leaf: Expr) -> list[Expr]:
    """The operands of a leaf, list literals opened, moved dates read as what they move (`now`
    as its key)."""
    if leaf[0] == "known":
        return []
    found = [leaf[1]] if leaf[0] in ("truth", "aknown") else [leaf[2], leaf[3]]
    out = []
    for operand in found:
        while operand[0] == "shift":
            operand = operand[1]
        if operand[0] == "now":
            operand = ("key", operand[1])
        out += operand[2] if operand[0] == "list" else [operand]
    return out


def attribute_name(operand: Expr) -> str | None:
    """The attribute an ``attr`` or ``kattr`` operand reads, None for other operands."""
    return str(operand[-1]) if operand[0] in ("attr", "kattr") else None


def expr_keys(expr: Expr) -> set[str]:
    found: set[str] = set()
    for leaf in leaves(expr):
        if leaf[0] == "known":
            found.add(leaf[1])
        # a key, or the key of one term whose term's attribute is read
        found |= {o[1] for o in operands_of(leaf) if o[0] in ("key", "kattr")}
    return found


def invariant_exprs(inv: InvariantSpec) -> list[Expr]:
    return ([inv.condition] if inv.condition is not None else []) + list(inv.exceptions)


def override_exprs(spec: Spec, override: OverrideSpec) -> list[Expr]:
    """The override's condition and its clauses', with the declared conditions of the
    obligations it requires."""
    declared = {use_parts(use)[0] for names, _ in override.obligations for use in names}
    whens = [d.when for d in spec.ob_decls if d.name in declared and d.when is not None]
    return [override.condition] + [w for _, w in override.obligations if w is not None] + whens


def rule_exprs_in(spec: Spec, rule: RuleSpec) -> list[Expr]:
    """The rule's conditions, with the declared conditions of the obligations it requires."""
    declared = {use_parts(use)[0] for names, _ in rule.obligations for use in names}
    whens = [d.when for d in spec.ob_decls if d.name in declared and d.when is not None]
    return rule_exprs(rule) + whens


def spec_exprs(spec: Spec) -> list[Expr]:
    return (
        [e for r in spec.rules for e in rule_exprs(r)]
        + [e for i in spec.invariants for e in invariant_exprs(i)]
        + [d.when for d in spec.ob_decls if d.when is not None]
        + [
            e
            for o in spec.overrides
            if lifted_ids(spec.rules, o)  # an override that lifts nothing is not written
            for e in override_exprs(spec, o)
        ]
    )


def in_scope(vocab: Vocab, kind: str, term: str, names: Iterable[str] | None) -> bool:
    return names is None or bool(set(names) & ancestors(vocab, kind, term))


def rule_covers(vocab: Vocab, rule: RuleSpec, cell: tuple[str, str, str]) -> bool:
    return all(in_scope(vocab, k, t, s) for k, t, s in zip(KINDS, cell, rule.scopes, strict=True))


def invariant_covers(vocab: Vocab, inv: InvariantSpec, cell: tuple[str, str, str]) -> bool:
    for kind, term, (names, excepts) in zip(KINDS, cell, inv.scopes, strict=True):
        if not in_scope(vocab, kind, term, names):
            return False
        if excepts and in_scope(vocab, kind, term, excepts):
            return False
    return True


def descendants(vocab: Vocab, kind: str, term: str) -> set[str]:
    return {t for t in vocab.terms(kind) if term in ancestors(vocab, kind, t)}


def cells_of(vocab: Vocab) -> list[tuple[str, str, str]]:
    return list(itertools.product(*(vocab.terms(k) for k in KINDS)))  # type: ignore[arg-type]


def subsets(items: Sequence[Any]) -> list[list[Any]]:
    return [list(c) for n in range(len(items) + 1) for c in itertools.combinations(items, n)]


# ---- the reference evaluator, taught the per-policy schema ---------------------------------------


class SoundReference(Reference):
    """The reference evaluator of ``test_properties`` (its own Kleene logic, ancestor closure and
    missing keys), over the keys a :class:`Spec` declares, with their defaults."""

    def __init__(self, spec: Spec, request: Request) -> None:
        self.spec = spec  # type: ignore[assignment]
        self.vocab = spec.vocab
        self.request = request
        self.terms = {"party": request.party, "data": request.data, "purpose": request.purpose}
        self.ctx: dict[str, Any] = {}
        for key in spec.keys:
            value = request.context.get(key.name)
            if value is None:
                value = key.default
            if value is not None:
                self.ctx[key.name] = value
        self._values: dict[str, tuple[Truth, set[str]]] = {}
        self.time_kinds = {k.name: k.base for k in spec.keys if k.base in ("date", "instant")}

    def kind_of(self, node: Expr) -> str | None:
        if node[0] == "key":
            return self.spec.key(node[1]).kind  # type: ignore[attr-defined, no-any-return]
        return super().kind_of(node)

    def is_key(self, name: str) -> bool:
        return any(k.name == name for k in self.spec.keys)  # type: ignore[attr-defined]

    def is_term_key(self, node: Expr) -> bool:
        return node[0] == "key" and self.spec.key(node[1]).base == "term"  # type: ignore[attr-defined]

    def rule_value(self, rule: RuleSpec) -> tuple[Truth, set[str]]:
        cached = self._values.get(rule.id)
        if cached is None:
            cached = super().rule_value(rule)
            self._values[rule.id] = cached
        return cached

    def applies(self, rule: RuleSpec) -> bool:
        """docs/analysis.md: an allow applies when its value is true; a deny also when unknown
        (it fails closed)."""
        value = self.rule_value(rule)[0]
        return value is True if rule.effect == "allow" else value is not False

    def requirement(self, use: str, condition: Expr | None) -> tuple[str, str, Expr | None]:
        """An obligation's text with its argument (the default when none is written), and its
        declared condition and-ed with the clause's own."""
        name, argument = use_parts(use)
        decl = self.spec.ob_decl(name)
        if decl is None:
            return use, name, condition
        text = name
        if decl.param is not None:
            written = str(decl.default) if argument is None else argument
            text += f"({decl.param} = {decl.argument_text(written)})"
        when = decl.when
        if condition is not None:
            when = condition if when is None else ("and", (when, condition))
        return text, name, when

    def in_invariant_region(self, inv: InvariantSpec) -> bool:
        """`when` true and no `unless` certainly true."""
        if inv.condition is not None and self.value(inv.condition)[0] is not True:
            return False
        return not any(self.value(e)[0] is True for e in inv.exceptions)


# ---- the universe --------------------------------------------------------------------------------


MISSING_VALUE = None
"""In a universe's value list: the request leaves the key out."""


def attribute_values(specs: Sequence[Spec], name: str) -> list[Any]:
    """Every value some term of some version gives the attribute ``name``, and its defaults."""
    found = [v for s in specs for v in s.vocab.attributes.get(name, {}).values()]
    defaults = [s.vocab.attribute_defaults.get(name) for s in specs]
    return found + [d for d in defaults if d is not None]


class SoundUniverse:
    """Every value each key may take, built from the text of one or more versions of a policy
    (they share their keys' names and types; see the module docstring for why it is enough)."""

    def __init__(self, specs: Sequence[Spec]) -> None:
        exprs = [e for s in specs for e in spec_exprs(s)]
        read = set().union(*(expr_keys(e) for e in exprs)) if exprs else set()
        keys = {k.name: k for s in specs for k in s.keys}
        literals = [
            o[1] for e in exprs for leaf in leaves(e) for o in operands_of(leaf) if o[0] == "lit"
        ]
        # An attribute of a term (the request's, or the one a key names) is, in each cell and
        # for each term of the key, one of the values terms have.
        for e in exprs:
            for leaf in leaves(e):
                for o in operands_of(leaf):
                    if (name := attribute_name(o)) is not None:
                        literals += attribute_values(specs, name)
        defaults = [k.default for s in specs for k in s.keys if k.default is not None]
        constants = [v for v in literals + defaults if not isinstance(v, bool)]
        numbers = [v for v in constants if isinstance(v, int | Decimal)]
        n_numbers = sum(1 for name in read if keys[name].base in NUMBERS)
        low = math.floor(min(numbers, default=0)) - n_numbers - 1
        high = math.ceil(max(numbers, default=0)) + n_numbers + 1
        # The strings that free string keys and `list of string` keys can be told apart by: the
        # constants of the tests that read one of those keys, the values of the enumerated keys
        # such a test compares them with, and the defaults of string keys.
        strings = {v for v in defaults if isinstance(v, str)}
        # The strings of a `list of string` key's default (a list of them is in its domain).
        strings |= {
            v for s in specs for k in s.keys if k.base == "anylist" for v in k.default or ()
        }
        for leaf in (leaf for e in exprs for leaf in leaves(e)):
            operands = operands_of(leaf)
            names = {o[1] for o in operands if o[0] == "key"}
            if any(keys[n].base in ("str", "anylist") for n in names):
                strings |= {o[1] for o in operands if o[0] == "lit" and isinstance(o[1], str)}
                for o in operands:
                    if (name := attribute_name(o)) is not None:
                        strings |= {v for v in attribute_values(specs, name) if isinstance(v, str)}
                for name in names:
                    strings |= set(keys[name].values)
        n_strings = sum(1 for name in read if keys[name].base == "str")
        self.strings = sorted(strings) + [f"{FRESH}{i}" for i in range(n_strings)]
        dates = {n: attribute_values(specs, n) for n, a in ATTRIBUTES.items() if a[2] == "date"}
        self.time = _time_universe(keys, exprs, dates)
        self.ints = list(range(low, high + 1))
        # A decimal key equals any whole number or decimal constant, or lies strictly between
        # two consecutive ones, one value apart for each decimal key read.
        n_decimals = sum(1 for name in read if keys[name].base == "dec")
        points = sorted({Decimal(v) for v in [*self.ints, *numbers]})
        self.decimals = list(points)
        for a, b in itertools.pairwise(points):
            self.decimals += [a + (b - a) * k / (n_decimals + 1) for k in range(1, n_decimals + 1)]
        self.values: dict[str, list[Any]] = {}
        for name, key in keys.items():
            domains: dict[str, list[Any]] = {
                "bool": [True, False],
                "int": self.ints,
                "dec": self.decimals,
                "str": self.strings,
                "enum": list(key.values),
                "strlist": subsets(key.values),
                "anylist": subsets(self.strings),
                "set": subsets(specs[0].vocab.terms(key.kind or "party")),
                "term": specs[0].vocab.terms(key.kind or "party"),
                "date": [],
                "instant": [],
            }
            values = domains[key.base]
            declared = {repr(s.key(name).default) for s in specs}
            if declared != {repr(key.default)} or key.default is None:
                values = [MISSING_VALUE, *values]  # missing (no default, or they differ)
            self.values[name] = values

    def size(self, keys: Iterable[str]) -> int:
        keys = list(keys)
        if getattr(self.time, "too_large", False):
            return 10**9  # a ring with more combinations than a brute force can walk
        n = len(self.time.contexts(keys))
        for key in keys:
            if key not in self.time.kinds:
                n *= len(self.values[key])
        return n

    def contexts(self, keys: Iterable[str]) -> Iterator[dict[str, Any]]:
        """Every combination of the keys' values (time keys as ``soundness_time`` says)."""
        keys = list(keys)
        timed = self.time.contexts(keys)
        ordered = sorted(k for k in keys if k not in self.time.kinds)
        for combo in itertools.product(*(self.values[k] for k in ordered)):
            plain = {k: v for k, v in zip(ordered, combo, strict=True) if v is not MISSING_VALUE}
            for times in timed:
                yield {**plain, **times}


def _time_universe(
    keys: dict[str, Key], exprs: list[Expr], dates: dict[str, list[Any]]
) -> soundness_time.TimeUniverse | soundness_cycles.RingUniverse:
    kinds = {name: key.base for name, key in keys.items() if key.base in ("date", "instant")}
    paired = next((k for k in keys.values() if k.pair is not None), None)
    now = next((k.name for k in keys.values() if k.now), None)
    ringed = next((k for k in keys.values() if k.ring), None)
    if ringed is not None:
        # The ring's keys first; the hanging key's points follow `now`'s values.
        ring = sorted({k for link in ringed.ring for k in link})
        hanging = (ringed.name, paired.name) if paired is not None else None
        found = [leaf for e in exprs for leaf in leaves(e)]
        return soundness_cycles.RingUniverse(kinds, ring, hanging, found, dates)
    pair = None
    if paired is not None and paired.pair is not None and now is not None:
        # The key that carries the offset comes first (the other key's points follow it).
        pair = (paired.name, now) if paired.pair[0] == "leaf" else (now, paired.name)
    leaves_found = [leaf for e in exprs for leaf in leaves(e)]
    return soundness_time.TimeUniverse(kinds, pair, leaves_found, dates)


def cell_keys(
    specs: Sequence[Spec], cell: tuple[str, str, str], invariants: bool = True
) -> set[str]:
    """The keys the rules covering a cell (in any version) and the invariants about it read."""
    keys: set[str] = set()
    for spec in specs:
        covering = set()
        for rule in spec.rules:
            if rule_covers(spec.vocab, rule, cell):
                covering.add(rule.id)
                for e in rule_exprs_in(spec, rule):
                    keys |= expr_keys(e)
        for override in spec.overrides:  # an override of a deny covering the cell reads its keys
            if covering & set(lifted_ids(spec.rules, override)):
                for e in override_exprs(spec, override):
                    keys |= expr_keys(e)
        if invariants:
            for inv in spec.invariants:
                if invariant_covers(spec.vocab, inv, cell):
                    for e in invariant_exprs(inv):
                        keys |= expr_keys(e)
    return keys


def universe_cost(specs: Sequence[Spec], universe: SoundUniverse | None = None) -> int:
    """How many (cell, context) requests the brute force decides."""
    universe = universe or SoundUniverse(specs)
    return sum(universe.size(cell_keys(specs, cell)) for cell in cells_of(specs[0].vocab))


def fitted(spec: Spec, limit: int) -> Spec | None:
    """``spec`` with invariants then rules dropped from the end until its universe has at most
    ``limit`` requests; None when even one rule is too many."""
    while universe_cost([spec]) > limit:
        if spec.invariants:
            spec = replace(spec, invariants=spec.invariants[:-1])
        elif spec.overrides:
            spec = replace(spec, overrides=spec.overrides[:-1])
        elif len(spec.rules) > 1:
            spec = replace(spec, rules=spec.rules[:-1])
        else:
            return None
    return spec


# ---- comparing the verdicts ----------------------------------------------------------------------


class HarnessError(Exception):
    """The harness itself is wrong (a generated policy does not load): never the engine's fault."""


@dataclass(frozen=True)
class Disagreement:
    verdict: str
    message: str
    policy: str
    request: Request | None = None
    other_policy: str | None = None

    def render(self) -> str:
        out = f"[{self.verdict}] {self.message}\n"
        if self.request is not None:
            r = self.request
            out += f"request: {r.party}, {r.data}, {r.purpose}, {dict(r.context)}\n"
        if self.other_policy is not None:
            out += f"--- old policy ---\n{self.policy}--- new policy ---\n{self.other_policy}"
        else:
            out += f"--- policy ---\n{self.policy}"
        return out


def decide(policy: policy_engine.Policy, request: Request) -> policy_engine.Decision:
    """The engine's decision, dotted keys sent as nested objects (``{"rec": {"ks0": …}}``), as
    a request about a record would send them."""
    return policy.decide(request.party, request.data, request.purpose, nested(request.context))


def nested(context: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in context.items():
        *path, last = key.split(".")
        into = out
        for part in path:
            into = into.setdefault(part, {})
        into[last] = value
    return out


def outcome(d: policy_engine.Decision) -> tuple[str, tuple[str, ...]]:
    """The effect and each obligation with its arguments (``ob1(n = 2)``)."""
    return d.effect, tuple(o.text for o in d.obligation_details)


def check_text(text: str) -> tuple[list[policy_engine.Diagnostic], str]:
    """``check_policy`` of ``text`` written to a temporary file, and that file's path."""
    with tempfile.TemporaryDirectory(prefix="soundness-") as folder:
        path = Path(folder) / "p.policy"
        path.write_text(text, encoding="utf-8")
        return check_policy(path), os.fspath(path)


def counterexample_request(help_text: str | None) -> Request:
    """The request of a broken invariant's ``counterexample: policy-engine decide …`` help."""
    assert help_text is not None and help_text.startswith("counterexample: policy-engine decide ")
    argv = shlex.split(help_text.removeprefix("counterexample: "))
    options = dict(zip(argv[3::2], argv[4::2], strict=True))
    context = json.loads(options["--context"])
    return Request(options["--party"], options["--data"], options["--purpose"], context)


UNDECIDED_PATTERNS = {
    "invariant": re.compile(r"^invariant `([^`]+)` could not be decided"),
    "never-applies": re.compile(r"^whether rule `([^`]+)` can apply could not be decided"),
    "redundant-rule": re.compile(r"^whether rule `([^`]+)` is redundant could not be decided"),
    "deny-overrides-allow": re.compile(r"^whether `([^`]+)` and `([^`]+)` overlap could not be"),
    "override": re.compile(r"^whether override `([^`]+)` lifts a deny could not be decided"),
    "left-off": re.compile(r"^whether rule `([^`]+)` leaves an obligation off could not be"),
}
"""The questions ``check`` may leave open (``analysis-undecided``), by their verdict."""

FINDING_PATTERNS = {
    "never-applies": re.compile(r"rule `([^`]+)` can never apply"),
    "shadowed-by-deny": re.compile(r"allow rule `([^`]+)` can never grant"),
    "redundant-rule": re.compile(r"rule `([^`]+)` is redundant"),
    "deny-overrides-allow": re.compile(r"deny `([^`]+)` overrides allow `([^`]+)`"),
    "invariant-broken": re.compile(r"invariant `([^`]+)` is broken"),
    "override-never-lifts": re.compile(r"override `([^`]+)` never lifts anything"),
    "override-changes-nothing": re.compile(r"override `([^`]+)` changes no decision"),
    "obligation-attribute-unknown": re.compile(
        r"^obligation `([^`]+)` of `([^`]+)` can be left off an allow: its condition is unknown "
        r"where (.*)$"
    ),
}
LEFT_OFF_PART = re.compile(r"`([^`]+)` has no value for ((?:`[^`]+`(?:, )?)+)")


@dataclass
class Findings:
    never: set[str] = field(default_factory=set)
    shadowed: set[str] = field(default_factory=set)
    redundant: set[str] = field(default_factory=set)
    overlaps: set[tuple[str, str]] = field(default_factory=set)
    broken: dict[str, policy_engine.Diagnostic] = field(default_factory=dict)
    never_lifts: set[str] = field(default_factory=set)
    changes_nothing: set[str] = field(default_factory=set)
    left_off: set[tuple[str, str, str, str]] = field(default_factory=set)
    """(rule or override, obligation, attribute, term): ``obligation-attribute-unknown``."""
    undecided: dict[str, list[tuple[str, ...]]] = field(default_factory=dict)
    """verdict → the subjects (ids) of the questions left open, each with its message last."""
    errors: list[policy_engine.Diagnostic] = field(default_factory=list)


def read_findings(diagnostics: Iterable[policy_engine.Diagnostic]) -> Findings:
    found = Findings()
    for d in diagnostics:
        if d.code == "analysis-undecided":
            for verdict, undecided_pattern in UNDECIDED_PATTERNS.items():
                if m := undecided_pattern.search(d.message):
                    found.undecided.setdefault(verdict, []).append((*m.groups(), d.message))
                    break
            else:
                found.undecided.setdefault("crash", []).append((d.message,))
            continue
        if d.severity == "error" and d.code != "invariant-broken":
            found.errors.append(d)
        pattern = FINDING_PATTERNS.get(d.code)
        if pattern is None:
            continue
        match = pattern.search(d.message)
        assert match is not None, f"unexpected message for {d.code}: {d.message}"
        if d.code == "never-applies":
            found.never.add(match[1])
        elif d.code == "shadowed-by-deny":
            found.shadowed.add(match[1])
        elif d.code == "redundant-rule":
            found.redundant.add(match[1])
        elif d.code == "deny-overrides-allow":
            found.overlaps.add((match[1], match[2]))
        elif d.code == "override-never-lifts":
            found.never_lifts.add(match[1])
        elif d.code == "override-changes-nothing":
            found.changes_nothing.add(match[1])
        elif d.code == "obligation-attribute-unknown":
            for attribute, terms in LEFT_OFF_PART.findall(match[3]):
                for term in re.findall(r"`([^`]+)`", terms):
                    found.left_off.add((match[2], match[1], attribute, term))
        else:
            found.broken[match[1]] = d
    return found


@dataclass
class BruteFacts:
    """What the brute force saw over the whole universe of one policy."""

    requests: int = 0
    applies: dict[str, bool] = field(default_factory=dict)
    grants: dict[str, bool] = field(default_factory=dict)
    """allow rule → it is among the reasons of some allow decision."""
    overlaps: dict[tuple[str, str], Request] = field(default_factory=dict)
    broken: dict[str, Request] = field(default_factory=dict)
    lifts: dict[str, bool] = field(default_factory=dict)
    """override → it lifts a deny (that would otherwise apply) on some request."""
    lifts_allowed: dict[str, bool] = field(default_factory=dict)
    """override → it does so on some request that is allowed."""
    left_off: dict[tuple[str, str, str, str], Request] = field(default_factory=dict)
    """(rule or override, obligation, attribute, term) → an allowed request that the rule grants
    (or the override's clause comes with) without the obligation, its condition unknown for want
    of the term's value of the attribute (docs/semantics.md, 48)."""
    decide_mismatches: list[tuple[Request, dict[str, Any], dict[str, Any]]] = field(
        default_factory=list
    )


def brute_force(spec: Spec, policy: policy_engine.Policy, universe: SoundUniverse) -> BruteFacts:
    facts = BruteFacts()
    facts.applies = {r.id: False for r in spec.rules}
    facts.grants = {r.id: False for r in spec.rules if r.effect == "allow"}
    live = [(o, ids) for o in spec.overrides if (ids := lifted_ids(spec.rules, o))]
    facts.lifts = {o.id: False for o, _ in live}
    facts.lifts_allowed = {o.id: False for o, _ in live}
    vocab = spec.vocab
    for cell in cells_of(vocab):
        candidates = [r for r in spec.rules if rule_covers(vocab, r, cell)]
        denies = [r for r in candidates if r.effect == "deny"]
        allows = [r for r in candidates if r.effect == "allow"]
        invariants = [i for i in spec.invariants if invariant_covers(vocab, i, cell)]
        for context in universe.contexts(cell_keys([spec], cell)):
            request = Request(*cell, context)
            d = decide(policy, request)
            facts.requests += 1
            ref = SoundReference(spec, request)
            expected = ref.decide()
            got = {
                "effect": d.effect,
                "obligations": sorted(d.obligations),
                "details": [o.text for o in d.obligation_details],
                "reasons": [r.id for r in d.reasons],
                "missing": list(d.missing),
                "undetermined": undetermined_of(d),
            }
            if got != expected and len(facts.decide_mismatches) < 3:
                facts.decide_mismatches.append((request, expected, got))
            applying = {r.id for r in candidates if ref.applies(r)}
            for rule_id in applying:
                facts.applies[rule_id] = True
            if d.effect == "allow":
                for reason in d.reasons:
                    facts.grants[reason.id] = True
            for text, by, _, attributes in expected["undetermined"]:
                for attribute in attributes:
                    if attribute.partition(".")[0] not in KINDS:
                        continue  # a key's term's: the finding is about the request's terms
                    term = request_term(request, attribute.partition(".")[0])
                    facts.left_off.setdefault((by, text, attribute, term), request)
            for override, ids in live:
                lifting = ref.value(override.condition)[0] is True and any(
                    ref.own_value(r)[0] is not False for r in denies if r.id in ids
                )
                facts.lifts[override.id] |= lifting
                facts.lifts_allowed[override.id] |= lifting and d.effect == "allow"
            for deny in denies:
                if deny.id in applying:
                    for allow in allows:
                        if allow.id in applying:
                            facts.overlaps.setdefault((deny.id, allow.id), request)
            for inv in invariants:
                if (
                    inv.id not in facts.broken
                    and d.effect != inv.expect
                    and ref.in_invariant_region(inv)
                ):
                    facts.broken[inv.id] = request
    return facts


class Realisation(Protocol):
    """How a :class:`Spec` becomes a policy the engine reads: as one rule file (:data:`FLAT`),
    or laid out in package folders (``tests/soundness_layouts.py``). Whatever the layout, the
    policy it loads decides, and ``check`` and ``diff`` report, in the spec's own names."""

    def text(self, spec: Spec) -> str:
        """What a disagreement shows of the policy."""
        ...

    def load(self, spec: Spec) -> Any:
        """The policy: its ``decide`` takes and answers the spec's names."""
        ...

    def check(
        self, spec: Spec, policy: Any
    ) -> tuple[list[policy_engine.Diagnostic], dict[str, bool]]:
        """``check``'s diagnostics, and for each invariant whether ``invariant_diagnostics``
        finds a counterexample."""
        ...

    def diff(self, old: Any, new: Any) -> Any:
        """``diff_policies`` of two loaded versions (a ``DiffReport`` in the spec's names)."""
        ...


class _Flat:
    """Each spec as one rule file (:func:`spec_text`)."""

    def text(self, spec: Spec) -> str:
        return spec_text(spec)

    def load(self, spec: Spec) -> policy_engine.Policy:
        return load_policy_text(spec_text(spec))

    def check(
        self, spec: Spec, policy: policy_engine.Policy
    ) -> tuple[list[policy_engine.Diagnostic], dict[str, bool]]:
        from policy_engine.analysis.findings import invariant_diagnostics

        diagnostics, path = check_text(spec_text(spec))
        _, results = invariant_diagnostics(policy.compiled, path)
        return diagnostics, {r.invariant.id.value: r.counterexample is not None for r in results}

    def diff(self, old: policy_engine.Policy, new: policy_engine.Policy) -> Any:
        from policy_engine.analysis.diff import diff_policies

        return diff_policies(old, new)


FLAT: Realisation = _Flat()


def compare_check(
    spec: Spec, tally: Counter[str] | None = None, realise: Realisation = FLAT
) -> tuple[int, list[Disagreement]]:
    """Every verdict of ``check`` on ``spec`` (as ``realise`` writes it) against the brute
    force; (requests decided, disagreements). ``tally`` counts the verdicts compared (by what
    check said)."""
    text = realise.text(spec)
    try:
        policy = realise.load(spec)
    except policy_engine.PolicyError as exc:
        raise HarnessError(f"the generated policy does not load: {exc}\n{text}") from exc
    try:
        diagnostics, proved = realise.check(spec, policy)
    except Exception as exc:
        crash = Disagreement("crash", f"check raised {type(exc).__name__}: {exc}", text)
        facts = brute_force(spec, policy, SoundUniverse([spec]))  # decisions are still compared
        return facts.requests, [crash, *_decide_disagreements(facts, text)]
    found = read_findings(diagnostics)
    if found.errors:
        messages = "\n".join(d.message for d in found.errors)
        raise HarnessError(f"check finds errors in the generated policy:\n{messages}\n{text}")
    universe = SoundUniverse([spec])
    facts = brute_force(spec, policy, universe)
    out: list[Disagreement] = []
    requests = facts.requests

    def disagree(verdict: str, message: str, request: Request | None = None) -> None:
        out.append(Disagreement(verdict, message, text, request))

    out += _decide_disagreements(facts, text)
    # A question check leaves open is a disagreement of its own (these policies are tiny: no
    # budget should run out), and is not compared again below.
    open_questions: dict[str, set[tuple[str, ...]]] = {}
    for verdict, questions in found.undecided.items():
        for question in questions:
            disagree(verdict, f"check could not decide: {question[-1]}")
            open_questions.setdefault(verdict, set()).add(question[:-1])
    if tally is not None:
        tally["check: policies"] += 1
        for inv in spec.invariants:
            state = "broken" if inv.id in found.broken else "holds"
            tally[
                f"check: `{'never' if inv.claim == 'never' else 'always ' + inv.claim}` {state}"
            ] += 1
        tally["check: rule applies"] += sum(r.id not in found.never for r in spec.rules)
        tally["check: never-applies"] += len(found.never)
        tally["check: shadowed-by-deny"] += len(found.shadowed)
        tally["check: redundant-rule"] += len(found.redundant)
        tally["check: deny-overrides-allow"] += len(found.overlaps)

    # 1. invariants
    for inv in spec.invariants:
        if (inv.id,) in open_questions.get("invariant", set()):
            continue
        reported = inv.id in found.broken
        witness = facts.broken.get(inv.id)
        if proved.get(inv.id) != reported:
            disagree("invariant", f"check and invariant_diagnostics disagree on `{inv.id}`")
        if reported != (witness is not None):
            if witness is not None:
                effect = decide(policy, witness).effect
                disagree(
                    "invariant",
                    f"`{inv.id}` is reported to hold, but this request in its scope is decided "
                    f"{effect}",
                    witness,
                )
            else:
                disagree(
                    "invariant",
                    f"`{inv.id}` is reported broken, but no request of the universe breaks it",
                )
        if reported:
            request = counterexample_request(found.broken[inv.id].help)
            requests += 1
            cell = (request.party, request.data, request.purpose)
            ref = SoundReference(spec, request)
            effect = decide(policy, request).effect
            if not (
                invariant_covers(spec.vocab, inv, cell)
                and ref.in_invariant_region(inv)
                and effect != inv.expect
            ):
                disagree(
                    "invariant",
                    f"the counterexample of `{inv.id}` does not break it (decided {effect})",
                    request,
                )

    # 2. never-applies, both ways
    for rule in spec.rules:
        reported = rule.id in found.never
        if reported and facts.applies[rule.id]:
            disagree("never-applies", f"`{rule.id}` is reported never to apply, but it applies")
            out[-1] = replace(out[-1], request=_applying_request(spec, universe, rule))
        undecided = (rule.id,) in open_questions.get("never-applies", set())
        if not reported and not facts.applies[rule.id] and not undecided:
            disagree("never-applies", f"`{rule.id}` applies nowhere, but is not reported")

    # 3. shadowed-by-deny
    for rule_id in found.shadowed:
        if facts.grants.get(rule_id):
            disagree("shadowed-by-deny", f"`{rule_id}` is reported shadowed, but it grants")

    # 4. redundant-rule
    for rule_id in sorted(found.redundant):
        changed, n = _removal_changes(spec, policy, universe, rule_id, realise)
        requests += n
        if changed is not None:
            disagree(
                "redundant-rule",
                f"`{rule_id}` is reported redundant, but removing it changes this decision",
                changed,
            )

    # 5. overrides that never lift, or change nothing
    for override_id, lifting in facts.lifts.items():
        if (override_id,) in open_questions.get("override", set()):
            continue
        if lifting and override_id in found.never_lifts:
            disagree("override", f"`{override_id}` is reported never to lift, but it lifts a deny")
        if not lifting and override_id not in found.never_lifts:
            disagree("override", f"`{override_id}` lifts nothing, but is not reported")
        nothing = lifting and not facts.lifts_allowed[override_id]
        if (override_id in found.changes_nothing) != nothing:
            said = "changes no decision" if nothing else "lets some request through"
            disagree("override", f"`{override_id}` {said}, but check says otherwise")
    if tally is not None:
        tally["check: override lifts"] += sum(facts.lifts.values())
        tally["check: override-never-lifts"] += len(found.never_lifts)
        tally["check: override-changes-nothing"] += len(found.changes_nothing)

    # 6. obligations left off for want of an attribute's value, both ways
    open_rules = {q[0] for q in open_questions.get("left-off", set())}
    for entry in sorted(set(facts.left_off) - found.left_off):
        if entry[0] not in open_rules:
            disagree(
                "left-off",
                f"`{entry[1]}` of `{entry[0]}` is left off for want of `{entry[2]}` of "
                f"`{entry[3]}`, but it is not reported",
                facts.left_off[entry],
            )
    for entry in sorted(found.left_off - set(facts.left_off)):
        disagree(
            "left-off",
            f"`{entry[1]}` of `{entry[0]}` is reported left off for want of `{entry[2]}` of "
            f"`{entry[3]}`, but no allowed request of the universe leaves it off",
        )
    if tally is not None:
        tally["check: obligation-attribute-unknown"] += len(found.left_off)

    # 7. deny-overrides-allow, both ways
    for pair in sorted(found.overlaps - set(facts.overlaps)):
        disagree("deny-overrides-allow", f"deny `{pair[0]}` and allow `{pair[1]}` never both apply")
    # An allow reported as shadowed gets no overlap notes (its warning already says a deny
    # overrides it everywhere).
    for pair in sorted(set(facts.overlaps) - found.overlaps):
        if pair[1] in found.shadowed or pair in open_questions.get("deny-overrides-allow", set()):
            continue
        disagree(
            "deny-overrides-allow",
            f"deny `{pair[0]}` and allow `{pair[1]}` both apply, but it is not reported",
            facts.overlaps[pair],
        )
    return requests, out


def request_term(request: Request, kind: str) -> str:
    return {"party": request.party, "data": request.data, "purpose": request.purpose}[kind]


def _decide_disagreements(facts: BruteFacts, text: str) -> list[Disagreement]:
    return [
        Disagreement("decide", f"engine decides {got}, the reference {expected}", text, request)
        for request, expected, got in facts.decide_mismatches
    ]


def _applying_request(spec: Spec, universe: SoundUniverse, rule: RuleSpec) -> Request | None:
    for cell in cells_of(spec.vocab):
        if rule_covers(spec.vocab, rule, cell):
            for context in universe.contexts(cell_keys([spec], cell)):
                request = Request(*cell, context)
                if SoundReference(spec, request).applies(rule):
                    return request
    return None


def _removal_changes(
    spec: Spec,
    policy: policy_engine.Policy,
    universe: SoundUniverse,
    rule_id: str,
    realise: Realisation = FLAT,
) -> tuple[Request | None, int]:
    """A request whose effect or obligations change when ``rule_id`` is removed (None when none
    does), and how many requests were compared."""
    rule = spec.rule(rule_id)
    without = realise.load(replace(spec.without_rule(rule_id), invariants=()))
    n = 0
    for cell in cells_of(spec.vocab):
        if not rule_covers(spec.vocab, rule, cell):
            continue
        for context in universe.contexts(cell_keys([spec], cell, invariants=False)):
            request = Request(*cell, context)
            n += 1
            if outcome(decide(policy, request)) != outcome(decide(without, request)):
                return request, n
    return None, n


def compare_planted(vocab: Vocab, keys: Sequence[Key], condition: Expr) -> list[Disagreement]:
    """``condition`` alone in an allow rule over every request, with an invariant that nothing
    is allowed: check (the invariant, the rule's reachability) and diff against the policy
    without the rule, each against the brute force."""
    rule = RuleSpec("r0", "allow", (None, None, None), condition, (), (), "§1", None)
    everything: Scope = (None, ())
    never = InvariantSpec("inv0", "never", (everything,) * 3, None, ())
    spec = Spec(vocab, tuple(keys), (rule,), (never,))
    _, found = compare_check(spec)
    _, changed = compare_diff(replace(spec, rules=(), invariants=()), spec)
    return found + changed


ONE_CELL = Vocab({"party": {"pa0": ()}, "data": {"da0": ()}, "purpose": {"pu0": ()}}, ("ob0",))
"""A vocabulary of one term of each kind."""


# ---- diff ----------------------------------------------------------------------------------------


def change_kind(before: policy_engine.Decision, after: policy_engine.Decision) -> str | None:
    if outcome(before) == outcome(after):
        return None
    if before.effect == after.effect:
        return "obligations"
    return "widened" if after.effect == "allow" else "narrowed"


def group_cells(vocab: Vocab, group: Any) -> set[tuple[str, str, str]]:
    """The cells a diff group stands for: each listed term with every term below it, except the
    terms marked ``exact`` (themselves only)."""
    exact = set(group.exact)
    per_kind = []
    for kind, names in zip(KINDS, (group.parties, group.data, group.purposes), strict=True):
        terms: set[str] = set()
        for name in names:
            terms |= {name} if name in exact else descendants(vocab, kind, name)
        per_kind.append(sorted(terms))
    return set(itertools.product(*per_kind))  # type: ignore[arg-type]


def reported_cells(vocab: Vocab, groups: Iterable[Any]) -> dict[tuple[str, str, str], set[str]]:
    """Each cell the groups of a report stand for, with the kinds of the groups it is in."""
    reported: dict[tuple[str, str, str], set[str]] = {}
    for group in groups:
        for cell in group_cells(vocab, group):
            reported.setdefault(cell, set()).add(group.kind)
    return reported


def compare_diff(
    old: Spec,
    new: Spec,
    change: str = "",
    tally: Counter[str] | None = None,
    realise: Realisation = FLAT,
    descriptions: bool = False,
) -> tuple[int, list[Disagreement]]:
    """Every group of ``diff`` from ``old`` to ``new`` (as ``realise`` writes them) against the
    brute force over the union of their universes; ``change`` (what the mutation did) goes into
    the messages; ``tally`` counts the groups compared by kind; ``descriptions``: each group's
    description, read back as a condition, is also held to the requests of its cells
    (:func:`compare_descriptions`; one rule file only, where the tests read as the spec writes
    them)."""
    old = replace(old, invariants=())
    new = replace(new, invariants=())
    old_text, new_text = realise.text(old), realise.text(new)
    try:
        a, b = realise.load(old), realise.load(new)
    except policy_engine.PolicyError as exc:
        raise HarnessError(f"a generated policy does not load: {exc}") from exc
    try:
        report = realise.diff(a, b)
    except Exception as exc:
        message = f"diff raised {type(exc).__name__}: {exc}"
        return 0, [Disagreement("crash", message, old_text, None, new_text)]
    universe = SoundUniverse([old, new])
    out: list[Disagreement] = []

    def disagree(message: str, request: Request | None = None) -> None:
        if change:
            message += f" [the new version: {change}]"
        out.append(Disagreement("diff", message, old_text, request, new_text))

    if tally is not None:
        tally["diff: pairs of versions"] += 1
        tally["diff: no change"] += not report.groups
        for group in report.groups:
            tally[f"diff: {group.kind} group"] += 1
    reported = reported_cells(old.vocab, report.groups)
    requests = 0
    any_change = False
    for cell in cells_of(old.vocab):
        kinds: dict[str, Request] = {}
        for context in universe.contexts(cell_keys([old, new], cell)):
            request = Request(*cell, context)
            requests += 1
            kind = change_kind(decide(a, request), decide(b, request))
            if kind is not None:
                kinds.setdefault(kind, request)
        any_change = any_change or bool(kinds)
        said = reported.get(cell, set())
        for kind in sorted(set(kinds) - said):
            disagree(f"cell {cell}: {kind} here, but diff reports {sorted(said)}", kinds[kind])
        for kind in sorted(said - set(kinds)):
            disagree(f"cell {cell}: diff reports {kind}, but no request of the universe is {kind}")
    if any_change != bool(report.groups):
        disagree(
            f"{'some' if any_change else 'no'} request changes, but diff has "
            f"{len(report.groups)} groups"
        )
    for group in report.groups:
        example = group.example
        example_context = example.get("context") or {}
        assert isinstance(example_context, dict)
        request = Request(
            str(example["party"]), str(example["data"]), str(example["purpose"]), example_context
        )
        requests += 1
        before, after = decide(a, request), decide(b, request)
        kind = change_kind(before, after)
        cell = (request.party, request.data, request.purpose)
        if kind != group.kind or (before.effect, after.effect) != (group.before, group.after):
            disagree(
                f"the example of a {group.kind} group ({group.before} → {group.after}) goes "
                f"{before.effect} → {after.effect} ({kind or 'no change'})",
                request,
            )
        elif cell not in group_cells(old.vocab, group):
            disagree(f"the example of a {group.kind} group is outside the group's terms", request)
        elif kind == "obligations" and (
            sorted(outcome(before)[1]) != sorted(group.old_obligations)
            or sorted(outcome(after)[1]) != sorted(group.new_obligations)
        ):
            disagree("the example of an obligations group has other obligations", request)
    # A key whose default differs is, left out, each version's own default: the describer's
    # tests read it as missing in both (a known gap, see docs/analysis.md), so those
    # descriptions are not read back.
    defaults = {(k.name, repr(k.default)) for s in (old, new) for k in s.keys}
    if descriptions and realise is FLAT and len(defaults) == len({n for n, _ in defaults}):
        texts = (old_text, new_text)
        for group in report.groups:
            checked, wrong = compare_descriptions(group, (old, new), texts, (a, b), universe)
            requests += checked
            if tally is not None:
                tally[
                    "diff: descriptions read" if checked else "diff: descriptions by classes"
                ] += 1
            if wrong is not None:
                disagree(f"the group `{group.when}` ({group.kind}) {wrong[0]}", wrong[1])
    return requests, out


def group_change(group: Any, before: policy_engine.Decision, after: policy_engine.Decision) -> bool:
    """Whether a request changes as ``group`` says: its kind, each side's effect and deciding
    rules, and (for an obligations group) each side's obligations."""
    kind = change_kind(before, after)
    sides = (
        (before.effect, [r.id for r in before.reasons]),
        (after.effect, [r.id for r in after.reasons]),
    )
    if kind != group.kind or sides != (
        (group.before, group.old_rules),
        (group.after, group.new_rules),
    ):
        return False
    return kind != "obligations" or (
        sorted(outcome(before)[1]) == sorted(group.old_obligations)
        and sorted(outcome(after)[1]) == sorted(group.new_obligations)
    )


def compare_descriptions(
    group: Any,
    specs: tuple[Spec, Spec],
    texts: tuple[str, str],
    policies: tuple[policy_engine.Policy, policy_engine.Policy],
    universe: SoundUniverse,
) -> tuple[int, tuple[str, Request] | None]:
    """A group described by a condition over the rules' tests holds exactly on the requests of
    its cells that change as the group says (``tests/diff_descriptions.py``); how many requests
    were compared (0: the description lists classes), and the first that disagrees."""
    node = diff_descriptions.read_description(group.when)
    if node is None:
        return 0, None
    tests = diff_descriptions.compile_atoms(diff_descriptions.atoms_of(node), texts)
    a, b = policies
    compared = 0
    for cell in sorted(group_cells(specs[0].vocab, group)):
        for context in universe.contexts(cell_keys(list(specs), cell)):
            request = Request(*cell, context)
            compared += 1
            changes = group_change(group, decide(a, request), decide(b, request))
            said = diff_descriptions.described(node, tests, dict(context), cell)
            if said != changes:
                what = "describes" if said else "leaves out"
                return compared, (f"{what} a request that {'does' if changes else 'does not'} "
                                  "change so", request)  # fmt: skip
    return compared, None


# ---- minimising a disagreement -------------------------------------------------------------------


def smaller_exprs(expr: Expr) -> Iterator[Expr]:
    """Simpler conditions than ``expr``: one of its operands, one operand fewer, one operand
    simplified, a shorter list."""
    tag = expr[0]
    if tag in ("and", "or"):
        ops = expr[1]
        yield from ops
        if len(ops) > 2:
            for i in range(len(ops)):
                yield (tag, ops[:i] + ops[i + 1 :])
        for i, op in enumerate(ops):
            for smaller in smaller_exprs(op):
                yield (tag, (*ops[:i], smaller, *ops[i + 1 :]))
    elif tag == "not":
        yield expr[1]
        for smaller in smaller_exprs(expr[1]):
            yield ("not", smaller)
    elif tag == "named":
        yield expr[2]
        for smaller in smaller_exprs(expr[2]):
            yield named(smaller)
    elif tag == "in" and expr[3][0] == "list" and expr[3][2]:
        items = expr[3][2]
        for i in range(len(items)):
            yield ("in", expr[1], expr[2], (*expr[3][:2], items[:i] + items[i + 1 :]))


def _terms_named(spec: Spec) -> set[str]:
    named: set[str] = set()
    for rule in spec.rules:
        for scope in rule.scopes:
            named |= set(scope or ())
    for inv in spec.invariants:
        for names, excepts in inv.scopes:
            named |= set(names or ()) | set(excepts)
    for e in spec_exprs(spec):
        for leaf in leaves(e):
            named |= {o[2] for o in operands_of(leaf) if o[0] == "term"}
    named |= {str(k.default) for k in spec.keys if k.base == "term" and k.default is not None}
    return named


def _joint_simplifications(spec: Spec) -> Iterator[Callable[[Spec], Spec]]:
    """Changes to the declarations, applied alike to every version of a policy."""
    read = set().union(*(expr_keys(e) for e in spec_exprs(spec)))
    unread = [k.name for k in spec.keys if k.name not in read]
    if unread:
        yield partial(_without_keys, names=frozenset(unread))
    for key in spec.keys:
        if key.default is not None:
            yield partial(_without_default, name=key.name)
    named = _terms_named(spec)
    for kind in KINDS:
        for term, parents in spec.vocab.parents[kind].items():
            if term not in named and len(spec.vocab.parents[kind]) > 1:
                yield partial(_without_term, kind=kind, term=term)
            for parent in parents:
                yield partial(_without_parent, kind=kind, term=term, parent=parent)
    used = {use_parts(n)[0] for r in spec.rules for names, _ in r.obligations for n in names}
    used |= {use_parts(n)[0] for o in spec.overrides for names, _ in o.obligations for n in names}
    if set(spec.vocab.obligations) - used:
        yield partial(_only_obligations, kept=tuple(o for o in spec.vocab.obligations if o in used))


def _without_keys(spec: Spec, names: frozenset[str]) -> Spec:
    return replace(spec, keys=tuple(k for k in spec.keys if k.name not in names))


def _without_default(spec: Spec, name: str) -> Spec:
    keys = tuple(replace(k, default=None) if k.name == name else k for k in spec.keys)
    return replace(spec, keys=keys)


def _only_obligations(spec: Spec, kept: tuple[str, ...]) -> Spec:
    decls = tuple(d for d in spec.ob_decls if d.name in kept)
    return replace(spec, vocab=replace(spec.vocab, obligations=kept), ob_decls=decls)


def _without_term(spec: Spec, kind: str, term: str) -> Spec:
    parents = {k: dict(v) for k, v in spec.vocab.parents.items()}
    del parents[kind][term]
    for t, ps in parents[kind].items():
        parents[kind][t] = tuple(p for p in ps if p != term)
    attributes = {
        n: {t: v for t, v in g.items() if t != term} for n, g in spec.vocab.attributes.items()
    }
    return replace(spec, vocab=replace(spec.vocab, parents=parents, attributes=attributes))


def _without_parent(spec: Spec, kind: str, term: str, parent: str) -> Spec:
    parents = {k: dict(v) for k, v in spec.vocab.parents.items()}
    parents[kind][term] = tuple(p for p in parents[kind][term] if p != parent)
    return replace(spec, vocab=replace(spec.vocab, parents=parents))


def _own_simplifications(spec: Spec) -> Iterator[Spec]:
    """Smaller versions of ``spec`` (its rules and invariants only), simplest first."""
    for i in range(len(spec.invariants)):
        yield replace(spec, invariants=spec.invariants[:i] + spec.invariants[i + 1 :])
    for i in range(len(spec.overrides)):
        yield replace(spec, overrides=spec.overrides[:i] + spec.overrides[i + 1 :])
    for i in range(len(spec.rules)):
        yield replace(spec, rules=spec.rules[:i] + spec.rules[i + 1 :])
    yield from _override_simplifications(spec)

    def with_rule(i: int, rule: RuleSpec) -> Spec:
        return replace(spec, rules=(*spec.rules[:i], rule, *spec.rules[i + 1 :]))

    for i, rule in enumerate(spec.rules):
        for n in range(len(rule.exceptions)):
            yield with_rule(
                i, replace(rule, exceptions=rule.exceptions[:n] + rule.exceptions[n + 1 :])
            )
        for n in range(len(rule.obligations)):
            yield with_rule(
                i, replace(rule, obligations=rule.obligations[:n] + rule.obligations[n + 1 :])
            )
        if rule.condition is not None:
            yield with_rule(i, replace(rule, condition=None))
        for n, scope in enumerate(rule.scopes):
            for name in scope or ():
                if scope is not None and len(scope) > 1:
                    scopes = (*rule.scopes[:n], (name,), *rule.scopes[n + 1 :])
                    yield with_rule(i, replace(rule, scopes=scopes))
        for n, (names, when) in enumerate(rule.obligations):
            if when is not None:
                clauses = (*rule.obligations[:n], (names, None), *rule.obligations[n + 1 :])
                yield with_rule(i, replace(rule, obligations=clauses))
        if rule.condition is not None:
            for smaller in smaller_exprs(rule.condition):
                yield with_rule(i, replace(rule, condition=smaller))
        for n, exception in enumerate(rule.exceptions):
            for smaller in smaller_exprs(exception):
                exceptions = (*rule.exceptions[:n], smaller, *rule.exceptions[n + 1 :])
                yield with_rule(i, replace(rule, exceptions=exceptions))

    def with_invariant(i: int, inv: InvariantSpec) -> Spec:
        return replace(spec, invariants=(*spec.invariants[:i], inv, *spec.invariants[i + 1 :]))

    for i, inv in enumerate(spec.invariants):
        for n in range(len(inv.exceptions)):
            yield with_invariant(
                i, replace(inv, exceptions=inv.exceptions[:n] + inv.exceptions[n + 1 :])
            )
        if inv.condition is not None:
            yield with_invariant(i, replace(inv, condition=None))
            for smaller in smaller_exprs(inv.condition):
                yield with_invariant(i, replace(inv, condition=smaller))
        for n, (inv_names, inv_excepts) in enumerate(inv.scopes):
            if inv_excepts:
                inv_scopes: Any = (*inv.scopes[:n], (inv_names, ()), *inv.scopes[n + 1 :])
                yield with_invariant(i, replace(inv, scopes=inv_scopes))


def _override_simplifications(spec: Spec) -> Iterator[Spec]:
    """Each override with fewer obligations, or a simpler condition."""
    for i, override in enumerate(spec.overrides):

        def with_override(new: OverrideSpec, i: int = i) -> Spec:
            return replace(spec, overrides=(*spec.overrides[:i], new, *spec.overrides[i + 1 :]))

        for n in range(len(override.obligations)):
            clauses = override.obligations[:n] + override.obligations[n + 1 :]
            yield with_override(replace(override, obligations=clauses))
        for smaller in smaller_exprs(override.condition):
            yield with_override(replace(override, condition=smaller))


def minimise(
    versions: tuple[Spec, ...], still_wrong: Callable[[tuple[Spec, ...]], bool], budget: int = 300
) -> tuple[Spec, ...]:
    """A smaller set of versions (one policy for check, two for diff) for which ``still_wrong``
    holds, by greedy simplification: at most ``budget`` attempts."""
    attempts = 0

    def candidates(current: tuple[Spec, ...]) -> Iterator[tuple[Spec, ...]]:
        # Declarations are shared: simplified from what every version reads and names.
        merged = replace(
            current[0],
            rules=tuple(r for v in current for r in v.rules),
            invariants=tuple(i for v in current for i in v.invariants),
            overrides=tuple(o for v in current for o in v.overrides),
        )
        for change in _joint_simplifications(merged):
            yield tuple(change(v) for v in current)
        for i, version in enumerate(current):
            for smaller in _own_simplifications(version):
                yield (*current[:i], smaller, *current[i + 1 :])

    current = versions
    improved = True
    while improved:
        improved = False
        for candidate in candidates(current):
            attempts += 1
            if attempts > budget:
                return current
            try:
                wrong = still_wrong(candidate)
            except Exception:  # not the same failure (or a declaration it still needs)
                wrong = False
            if wrong:
                current, improved = candidate, True
                break
    return current
