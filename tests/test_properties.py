"""Property tests on random small policies (docs/semantics.md).

A strategy draws a random vocabulary (parties, data categories and purposes with random DAG parent
links), a fixed context schema with random defaults, and a handful of random rules. The policy is
rendered as *text* in the policy language and loaded with :func:`load_policy_text`, so the parser
and the checker are exercised too. Random requests are then decided by the engine and by
:func:`reference_decide`, a brute-force evaluator written here straight from the semantics: it walks
every rule, uses its own Kleene logic, its own ancestor closure and its own notion of a missing key,
and never calls into the engine.

Properties:

(a) the engine agrees with the reference (effect, obligations, reason ids, missing);
(b) decisions do not depend on the order of rules or on how the items are split across files;
(c) adding a deny rule never turns a deny into an allow;
(d) adding an allow rule never turns an allow into a deny;
(e) ``explain()`` never raises and the trace's per-rule values agree with the fast path.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any, TypeVar

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import policy_engine
from policy_engine import load_policy_text
from policy_engine.engine.compiler import CompiledRule
from policy_engine.engine.request import normalize_context
from policy_engine.language.printer import obligation_name

from . import time_reference

KINDS = ("party", "data", "purpose")
PREFIX = {"party": "pa", "data": "da", "purpose": "pu"}
STRINGS = ("x", "y", "z")
DECIMALS = (Decimal("0.1"), Decimal("-1.5"), Decimal("2.25"), Decimal("3.0"))
"""Decimal constants; requests send these, as floats too (read from their ``repr``)."""
OPS = ("=", "!=", "<", "<=", ">", ">=")

# The context schema every generated policy declares: name → (type text, base type).
SCHEMA: dict[str, tuple[str, str]] = {
    "kb0": ("boolean", "bool"),
    "kb1": ("boolean", "bool"),
    "ki0": ("integer", "int"),
    "ki1": ("integer", "int"),
    "kr0": ("decimal", "dec"),
    "ks0": ('one of "x", "y", "z"', "str"),
    "kl0": ('list of "x", "y", "z"', "strlist"),
    "kp0": ("set of purpose", "purpose_set"),
    "kq0": ("set of party", "party_set"),
    "kd0": ("date", "date"),
    "kd1": ("date", "date"),
    "kw0": ("instant is now", "instant"),
}
NOW_KEY = "kw0"
TERM_KEYS: dict[str, str] = {"kk0": "party"}
"""Keys of one term (``context kk0: party``), with their kinds: declared by every generated
policy, read by the leaves drawn with ``time`` (the brute forces of other tests do not enumerate
them)."""
DATES = ("2024-01-31", "2024-02-28", "2024-02-29", "2024-03-01", "2024-03-31")
INSTANTS = ("2024-02-29T23:30:00Z", "2024-03-01T00:00:00Z", "2024-03-01T01:00:00+01:00")
OFFSETS = ((1, "days"), (2, "days"), (1, "weeks"), (1, "months"), (2, "months"), (1, "years"))
INSTANT_OFFSETS = ((30, "minutes"), (1, "hours"), (1, "days"), (1, "months"))
SET_KEY = {"purpose": "kp0", "party": "kq0"}

SETTINGS = settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# ---- the model of a policy -----------------------------------------------------------------
#
# Operands: ("key", name) | ("lit", value) | ("req", kind) | ("term", kind, name)
#           | ("list", kind_or_None, (operand, ...)) | ("now", key) | ("time", kind, text)
#           | ("shift", operand, sign, amount, unit) | ("attr", kind, name): an attribute of the
#           request's term | ("kattr", key, kind, name): of the term a key of one term names
# Conditions: ("truth", operand) | ("cmp", op, left, right) | ("in", negated, left, right)
#             | ("known", key, known) | ("aknown", attr or kattr operand, known)
#             | ("not", expr) | ("and", (expr, ...)) | ("or", (expr, ...))
#             | ("named", name, expr): a named condition (`condition name means expr`, used by
#               name); its name is made from its body (:func:`named`), so one name, one body

Expr = tuple[Any, ...]


@dataclass(frozen=True)
class Vocab:
    parents: Mapping[str, Mapping[str, tuple[str, ...]]]  # kind → term → its parents
    obligations: tuple[str, ...]
    attributes: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """Attribute (of :data:`ATTRIBUTES`) → term → the value the term's declaration gives."""
    attribute_defaults: Mapping[str, Any] = field(default_factory=dict)

    def terms(self, kind: str) -> list[str]:
        return list(self.parents[kind])

    def attribute(self, name: str, term: str) -> Any:
        """The term's value of an attribute: its own, else its parents' (they never disagree
        here), else the default; None when it has none (unknown)."""
        found = self._given(name, term)
        return self.attribute_defaults.get(name) if found is None else found

    def _given(self, name: str, term: str) -> Any:
        """The value the term's declaration or an ancestor's gives, None when none does."""
        own = self.attributes.get(name, {})
        if term in own:
            return own[term]
        for parent in self.parents[ATTRIBUTES[name][0]][term]:
            found = self._given(name, parent)
            if found is not None:
                return found
        return None

    def term_line(self, kind: str, term: str) -> str:
        """``party pa1 under pa0 with level = 2``"""
        parents = self.parents[kind][term]
        under = f" under {', '.join(parents)}" if parents else ""
        given = [
            f"{name} = {lit_text(values[term])}"
            for name, values in sorted(self.attributes.items())
            if term in values and ATTRIBUTES[name][0] == kind
        ]
        return f"{kind} {term}{under}" + (f" with {', '.join(given)}" if given else "") + "\n"

    def attribute_lines(self) -> list[str]:
        lines = []
        for name, (kind, type_text, _) in ATTRIBUTES.items():
            if name in self.attributes:
                default = self.attribute_defaults.get(name)
                given = "" if default is None else f" default {lit_text(default)}"
                lines.append(f"attribute {name} of {kind}: {type_text}{given}\n")
        return lines


ATTRIBUTES: dict[str, tuple[str, str, str]] = {
    "level": ("party", "integer", "int"),
    "zone": ("data", 'one of "x", "y", "z"', "str"),
    "open": ("purpose", "boolean", "bool"),
    "since": ("party", "date", "date"),
}


@dataclass(frozen=True)
class DateValue:
    """The value of a date attribute, as a rule writes it (``date "2024-02-29"``)."""

    text: str


def attribute_number(value: Any) -> Any:
    """An attribute's value as the reference compares it (a date as its day number)."""
    return time_reference.date_number(value.text) if isinstance(value, DateValue) else value


"""The attributes a policy may declare: name → (kind, type, base type)."""


@dataclass(frozen=True)
class RuleSpec:
    id: str
    effect: str
    scopes: tuple[tuple[str, ...] | None, ...]  # party, data, purpose; None = any
    condition: Expr | None
    exceptions: tuple[Expr, ...]
    obligations: tuple[tuple[tuple[str, ...], Expr | None], ...]
    citation: str | None
    description: str | None


@dataclass(frozen=True)
class OverrideSpec:
    """``override ID §n lifts a, b | lifts denies citing §n when C [with obligation …]…``."""

    id: str
    lifts: tuple[str, ...]
    """The rule ids it names (those that are deny rules of the policy are lifted)."""
    citing: str | None
    """``lifts denies citing`` this section (then ``lifts`` is not used)."""
    condition: Expr
    obligations: tuple[tuple[tuple[str, ...], Expr | None], ...]
    citation: str | None = "§1"


def cites_within(cited: str | None, target: str) -> bool:
    """Without a source document, numbering alone says what is within a section: `§2.1` and
    `§2(1)` are within `§2`, `§21` is not."""
    if cited is None:
        return False
    return cited == target or cited.startswith((target + ".", target + "("))


def lifted_ids(rules: Sequence[RuleSpec], override: OverrideSpec) -> tuple[str, ...]:
    """The deny rules an override lifts, in the order the rules are written (an override that
    lifts none is not written: it would not load)."""
    denies = [r for r in rules if r.effect == "deny"]
    if override.citing is not None:
        return tuple(r.id for r in denies if cites_within(r.citation, override.citing))
    return tuple(r.id for r in denies if r.id in override.lifts)


@dataclass(frozen=True)
class PolicySpec:
    vocab: Vocab
    defaults: Mapping[str, Any]
    rules: tuple[RuleSpec, ...]
    decl_order: tuple[tuple[str, str], ...]  # (kind, term) in the order they are written
    overrides: tuple[OverrideSpec, ...] = ()


@dataclass(frozen=True)
class Request:
    party: str
    data: str
    purpose: str
    context: Mapping[str, Any]


# ---- rendering as policy text --------------------------------------------------------------


def lit_text(value: Any) -> str:
    if isinstance(value, DateValue):
        return f'date "{value.text}"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal):
        return format(value, "f")
    return f'"{value}"'


def default_text(value: Any) -> str:
    """A default as written: a list's strings quoted, a set's terms (tuples of names) bare."""
    if isinstance(value, tuple):
        return "[" + ", ".join(v if v[:2] in PREFIX.values() else lit_text(v) for v in value) + "]"
    return lit_text(value)


def operand_text(node: Expr) -> str:
    tag = node[0]
    if tag == "key":
        return str(node[1])
    if tag == "lit":
        return lit_text(node[1])
    if tag == "req":
        return str(node[1])
    if tag == "term":
        return str(node[2])
    if tag == "attr":
        return f"{node[1]}.{node[2]}"
    if tag == "kattr":
        return f"{node[1]}.{node[3]}"
    if tag == "now":
        return "now"
    if tag == "time":
        return f'{node[1]} "{node[2]}"'
    if tag == "shift":
        unit = node[4][:-1] if node[3] == 1 else node[4]
        return f"{operand_text(node[1])} {node[2]} {node[3]} {unit}"
    return "[" + ", ".join(operand_text(i) for i in node[2]) + "]"


PRECEDENCE = {"or": 1, "and": 2, "not": 3}


def named(body: Expr) -> Expr:
    """``body`` given a name: the same body always gets the same name, another body another."""
    return ("named", "nc_" + hashlib.sha1(expr_text(body).encode()).hexdigest()[:10], body)


def named_in(expr: Expr) -> Iterator[Expr]:
    """The named conditions ``expr`` uses, and those they use."""
    tag = expr[0]
    if tag in ("and", "or"):
        for operand in expr[1]:
            yield from named_in(operand)
    elif tag == "not":
        yield from named_in(expr[1])
    elif tag == "named":
        yield expr
        yield from named_in(expr[2])


def condition_declarations(exprs: Iterable[Expr]) -> list[str]:
    """``condition NAME means BODY`` for every named condition the expressions use."""
    found = {n[1]: n for e in exprs for n in named_in(e)}
    return [f"condition {name} means {expr_text(n[2])}\n" for name, n in sorted(found.items())]


def expr_text(expr: Expr, redundant: bool = False) -> str:
    """Minimal parentheses by precedence (so the parser's precedence is exercised); with
    ``redundant`` every compound operand is parenthesized as well."""
    tag = expr[0]
    if tag in ("and", "or"):
        parts = []
        for operand in expr[1]:
            text = expr_text(operand, redundant)
            if PRECEDENCE.get(operand[0], 4) < PRECEDENCE[tag] or (
                redundant and operand[0] in PRECEDENCE
            ):
                text = f"({text})"
            parts.append(text)
        return f" {tag} ".join(parts)
    if tag == "not":
        inner = expr_text(expr[1], redundant)
        if PRECEDENCE.get(expr[1][0], 4) < 3:
            inner = f"({inner})"
        return f"not {inner}"
    if tag == "truth":
        return operand_text(expr[1])
    if tag == "named":
        return str(expr[1])
    if tag == "cmp":
        return f"{operand_text(expr[2])} {expr[1]} {operand_text(expr[3])}"
    if tag == "in":
        word = "not in" if expr[1] else "in"
        return f"{operand_text(expr[2])} {word} {operand_text(expr[3])}"
    if tag == "aknown":
        return f"{operand_text(expr[1])} is {'known' if expr[2] else 'missing'}"
    assert tag == "known"
    return f"{expr[1]} is {'known' if expr[2] else 'missing'}"


def scope_text(kind: str, scope: tuple[str, ...] | None) -> str:
    return f"any {kind}" if scope is None else ", ".join(scope)


def rule_text(rule: RuleSpec) -> str:
    head = f"rule {rule.id}"
    if rule.citation:
        head += f" {rule.citation}"
    if rule.description:
        head += f' "{rule.description}"'
    verb = ("to use", "for") if rule.effect == "allow" else ("from using", "for")
    parties, data, purposes = (scope_text(k, s) for k, s in zip(KINDS, rule.scopes, strict=True))
    lines = [head, f"  {rule.effect} {parties} {verb[0]} {data} {verb[1]} {purposes}"]
    if rule.condition is not None:
        lines.append(f"  when {expr_text(rule.condition)}")
    for exception in rule.exceptions:
        lines.append(f"  unless {expr_text(exception, redundant=True)}")
    lines += clause_lines(rule.obligations)
    return "\n".join(lines) + "\n"


def clause_lines(obligations: Iterable[tuple[tuple[str, ...], Expr | None]]) -> list[str]:
    lines = []
    for names, condition in obligations:
        word = "obligation" if len(names) == 1 else "obligations"
        clause = f"  with {word} {', '.join(names)}"
        if condition is not None:
            clause += f" when {expr_text(condition)}"
        lines.append(clause)
    return lines


def override_text(override: OverrideSpec, rules: Sequence[RuleSpec]) -> str:
    """The override as written; the empty string when it lifts no deny rule of ``rules``."""
    lifted = lifted_ids(rules, override)
    if not lifted:
        return ""
    head = f"override {override.id}" + (f" {override.citation}" if override.citation else "")
    lifts = (
        f"lifts denies citing {override.citing}"
        if override.citing is not None
        else f"lifts {', '.join(lifted)}"
    )
    lines = [head, f"  {lifts}", f"  when {expr_text(override.condition)}"]
    return "\n".join(lines + clause_lines(override.obligations)) + "\n"


def override_conditions(override: OverrideSpec) -> list[Expr]:
    return [override.condition, *(c for _, c in override.obligations if c is not None)]


def override_texts(overrides: Iterable[OverrideSpec], rules: Sequence[RuleSpec]) -> list[str]:
    return [t for t in (override_text(o, rules) for o in overrides) if t]


def declaration_items(spec: PolicySpec) -> list[str]:
    items = spec.vocab.attribute_lines()
    for kind, term in spec.decl_order:
        items.append(spec.vocab.term_line(kind, term))
    if spec.vocab.obligations:
        items.append(f"obligation {', '.join(spec.vocab.obligations)}\n")
    for key, (type_text, _) in SCHEMA.items():
        default = f" default {default_text(spec.defaults[key])}" if key in spec.defaults else ""
        items.append(f"context {key}: {type_text}{default}\n")
    for key, kind in TERM_KEYS.items():
        default = f" default {spec.defaults[key]}" if key in spec.defaults else ""
        items.append(f"context {key}: {kind}{default}\n")
    return items


def rule_conditions(rule: RuleSpec) -> list[Expr]:
    found = [rule.condition] if rule.condition is not None else []
    return found + list(rule.exceptions) + [c for _, c in rule.obligations if c is not None]


def policy_items(spec: PolicySpec) -> list[str]:
    exprs = [e for r in spec.rules for e in rule_conditions(r)]
    exprs += [
        e for o in spec.overrides if lifted_ids(spec.rules, o) for e in override_conditions(o)
    ]
    rules = [rule_text(r) for r in spec.rules]
    overrides = override_texts(spec.overrides, spec.rules)
    return declaration_items(spec) + condition_declarations(exprs) + rules + overrides


def policy_text(spec: PolicySpec) -> str:
    return "\n".join(policy_items(spec))


def load(spec: PolicySpec) -> policy_engine.Policy:
    return load_policy_text(policy_text(spec))


# ---- strategies ------------------------------------------------------------------------------


# The generators below draw plain integers and build the model by hand: far cheaper than composing
# `st.recursive` / `st.one_of` strategies for every rule, and they shrink just as well (every
# choice shrinks towards 0, which is always the simplest option: a leaf, no exception, absent key).

T = TypeVar("T")


def number(draw: st.DrawFn, low: int, high: int) -> int:
    return draw(st.integers(low, high))


def pick(draw: st.DrawFn, options: Sequence[T]) -> T:
    return options[number(draw, 0, len(options) - 1)]


def flag(draw: st.DrawFn) -> bool:
    return draw(st.booleans())


def some(draw: st.DrawFn, options: Sequence[T], low: int, high: int) -> list[T]:
    """``low``..``high`` picks from ``options``, repeats removed, first-pick order kept."""
    return list(dict.fromkeys(pick(draw, options) for _ in range(number(draw, low, high))))


@st.composite
def vocabularies(draw: st.DrawFn) -> Vocab:
    parents: dict[str, dict[str, tuple[str, ...]]] = {}
    for kind in KINDS:
        terms = [f"{PREFIX[kind]}{i}" for i in range(number(draw, 1, 4))]
        # Parents only among earlier terms: a DAG, never a cycle; several parents allowed.
        parents[kind] = {
            term: tuple(sorted(some(draw, terms[:i], 0, 2))) if i else ()
            for i, term in enumerate(terms)
        }
    obligations = tuple(f"ob{i}" for i in range(number(draw, 1, 4)))
    attributes, defaults = draw_attributes(lambda low, high: number(draw, low, high), parents)
    return Vocab(parents, obligations, attributes, defaults)


def draw_attributes(
    number_in: Callable[[int, int], int], parents: Mapping[str, Mapping[str, tuple[str, ...]]]
) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    """Some of :data:`ATTRIBUTES` with values for some terms and sometimes a default. A term
    whose parents would give it different values gets its own (the checker refuses the
    conflict; ``tests/test_attributes.py`` shows it)."""
    attributes: dict[str, dict[str, Any]] = {}
    defaults: dict[str, Any] = {}
    for name, (kind, _, base) in ATTRIBUTES.items():
        if number_in(0, 2) == 0:
            continue

        def value(base: str = base) -> Any:
            if base == "int":
                return number_in(-2, 5)
            if base == "str":
                return STRINGS[number_in(0, 2)]
            if base == "date":
                return DateValue(DATES[number_in(0, len(DATES) - 1)])
            return number_in(0, 1) == 1

        own: dict[str, Any] = {}
        resolved: dict[str, Any] = {}
        for term, ups in parents[kind].items():  # parents come first
            inherited = {repr(resolved[p]): resolved[p] for p in ups if p in resolved}
            if number_in(0, 2) == 0 or len(inherited) > 1:
                own[term] = value()
            if term in own:
                resolved[term] = own[term]
            elif inherited:
                resolved[term] = next(iter(inherited.values()))
        attributes[name] = own
        if number_in(0, 3) == 0:
            defaults[name] = value()
    return attributes, defaults


def draw_term(draw: st.DrawFn, vocab: Vocab, kind: str) -> Expr:
    return ("term", kind, pick(draw, vocab.terms(kind)))


def draw_time_leaf(draw: st.DrawFn) -> Expr:
    """A comparison of dates (maybe moved) with dates, or of `now` with an instant."""
    if flag(draw):
        left: Expr = ("key", pick(draw, ["kd0", "kd1"]))
        if flag(draw):
            amount, unit = pick(draw, OFFSETS)
            left = ("shift", left, pick(draw, ["+", "-"]), amount, unit)
        right: Expr = (
            ("key", pick(draw, ["kd0", "kd1"]))
            if flag(draw)
            else ("time", "date", pick(draw, DATES))
        )
    else:
        left = ("now", NOW_KEY) if flag(draw) else ("key", NOW_KEY)
        if flag(draw):
            amount, unit = pick(draw, INSTANT_OFFSETS)
            left = ("shift", left, pick(draw, ["+", "-"]), amount, unit)
        right = ("time", "instant", pick(draw, INSTANTS))
    if flag(draw):
        left, right = right, left
    return ("cmp", pick(draw, OPS), left, right)


def draw_leaf(draw: st.DrawFn, vocab: Vocab, time: bool = True) -> Expr:
    """One well-typed test: truth of a key, comparison, membership or presence (``time``: also
    comparisons of dates and instants, which the brute forces of other tests do not enumerate;
    and tests of the terms' attributes when the vocabulary has some)."""
    extra = (["time", "term_key", "term_key"] if time else []) + (
        ["attribute"] if vocab.attributes else []
    )
    if time and vocab.attributes:
        extra.append("attribute_known")
    choice = number(draw, 0, 8 + len(extra))
    if choice > 8:
        what = extra[choice - 9]
        if what == "time":
            return draw_time_leaf(draw)
        if what == "term_key":
            return draw_term_key_leaf(draw, vocab)
        if what == "attribute_known":
            return ("aknown", draw_any_attribute(draw, vocab), flag(draw))
        return draw_attribute_leaf(draw, vocab, time)
    if choice == 0:
        return ("truth", ("key", pick(draw, ["kb0", "kb1"])))
    if choice == 1:
        return ("truth", ("lit", flag(draw)))
    if choice == 2:  # whole numbers and decimals, `<` `<=` ...
        numbers = ["ki0", "ki1", "kr0"]
        left: Expr = ("key", pick(draw, numbers))
        right: Expr = ("key", pick(draw, numbers)) if flag(draw) else ("lit", draw_number(draw))
        if flag(draw):
            left, right = right, left
        return ("cmp", pick(draw, OPS), left, right)
    if choice == 3:  # equality of booleans, one-of strings or request terms
        what = number(draw, 0, 2)
        if what == 0:
            left = ("key", pick(draw, ["kb0", "kb1"]))
            right = ("key", pick(draw, ["kb0", "kb1"])) if flag(draw) else ("lit", flag(draw))
        elif what == 1:
            left = ("key", "ks0")
            right = ("key", "ks0") if flag(draw) else ("lit", pick(draw, STRINGS))
        else:
            kind = pick(draw, KINDS)
            left, right = ("req", kind), draw_term(draw, vocab, kind)
        if flag(draw):
            left, right = right, left
        return ("cmp", pick(draw, ["=", "!="]), left, right)
    if choice == 4:  # membership in the hierarchy: a term or a list of terms
        kind = pick(draw, KINDS)
        req: Expr = ("req", kind)
        left = req if flag(draw) else draw_term(draw, vocab, kind)
        shape = pick(draw, ["term", "list"] + (["req"] if left != req else []))
        if shape == "term":
            right = draw_term(draw, vocab, kind)
        elif shape == "list":
            right = (
                "list",
                kind,
                tuple(draw_term(draw, vocab, kind) for _ in range(number(draw, 0, 3))),
            )
        else:
            right = req
        return ("in", flag(draw), left, right)
    if choice in (5, 6):  # membership in a `set of purpose` / `set of party` key
        kind = pick(draw, sorted(SET_KEY))
        left = ("req", kind) if number(draw, 0, 2) else draw_term(draw, vocab, kind)
        return ("in", flag(draw), left, ("key", SET_KEY[kind]))
    if choice == 7:  # string membership
        left = ("key", "ks0") if flag(draw) else ("lit", pick(draw, STRINGS))
        if flag(draw):
            right = ("key", "kl0")
        else:
            items = tuple(("lit", pick(draw, STRINGS)) for _ in range(number(draw, 0, 3)))
            right = ("list", None, items)
        return ("in", flag(draw), left, right)
    known = sorted(k for k, (_, base) in SCHEMA.items() if time or base not in ("date", "instant"))
    return ("known", pick(draw, known), flag(draw))


def draw_attribute_leaf(draw: st.DrawFn, vocab: Vocab, time: bool = True) -> Expr:
    """A test of a declared attribute of the request's term: with a constant or a context key of
    its type; a zone in a list; an open purpose; a date moved or not (``time``: only then)."""
    names = sorted(n for n in vocab.attributes if time or ATTRIBUTES[n][2] != "date")
    if not names:
        return ("truth", ("lit", flag(draw)))
    name = pick(draw, names)
    kind, _, _ = ATTRIBUTES[name]
    return attribute_test(draw, ("attr", kind, name))


def draw_any_attribute(draw: st.DrawFn, vocab: Vocab) -> Expr:
    """An attribute of the request's term or of the term ``kk0`` names (a party)."""
    name = pick(draw, sorted(vocab.attributes))
    kind = ATTRIBUTES[name][0]
    if kind == TERM_KEYS["kk0"] and flag(draw):
        return ("kattr", "kk0", kind, name)
    return ("attr", kind, name)


def attribute_test(draw: st.DrawFn, attribute: Expr) -> Expr:
    """A test of ``attribute`` (an ``attr`` or ``kattr`` operand) by its type."""
    base = ATTRIBUTES[attribute[-1]][2]
    if base == "bool":
        return ("truth", attribute) if flag(draw) else ("cmp", "=", attribute, ("key", "kb0"))
    if base == "int":
        numbers = ["ki0", "ki1", "kr0"]
        other = ("key", pick(draw, numbers)) if flag(draw) else ("lit", draw_number(draw))
        return ("cmp", pick(draw, OPS), *((attribute, other) if flag(draw) else (other, attribute)))
    if base == "date":
        side: Expr = attribute
        if flag(draw):
            amount, unit = pick(draw, OFFSETS)
            side = ("shift", side, pick(draw, ["+", "-"]), amount, unit)
        other = (
            ("key", pick(draw, ["kd0", "kd1"]))
            if flag(draw)
            else ("time", "date", pick(draw, DATES))
        )
        return ("cmp", pick(draw, OPS), *((side, other) if flag(draw) else (other, side)))
    what = number(draw, 0, 2)
    if what == 0:
        other = ("key", "ks0") if flag(draw) else ("lit", pick(draw, STRINGS))
        return ("cmp", pick(draw, ["=", "!="]), attribute, other)
    if what == 1:
        return ("in", flag(draw), attribute, ("key", "kl0"))
    items = tuple(("lit", pick(draw, STRINGS)) for _ in range(number(draw, 1, 2)))
    return ("in", flag(draw), attribute, ("list", None, items))


def draw_term_key_leaf(draw: st.DrawFn, vocab: Vocab) -> Expr:
    """A test of the key of one term ``kk0`` (a party): compared with a term or the request's
    party, placed in the hierarchy (either side of `in`), in a list of terms or in the set key
    ``kq0``, or an attribute of its term."""
    key: Expr = ("key", "kk0")
    kind = TERM_KEYS["kk0"]
    what = number(draw, 0, 6)
    if what == 0:
        other = draw_term(draw, vocab, kind)
        return ("cmp", pick(draw, ["=", "!="]), *((key, other) if flag(draw) else (other, key)))
    if what == 1:
        return ("in", flag(draw), key, draw_term(draw, vocab, kind))
    if what == 2:
        return ("in", flag(draw), draw_term(draw, vocab, kind), key)
    if what == 3:
        items = tuple(draw_term(draw, vocab, kind) for _ in range(number(draw, 0, 3)))
        return ("in", flag(draw), key, ("list", kind, tuple(dict.fromkeys(items))))
    if what == 4:
        req: Expr = ("req", kind)
        shape = number(draw, 0, 2)
        if shape == 0:
            return ("cmp", pick(draw, ["=", "!="]), key, req)
        return ("in", flag(draw), *((req, key) if shape == 1 else (key, req)))
    if what == 5:
        return ("in", flag(draw), key, ("key", SET_KEY[kind]))
    names = sorted(n for n in vocab.attributes if ATTRIBUTES[n][0] == kind)
    if not names:
        return ("known", "kk0", flag(draw))
    return attribute_test(draw, ("kattr", "kk0", kind, pick(draw, names)))


def draw_expr(draw: st.DrawFn, vocab: Vocab, depth: int = 0, time: bool = True) -> Expr:
    """A condition of at most three levels: leaves, `not`, `and`, `or`, named conditions."""
    choice = number(draw, 0, 10) if depth < 2 else 0
    if choice <= 6:
        return draw_leaf(draw, vocab, time)
    if choice == 7:
        return ("not", draw_expr(draw, vocab, depth + 1, time))
    if choice == 10:
        return named(draw_expr(draw, vocab, depth + 1, time))
    operands = tuple(draw_expr(draw, vocab, depth + 1, time) for _ in range(number(draw, 2, 3)))
    return ("and" if choice == 8 else "or", operands)


def maybe_expr(draw: st.DrawFn, vocab: Vocab, time: bool = True) -> Expr | None:
    return draw_expr(draw, vocab, time=time) if flag(draw) else None


def draw_rule(
    draw: st.DrawFn, vocab: Vocab, rule_id: str, effect: str | None = None, time: bool = True
) -> RuleSpec:
    effect = effect or pick(draw, ["allow", "deny"])
    scopes = tuple(
        None if number(draw, 0, 2) == 0 else tuple(some(draw, vocab.terms(kind), 1, 2))
        for kind in KINDS
    )
    condition = maybe_expr(draw, vocab, time)
    exceptions = tuple(draw_expr(draw, vocab, time=time) for _ in range(number(draw, 0, 2)))
    obligations: list[tuple[tuple[str, ...], Expr | None]] = []
    if effect == "allow" and vocab.obligations:
        for _ in range(number(draw, 0, 2)):
            names = tuple(some(draw, vocab.obligations, 1, 2))
            when = None if number(draw, 0, 2) == 0 else draw_expr(draw, vocab, 1, time)
            obligations.append((names, when))
    citation = f"§{number(draw, 1, 9)}.1" if flag(draw) else None
    description = "a rule" if flag(draw) else None
    return RuleSpec(
        rule_id,
        effect,
        scopes,
        condition,
        exceptions,
        tuple(obligations),
        citation,
        description,
    )


@st.composite
def rules(draw: st.DrawFn, vocab: Vocab, rule_id: str, effect: str | None = None) -> RuleSpec:
    return draw_rule(draw, vocab, rule_id, effect)


def draw_number(draw: st.DrawFn) -> int | Decimal:
    return pick(draw, DECIMALS) if number(draw, 0, 2) == 0 else number(draw, -2, 5)


def draw_scalar(draw: st.DrawFn, key: str) -> Any:
    base = SCHEMA[key][1]
    if base == "bool":
        return flag(draw)
    if base == "int":
        return number(draw, -2, 5)
    if base == "dec":
        value = draw_number(draw)
        # A request may send a decimal as a float: the engine reads it from its repr.
        return float(value) if flag(draw) else value
    return pick(draw, STRINGS)


def draw_override(
    draw: st.DrawFn, vocab: Vocab, rules: Sequence[RuleSpec], override_id: str, time: bool = True
) -> OverrideSpec:
    """Lifts some rules by id, or the denies citing a section some rule's citation is in
    (``time``: its conditions may compare dates, as :func:`draw_leaf` says)."""
    cited = sorted({r.citation.split(".")[0] for r in rules if r.citation})
    citing = pick(draw, cited) if cited and flag(draw) else None
    names = tuple(some(draw, [r.id for r in rules], 1, 2))
    obligations: list[tuple[tuple[str, ...], Expr | None]] = []
    for _ in range(number(draw, 0, 1) if vocab.obligations else 0):
        when = None if flag(draw) else draw_expr(draw, vocab, depth=1, time=time)
        obligations.append((tuple(some(draw, vocab.obligations, 1, 2)), when))
    condition = draw_expr(draw, vocab, depth=1, time=time)
    return OverrideSpec(override_id, names, citing, condition, tuple(obligations))


@st.composite
def policies(draw: st.DrawFn, time: bool = True) -> PolicySpec:
    vocab = draw(vocabularies())
    defaults = {}
    for key in ("kb0", "kb1", "ki0", "ki1", "kr0", "ks0"):
        if number(draw, 0, 3) == 3:
            value = draw_scalar(draw, key)
            defaults[key] = Decimal(repr(value)) if isinstance(value, float) else value
    for key in ("kl0", "kp0"):  # a list and a set default to a list (often the empty one)
        if number(draw, 0, 3) == 3:
            defaults[key] = tuple(draw_context_value(draw, vocab, key))
    for key, kind in TERM_KEYS.items():  # a key of one term defaults to a term
        if number(draw, 0, 3) == 3:
            defaults[key] = pick(draw, vocab.terms(kind))
    # Ids in a random order so that the order written differs from the order of ids.
    ids = draw(st.permutations([f"r{i}" for i in range(8)]))
    specs = tuple(draw_rule(draw, vocab, ids[i], time=time) for i in range(number(draw, 1, 6)))
    decl_order = tuple(draw(st.permutations([(k, t) for k in KINDS for t in vocab.terms(k)])))
    overrides = tuple(
        draw_override(draw, vocab, specs, f"o{i}", time) for i in range(number(draw, 0, 2))
    )
    return PolicySpec(vocab, defaults, specs, decl_order, overrides)


def draw_context_value(draw: st.DrawFn, vocab: Vocab, key: str) -> Any:
    if key in TERM_KEYS:
        return pick(draw, vocab.terms(TERM_KEYS[key]))
    base = SCHEMA[key][1]
    if base == "date":
        day = time_reference.date_number(pick(draw, DATES)) + number(draw, -40, 40)
        return time_reference.date_text(day)
    if base == "instant":
        at = time_reference.instant_number(pick(draw, INSTANTS))
        return time_reference.instant_text(at + number(draw, -3, 3) * 30 * 60 * 10**9)
    if base in ("bool", "int", "dec", "str"):
        return draw_scalar(draw, key)
    if base == "strlist":
        return some(draw, STRINGS, 0, 3)
    return some(draw, vocab.terms("purpose" if base == "purpose_set" else "party"), 0, 3)


@st.composite
def requests(draw: st.DrawFn, vocab: Vocab) -> Request:
    # Later terms tend to sit lower in the hierarchy (their parents are earlier terms), so more
    # rules cover them: pick from the end first.
    party, data, purpose = (pick(draw, vocab.terms(k)[::-1]) for k in KINDS)
    context: dict[str, Any] = {}
    for key in (*SCHEMA, *TERM_KEYS):
        presence = number(draw, 0, 9)
        if presence < 4:
            continue  # absent
        if presence == 4:
            context[key] = None  # null: unknown, like an absent key
        else:
            context[key] = draw_context_value(draw, vocab, key)
    return Request(party, data, purpose, context)


@st.composite
def cases(draw: st.DrawFn) -> tuple[PolicySpec, list[Request]]:
    spec = draw(policies())
    return spec, draw(st.lists(requests(spec.vocab), min_size=1, max_size=10))


# ---- the reference evaluator ---------------------------------------------------------------

Truth = bool | None  # None = unknown
ABSENT = object()


def ancestors(vocab: Vocab, kind: str, term: str) -> set[str]:
    """The term and every term above it, by a plain walk up the parent links."""
    seen: set[str] = set()
    stack = [term]
    while stack:
        current = stack.pop()
        if current not in seen:
            seen.add(current)
            stack.extend(vocab.parents[kind][current])
    return seen


class Reference:
    """Decides a request from the model of the policy, directly from docs/semantics.md."""

    def __init__(self, spec: PolicySpec, request: Request) -> None:
        self.spec = spec
        self.vocab = spec.vocab
        self.request = request
        self.terms = {"party": request.party, "data": request.data, "purpose": request.purpose}
        self.ctx: dict[str, Any] = {}
        for key in (*SCHEMA, *TERM_KEYS):
            value = request.context.get(key)
            if value is None and key in spec.defaults:
                value = spec.defaults[key]
            if isinstance(value, float):  # docs/semantics.md: a float is read from its repr
                value = Decimal(repr(value))
            if value is not None:
                self.ctx[key] = value

    time_kinds: Mapping[str, str] = {"kd0": "date", "kd1": "date", "kw0": "instant"}
    """The date and instant keys, with their kinds (a request states them as text)."""

    def time_kind(self, node: Expr) -> str:
        """Whether a time operand is a date or an instant."""
        while node[0] == "shift":
            node = node[1]
        if node[0] == "time":
            return str(node[1])
        if node[0] in ("attr", "kattr"):
            return "date"  # the one time attribute, `since`, is a date
        return self.time_kinds[node[1]]

    def is_key(self, name: str) -> bool:
        """Whether ``name`` is a context key (what a decision's `missing` may list)."""
        return name in SCHEMA or name in TERM_KEYS

    def is_term_key(self, node: Expr) -> bool:
        return node[0] == "key" and node[1] in TERM_KEYS

    def attribute_of(self, node: Expr) -> Any:
        """The value of an ``attr`` or ``kattr`` operand's attribute, None when unknown (the
        term has none, or the key naming it is absent)."""
        if node[0] == "attr":
            return self.vocab.attribute(node[2], self.terms[node[1]])
        term = self.ctx.get(node[1])
        return None if term is None else self.vocab.attribute(node[3], term)

    def operand(self, node: Expr) -> Any:
        tag = node[0]
        if tag in ("key", "now") and node[1] in self.time_kinds:
            value = self.ctx.get(node[1], ABSENT)
            kind = self.time_kinds[node[1]]
            return ABSENT if value is ABSENT else time_reference.number(kind, value)
        if tag == "time":
            return time_reference.number(node[1], node[2])
        if tag == "shift":
            base = self.operand(node[1])
            kind = self.time_kind(node)
            return time_reference.moved(kind, base, *node[2:])
        if tag == "key":
            return self.ctx.get(node[1], ABSENT)
        if tag == "lit":
            return node[1]
        if tag == "req":
            return self.terms[node[1]]
        if tag == "term":
            return node[2]
        if tag in ("attr", "kattr"):  # the term's value (None: unknown)
            return attribute_number(self.attribute_of(node))
        return [self.operand(i) for i in node[2]]

    def absent_keys(self, nodes: Iterable[Expr]) -> set[str]:
        """The keys the request lacks (a moved date's key, `now`'s), and the attributes its terms
        have no value of."""
        bases = []
        for node in nodes:
            while node[0] == "shift":
                node = node[1]
            bases.append(node)
        found = {n[1] for n in bases if n[0] in ("key", "now") and n[1] not in self.ctx}
        for n in bases:
            if n[0] == "attr" and self.vocab.attribute(n[2], self.terms[n[1]]) is None:
                found.add(f"{n[1]}.{n[2]}")
            if n[0] == "kattr":
                if n[1] not in self.ctx:
                    found.add(n[1])  # the key naming the term is missing: a request can say
                elif self.attribute_of(n) is None:
                    found.add(f"{n[1]}.{n[3]}")
        return found

    def value(self, expr: Expr) -> tuple[Truth, set[str]]:
        """The three-valued truth of ``expr`` and, when unknown, the absent keys that made it so."""
        tag = expr[0]
        if tag == "named":
            return self.value(expr[2])  # exactly the condition it names
        if tag == "not":
            inner, missing = self.value(expr[1])
            return (None if inner is None else not inner), missing
        if tag in ("and", "or"):
            results = [self.value(e) for e in expr[1]]
            values = [v for v, _ in results]
            dominant = tag == "or"  # True decides an `or`, False decides an `and`
            if dominant in values:
                return dominant, set()
            if None in values:
                return None, set().union(*(m for v, m in results if v is None))
            return (not dominant), set()
        if tag == "known":
            return (expr[1] in self.ctx) == expr[2], set()
        if tag == "aknown":  # never unknown: a missing key names no term, which has no value
            return (self.attribute_of(expr[1]) is not None) == expr[2], set()
        operands = [expr[1]] if tag == "truth" else [expr[2], expr[3]]
        absent = self.absent_keys(operands)
        if absent:
            return None, absent
        if tag == "truth":
            return bool(self.operand(expr[1])), set()
        left, right = self.operand(expr[2]), self.operand(expr[3])
        if tag == "cmp":
            op = expr[1]
            if op == "=":
                return left == right, set()
            if op == "!=":
                return left != right, set()
            if op == "<":
                return left < right, set()
            if op == "<=":
                return left <= right, set()
            if op == ">":
                return left > right, set()
            return left >= right, set()
        found = self.member(expr[2], expr[3], left, right)
        return found != expr[1], set()

    def member(self, left_node: Expr, right_node: Expr, left: Any, right: Any) -> bool:
        kind = self.kind_of(right_node)
        if kind is None:
            return left in right  # strings: plain membership
        above = ancestors(self.vocab, kind, left)
        if right_node[0] in ("term", "req") or self.is_term_key(right_node):
            return right in above  # `x in t`, `x in kk0`: x is that term or below it
        return bool(above & set(right))  # a set: x or one of its ancestors is in it

    def kind_of(self, node: Expr) -> str | None:
        tag = node[0]
        if tag == "req":
            return str(node[1])
        if tag == "term":
            return str(node[1])
        if tag == "list":
            return node[1] if node[2] else None
        if tag == "key":
            if node[1] in TERM_KEYS:
                return TERM_KEYS[node[1]]
            base = SCHEMA[node[1]][1]
            return {"purpose_set": "purpose", "party_set": "party"}.get(base)
        return None

    def covers(self, rule: RuleSpec) -> bool:
        for kind, scope in zip(KINDS, rule.scopes, strict=True):
            if scope is not None and not set(scope) & ancestors(self.vocab, kind, self.terms[kind]):
                return False
        return True

    def own_value(self, rule: RuleSpec) -> tuple[Truth, set[str]]:
        """cond and not exc1 and not exc2 ..., with the absent keys when unknown: the rule's value
        without any override."""
        parts: list[tuple[Truth, set[str]]] = []
        if rule.condition is not None:
            parts.append(self.value(rule.condition))
        for exception in rule.exceptions:
            v, m = self.value(exception)
            parts.append((None if v is None else not v, m))
        return kleene_all(parts)

    def live_overrides(self) -> list[tuple[OverrideSpec, tuple[str, ...]]]:
        """Each override of the policy that lifts some deny rule, with the ids it lifts."""
        found = []
        for override in getattr(self.spec, "overrides", ()):
            ids = lifted_ids(self.spec.rules, override)
            if ids:
                found.append((override, ids))
        return found

    def rule_value(self, rule: RuleSpec) -> tuple[Truth, set[str]]:
        """A deny's own value and not the condition of each override that lifts it (docs/
        semantics.md, 37): an override whose condition is true lifts it, an unknown one does
        not."""
        parts = [self.own_value(rule)]
        for override, ids in self.live_overrides():
            if rule.id in ids:
                v, m = self.value(override.condition)
                parts.append((None if v is None else not v, m))
        return kleene_all(parts)

    def override_obligations(
        self, candidates: Sequence[RuleSpec]
    ) -> tuple[set[tuple[str, str]], set[str], list[tuple[str, str, set[str]]]]:
        """On an allow: the obligations overrides bring (text, name), the keys that left one
        unknown, and each unknown one (text, override, what it lacks). An override lifts when
        its condition is true and a deny it lifts covers the request and would otherwise apply
        (its own value is not false); each obligation is attached when that and its own
        condition hold (docs/semantics.md, 39–40)."""
        obligations: set[tuple[str, str]] = set()
        missing: set[str] = set()
        unknown: list[tuple[str, str, set[str]]] = []
        for override, ids in self.live_overrides():
            would = any(self.own_value(r)[0] is not False for r in candidates if r.id in ids)
            held, held_missing = self.value(override.condition)
            trigger: Truth = False if held is False or not would else held
            for uses, condition in override.obligations:
                for use in uses:
                    text, name, when = self.requirement(use, condition)
                    w, w_missing = (True, set()) if when is None else self.value(when)
                    if trigger is True and w is True:
                        obligations.add((text, name))
                    elif trigger is not False and w is not False:
                        lacking = (held_missing if trigger is None else set()) | (
                            w_missing if w is None else set()
                        )
                        missing |= lacking
                        unknown.append((text, override.id, lacking))
        return obligations, missing, unknown

    def decide(self) -> dict[str, Any]:
        candidates = [r for r in self.spec.rules if self.covers(r)]
        values = {r.id: self.rule_value(r) for r in candidates}
        denies = [r for r in candidates if r.effect == "deny" and values[r.id][0] is not False]
        grants = [r for r in candidates if r.effect == "allow" and values[r.id][0] is True]
        certain_deny = any(values[r.id][0] is True for r in denies)
        missing: set[str] = set()
        if not certain_deny:
            for r in candidates:
                if values[r.id][0] is None:
                    missing |= values[r.id][1]
        obligations: set[tuple[str, str]] = set()
        unknown: list[tuple[str, str, set[str]]] = []
        if denies:
            effect, deciding = "deny", denies
        elif grants:
            effect, deciding = "allow", grants
            for rule in grants:
                for uses, condition in rule.obligations:
                    for use in uses:
                        text, name, when = self.requirement(use, condition)
                        v, m = (True, set()) if when is None else self.value(when)
                        if v is True:
                            obligations.add((text, name))
                        elif v is None:
                            missing |= m
                            unknown.append((text, rule.id, m))
            brought, lacking, unknown_brought = self.override_obligations(candidates)
            obligations |= brought
            missing |= lacking
            unknown += unknown_brought
        else:
            effect, deciding = "deny", []
        return {
            "effect": effect,
            "obligations": sorted({name for _, name in obligations}),
            "details": sorted((text for text, _ in obligations), key=detail_order),
            "reasons": sorted(r.id for r in deciding),
            # What a request can state: an attribute a term has no value of is not a key.
            "missing": sorted(m for m in missing if self.is_key(m)),
            "undetermined": undetermined(unknown, {text for text, _ in obligations}, self.is_key),
        }

    def requirement(self, use: str, condition: Expr | None) -> tuple[str, str, Expr | None]:
        """An obligation as a clause writes it (``use``), with the clause's condition: its text
        as decisions detail it, its name, and when it is attached (here: the clause's own)."""
        return use, use, condition


_DETAIL = re.compile(r"^(\w+)(?:\((\w+) = (-?[\d.]+)\))?$")


def detail_order(text: str) -> tuple[str, tuple[tuple[str, Decimal], ...]]:
    """docs/semantics.md, 32: a decision's obligations in detail by name, then by their
    arguments as numbers (``ob1(x = 2)`` before ``ob1(x = 10)``; the generated policies give
    numbers only)."""
    match = _DETAIL.match(text)
    assert match is not None, text
    return match[1], () if match[2] is None else ((match[2], Decimal(match[3])),)


def is_attribute(name: str) -> bool:
    """``party.level``: an attribute of the request's term, not a context key."""
    return name.partition(".")[0] in KINDS


Undetermined = tuple[str, str, tuple[str, ...], tuple[str, ...]]


def undetermined(
    unknown: Iterable[tuple[str, str, set[str]]],
    attached: set[str],
    is_key: Callable[[str], bool] = lambda name: not is_attribute(name),
) -> list[Undetermined]:
    """docs/semantics.md, 48: each obligation whose condition is unknown and that the allow does
    not carry, once per rule or override, with the keys and the attributes it lacks, in the
    order of the details (32), then by rule or override."""
    merged: dict[tuple[str, str], set[str]] = {}
    for text, by, lacking in unknown:
        if text not in attached:
            merged.setdefault((text, by), set()).update(lacking)
    return [
        (
            text,
            by,
            tuple(sorted(m for m in lacking if is_key(m))),
            tuple(sorted(m for m in lacking if not is_key(m))),
        )
        for (text, by), lacking in sorted(
            merged.items(), key=lambda item: (detail_order(item[0][0]), item[0][1])
        )
    ]


def kleene_all(parts: Sequence[tuple[Truth, set[str]]]) -> tuple[Truth, set[str]]:
    """``and`` of valued parts, with the absent keys of the unknown ones when it is unknown."""
    if any(v is False for v, _ in parts):
        return False, set()
    if any(v is None for v, _ in parts):
        return None, set().union(*(m for v, m in parts if v is None))
    return True, set()


def reference_decide(spec: PolicySpec, request: Request) -> dict[str, Any]:
    return Reference(spec, request).decide()


def engine_decide(policy: policy_engine.Policy, request: Request) -> dict[str, Any]:
    d = policy.decide(request.party, request.data, request.purpose, dict(request.context))
    assert d.allowed == (d.effect == "allow")
    if not d.allowed:
        assert d.obligations == []
    return {
        "effect": d.effect,
        "obligations": sorted(d.obligations),
        "details": [o.text for o in d.obligation_details],
        "reasons": [r.id for r in d.reasons],
        "missing": list(d.missing),
        "undetermined": undetermined_of(d),
    }


def undetermined_of(d: policy_engine.Decision) -> list[Undetermined]:
    """``d.undetermined_obligations`` as the reference gives them."""
    return [
        (u.text, u.required_by, tuple(u.missing), tuple(u.unknown_attributes))
        for u in d.undetermined_obligations
    ]


# ---- (a) the engine agrees with the reference ------------------------------------------------


@SETTINGS
@given(cases())
def test_engine_agrees_with_reference_evaluator(case: tuple[PolicySpec, list[Request]]) -> None:
    spec, reqs = case
    policy = load(spec)
    for request in reqs:
        expected = reference_decide(spec, request)
        got = engine_decide(policy, request)
        assert got == expected, f"{request}\n--- policy ---\n{policy_text(spec)}"
        # Reasons come sorted by id (the engine's own list, not re-sorted here).
        assert got["reasons"] == sorted(got["reasons"])
        assert got["missing"] == sorted(set(got["missing"]))


def test_reference_evaluator_on_a_hand_worked_example() -> None:
    """The reference evaluator itself gives the answers worked out by hand from the semantics
    (an unknown allow does not grant and lists its key; a true one grants), and so does the
    engine: (a) compares two independent implementations, not one with itself."""
    vocab = Vocab({"party": {"pa0": ()}, "data": {"da0": ()}, "purpose": {"pu0": ()}}, ())
    allow = RuleSpec(
        "r0", "allow", (None, None, None), ("truth", ("key", "kb0")), (), (), None, None
    )
    spec = PolicySpec(vocab, {}, (allow,), (("party", "pa0"), ("data", "da0"), ("purpose", "pu0")))
    request = Request("pa0", "da0", "pu0", {})
    assert reference_decide(spec, request) == {
        "effect": "deny",
        "obligations": [],
        "details": [],
        "reasons": [],
        "missing": ["kb0"],
        "undetermined": [],
    }
    assert engine_decide(load(spec), request) == reference_decide(spec, request)
    granted = Request("pa0", "da0", "pu0", {"kb0": True})
    assert reference_decide(spec, granted)["effect"] == "allow"


# ---- (b) order of rules and files does not matter --------------------------------------------


@st.composite
def layouts(draw: st.DrawFn) -> tuple[PolicySpec, list[Request], dict[str, str]]:
    """A policy, requests, and the same policy with its rules shuffled and every item (vocabulary,
    context, rules) spread over up to four files."""
    spec, reqs = draw(cases())
    shuffled = replace(spec, rules=tuple(draw(st.permutations(spec.rules))))
    items = draw(st.permutations(policy_items(shuffled)))
    n_files = draw(st.integers(1, 4))
    names = draw(st.permutations([f"f{i}.policy" for i in range(n_files)]))
    files: dict[str, list[str]] = {name: [] for name in names}
    for item in items:
        files[draw(st.sampled_from(names))].append(item)
    return spec, reqs, {name: "\n".join(parts) for name, parts in files.items()}


@settings(SETTINGS, max_examples=150)
@given(layouts())
def test_decisions_do_not_depend_on_rule_or_file_order(
    case: tuple[PolicySpec, list[Request], dict[str, str]],
) -> None:
    spec, reqs, files = case
    original = load(spec)
    split = load_policy_text(files)
    reordered = load_policy_text(dict(reversed(list(files.items()))))
    # Same files given in another order: the same policy, the same version.
    assert reordered.version == split.version
    for request in reqs:
        expected = engine_decide(original, request)
        assert engine_decide(split, request) == expected
        assert engine_decide(reordered, request) == expected


# ---- (c), (d) monotonicity ---------------------------------------------------------------------


@st.composite
def with_extra_rule(draw: st.DrawFn, effect: str) -> tuple[PolicySpec, PolicySpec, list[Request]]:
    spec, reqs = draw(cases())
    extra = draw(rules(spec.vocab, "extra", effect))
    rules_ = list(spec.rules)
    rules_.insert(draw(st.integers(0, len(rules_))), extra)
    return spec, replace(spec, rules=tuple(rules_)), reqs


@settings(SETTINGS, max_examples=150)
@given(with_extra_rule("deny"))
def test_adding_a_deny_rule_never_turns_a_deny_into_an_allow(
    case: tuple[PolicySpec, PolicySpec, list[Request]],
) -> None:
    before, after, reqs = case
    old, new = load(before), load(after)
    for request in reqs:
        if engine_decide(old, request)["effect"] == "deny":
            assert engine_decide(new, request)["effect"] == "deny"


@settings(SETTINGS, max_examples=150)
@given(with_extra_rule("allow"))
def test_adding_an_allow_rule_never_turns_an_allow_into_a_deny(
    case: tuple[PolicySpec, PolicySpec, list[Request]],
) -> None:
    before, after, reqs = case
    old, new = load(before), load(after)
    for request in reqs:
        if engine_decide(old, request)["effect"] == "allow":
            assert engine_decide(new, request)["effect"] == "allow"


# ---- (e) explanations --------------------------------------------------------------------------

TRUTH = {True: "true", False: "false", None: "unknown"}


def fast_rule_value(
    rule: CompiledRule, ctx: Mapping[str, Any], terms: tuple[str, str, str]
) -> Truth:
    """A rule's value from its compiled closures (the fast path ``decide`` uses, not the tracing
    interpreter that ``explain`` walks): cond and not exc1 and not exc2 ..."""
    parts = [] if rule.condition is None else [rule.condition(ctx, terms)]
    parts += [None if v is None else not v for v in (e(ctx, terms) for e in rule.exceptions)]
    return False if False in parts else (None if None in parts else True)


@settings(SETTINGS, max_examples=200)
@given(cases())
def test_explain_never_raises_and_agrees_with_the_fast_path(
    case: tuple[PolicySpec, list[Request]],
) -> None:
    spec, reqs = case
    policy = load(spec)
    compiled = {r.id: r for r in policy.compiled.rules}
    for request in reqs:
        d = policy.decide(request.party, request.data, request.purpose, dict(request.context))
        text = d.explain()
        trace = d.trace()
        assert trace.decision.model_dump(mode="json") == d.model_dump()
        reference = Reference(spec, request)
        candidates = {r.id: r for r in spec.rules if reference.covers(r)}
        assert sorted(t.id for t in trace.considered) == sorted(candidates)
        ctx = normalize_context(policy.compiled, dict(request.context))
        terms = (request.party, request.data, request.purpose)
        for rule_trace in trace.considered:
            fast = fast_rule_value(compiled[rule_trace.id], ctx, terms)
            assert rule_trace.value == TRUTH[fast], rule_trace.id
            value, missing = reference.rule_value(candidates[rule_trace.id])
            assert rule_trace.value == TRUTH[value]
            assert rule_trace.missing == sorted(missing)
            assert f"`{rule_trace.id}`" in text
            if rule_trace.condition is not None:
                cond_value, _ = reference.value(candidates[rule_trace.id].condition)  # type: ignore[arg-type]
                assert rule_trace.condition.value == TRUTH[cond_value]
            for exc_trace, exc in zip(
                rule_trace.exceptions, candidates[rule_trace.id].exceptions, strict=True
            ):
                assert exc_trace.value == TRUTH[reference.value(exc)[0]]
            # An obligation is attached exactly when the rule applies and its condition holds.
            for ob_trace, (names, condition) in zip(
                rule_trace.obligations, candidates[rule_trace.id].obligations, strict=True
            ):
                assert ob_trace.obligations == list(names)
                holds = condition is None or reference.value(condition)[0] is True
                assert ob_trace.attached == (value is True and holds)
        # The trace says where every obligation comes from: the granting rules' own clauses and
        # the overrides' (said from the override's own parts, not from the allow rules' logic).
        attached = {
            obligation_name(n)
            for t in trace.considered
            for o in t.obligations
            if o.attached
            for n in o.obligations
        }
        attached |= {
            obligation_name(n)
            for u in trace.overrides
            for o in u.obligations
            if o.attached
            for n in o.obligations
        }
        assert sorted(attached) == d.obligations or not d.allowed
        # The fast path's deciding rules are the trace's applying (or fail-closed) ones.
        if d.effect == "allow":
            applying = sorted(
                t.id for t in trace.considered if t.effect == "allow" and t.value == "true"
            )
        else:
            applying = sorted(
                t.id for t in trace.considered if t.effect == "deny" and t.value != "false"
            )
        assert [r.id for r in d.reasons] == applying


# ---- (e) a policy restored from the compiled cache decides as the reference ------------------


@settings(SETTINGS, max_examples=150)
@given(cases())
def test_policy_restored_from_the_cache_agrees_with_reference(
    case: tuple[PolicySpec, list[Request]],
) -> None:
    spec, reqs = case
    text = policy_text(spec)
    fresh = load_policy_text(text)  # compiled, and its image stored
    restored = load_policy_text(text)
    # Really restored: no rule has its syntax tree until something needs one.
    assert all(rule._source is None for rule in restored.compiled.rules)
    for request in reqs:
        assert engine_decide(restored, request) == reference_decide(spec, request)
    if reqs:
        first = reqs[0]
        args = (first.party, first.data, first.purpose, dict(first.context))
        assert restored.decide(*args).explain() == fresh.decide(*args).explain()
