"""Loading a version of a policy to diff: a path, or ``git:REV:path`` read from the repository
without touching the work tree. The packages such a version uses are read from the same
revision (:class:`GitFolders`), never from the work tree."""

from __future__ import annotations

import os
import posixpath
import subprocess
from collections.abc import Mapping

from ..engine.policy import Policy
from ..language import ast
from ..language.document_files import DOCUMENT_SUFFIXES
from ..language.errors import Diagnostic, PolicyError
from ..language.files import POLICY_SUFFIX, read_sources
from ..language.package_folders import SYMLINK_HELP, check_path, not_found, refuse
from ..language.source import Source


def read_version(spec: str) -> list[Source]:
    """A path, or ``git:REV:path`` read from the repository without touching the work tree."""
    return _read(spec)[0]


def _read(spec: str) -> tuple[list[Source], dict[str, str] | None]:
    """The rule files of a version, and (from git) the source documents beside them."""
    if not spec.startswith("git:"):
        return read_sources(spec), None
    try:
        _, rev, path = spec.split(":", 2)
    except ValueError:
        raise PolicyError(
            [Diagnostic("bad-git-spec", f"`{spec}` is not of the form `git:REV:path`")]
        ) from None
    listing = _git("ls-tree", "-r", "--full-name", "--name-only", rev, "--", path or ".")
    files = [f for f in listing.splitlines() if f.endswith(".policy")]
    if not files:
        raise PolicyError(
            [Diagnostic("no-policy-files", f"no `.policy` files at `{path}` in revision `{rev}`")]
        )
    documents = {
        f"{rev}:{f}": _git("show", f"{rev}:{f}")
        for f in listing.splitlines()
        if f.lower().endswith(DOCUMENT_SUFFIXES)
    }
    return [Source(f"{rev}:{f}", _git("show", f"{rev}:{f}")) for f in sorted(files)], documents


def _git(*args: str) -> str:
    try:
        done = subprocess.run(
            ["git", *args], capture_output=True, text=True, check=False, cwd=os.getcwd()
        )
    except FileNotFoundError:
        raise PolicyError([Diagnostic("no-git", "`git` is not installed")]) from None
    if done.returncode != 0:
        message = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "failed"
        raise PolicyError([Diagnostic("git-failed", f"git {args[0]}: {message}")])
    return done.stdout


def load_version(spec: str) -> Policy:
    sources, documents = _read(spec)
    if documents is None:
        return Policy(sources)
    rev = spec.split(":", 2)[1]
    return Policy(sources, documents, folders=GitFolders(rev, documents))


_LINK_MODE = "120000"


class GitFolders:
    """Package folders at a git revision: a ``use`` in ``REV:rules/a/x.policy`` naming
    ``../b`` reads ``REV:rules/b``. A symbolic link on the way or in the folder is refused, as
    on disk."""

    def __init__(self, rev: str, documents: dict[str, str]) -> None:
        self.rev = rev
        self._documents = documents

    @property
    def provided(self) -> Mapping[str, str] | None:
        return self._documents

    def _path(self, name: str) -> str:
        return name.removeprefix(f"{self.rev}:")

    def _entries(self, path: str) -> list[tuple[str, str, str]]:
        """(mode, type, path) of each entry ``git ls-tree`` lists for ``path`` (a folder's
        entries when it ends in ``/``)."""
        listing = _git("ls-tree", "--full-tree", self.rev, "--", path)
        entries = []
        for line in listing.splitlines():
            info, _, found = line.partition("\t")
            mode, kind, _ = info.split(" ", 2)
            entries.append((mode, kind, found))
        return entries

    def locate(self, rule_file: str, decl: ast.UseDecl) -> str:
        here = posixpath.dirname(self._path(rule_file))
        for part in check_path(decl):
            if part == "..":
                if not here:
                    raise refuse(
                        "package-not-found",
                        f"`{decl.path}` leads out of the repository",
                        decl,
                    )
                here = posixpath.dirname(here)
                continue
            parent, here = here, posixpath.join(here, part)
            found = self._entries(here)
            if not found:
                names = [
                    p.rsplit("/", 1)[-1]
                    for _, kind, p in self._entries(parent + "/" if parent else ".")
                    if kind == "tree"
                ]
                raise not_found(decl, decl.path, part, names)
            mode, kind, _ = found[0]
            if mode == _LINK_MODE:
                raise refuse(
                    "package-symlink",
                    f"`{self.rev}:{here}` is a symbolic link: not followed",
                    decl,
                    SYMLINK_HELP,
                )
            if kind != "tree":
                raise refuse(
                    "package-not-a-folder",
                    f"`{decl.path}` is not a folder: a package is a folder of `{POLICY_SUFFIX}` "
                    "files",
                    decl,
                )
        return f"{self.rev}:{here}"

    def contains(self, folder: str, name: str) -> bool:
        inside = self._path(folder)
        return not inside or self._path(name).startswith(inside + "/")

    def read(self, folder: str, decl: ast.UseDecl) -> list[Source]:
        path = self._path(folder)
        listing = _git("ls-tree", "-r", "--full-tree", self.rev, "--", path + "/")
        sources = []
        for line in listing.splitlines():
            info, _, found = line.partition("\t")
            if info.startswith(_LINK_MODE):
                raise refuse(
                    "package-symlink",
                    f"`{self.rev}:{found}` in the package is a symbolic link: not followed",
                    decl,
                    SYMLINK_HELP,
                )
            name = f"{self.rev}:{found}"
            if found.endswith(POLICY_SUFFIX):
                sources.append(Source(name, _git("show", name)))
            elif found.lower().endswith(DOCUMENT_SUFFIXES):
                self._documents[name] = _git("show", name)
        if not sources:
            raise refuse("no-policy-files", f"no `{POLICY_SUFFIX}` files in `{folder}`", decl)
        return sorted(sources, key=lambda s: s.name)
