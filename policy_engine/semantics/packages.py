"""A policy and its packages as one policy: each package's statements come in under its
namespace (:mod:`.namespacing`), its documents too, and the keys the using policy supplies
replace the package's own (``context destination: string supplies law25.destination``).

What the result keeps about each package (:class:`PackageUse`) is what other tools rely on
(``policy-engine conforms``, docs/semantics.md "Packages"): every rule and invariant id of a
package ``N`` starts with ``N.``; every key of ``N`` is named ``N.key`` unless supplied, and then
the package's rules read the supplying key; each rule's file records the package it came from.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field

from ..language import ast
from ..language.documents import Document
from ..language.errors import Diagnostic, suggestion_help
from ..language.packages import LoadedPolicy, Package
from ..language.printer import operand_text
from .checker import CheckedPolicy, check
from .namespacing import Renaming, package_keyed, qualified, rename_file, with_supplied
from .package_use import PackageUse


@dataclass
class Flattened:
    """A policy's files with its packages' files renamed, and what was found doing it."""

    files: list[ast.PolicyFile] = field(default_factory=list)
    documents: list[Document] = field(default_factory=list)
    uses: list[PackageUse] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)


def flatten(policy: LoadedPolicy) -> Flattened:
    """``policy``'s own files, then each package's (renamed), with every package's uses."""
    out = Flattened(list(policy.files), list(policy.documents))
    written = _supplies_written(policy.files, out.diagnostics)
    has_ledger_key = any(
        isinstance(i, ast.ContextDecl) and i.source is not None
        for f in policy.files
        for i in f.items
    )
    namespaces = [p.namespace for p in policy.packages]
    supplied: dict[str, str] = {}
    for package in policy.packages:
        supplied.update(_bring_in(out, package, written, has_ledger_key))
    if supplied:  # the policy's own mentions of a supplied key read the supplying key too
        count = len(policy.files)
        out.files[:count] = [with_supplied(f, supplied) for f in out.files[:count]]
    for name, supplier in written.items():
        if name.split(".", 1)[0] not in namespaces:
            out.diagnostics.append(_unknown_package(name, supplier[1], namespaces))
    return out


Written = dict[str, tuple[ast.ContextDecl, ast.Name]]
"""A supplied key as written (``law25.destination``) → the supplying key and where it says so."""


def _supplies_written(files: tuple[ast.PolicyFile, ...], problems: list[Diagnostic]) -> Written:
    found: Written = {}
    for file in files:
        for item in file.items:
            if not isinstance(item, ast.ContextDecl):
                continue
            for name in item.supplies:
                first = found.get(name.value)
                if first is None:
                    found[name.value] = (item, name)
                    continue
                problems.append(
                    Diagnostic(
                        "duplicate-supply",
                        f"`{name.value}` is supplied twice: by `{first[0].name.value}` and by "
                        f"`{item.name.value}`",
                        name.span,
                        "a package's key reads one key of the policy; keep one `supplies`",
                        notes=(("first supplied here", first[1].span),) if first[1].span else (),
                    )
                )
    return found


def _bring_in(
    out: Flattened, package: Package, written: Written, has_ledger_key: bool
) -> dict[str, str]:
    """Add ``package``'s files, documents and uses to ``out``; the keys it has supplied."""
    inner = flatten(package.policy)
    namespace = package.namespace
    mine = {n: s for n, s in written.items() if n.split(".", 1)[0] == namespace}
    keys = {
        qualified(namespace, item.name.value): item
        for file in inner.files
        for item in file.items
        if isinstance(item, ast.ContextDecl)
    }
    supplies: dict[str, str] = {}
    for name, (decl, written_at) in mine.items():
        problem = _supply_problem(decl, written_at, keys.get(name), namespace, keys)
        if problem is None:
            supplies[name] = decl.name.value
        else:
            out.diagnostics.append(problem)
    renaming = Renaming(namespace, supplies, package_keyed(inner.files))
    for file in inner.files:
        kept = tuple(
            i
            for i in file.items
            if not (
                isinstance(i, ast.ContextDecl) and qualified(namespace, i.name.value) in supplies
            )
        )
        renamed = rename_file(dataclasses.replace(file, items=kept), renaming)
        items = tuple(_unmarked(i, has_ledger_key, out, package) for i in renamed.items)
        out.files.append(dataclasses.replace(renamed, items=items))
    out.documents += [
        dataclasses.replace(
            d,
            name=renaming.prefix(d.name),
            namespace=renaming.prefix(d.namespace) if d.namespace else namespace,
        )
        for d in inner.documents
    ]
    out.uses += _uses(package, inner.uses, renaming)
    out.diagnostics += inner.diagnostics
    return supplies


def _uses(package: Package, inner: list[PackageUse], renaming: Renaming) -> list[PackageUse]:
    """The package and its packages as the policy that uses it sees them, each with the keys
    supplied to it (a key of a package's package that this policy supplies is listed with that
    package)."""
    nested = sorted((renaming.prefix(u.namespace) for u in inner), key=len, reverse=True)

    def supplied_to(name: str) -> dict[str, str]:
        return {
            k: v
            for k, v in renaming.supplies.items()
            if next((n for n in nested if k.startswith(n + ".")), renaming.namespace) == name
        }

    found = [
        PackageUse(
            package.namespace,
            package.folder,
            package.policy.version,
            supplied_to(package.namespace),
            package.decl,
        )
    ]
    for use in inner:
        full = renaming.prefix(use.namespace)
        given = {renaming.prefix(k): renaming.reference(v) for k, v in use.supplies.items()}
        found.append(
            PackageUse(full, use.folder, use.version, {**given, **supplied_to(full)}, use.decl)
        )
    return found


def _unmarked(item: ast.Item, has_ledger_key: bool, out: Flattened, package: Package) -> ast.Item:
    """A package's key keeps its consent-ledger mark unless the using policy has a ledger key of
    its own (then the mark is dropped, with a warning: the ledger fills one key)."""
    if not isinstance(item, ast.ContextDecl):
        return item
    if item.source is not None and has_ledger_key:
        out.diagnostics.append(
            Diagnostic(
                "package-ledger-key",
                f"`{item.name.value}` is the consent ledger's key in the package, but nothing "
                "supplies it: the ledger fills only this policy's own key",
                package.decl.span,
                f"supply it from the policy's ledger key: `context KEY: set of purpose from "
                f"consent ledger supplies {item.name.value}`",
                "warning",
            )
        )
        return dataclasses.replace(item, source=None, source_span=None)
    return item


def _unknown_package(name: str, at: ast.Name, namespaces: list[str]) -> Diagnostic:
    head = name.split(".", 1)[0]
    if "." not in name:
        return Diagnostic(
            "supply-unknown-key",
            f"`{name}` is not a package's key: a key supplies a key of a package it uses",
            at.span,
            "name the package's key with its namespace, e.g. "
            + (f"`{namespaces[0]}.{name}`" if namespaces else "`law25.destination`"),
        )
    return Diagnostic(
        "supply-unknown-key",
        f"`{name}` names the namespace `{head}`, but the policy uses no package `{head}`",
        at.span,
        suggestion_help(head, namespaces) or 'name the package first: `use NAME from "folder"`',
    )


def _supply_problem(
    decl: ast.ContextDecl,
    at: ast.Name,
    supplied: ast.ContextDecl | None,
    namespace: str,
    keys: Mapping[str, ast.ContextDecl],
) -> Diagnostic | None:
    """Why ``decl`` cannot supply the package key written at ``at`` (None: it can)."""
    if supplied is None:
        return Diagnostic(
            "supply-unknown-key",
            f"the package `{namespace}` has no context key `{at.value[len(namespace) + 1 :]}`",
            at.span,
            suggestion_help(at.value, list(keys)),
        )
    mine, theirs = decl.type.describe(), supplied.type.describe()
    if not same_type(decl.type, supplied.type):
        return Diagnostic(
            "supply-type",
            f"`{decl.name.value}` is {_a(mine)} but `{at.value}` is {_a(theirs)}: a key "
            "supplies only a key of the same type",
            at.span,
            f"declare `{decl.name.value}` as `{theirs}`, or supply the package's key from "
            "another key",
        )
    if supplied.is_now and not decl.is_now:
        return Diagnostic(
            "supply-now",
            f"`{at.value}` holds the decision's time (`is now`) in the package, but "
            f"`{decl.name.value}` does not",
            at.span,
            f"mark `{decl.name.value}` `is now` too: the package's `now` then reads it",
        )
    expected = supplied.default_value
    if isinstance(expected, frozenset) and isinstance(supplied.type, ast.TermSetType):
        expected = frozenset(qualified(namespace, str(t)) for t in expected)  # the package's terms
    if isinstance(expected, str) and isinstance(supplied.type, ast.TermType):
        expected = qualified(namespace, expected)  # the package's term
    if (decl.default is None, decl.default_value) != (supplied.default is None, expected):
        shown = (
            "[" + ", ".join(sorted(map(str, expected))) + "]"
            if isinstance(expected, frozenset) and isinstance(supplied.type, ast.TermSetType)
            else str(expected)
            if isinstance(supplied.type, ast.TermType)
            else operand_text(supplied.default)
            if supplied.default is not None
            else ""
        )
        want = "no default" if supplied.default is None else f"`default {shown}`"
        return Diagnostic(
            "supply-default",
            f"`{at.value}` has {want}, but `{decl.name.value}` does not say the same: the "
            "package's rules would read an absent key differently",
            at.span,
            f"give `{decl.name.value}` {want} too",
        )
    return None


def same_type(a: ast.ValueType, b: ast.ValueType) -> bool:
    """The same type; the values of a `one of` or `list of` compare as sets."""
    if isinstance(a, ast.OneOfType) and isinstance(b, ast.OneOfType):
        return set(a.literals) == set(b.literals)
    if isinstance(a, ast.ListType) and isinstance(b, ast.ListType):
        return (a.literals is None) == (b.literals is None) and set(a.literals or ()) == set(
            b.literals or ()
        )
    return a == b


def _a(description: str) -> str:
    return f"an {description}" if description[:1] in "aeiou" else f"a {description}"


def check_loaded(policy: LoadedPolicy) -> CheckedPolicy:
    """The policy and its packages, checked as one (see the module's docstring)."""
    flat = flatten(policy)
    return check(flat.files, flat.documents, flat.uses, flat.diagnostics)
