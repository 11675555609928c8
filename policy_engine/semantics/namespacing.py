"""A package's statements under its namespace: every name it declares or mentions becomes
``namespace.name``, and the keys the using policy supplies become the supplying keys.

The rewrite is of the syntax tree and keeps every place (``span``): an error, an explanation or
a finding about a package's rule still points at the package's own file and line. Rule and
invariant ids, document names, namespaces and the terms' attributes are only prefixed (they are
never context keys): the package's ``attribute location of party`` is ``law25.location``, which
the policy reads ``party.law25.location``, and the policy's own ``location`` is another.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ..language import ast
from .term_keys import KeyAttributes

Rename = Callable[[str], str]


def qualified(namespace: str, name: str) -> str:
    """``name`` as seen from outside a package ``namespace`` (empty: the policy's own)."""
    return f"{namespace}.{name}" if namespace else name


def local_part(package: str, name: str) -> str | None:
    """``name`` written in a file of ``package`` without its namespace (None: not the package's
    own name, e.g. a name of a package it uses)."""
    if package:
        if not name.startswith(package + "."):
            return None
        name = name[len(package) + 1 :]
    return None if "." in name else name


class Renaming:
    """How one package's names read in the policy that uses it."""

    def __init__(
        self,
        namespace: str,
        supplies: Mapping[str, str],
        keyed: KeyAttributes | None = None,
    ) -> None:
        self.namespace = namespace
        self.supplies = supplies
        """A package key, qualified (``law25.destination``) → the key that supplies it."""
        self.keyed = keyed
        """Which of the package's own names read an attribute of a key's term (as the package
        writes them: ``recipient.location``)."""

    def prefix(self, name: str) -> str:
        return f"{self.namespace}.{name}"

    def reference(self, name: str) -> str:
        """A term, obligation or context key: prefixed, then the supplying key if supplied. An
        attribute of a key's term (``recipient.location``) is the key so renamed and the
        attribute under the namespace (``law25.recipient.law25.location``, or the supplying
        key's: ``destination.law25.location``)."""
        found = self.keyed.split(name) if self.keyed else None
        if found is not None:
            key, _, attribute = found
            return f"{self.reference(key)}.{self.prefix(attribute)}"
        return supplied(self.supplies, f"{self.namespace}.{name}")


def supplied(supplies: Mapping[str, str], name: str) -> str:
    """``name`` with the package key it reads replaced by the key that supplies it: the key
    itself (``law25.destination``), or a key whose term's attribute it reads
    (``law25.recipient.law25.location``: the longest start of the name that is a supplied key)."""
    found = supplies.get(name)
    if found is not None:
        return found
    at = len(name)
    while (at := name.rfind(".", 0, at)) > 0:
        if name[:at] in supplies:
            return supplies[name[:at]] + name[at:]
    return name


def package_keyed(files: Iterable[ast.PolicyFile]) -> KeyAttributes:
    """The keys of one term and the attributes a package's files declare, as it names them."""
    items = [item for file in files for item in file.items]
    keys = {i.name.value: i.type for i in items if isinstance(i, ast.ContextDecl)}
    attributes = [(i.kind, i.name.value) for i in items if isinstance(i, ast.AttributeDecl)]
    return KeyAttributes(keys, attributes)


def local_keyed(
    namespace: str,
    keys: Mapping[str, ast.ValueType],
    attributes: Iterable[tuple[str, str]],
    supplies: Mapping[str, str],
) -> KeyAttributes:
    """What :func:`package_keyed` says of the package ``namespace``, from the whole policy's
    keys and attributes (their names qualified; a supplied key has its supplier's type)."""
    start = namespace + "."
    local = {n[len(start) :]: t for n, t in keys.items() if n.startswith(start)}
    for key, supplier in supplies.items():
        if key.startswith(start) and supplier in keys:
            local[key[len(start) :]] = keys[supplier]
    named = [(k, n[len(start) :]) for k, n in attributes if n.startswith(start)]
    return KeyAttributes(local, named)


def rename_file(file: ast.PolicyFile, renaming: Renaming) -> ast.PolicyFile:
    """``file`` of a package as read in the policy that uses it."""
    items = tuple(rename_item(item, renaming) for item in file.items)
    package = renaming.prefix(file.package) if file.package else renaming.namespace
    return ast.PolicyFile(file.name, items, package)


def rename_item(item: ast.Item, renaming: Renaming) -> ast.Item:
    """One statement of a package, renamed (see the module's docstring)."""
    renamed: Any = _walk(item, renaming.reference, renaming.prefix)
    if isinstance(item, ast.Override):  # it lifts rules by their ids, which are only prefixed
        lifts = tuple(_name(n, renaming.prefix) for n in item.lifts)
        return dataclasses.replace(renamed, id=_name(item.id, renaming.prefix), lifts=lifts)  # type: ignore[no-any-return]
    if isinstance(item, ast.Rule | ast.Invariant):
        return dataclasses.replace(renamed, id=_name(item.id, renaming.prefix))  # type: ignore[no-any-return]
    if isinstance(item, ast.SourceDecl) and item.name is not None:
        return dataclasses.replace(renamed, name=_name(item.name, renaming.prefix))  # type: ignore[no-any-return]
    if isinstance(item, ast.UseDecl):
        return dataclasses.replace(renamed, namespace=_name(item.namespace, renaming.prefix))  # type: ignore[no-any-return]
    result: ast.Item = renamed
    return result


def with_supplied(file: ast.PolicyFile, supplies: Mapping[str, str]) -> ast.PolicyFile:
    """The using policy's own ``file`` with its mentions of a supplied package key
    (``law25.destination``) read as the key that supplies it (its declarations unchanged)."""
    items = tuple(supplied_in(item, supplies) for item in file.items)
    return ast.PolicyFile(file.name, items, file.package)


def supplied_in(item: ast.Item, supplies: Mapping[str, str]) -> ast.Item:
    """One statement of the using policy's own, as :func:`with_supplied` reads it."""
    if isinstance(item, ast.ContextDecl):
        return item
    renamed: ast.Item = _walk(item, lambda n: supplied(supplies, n))
    return renamed


def _name(name: ast.Name, rename: Rename) -> ast.Name:
    return ast.Name(rename(name.value), name.span)


_LEAVES = (str, int, bool, type(None))

_NOT_NAMES = {
    (ast.ParamDecl, "name"),
    (ast.Argument, "name"),
}
"""Names that are not the package's names: an obligation's parameters are named in its
declaration and in a rule's arguments alike (`retain_for(years = 6)`), under no namespace."""

_ATTRIBUTE_NAMES = {(ast.AttributeDecl, "name"), (ast.AttributeValue, "name")}
"""The names of the terms' attributes: a package's are under its namespace like its terms (its
`location` of parties is `law25.location`, read `party.law25.location`), but they are never
context keys, so a supplied key of the same name does not replace them."""


def _walk(node: Any, rename: Rename, attribute: Rename | None = None) -> Any:
    """``node`` with every :class:`ast.Name` and :class:`ast.NameRef` renamed, and, when
    ``attribute`` is given, every attribute's name (its declaration, the values terms give it,
    ``party.location`` in conditions); nodes without a name in them are returned as they are
    (the tree is immutable, so they can be shared)."""
    if isinstance(node, _LEAVES):
        return node
    if isinstance(node, ast.Name):
        return _name(node, rename)
    if isinstance(node, ast.NameRef):
        return ast.NameRef(rename(node.name), node.span)
    if isinstance(node, ast.AttributeRef):
        if attribute is None:
            return node
        return ast.AttributeRef(node.kind, attribute(node.name), node.span)
    if isinstance(node, tuple):
        return tuple(_walk(part, rename, attribute) for part in node)
    if isinstance(
        node, ast.Citation | ast.Literal_ | ast.RequestRef
    ) or not dataclasses.is_dataclass(node):
        return node
    changes = {}
    for field in dataclasses.fields(node):
        key = (type(node), field.name)
        if field.name.endswith("span") or key in _NOT_NAMES:
            continue
        value = getattr(node, field.name)
        if key in _ATTRIBUTE_NAMES:
            new = value if attribute is None else _name(value, attribute)
        else:
            new = _walk(value, rename, attribute)
        if new is not value:
            changes[field.name] = new
    return dataclasses.replace(node, **changes) if changes else node  # type: ignore[type-var]
