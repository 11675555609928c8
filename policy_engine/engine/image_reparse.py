"""How a rule restored from the compiled cache gets its syntax tree back: re-parsed from its
text, and a package's rule renamed under its namespace as it was checked (then resolved like any
rule, :mod:`.image`)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping, Sequence

from ..language import ast
from ..language.parser import parse_rule
from ..language.source import Source
from ..semantics.namespacing import Renaming, local_keyed, rename_item, supplied_in
from ..semantics.package_use import PackageUse


class Reparse:
    """How a restored rule gets its tree back: re-parsed from its text, and for a package's rule
    renamed under its namespace, as it was checked (then resolved like any rule)."""

    def __init__(
        self,
        sources: Sequence[Source],
        file_packages: Sequence[str],
        uses: Sequence[PackageUse],
        keyed: tuple[Mapping[str, ast.ValueType], Iterable[tuple[str, str]]] = ({}, ()),
    ) -> None:
        self.sources = sources
        self.file_packages = file_packages
        self.supplies = {key: reads for use in uses for key, reads in use.supplies.items()}
        self.keys, attributes = keyed
        """The policy's keys and attributes: which of a package's names read an attribute of a
        key's term (``recipient.location``)."""
        self.attributes = list(attributes)

    def loader(self, where: tuple[int, int, int, int, int]) -> Callable[[], ast.Rule]:
        which, line, column, begin, end = where
        load: Callable[[], ast.Rule] = functools.partial(
            parse_rule, self.sources[which], line, column, begin, end
        )
        package = self.file_packages[which]
        if package:
            keyed = local_keyed(package, self.keys, self.attributes, self.supplies)
            load = functools.partial(_renamed, load, Renaming(package, self.supplies, keyed))
        elif self.supplies:
            load = functools.partial(_supplied, load, self.supplies)
        return load


def _renamed(load: Callable[[], ast.Rule], renaming: Renaming) -> ast.Rule:
    """A package's rule, re-parsed from its text, under its namespace (as it was checked)."""
    rule = rename_item(load(), renaming)
    assert isinstance(rule, ast.Rule)
    return rule


def _supplied(load: Callable[[], ast.Rule], supplies: dict[str, str]) -> ast.Rule:
    """The policy's own rule, re-parsed from its text, its mentions of a supplied package key
    read as the supplying key (as it was checked)."""
    rule = supplied_in(load(), supplies)
    assert isinstance(rule, ast.Rule)
    return rule
