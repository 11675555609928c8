"""The packages a policy uses, as the language server knows them: each package's declarations
under the names the policy writes (``law25.contractor``, rule ``law25.some_rule``, key
``law25.destination``), its source documents, and which ``use`` of the policy brings each file in.

A ``use`` is followed exactly as the loader follows it, with the language's own functions: the
folder is located and read by :class:`~policy_engine.language.package_folders.DiskFolders`
(relative to the rule file, never through a symbolic link), the package and the packages it uses
by :func:`~policy_engine.language.packages.read_policy` (cycles refused, limits kept), and the
names qualified by :func:`~policy_engine.semantics.namespacing.rename_file`. The packages are read
from disk, as ``check`` reads them.

A package the loader cannot read is the check's to report (at the ``use``). The server then
still knows what it can, the way it answers in a file that does not parse: a ``use`` that leads
nowhere, a symbolic link and a cycle give nothing; a package whose own rule files do not all
parse (or whose own packages cannot be read) gives the declarations of the files that parse, and
not those of its packages.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from ..language import ast
from ..language.document_files import read_documents
from ..language.documents import Document
from ..language.errors import PolicyError
from ..language.package_folders import Folders
from ..language.packages import LoadedPolicy, read_policy
from ..language.parser import parse_source
from ..language.source import Source
from ..semantics.namespacing import Renaming, qualified, rename_file

REFUSED = frozenset({"package-cycle", "package-symlink"})
"""The refusals that leave nothing of a package to show (see the module's docstring)."""


@dataclass(frozen=True)
class PackageView:
    """One package (at any depth) as the policy names it."""

    namespace: str
    """``law25``; ``law25.base`` for the package ``base`` of ``law25``."""
    files: tuple[ast.PolicyFile, ...]
    """Its own rule files, every name in them written as the policy writes it."""
    documents: tuple[Document, ...]
    """Its source documents, named as the policy names them (``law25.p39_1``)."""


@dataclass(frozen=True)
class Route:
    """A ``use`` of the policy's own and every file read through it."""

    decl: ast.UseDecl
    folders: tuple[str, ...]
    """The package's folder and those of the packages it uses (as the loader names them)."""
    names: frozenset[str]
    """The rule files and documents read for it."""


@dataclass(frozen=True)
class Packages:
    """What the policy's packages declare, and the way to each of their files."""

    views: tuple[PackageView, ...] = ()
    routes: tuple[Route, ...] = ()
    folders: Folders | None = None

    def files(self) -> list[ast.PolicyFile]:
        return [file for view in self.views for file in view.files]

    def documents(self) -> list[Document]:
        return [document for view in self.views for document in view.documents]

    def namespaces(self) -> list[str]:
        return [view.namespace for view in self.views]

    def route(self, name: str) -> Route | None:
        """The ``use`` of the policy that the file ``name`` (a rule file or a document) is read
        through, None for a file of the policy's own."""
        for route in self.routes:
            if name in route.names:
                return route
        if self.folders is None:
            return None
        for route in self.routes:
            if any(self.folders.contains(folder, name) for folder in route.folders):
                return route
        return None


def read_packages(files: Sequence[ast.PolicyFile], folders: Folders) -> Packages:
    """The packages the ``use`` statements of ``files`` (the policy's rule files that parse)
    bring in; never raises for a package that cannot be read (see the module's docstring)."""
    views: list[PackageView] = []
    routes: list[Route] = []
    for decl, folder in own_uses(files, folders)[1]:
        found, route = _package(decl, folder, folders)
        views += found
        routes.append(route)
    return Packages(tuple(views), tuple(routes), folders)


Uses = list[tuple[ast.UseDecl, str]]


def own_uses(
    files: Sequence[ast.PolicyFile], folders: Folders
) -> tuple[list[ast.PolicyFile], Uses, list[str]]:
    """The files that are the policy's own, the folders their ``use`` statements lead to, and
    every folder a ``use`` of ``files`` leads to. As the loader reads it, a file in a folder that
    a ``use`` of another file names is that package's."""
    located: list[tuple[ast.PolicyFile, ast.UseDecl, str]] = []
    for file in files:
        for item in file.items:
            if isinstance(item, ast.UseDecl):
                try:
                    located.append((file, item, folders.locate(file.name, item)))
                except PolicyError:
                    continue  # the check says why, at the use
    claimed = [f for file, _, f in located if not folders.contains(f, file.name)]
    own = [f for f in files if not any(folders.contains(c, f.name) for c in claimed)]
    mine = {id(f) for f in own}
    uses = [(decl, folder) for file, decl, folder in located if id(file) in mine]
    return own, uses, [folder for _, _, folder in located]


def _package(decl: ast.UseDecl, folder: str, folders: Folders) -> tuple[list[PackageView], Route]:
    """The package a ``use`` leads to (nothing of one the loader refuses), and the way to it."""
    namespace = decl.namespace.value
    try:
        sources = folders.read(folder, decl)
    except PolicyError:
        return [], Route(decl, (folder,), frozenset())
    try:
        loaded = read_policy(sources, folders, folder)
    except PolicyError as exc:
        if any(d.code in REFUSED for d in exc.diagnostics):
            return [], Route(decl, (folder,), frozenset(s.name for s in sources))
        return _unread(namespace, decl, folder, sources, folders)
    views = list(_views(loaded, namespace))
    every = [*loaded.every_source(), *(d.source for d in loaded.every_document())]
    reached = (folder, *_package_folders(loaded))
    return views, Route(decl, reached, frozenset(s.name for s in every))


def _views(policy: LoadedPolicy, namespace: str) -> Iterator[PackageView]:
    renaming = Renaming(namespace, {})
    files = tuple(rename_file(file, renaming) for file in policy.files)
    yield PackageView(namespace, files, named(policy.documents, namespace))
    for package in policy.packages:
        yield from _views(package.policy, qualified(namespace, package.namespace))


def _package_folders(policy: LoadedPolicy) -> Iterator[str]:
    for package in policy.packages:
        yield package.folder
        yield from _package_folders(package.policy)


def named(documents: Sequence[Document], namespace: str) -> tuple[Document, ...]:
    """A package's documents named as the policy names them (as the checker names them)."""
    return tuple(
        dataclasses.replace(d, name=qualified(namespace, d.name), namespace=namespace)
        for d in documents
    )


def _unread(
    namespace: str, decl: ast.UseDecl, folder: str, sources: Sequence[Source], folders: Folders
) -> tuple[list[PackageView], Route]:
    """A package the loader could not read: the files of its own that parse (not those of a
    folder one of its ``use`` statements names, which are a package's of its own)."""
    parsed = []
    for source in sources:
        try:
            parsed.append(parse_source(source))
        except PolicyError:
            continue
    own, _, inner = own_uses(parsed, folders)
    try:
        documents = read_documents(own, folders.provided)
    except PolicyError:
        documents = []
    renaming = Renaming(namespace, {})
    files = tuple(rename_file(file, renaming) for file in own)
    view = PackageView(namespace, files, named(documents, namespace))
    names = frozenset([*(s.name for s in sources), *(d.source.name for d in documents)])
    return [view], Route(decl, (folder, *inner), names)
