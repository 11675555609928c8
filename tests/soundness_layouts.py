"""Package layouts for the soundness harness: a random policy of ``soundness_model`` (every
construct of the language) written as a using policy and one or two packages, in real folders.

A :class:`Layout` is a shape and a seed (and names pinned to a level, for the cases built on
purpose: :func:`with_policy_terms`, :func:`with_policy_override`). The shapes are a policy that
uses one package (``pk``), two packages side by side (``pa`` and ``pb``), or a package that uses
a package of its own (``pk`` and ``pk.base``: the using policy names its terms ``pk.base.x``).
Each *level* (the using policy, ``""``, and each package) is a folder: beside its user's folder
or inside it, with one rule file or two. The seed says, for each name of a spec, which level it
would like to go to.

An :class:`Arrangement` places a spec (or several versions of one, alike) on those levels:

- every term, obligation and context key is declared by one level; a statement (rule, override,
  invariant, an obligation's declared condition, a key's default) goes where it would like to be,
  or higher up, to the nearest level that sees every name it mentions (a level sees its own names
  and those of the packages it uses, however deep), so a rule of the using policy scopes package
  terms (``pk.pa0``) and a package's rule may cover the using policy's terms placed under the
  package's;
- each parent link of the vocabulary is written by the lowest level that sees both terms: in the
  child's own declaration (``party pa1 under pk.pa0``, the using policy's term under a package's),
  or as a *placement* (``party pk.pa1 under pa0``, a package's term placed under the using
  policy's; ``party pa.pa1 under pb.pa0`` between two packages);
- a key may be *supplied* from above: ``context s1_ki0: integer supplies pk.ki0`` (and from
  higher still, ``supplies pk.s1_ki0``, or straight from the top, ``supplies pk.base.ki0``); the
  package's rules then read the supplying key, the policy's own mentions of the package's key
  sometimes name it as the package does;
- named conditions are declared by each level that uses them, or used under a lower level's
  name (``pk.nc_…``); attributes are declared by one level and named under its namespace like
  its terms (``party.pk.level`` above it, ``with pk.level = 2``), and each term that gives a value
  is declared where that declaration is seen;
- an override goes to a level that sees every rule it lifts (the using policy's override lifting
  a package's deny is ``lifts pk.r3``); one that lifts the denies citing a section is written so
  when those denies are all its own level's, or, when the levels have source documents (each its
  own ``d.txt``), all one package's (``lifts denies citing pk.d:§2``): without a document a
  citation names nothing in another policy. Else it names them by id;
- requests send the keys of packages and dotted keys as nested objects (``{"pk": {"ki0": 1}}``)
  or by their dotted names, as the layout says.

The meaning of the layout is the spec's, by construction: the union of the levels' statements is
the spec's, every name only qualified. So the spec *is* the independent reference of the layout
(``SoundReference`` decides it, never the engine's package machinery), once each name is mapped
(:class:`Naming`). :class:`LayoutRealisation` loads the layout from its folders and speaks the
spec's names to the harness (requests in, decisions, ``check`` findings and ``diff`` reports
out), so ``compare_check`` and ``compare_diff`` run on it unchanged. :meth:`Arrangement.sub_spec`
is a package alone (what its own folder means), and :meth:`Arrangement.side` the statements of a
package's subtree or of everything else (what ``conforms`` compares).
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import os
import random
import re
import shlex
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import policy_engine
from policy_engine import check_policy, load_policy

from . import soundness_model
from .soundness_model import (
    Choices,
    ExprGen,
    InvariantSpec,
    Key,
    Spec,
    flag,
    gen_override,
    gen_rule,
    invariant_text,
    leaves,
    nested,
    pick,
    use_parts,
)
from .test_properties import (
    ATTRIBUTES,
    KINDS,
    PREFIX,
    Expr,
    OverrideSpec,
    Request,
    RuleSpec,
    Vocab,
    cites_within,
    detail_order,
    expr_text,
    lifted_ids,
    lit_text,
    override_text,
    rule_text,
)

SHAPES: dict[str, tuple[str, ...]] = {
    "one": ("", "pk"),
    "two": ("", "pa", "pb"),
    "nested": ("", "pk", "pk.base"),
}
"""The levels of each shape: the using policy (``""``) and its packages, by namespace."""

TOP_FOLDER = "user"

DOCUMENT_FILE = "d.txt"
DOCUMENT = "1. First\nText.\n\n2. Second\nText.\n\n2.1 Within the second\nText.\n\n3. Third\n"
"""Every level's source document, when the layout has them: the sections rules cite."""


# ---- levels --------------------------------------------------------------------------------------


def parent_of(level: str) -> str:
    return level.rpartition(".")[0]


def sees(upper: str, lower: str) -> bool:
    """Whether the policy at ``upper`` can name what ``lower`` declares (its own, or a package's
    it uses, however deep)."""
    return upper == "" or lower == upper or lower.startswith(upper + ".")


def lowest_common(*levels: str) -> str:
    """The lowest level that sees every one of ``levels``."""
    parts = [level.split(".") if level else [] for level in levels]
    common: list[str] = []
    for group in zip(*parts, strict=False):
        if len(set(group)) != 1:
            break
        common.append(group[0])
    return ".".join(common)


def qualified(at: str, owner: str, name: str) -> str:
    """``name`` of the level ``owner`` as a file of ``at`` writes it."""
    if owner == at:
        return name
    return f"{owner if at == '' else owner[len(at) + 1 :]}.{name}"


# ---- the layout ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Layout:
    shape: str
    seed: int
    attributes_at: str
    """The level that declares the attributes of terms (one declaration for all levels)."""
    pinned: tuple[tuple[str, str], ...] = ()
    """Names that go to a given level (or higher up, if what they mention is not seen there)."""

    @property
    def levels(self) -> tuple[str, ...]:
        return SHAPES[self.shape]

    def _rng(self, *what: str) -> random.Random:
        return random.Random("/".join((str(self.seed), *what)))

    def prefer(self, name: str) -> str:
        """The level ``name`` would like to go to: mostly one package (the seed's), else any."""
        for pinned, level in self.pinned:
            if pinned == name:
                return level
        packages = self.levels[1:]
        focus = self._rng("focus").choice(packages)
        bias = self._rng("bias").choice([0.4, 0.7, 0.9])
        rng = self._rng("level", name)
        return focus if rng.random() < bias else rng.choice(self.levels)

    def supplies_from(self, key: str, level: str) -> bool:
        """Whether ``level`` (above the key's home) supplies the key."""
        return self._rng("supply", key, level).random() < 0.45

    def names_the_supplied(self, key: str, level: str) -> bool:
        """Whether a supplying level mentions the key by the package's name (which reads the
        supplying key too)."""
        return self._rng("mention", key, level).random() < 0.3

    def uses_lower_named(self, name: str, level: str) -> bool:
        """Whether a level uses a lower level's named condition rather than declaring it."""
        return self._rng("named", name, level).random() < 0.6

    def inside(self, level: str) -> bool:
        """Whether a package's folder is inside its user's folder (else beside it)."""
        return self._rng("inside", level).random() < 0.5

    def documents(self) -> bool:
        """Whether each level has a source document (``source d "d.txt"``): citations then name
        its sections, and an override may lift the denies citing a package's section
        (``lifts denies citing pk.d:§2``)."""
        return self._rng("documents").random() < 0.4

    def nests(self) -> bool:
        """Whether requests send dotted keys as nested objects."""
        return self._rng("nest").random() < 0.5

    def two_files(self, level: str) -> bool:
        return self._rng("files", level).random() < 0.3

    def folder(self, level: str) -> str:
        if level == "":
            return TOP_FOLDER
        above = self.folder(parent_of(level))
        namespace = level.rpartition(".")[2]
        if self.inside(level):
            return f"{above}/{namespace}"
        return f"{os.path.dirname(above)}/{namespace}".lstrip("/")


def gen_layout(c: Choices, spec: Spec) -> Layout:
    """A layout for ``spec``: a shape, where its attributes are declared, and a seed for the
    rest."""
    shape = pick(c, sorted(SHAPES))
    levels = SHAPES[shape]
    attributes_at = pick(c, levels[1:]) if flag(c) else pick(c, levels)
    return Layout(shape, c.number(0, 2**31), attributes_at)


def with_policy_terms(c: Choices, spec: Spec, layout: Layout) -> tuple[Spec, Layout]:
    """``spec`` with one more term of each kind, declared by the policy under a term of the
    spec (often a package's): the requests of the policy's own that ``conforms`` compares."""
    parents = {kind: dict(spec.vocab.parents[kind]) for kind in KINDS}
    pinned = list(layout.pinned)
    for kind in KINDS:
        terms = list(parents[kind])
        term = f"{PREFIX[kind]}{len(terms)}"
        parents[kind][term] = (pick(c, terms),)
        pinned.append((term, ""))
    vocab = replace(spec.vocab, parents=parents)
    return replace(spec, vocab=vocab), replace(layout, pinned=tuple(pinned))


def with_policy_override(c: Choices, spec: Spec, layout: Layout) -> tuple[Spec, Layout]:
    """``spec`` with one more override that lifts a package's deny, written above that package
    (by the policy, or by the package that uses it), and two allows over the deny's scope, one
    written by the policy and one by the deny's package (what the override lets through);
    unchanged when no package writes a deny."""
    arrangement = Arrangement(layout, [spec])
    denies = [r for r in spec.rules if r.effect == "deny" and arrangement.level[r.id]]
    if not denies:
        return spec, layout
    deny = pick(c, denies)
    gen = ExprGen(c, spec.vocab, spec.keys, ob_decls=spec.ob_decls)
    used = {r.id for r in spec.rules} | {o.id for o in spec.overrides}
    rule_ids = list(
        itertools.islice((f"r{i}" for i in itertools.count() if f"r{i}" not in used), 2)
    )
    override_id = next(f"o{i}" for i in itertools.count() if f"o{i}" not in used)
    drawn = gen_override(c, gen, [deny], override_id)
    at = arrangement.level[deny.id]
    # Sometimes the denies citing the deny's section, when they are all its package's (with
    # source documents: `lifts denies citing pk.d:§2`).
    citing = [
        r
        for r in spec.rules
        if r.effect == "deny" and cites_within(r.citation, deny.citation or "")
    ]
    by_section = deny.citation is not None and all(arrangement.level[r.id] == at for r in citing)
    if by_section and flag(c):
        override = replace(drawn, lifts=(), citing=deny.citation)
    else:
        override = replace(drawn, lifts=(deny.id,), citing=None)
    allows = tuple(replace(gen_rule(c, gen, i, "allow"), scopes=deny.scopes) for i in rule_ids)
    above = parent_of(at) if flag(c) else ""
    pinned = (*layout.pinned, (override_id, above), (rule_ids[0], ""), (rule_ids[1], at))
    new = replace(spec, rules=(*spec.rules, *allows), overrides=(*spec.overrides, override))
    return new, replace(layout, pinned=pinned)


# ---- placing a spec on the levels ---------------------------------------------------------------


def expr_refs(expr: Expr) -> Iterator[tuple[str, str]]:
    """What ``expr`` names: ("key", name), ("term", name), ("attr", name), through named
    conditions (an attribute of the term a key names: the key and the attribute)."""
    for leaf in leaves(expr):
        if leaf[0] == "known":
            yield ("key", leaf[1])
            continue
        found = [leaf[1]] if leaf[0] in ("truth", "aknown") else [leaf[2], leaf[3]]
        while found:
            operand = found.pop()
            tag = operand[0]
            if tag in ("key", "now"):
                yield ("key", operand[1])
            elif tag == "term":
                yield ("term", operand[2])
            elif tag == "attr":
                yield ("attr", operand[2])
            elif tag == "kattr":
                yield ("key", operand[1])
                yield ("attr", operand[3])
            elif tag == "list":
                found += operand[2]
            elif tag == "shift":
                found.append(operand[1])


def named_nodes(expr: Expr) -> Iterator[Expr]:
    """The named conditions ``expr`` uses directly (not those inside their bodies)."""
    tag = expr[0]
    if tag in ("and", "or"):
        for operand in expr[1]:
            yield from named_nodes(operand)
    elif tag == "not":
        yield from named_nodes(expr[1])
    elif tag == "named":
        yield expr


def rule_statement_exprs(rule: RuleSpec) -> list[Expr]:
    found = [rule.condition] if rule.condition is not None else []
    return found + list(rule.exceptions) + [w for _, w in rule.obligations if w is not None]


def override_statement_exprs(override: OverrideSpec) -> list[Expr]:
    return [override.condition] + [w for _, w in override.obligations if w is not None]


def invariant_statement_exprs(inv: InvariantSpec) -> list[Expr]:
    return ([inv.condition] if inv.condition is not None else []) + list(inv.exceptions)


class Arrangement:
    """Which level declares each name of one or more versions of a spec, and writes each
    statement (see the module's docstring); ``top`` is the level read (``""``: the using
    policy; a package's namespace: that package alone)."""

    def __init__(self, layout: Layout, specs: Sequence[Spec], top: str = "") -> None:
        self.layout = layout
        self.top = top
        self.levels = tuple(level for level in layout.levels if sees(top, level))
        self.attributes_at = self._within(layout.attributes_at)
        self.owner: dict[str, str] = {}
        """Term, obligation or key (its *home*: the level that declares it first) → level."""
        self.level: dict[str, str] = {}
        """Rule, override or invariant id → the level that writes it."""
        self.chain: dict[str, tuple[str, ...]] = {}
        """Key → the levels that declare it, its home first, then each level that supplies it."""
        self._place_names(specs)
        self._place_statements(specs)

    def _within(self, level: str) -> str:
        return level if sees(self.top, level) else self.top

    def prefer(self, name: str) -> str:
        return self._within(self.layout.prefer(name))

    def _refs(self, exprs: Iterable[Expr]) -> list[str]:
        found = []
        for expr in exprs:
            for what, name in expr_refs(expr):
                found.append(self.attributes_at if what == "attr" else self.owner[name])
        return found

    def _place_names(self, specs: Sequence[Spec]) -> None:
        valued = {t for s in specs for values in s.vocab.attributes.values() for t in values}
        for spec in specs:
            for kind in KINDS:
                for term in spec.vocab.terms(kind):
                    if term not in self.owner:
                        level = self.prefer(term)
                        if term in valued:  # a term that gives an attribute a value
                            level = lowest_common(level, self.attributes_at)
                        self.owner[term] = level
        for spec in specs:
            for key in spec.keys:
                level = self.owner[key.name] if key.name in self.owner else self.prefer(key.name)
                if key.base == "set":  # a default names terms
                    level = lowest_common(level, *(self.owner[t] for t in key.default or ()))
                if key.base == "term" and key.default is not None:  # a default names a term
                    level = lowest_common(level, self.owner[key.default])
                self.owner[key.name] = level
        for spec in specs:
            for key in spec.keys:
                home = self.owner[key.name]
                above = []
                level = home
                while level != self.top:
                    level = parent_of(level)
                    if self.layout.supplies_from(key.name, level):
                        above.append(level)
                self.chain[key.name] = (home, *above)
        for spec in specs:
            for name in spec.vocab.obligations:
                level = self.owner[name] if name in self.owner else self.prefer(name)
                decl = spec.ob_decl(name)
                if decl is not None and decl.when is not None:
                    level = lowest_common(level, *self._refs([decl.when]))
                self.owner[name] = level

    def _place_statements(self, specs: Sequence[Spec]) -> None:
        mentions: dict[str, list[str]] = {}
        for spec in specs:
            for rule in spec.rules:
                found = mentions.setdefault(rule.id, [])
                found += [self.owner[t] for scope in rule.scopes for t in scope or ()]
                found += self._refs(rule_statement_exprs(rule))
                found += [self.owner[use_parts(u)[0]] for n, _ in rule.obligations for u in n]
            for inv in spec.invariants:
                found = mentions.setdefault(inv.id, [])
                for names, excepts in inv.scopes:
                    found += [self.owner[t] for t in (*(names or ()), *excepts)]
                found += self._refs(invariant_statement_exprs(inv))
        for ident, found in mentions.items():
            self.level[ident] = lowest_common(self.prefer(ident), *found)
        for spec in specs:
            for override in spec.overrides:
                found = mentions.setdefault(override.id, [])
                found += [self.level[r] for r in lifted_ids(spec.rules, override)]
                found += self._refs(override_statement_exprs(override))
                found += [self.owner[use_parts(u)[0]] for n, _ in override.obligations for u in n]
        for spec in specs:
            for override in spec.overrides:
                self.level[override.id] = lowest_common(
                    self.prefer(override.id), *mentions[override.id]
                )

    # ---- names -----------------------------------------------------------------------------------

    def key_name(self, at: str, key: str, mention: bool = False) -> str:
        """The key as the policy read at ``at`` names it: its highest declaration that ``at``
        sees (``mention``: as a statement of ``at`` mentions it, sometimes by the package's
        name of a key ``at`` supplies)."""
        chain = self.chain[key]
        seen = [level for level in chain if sees(at, level)]
        highest = seen[-1]
        local = supplier_name(key, chain.index(highest))
        if mention and highest == at and len(seen) > 1 and self.layout.names_the_supplied(key, at):
            below = seen[-2]  # the package's own name for it reads the supplying key too
            return qualified(at, below, supplier_name(key, chain.index(below)))
        return qualified(at, highest, local)

    def attribute_name(self, at: str, name: str) -> str:
        """An attribute as a file of ``at`` writes it (``pk.level``): under the namespace of the
        level that declares it."""
        return qualified(at, self.attributes_at, name)

    def name(self, at: str, name: str) -> str:
        """A term, obligation, rule, override or invariant id as a file of ``at`` writes it."""
        owner = self.owner.get(name)
        return qualified(at, owner if owner is not None else self.level[name], name)

    def naming(self, spec: Spec) -> Naming:
        """How the policy read at ``top`` names what ``spec`` declares."""
        names = {}
        for kind in KINDS:
            names.update({t: self.name(self.top, t) for t in spec.vocab.terms(kind)})
        names.update({o: self.name(self.top, o) for o in spec.vocab.obligations})
        for ident in [r.id for r in spec.rules] + [i.id for i in spec.invariants]:
            names[ident] = self.name(self.top, ident)
        for override in spec.overrides:
            names[override.id] = self.name(self.top, override.id)
        for attribute in spec.vocab.attributes:  # `party.level` → `party.pk.level`
            kind = ATTRIBUTES[attribute][0]
            names[f"{kind}.{attribute}"] = f"{kind}.{self.attribute_name(self.top, attribute)}"
        keys = {k.name: self.key_name(self.top, k.name) for k in spec.keys}
        for key in spec.keys:  # `kk_party.level` → `pk.kk_party.pk.level`
            for attribute in spec.vocab.attributes:
                if key.base == "term" and ATTRIBUTES[attribute][0] == key.kind:
                    written = f"{keys[key.name]}.{self.attribute_name(self.top, attribute)}"
                    names[f"{key.name}.{attribute}"] = written
        sets = frozenset(k.name for k in spec.keys if k.base == "set")
        terms = frozenset(k.name for k in spec.keys if k.base == "term")
        return Naming(names, keys, sets, terms)

    # ---- views -----------------------------------------------------------------------------------

    def below(self, level: str, name: str) -> bool:
        owner = self.owner.get(name)
        return sees(level, owner if owner is not None else self.level[name])

    def sub_spec(self, spec: Spec, top: str) -> Spec:
        """What the folder of ``top`` means alone: the names and statements of its levels, and
        the parent links they write."""
        vocab = spec.vocab
        parents = {
            kind: {
                term: tuple(
                    p for p in ups if sees(top, lowest_common(self.owner[term], self.owner[p]))
                )
                for term, ups in vocab.parents[kind].items()
                if self.below(top, term)
            }
            for kind in KINDS
        }
        attributes: dict[str, Any] = {}
        defaults: dict[str, Any] = {}
        if sees(top, self.attributes_at):
            attributes = {
                n: {t: v for t, v in values.items() if self.below(top, t)}
                for n, values in vocab.attributes.items()
            }
            defaults = dict(vocab.attribute_defaults)
        obligations = tuple(o for o in vocab.obligations if self.below(top, o))
        return Spec(
            Vocab(parents, obligations, attributes, defaults),
            tuple(k for k in spec.keys if self.below(top, k.name)),
            tuple(r for r in spec.rules if self.below(top, r.id)),
            tuple(i for i in spec.invariants if self.below(top, i.id)),
            tuple(d for d in spec.ob_decls if d.name in obligations),
            tuple(o for o in spec.overrides if self.below(top, o.id)),
        )

    def side(self, spec: Spec, package: str, theirs: bool) -> Spec:
        """The package's statements (``theirs``: those of its folder and its packages') or every
        other, over the whole vocabulary; an override lifts only the rules of its side."""
        mine = lambda ident: self.below(package, ident) == theirs  # noqa: E731
        return replace(
            spec,
            rules=tuple(r for r in spec.rules if mine(r.id)),
            overrides=tuple(o for o in spec.overrides if mine(o.id)),
            invariants=(),
        )

    # ---- writing ---------------------------------------------------------------------------------

    def files(self, spec: Spec) -> dict[str, str]:
        """Every rule file of the layout of ``spec``, by path."""
        named = self._named_declarations(spec)
        out: dict[str, str] = {}
        for level in self.levels:
            head, body = self._level_text(spec, level, named)
            folder = self.layout.folder(level)
            if self.layout.documents():
                head = f'source d "{DOCUMENT_FILE}"\n' + head
                out[f"{folder}/{DOCUMENT_FILE}"] = DOCUMENT
            if self.layout.two_files(level) and body:
                out[f"{folder}/declarations.policy"] = head
                out[f"{folder}/rules.policy"] = body
            else:
                out[f"{folder}/policy.policy"] = head + body
        return out

    def _children(self, level: str) -> list[str]:
        return [c for c in self.levels if c and c != level and parent_of(c) == level]

    def _level_text(self, spec: Spec, at: str, named: Named) -> tuple[str, str]:
        """The declarations, then the statements, of the level ``at``."""
        folder = self.layout.folder(at)
        out = []
        for child in self._children(at):
            path = os.path.relpath(self.layout.folder(child), folder).replace(os.sep, "/")
            out.append(f'use {child.rpartition(".")[2]} from "{path}"\n')
        if at == self.attributes_at:
            out += spec.vocab.attribute_lines()
        out += self._term_lines(spec, at)
        rename = Renamer(self, at, named)
        for node in named.nodes[at].values():  # its named conditions, used here or above
            rename.expr(node)
        plain = [o for o in spec.vocab.obligations if self.owner[o] == at and not spec.ob_decl(o)]
        if plain:
            out.append(f"obligation {', '.join(plain)}\n")
        for decl in spec.ob_decls:
            if self.owner[decl.name] == at:
                when = None if decl.when is None else rename.expr(decl.when)
                out.append(replace(decl, when=when).declaration())
        for key in spec.keys:
            out += self._key_lines(key, at)
        body = [rule_text(rename.rule(r)) for r in spec.rules if self.level[r.id] == at]
        for override in spec.overrides:
            if self.level[override.id] == at and lifted_ids(spec.rules, override):
                body.append(self._override_text(spec, override, rename))
        body += [
            invariant_text(rename.invariant(i)) for i in spec.invariants if self.level[i.id] == at
        ]
        out += rename.declarations()
        return "".join(out), "".join("\n" + b for b in body if b)

    def _term_lines(self, spec: Spec, at: str) -> list[str]:
        vocab = spec.vocab
        out = []
        for kind in KINDS:
            for term, ups in vocab.parents[kind].items():
                here = [
                    self.name(at, p)
                    for p in ups
                    if lowest_common(self.owner[term], self.owner[p]) == at
                ]
                under = f" under {', '.join(here)}" if here else ""
                if self.owner[term] == at:
                    given = [
                        f"{self.attribute_name(at, name)} = {lit_text(values[term])}"
                        for name, values in sorted(vocab.attributes.items())
                        if term in values and ATTRIBUTES[name][0] == kind
                    ]
                    given_text = f" with {', '.join(given)}" if given else ""
                    out.append(f"{kind} {term}{under}{given_text}\n")
                elif here:  # a package's term placed under others
                    out.append(f"{kind} {self.name(at, term)}{under}\n")
        return out

    def _key_lines(self, key: Key, at: str) -> list[str]:
        chain = self.chain[key.name]
        if at not in chain:
            return []
        i = chain.index(at)
        now = " is now" if key.now else ""
        supplies = ""
        if i > 0:
            supplies = f" supplies {qualified(at, chain[i - 1], supplier_name(key.name, i - 1))}"
        default = ""
        if key.default is not None:
            if key.base == "set":
                default = f" default [{', '.join(self.name(at, t) for t in key.default)}]"
            elif key.base == "term":
                default = f" default {self.name(at, key.default)}"
            else:
                default = f" default {key.default_text()}"
        name = supplier_name(key.name, i)
        return [f"context {name}: {key.type_text()}{now}{supplies}{default}\n"]

    def _override_text(self, spec: Spec, override: OverrideSpec, rename: Renamer) -> str:
        """By citation when every deny it lifts is its own level's (or, with source documents,
        one package's: ``lifts denies citing pk.d:§2``), else by id."""
        lifted = lifted_ids(spec.rules, override)
        at = self.level[override.id]
        written = rename.override(override)
        levels = {self.level[r] for r in lifted}
        by_citation = levels == {at} or (len(levels) == 1 and self.layout.documents())
        if override.citing is not None and by_citation:
            [there] = levels
            cited = [r for r in spec.rules if self.level[r.id] == there]
            text = override_text(written, cited)
            if there == at:
                return text
            said = f"lifts denies citing {qualified(at, there, 'd')}:{override.citing}"
            return text.replace(f"lifts denies citing {override.citing}", said)
        stubs = [
            RuleSpec(self.name(at, r), "deny", (None,) * 3, None, (), (), None, None)
            for r in lifted
        ]
        by_ids = replace(written, lifts=tuple(s.id for s in stubs), citing=None)
        return override_text(by_ids, stubs)

    def _named_declarations(self, spec: Spec) -> Named:
        """Where each level's named conditions are declared: by the level itself, or by a lower
        level that sees every name the body mentions (one that uses it too, or declares it for
        the levels above: a package's named condition, used as ``pk.nc_…``)."""
        exprs: dict[str, list[Expr]] = {level: [] for level in self.levels}
        for rule in spec.rules:
            exprs[self.level[rule.id]] += rule_statement_exprs(rule)
        for override in spec.overrides:
            if lifted_ids(spec.rules, override):
                exprs[self.level[override.id]] += override_statement_exprs(override)
        for inv in spec.invariants:
            exprs[self.level[inv.id]] += invariant_statement_exprs(inv)
        for decl in spec.ob_decls:
            if decl.when is not None:
                exprs[self.owner[decl.name]].append(decl.when)
        named = Named({level: {} for level in self.levels}, {level: {} for level in self.levels})

        def declare(node: Expr, level: str) -> None:
            named.uses[level][node[1]] = level
            named.nodes[level][node[1]] = node
            for inner in named_nodes(node[2]):
                use(inner, level)

        def use(node: Expr, level: str) -> None:
            name = node[1]
            if name in named.uses[level]:
                return
            refs = self._refs([node[2]])
            lower = [
                lv
                for lv in sorted(self.levels, key=depth, reverse=True)
                if lv != level and sees(level, lv) and all(sees(lv, r) for r in refs)
            ]
            if lower and self.layout.uses_lower_named(name, level):
                there = next((lv for lv in lower if name in named.nodes[lv]), lower[0])
                if name not in named.nodes[there]:
                    declare(node, there)
                named.uses[level][name] = there
            else:
                declare(node, level)

        for level in sorted(self.levels, key=depth, reverse=True):
            for expr in exprs[level]:
                for node in named_nodes(expr):
                    use(node, level)
        return named

    def write(self, spec: Spec, root: Path) -> Path:
        """The layout of ``spec`` written below ``root``; the folder of ``top``."""
        for name, text in self.files(spec).items():
            path = root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        return root / self.layout.folder(self.top)


def depth(level: str) -> int:
    return 0 if level == "" else level.count(".") + 1


@dataclass(frozen=True)
class Named:
    """The named conditions of a layout."""

    uses: dict[str, dict[str, str]]
    """Level → each named condition its statements (or bodies it declares) use → the level
    that declares it."""
    nodes: dict[str, dict[str, Expr]]
    """Level → the named conditions it declares."""


def supplier_name(key: str, index: int) -> str:
    """The name of a key at the ``index``-th level that declares it (0: its home)."""
    if index == 0:
        return key
    head, dot, last = key.rpartition(".")
    return f"{head}{dot}s{index}_{last}"


class Renamer:
    """A level's statements with every name as that level writes it."""

    def __init__(self, arrangement: Arrangement, at: str, named: Named):
        self.arrangement = arrangement
        self.at = at
        self.named = named
        self.bodies: dict[str, Expr] = {}
        """The named conditions this level declares and uses: name → body, as written here."""

    def name(self, name: str) -> str:
        return self.arrangement.name(self.at, name)

    def use(self, use: str) -> str:
        """An obligation as a clause requires it (``pk.ob1(n = 2)``)."""
        name, _ = use_parts(use)
        return self.name(name) + use[len(name) :]

    def operand(self, node: Expr) -> Expr:
        tag = node[0]
        if tag == "key":
            return ("key", self.arrangement.key_name(self.at, node[1], mention=True))
        if tag == "now" and self.at not in self.arrangement.chain[node[1]]:
            return ("key", self.arrangement.key_name(self.at, node[1]))  # `now` is its own key's
        if tag == "term":
            return ("term", node[1], self.name(node[2]))
        if tag == "list":
            return ("list", node[1], tuple(self.operand(i) for i in node[2]))
        if tag == "shift":
            return ("shift", self.operand(node[1]), *node[2:])
        if tag == "kattr":  # `pk.kk_party.pk.level`: the key and the attribute as named here
            key = self.arrangement.key_name(self.at, node[1], mention=True)
            return ("kattr", key, node[2], self.arrangement.attribute_name(self.at, node[3]))
        if tag == "attr":  # `party.pk.level`: under the namespace of the level declaring it
            return ("attr", node[1], self.arrangement.attribute_name(self.at, node[2]))
        return node

    def expr(self, expr: Expr) -> Expr:
        tag = expr[0]
        if tag in ("and", "or"):
            return (tag, tuple(self.expr(e) for e in expr[1]))
        if tag == "not":
            return ("not", self.expr(expr[1]))
        if tag == "named":
            owner = self.named.uses[self.at][expr[1]]
            if owner == self.at and expr[1] not in self.bodies:
                self.bodies[expr[1]] = self.expr(expr[2])
            return ("named", qualified(self.at, owner, expr[1]), expr[2])
        if tag == "known":
            return ("known", self.arrangement.key_name(self.at, expr[1], mention=True), expr[2])
        if tag in ("truth", "aknown"):
            return (tag, self.operand(expr[1]), *expr[2:])
        return (tag, expr[1], self.operand(expr[2]), self.operand(expr[3]))

    def clauses(
        self, clauses: Sequence[tuple[tuple[str, ...], Expr | None]]
    ) -> tuple[tuple[tuple[str, ...], Expr | None], ...]:
        return tuple(
            (tuple(self.use(u) for u in names), None if w is None else self.expr(w))
            for names, w in clauses
        )

    def rule(self, rule: RuleSpec) -> RuleSpec:
        return replace(
            rule,
            scopes=tuple(
                None if s is None else tuple(self.name(t) for t in s) for s in rule.scopes
            ),
            condition=None if rule.condition is None else self.expr(rule.condition),
            exceptions=tuple(self.expr(e) for e in rule.exceptions),
            obligations=self.clauses(rule.obligations),
        )

    def invariant(self, inv: InvariantSpec) -> InvariantSpec:
        scopes = tuple(
            (
                None if names is None else tuple(self.name(t) for t in names),
                tuple(self.name(t) for t in excepts),
            )
            for names, excepts in inv.scopes
        )
        return replace(
            inv,
            scopes=scopes,  # type: ignore[arg-type]
            condition=None if inv.condition is None else self.expr(inv.condition),
            exceptions=tuple(self.expr(e) for e in inv.exceptions),
        )

    def override(self, override: OverrideSpec) -> OverrideSpec:
        return replace(
            override,
            condition=self.expr(override.condition),
            obligations=self.clauses(override.obligations),
        )

    def declarations(self) -> list[str]:
        """``condition NAME means BODY`` for the named conditions this level declares (bodies
        renamed as they are met, so a body's own named conditions are declared too)."""
        out = []
        done: set[str] = set()
        while len(done) < len(self.bodies):
            for name in sorted(set(self.bodies) - done):
                out.append(f"condition {name} means {expr_text(self.bodies[name])}\n")
                done.add(name)
        return out


# ---- speaking the spec's names -------------------------------------------------------------------


@dataclass(frozen=True)
class Naming:
    """The names of a spec as the policy read at one level writes them."""

    names: Mapping[str, str]
    """Term, obligation, rule, override or invariant id → its qualified name."""
    keys: Mapping[str, str]
    """Context key → the key a request sends."""
    sets: frozenset[str]
    """The keys whose values are lists of terms."""
    terms: frozenset[str] = frozenset()
    """The keys whose value is one term."""

    def back(self) -> dict[str, str]:
        """Each qualified name → the spec's name (computed once)."""
        found: dict[str, str] | None = self.__dict__.get("_back")
        if found is None:
            found = {v: k for k, v in {**self.names, **self.keys}.items()}
            object.__setattr__(self, "_back", found)
        return found

    def request(self, request: Request) -> Request:
        context = {
            self.keys[k]: [self.names[t] for t in v]
            if k in self.sets and v is not None
            else self.names[v]
            if k in self.terms and v is not None
            else v
            for k, v in request.context.items()
        }
        return Request(
            self.names[request.party],
            self.names[request.data],
            self.names[request.purpose],
            context,
        )

    def spec_request(self, request: Request) -> Request:
        back = self.back()
        context = {
            back[k]: [back[t] for t in v]
            if back[k] in self.sets and v is not None
            else back[v]
            if back[k] in self.terms and v is not None
            else v
            for k, v in request.context.items()
        }
        return Request(back[request.party], back[request.data], back[request.purpose], context)

    def obligation_text(self, text: str) -> str:
        """``pk.ob1(n = 2)`` → ``ob1(n = 2)``."""
        name, paren, rest = text.partition("(")
        return self.back().get(name, name) + paren + rest

    def message(self, text: str) -> str:
        """Every name between backticks in ``text`` read back (an obligation with its arguments
        too: ``pk.ob1(n = 2)``)."""
        return re.sub(r"`([^`]+)`", lambda m: f"`{self.obligation_text(m[1])}`", text)


def flat_context(context: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """A request's context with nested objects opened into dotted keys."""
    out: dict[str, Any] = {}
    for key, value in context.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flat_context(value, name + "."))
        else:
            out[name] = value
    return out


@dataclass(frozen=True)
class Said:
    """An obligation as a decision states it, read back."""

    name: str
    text: str


@dataclass(frozen=True)
class Reason:
    id: str


@dataclass(frozen=True)
class Unsaid:
    """An obligation a decision could not decide (docs/semantics.md, 48), read back."""

    text: str
    required_by: str
    missing: list[str]
    unknown_attributes: list[str]


@dataclass(frozen=True)
class SpecDecision:
    """A decision of the layout, in the spec's names."""

    effect: str
    obligations: list[str]
    obligation_details: list[Said]
    reasons: list[Reason]
    missing: list[str]
    undetermined_obligations: list[Unsaid]

    @property
    def allowed(self) -> bool:
        return self.effect == "allow"


class SpecPolicy:
    """The policy a layout loads, deciding in the spec's names."""

    def __init__(
        self, policy: policy_engine.Policy, naming: Naming, folder: Path, nest: bool = True
    ) -> None:
        self.policy = policy
        self.naming = naming
        self.folder = folder
        self.nest = nest
        """Whether requests send dotted keys as nested objects (``{"pk": {"ki0": 1}}``) or as
        they are named (``{"pk.ki0": 1}``)."""

    @property
    def compiled(self) -> Any:
        return self.policy.compiled

    def decide(self, party: str, data: str, purpose: str, context: Mapping[str, Any]) -> Any:
        request = self.naming.request(Request(party, data, purpose, flat_context(context)))
        context = nested(request.context) if self.nest else dict(request.context)
        d = self.policy.decide(request.party, request.data, request.purpose, context)
        back = self.naming.back()
        details = [
            Said(back.get(o.name, o.name), self.naming.obligation_text(o.text))
            for o in d.obligation_details
        ]
        return SpecDecision(
            d.effect,
            sorted(back.get(o, o) for o in d.obligations),
            sorted(details, key=lambda s: detail_order(s.text)),  # as decisions order them
            sorted((Reason(back.get(r.id, r.id)) for r in d.reasons), key=lambda r: r.id),
            sorted(back.get(m, m) for m in d.missing),
            sorted(
                (
                    Unsaid(
                        self.naming.obligation_text(u.text),
                        back.get(u.required_by, u.required_by),
                        sorted(back.get(m, m) for m in u.missing),
                        sorted(back.get(a, a) for a in u.unknown_attributes),
                    )
                    for u in d.undetermined_obligations
                ),
                key=lambda u: (detail_order(u.text), u.required_by),
            ),
        )


# ---- the realisation -----------------------------------------------------------------------------


class LayoutRealisation:
    """Specs written in the folders of a layout (their arrangement computed once, from every
    version given, so that each name stays where it is), loaded from the folder of ``top``."""

    def __init__(self, layout: Layout, versions: Sequence[Spec], top: str = "") -> None:
        self.layout = layout
        self.arrangement = Arrangement(layout, versions, top)
        self._folders: list[tempfile.TemporaryDirectory[str]] = []

    def text(self, spec: Spec) -> str:
        files = self.arrangement.files(spec)
        return "".join(f"# ---- {name}\n{text}" for name, text in sorted(files.items()))

    def _written(self, spec: Spec) -> Path:
        folder = tempfile.TemporaryDirectory(prefix="soundness-layout-")
        self._folders.append(folder)
        return self.arrangement.write(spec, Path(folder.name))

    def load(self, spec: Spec) -> SpecPolicy:
        folder = self._written(spec)
        nest = self.layout.nests()
        return SpecPolicy(load_policy(folder), self.arrangement.naming(spec), folder, nest)

    def check(
        self, spec: Spec, policy: SpecPolicy
    ) -> tuple[list[policy_engine.Diagnostic], dict[str, bool]]:
        from policy_engine.analysis.findings import invariant_diagnostics

        naming = policy.naming
        diagnostics = [self._read_back(d, naming) for d in check_policy(policy.folder)]
        _, results = invariant_diagnostics(policy.compiled, os.fspath(policy.folder))
        back = naming.back()
        proved = {back[r.invariant.id.value]: r.counterexample is not None for r in results}
        return diagnostics, proved

    def _read_back(self, d: policy_engine.Diagnostic, naming: Naming) -> policy_engine.Diagnostic:
        help_text = d.help
        if d.code == "invariant-broken" and help_text is not None:
            help_text = counterexample_back(help_text, naming)
        return dataclasses.replace(d, message=naming.message(d.message), help=help_text)

    def diff(self, old: SpecPolicy, new: SpecPolicy) -> Any:
        from policy_engine.analysis.diff import diff_policies

        report = diff_policies(old.policy, new.policy)
        return report_back(report, old.naming, new.naming)

    def close(self) -> None:
        for folder in self._folders:
            folder.cleanup()
        self._folders.clear()


def counterexample_back(help_text: str, naming: Naming) -> str:
    """The ``counterexample: policy-engine decide …`` help with the request in the spec's
    names."""
    argv = shlex.split(help_text.removeprefix("counterexample: "))
    options = dict(zip(argv[3::2], argv[4::2], strict=True))
    request = Request(
        options["--party"],
        options["--data"],
        options["--purpose"],
        flat_context(json.loads(options["--context"])),
    )
    back = naming.spec_request(request)
    context = json.dumps(dict(back.context), sort_keys=True, default=str)
    return (
        f"counterexample: policy-engine decide {shlex.quote(argv[2])} --party {back.party} "
        f"--data {back.data} --purpose {back.purpose} --context {shlex.quote(context)}"
    )


def group_cells(vocab: Vocab, group: Any, back: Mapping[str, str]) -> set[tuple[str, str, str]]:
    """The cells (in the spec's names) a group of a report stands for."""
    return soundness_model.group_cells(
        vocab,
        SimpleNamespace(
            parties=[back[n] for n in group.parties],
            data=[back[n] for n in group.data],
            purposes=[back[n] for n in group.purposes],
            exact=[back[n] for n in group.exact],
        ),
    )


def report_back(report: Any, old: Naming, new: Naming) -> Any:
    """A diff report with its groups in the spec's names (the old version's, then the new's)."""
    back = {**new.back(), **old.back()}

    def names(found: Iterable[str]) -> list[str]:
        return [back.get(n, n) for n in found]

    def obligations(found: Iterable[str], naming: Naming) -> list[str]:
        return [naming.obligation_text(o) for o in found]

    groups = []
    for group in report.groups:
        example = dict(group.example)
        request = Request(
            str(example["party"]),
            str(example["data"]),
            str(example["purpose"]),
            flat_context(dict(example.get("context") or {})),
        )
        spec_request = (old if request.party in old.back() else new).spec_request(request)
        example.update(
            party=spec_request.party,
            data=spec_request.data,
            purpose=spec_request.purpose,
            context=spec_request.context,
        )
        groups.append(
            group.model_copy(
                update={
                    "parties": names(group.parties),
                    "data": names(group.data),
                    "purposes": names(group.purposes),
                    "exact": names(group.exact),
                    "old_obligations": obligations(group.old_obligations, old),
                    "new_obligations": obligations(group.new_obligations, new),
                    "example": example,
                }
            )
        )
    return report.model_copy(update={"groups": groups})


# ---- what a layout exercises ---------------------------------------------------------------------


def features(arrangement: Arrangement, spec: Spec) -> set[str]:
    """The package constructs the layout of ``spec`` writes (see :data:`FEATURES`)."""
    found = {f"shape {arrangement.layout.shape}"}
    files = arrangement.files(spec)
    text = "\n".join(files.values())
    level = arrangement.level
    if any(level[r.id] for r in spec.rules):
        found.add("package rule")
    if any(level[i.id] for i in spec.invariants):
        found.add("package invariant")
    if any(depth(level[r.id]) > 1 for r in spec.rules):
        found.add("nested package rule")
    for override in spec.overrides:
        lifted = lifted_ids(spec.rules, override)
        if not lifted:
            continue
        at = level[override.id]
        found.add("override in a package" if at else "override in the policy")
        if any(level[r] != at for r in lifted):
            found.add("override lifting a package's deny")
        if override.citing is not None and {level[r] for r in lifted} == {at}:
            found.add("override lifting by citation")
        elif (
            override.citing is not None
            and len({level[r] for r in lifted}) == 1
            and arrangement.layout.documents()
        ):
            found.add("override lifting by a package's section")
    for kind in KINDS:
        for term, ups in spec.vocab.parents[kind].items():
            owner = arrangement.owner[term]
            for p in ups:
                where = lowest_common(owner, arrangement.owner[p])
                if where != owner:
                    found.add("package term placed")
                elif arrangement.owner[p] != owner:
                    found.add("term under a package term")
    for chain in arrangement.chain.values():
        if len(chain) > 1:
            found.add("supplied key")
            if any(depth(low) > depth(high) + 1 for low, high in itertools.pairwise(chain)):
                found.add("key supplied past a level")
        if len(chain) > 2:
            found.add("key supplied twice")
    if re.search(r"^condition \S+ means", text, re.M) and re.search(r"\b\w+\.nc_", text):
        found.add("package's named condition")
    if "attribute " in text and arrangement.attributes_at:
        found.add("attributes in a package")
    if arrangement.layout.documents():
        found.add("source documents")
    if sum(name.endswith(".policy") for name in files) > len(arrangement.levels):
        found.add("two rule files")
    if any(arrangement.layout.inside(lv) for lv in arrangement.levels if lv):
        found.add("package inside its user's folder")
    if any(not arrangement.layout.inside(lv) for lv in arrangement.levels if lv):
        found.add("package beside its user's folder")
    return found


FEATURES = (
    "shape one",
    "shape two",
    "shape nested",
    "package rule",
    "nested package rule",
    "package invariant",
    "override in a package",
    "override in the policy",
    "override lifting a package's deny",
    "override lifting by citation",
    "override lifting by a package's section",
    "source documents",
    "package term placed",
    "term under a package term",
    "supplied key",
    "key supplied past a level",
    "key supplied twice",
    "package's named condition",
    "attributes in a package",
    "two rule files",
    "package inside its user's folder",
    "package beside its user's folder",
)


# ---- what tools may rely on ----------------------------------------------------------------------


def interface_disagreements(spec: Spec, loaded: SpecPolicy, arrangement: Arrangement) -> list[str]:
    """docs/semantics.md, 45: the package each rule comes from, each rule file's package, the
    packages with their versions and the keys the policy supplies, as the layout writes them."""
    top, layout, policy = arrangement.top, arrangement.layout, loaded.policy
    below = [level for level in arrangement.levels if level != top]

    def namespace(level: str) -> str | None:
        return None if level == top else qualified(top, level, "x")[: -len(".x")]

    out = []
    for rule in spec.rules:
        name = loaded.naming.names[rule.id]
        expected = namespace(arrangement.level[rule.id])
        if policy.package_of(name) != expected:
            out.append(f"package_of({name!r}) is {policy.package_of(name)!r}, not {expected!r}")
    root = Path(os.fspath(loaded.folder)[: -len(layout.folder(top))])
    folders = {os.fspath(root / layout.folder(level)): level for level in arrangement.levels}
    for file in policy.compiled.checked.files:
        level = folders[os.path.dirname(file.name)]
        if file.package != (namespace(level) or ""):
            out.append(f"{file.name} is said to be of `{file.package}`, not `{level}`")
    uses = {u.namespace: u for u in policy.packages}
    if sorted(uses) != sorted(str(namespace(level)) for level in below):
        out.append(f"the policy uses {sorted(uses)}, not {below}")
        return out
    for level in below:
        use = uses[str(namespace(level))]
        supplies = {}
        for key in spec.keys:
            chain = arrangement.chain[key.name]
            if level in chain and chain.index(level) + 1 < len(chain):
                supplied = qualified(top, level, supplier_name(key.name, chain.index(level)))
                supplies[supplied] = arrangement.key_name(top, key.name)
        if dict(use.supplies) != supplies:
            out.append(f"`{level}` is supplied {dict(use.supplies)}, not {supplies}")
        if use.version != load_policy(root / layout.folder(level)).version:
            out.append(f"the version of `{level}` is not what loading its folder alone gives")
    return out
