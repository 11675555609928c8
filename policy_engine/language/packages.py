"""Reading a policy with the packages it uses (``use law25 from "../law25"``).

A policy's rule files are parsed; each ``use`` leads to a folder (:mod:`.package_folders`), whose
rule files are read, parsed, and read in turn for the packages *they* use, and so on. The
result, a :class:`LoadedPolicy`, is the tree: each level's own rule files, its source documents,
its packages and its version. What the names mean (namespaces, supplied keys, placements) is the
checker's business (:mod:`policy_engine.semantics.packages`).

* **Whose file is it.** A rule file in a folder that a ``use`` of another rule file names belongs
  to that package, not to the policy read: a package may sit in a folder of the policy's own.
* **Cycles** are refused: a package whose folder holds a rule file of a policy that (through
  packages) uses it. The error names the whole way round.
* **Nested packages** get nested namespaces: a package ``law25`` that uses ``base`` brings in
  ``law25.base.x``.
* **Versions.** A level without packages has the version it always had (a hash of its rule files
  and documents, :func:`~.files.content_version`); with packages, the hash of that and of each
  package's namespace and version, so that any change in a package changes the version.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from . import ast
from .document_files import read_documents
from .documents import Document
from .errors import Diagnostic, PolicyError
from .files import content_version
from .limits import MAX_PACKAGES, MAX_POLICY_BYTES
from .package_folders import Folders, refuse
from .parser import parse_all
from .source import Source


@dataclass(frozen=True)
class Package:
    """A ``use`` statement and the policy it reads."""

    decl: ast.UseDecl
    folder: str
    """The package's folder, as the names of its rule files begin."""
    policy: LoadedPolicy
    read: tuple[Source, ...]
    """Every rule file read from the folder (its packages' too, when they are inside it)."""

    @property
    def namespace(self) -> str:
        return self.decl.namespace.value


@dataclass(frozen=True)
class LoadedPolicy:
    """A policy as read: its own rule files, parsed, its documents, and its packages."""

    sources: tuple[Source, ...]
    files: tuple[ast.PolicyFile, ...]
    documents: tuple[Document, ...]
    packages: tuple[Package, ...]
    version: str

    def every_source(self) -> Iterator[Source]:
        """Its own rule files, then each package's, depth first in the order of the uses."""
        yield from self.sources
        for package in self.packages:
            yield from package.policy.every_source()

    def every_document(self) -> Iterator[Document]:
        yield from self.documents
        for package in self.packages:
            yield from package.policy.every_document()


@dataclass
class _Tally:
    """What reading a policy's packages has cost so far: folders read, and bytes of rule files
    (the policy's own included). A policy and all its packages stay within the limits of one
    policy's rule files (docs/language.md, "Limits"), however the packages nest."""

    packages: int = 0
    size: int = 0

    def add(self, decl: ast.UseDecl, sources: Sequence[Source]) -> None:
        self.packages += 1
        self.size += sum(len(s.text.encode()) for s in sources)
        if self.packages > MAX_PACKAGES:
            raise refuse(
                "too-many-packages",
                f"this is package folder {self.packages:,} the policy reads; a policy may read "
                f"at most {MAX_PACKAGES:,}, its packages' packages included",
                decl,
                "a package used under several namespaces is read once for each",
            )
        if self.size > MAX_POLICY_BYTES:
            raise refuse(
                "policy-too-large",
                f"with this package the policy's rule files are larger than "
                f"{MAX_POLICY_BYTES // (1024 * 1024)} MiB together, its packages' included",
                decl,
                "a policy of this size is not supported",
            )


@dataclass(frozen=True)
class _Level:
    """A policy being read, for finding cycles: how it is shown, and its rule files."""

    shown: str
    names: tuple[str, ...]


def read_policy(sources: Sequence[Source], folders: Folders, shown: str = "") -> LoadedPolicy:
    """``sources`` (a policy's rule files, as read) with their packages, read from ``folders``.
    ``shown`` names the policy in a cycle's message (by default the folder of its first file)."""
    tally = _Tally(size=sum(len(s.text.encode()) for s in sources))
    return _read(list(sources), folders, (), tally, shown)


def _folder_of(sources: Sequence[Source]) -> str:
    if not sources:
        return "."
    name = sources[0].name
    return name.rsplit("/", 1)[0] if "/" in name else "."


def _read(
    sources: list[Source],
    folders: Folders,
    outer: tuple[_Level, ...],
    tally: _Tally,
    shown: str = "",
) -> LoadedPolicy:
    """The policy of ``sources`` and its packages; ``outer`` are the policies whose packages
    are being read (outermost first), ``shown`` how this one is named in a cycle's message."""
    files = parse_all(sources)
    uses = [(file, item) for file in files for item in file.items if isinstance(item, ast.UseDecl)]
    if not uses:
        documents = read_documents(files, folders.provided)
        every = [*sources, *(d.source for d in documents)]
        return LoadedPolicy(
            tuple(sources), tuple(files), tuple(documents), (), content_version(every)
        )
    located = [_locate(file, decl, folders) for file, decl in uses]
    claimed = {
        folder
        for (file, _), (folder, _) in zip(uses, located, strict=True)
        if folder is not None and not folders.contains(folder, file.name)
    }
    own = [i for i, f in enumerate(files) if not any(folders.contains(c, f.name) for c in claimed)]
    if not own:
        raise refuse(
            "no-policy-files",
            "every rule file read belongs to a package that another of them uses",
            uses[0][1],
            "read the policy's own folder, not a folder that holds its packages",
        )
    own_files = [files[i] for i in own]
    own_sources = [sources[i] for i in own]
    mine = {id(f) for f in own_files}
    # A use in a package's file is the package's business: read (and reported) with it.
    own_uses = [(d, where) for (f, d), where in zip(uses, located, strict=True) if id(f) in mine]
    problems = [p for _, (_, found) in own_uses for p in found]
    problems += _duplicate_namespaces([d for d, _ in own_uses])
    if problems:
        raise PolicyError(problems)
    level = _Level(shown or _folder_of(own_sources), tuple(s.name for s in own_sources))
    path = (*outer, level)
    packages = [
        _package(decl, folder, folders, path, tally)
        for decl, (folder, _) in own_uses
        if folder is not None  # every use that leads nowhere was reported above
    ]
    documents = read_documents(own_files, folders.provided)
    every = [*own_sources, *(d.source for d in documents)]
    return LoadedPolicy(
        tuple(own_sources),
        tuple(own_files),
        tuple(documents),
        tuple(packages),
        combined_version(content_version(every), packages),
    )


def _locate(
    file: ast.PolicyFile, decl: ast.UseDecl, folders: Folders
) -> tuple[str | None, list[Diagnostic]]:
    """The folder a use leads to, or why it leads nowhere."""
    try:
        return folders.locate(file.name, decl), []
    except PolicyError as exc:
        return None, list(exc.diagnostics)


def _duplicate_namespaces(decls: list[ast.UseDecl]) -> list[Diagnostic]:
    first: dict[str, ast.UseDecl] = {}
    problems = []
    for decl in decls:
        namespace = decl.namespace.value
        if namespace in first:
            earlier = first[namespace].namespace.span
            problems.append(
                Diagnostic(
                    "duplicate-namespace",
                    f"the namespace `{namespace}` is used twice",
                    decl.namespace.span,
                    "give each package a namespace of its own",
                    notes=(("first used here", earlier),) if earlier is not None else (),
                )
            )
        else:
            first[namespace] = decl
    return problems


def _package(
    decl: ast.UseDecl, folder: str, folders: Folders, path: tuple[_Level, ...], tally: _Tally
) -> Package:
    """The package at ``folder``, read unless it holds a rule file of a policy on ``path`` (the
    policies whose packages are being read, outermost first): that would be a cycle."""
    for at, level in enumerate(path):
        if any(folders.contains(folder, name) for name in level.names):
            way = [lv.shown for lv in path[at:]] + [folder]
            shown = " → ".join(f"`{step}`" for step in way)
            raise refuse(
                "package-cycle",
                f"packages use each other in a cycle: {shown}",
                decl,
                f"`{folder}` holds `{path[at].shown}`, which uses it through this `use`; a "
                "package cannot use the policy that uses it",
            )
    sources = folders.read(folder, decl)
    tally.add(decl, sources)
    return Package(decl, folder, _read(sources, folders, path, tally, folder), tuple(sources))


def combined_version(own: str, packages: Sequence[Package]) -> str:
    """The version of a policy with packages: its own files' and each package's."""
    if not packages:
        return own
    digest = hashlib.sha256(b"policy-with-packages\0" + own.encode() + b"\0")
    for package in sorted(packages, key=lambda p: p.namespace):
        digest.update(f"{package.namespace}\0{package.policy.version}\0".encode())
    return digest.hexdigest()
