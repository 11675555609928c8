"""Where a package's rule files are: the folders a ``use`` statement can lead to.

A ``use`` names a folder by a path relative to the folder of the rule file that says it. Rule
files are untrusted input, and so is the way to a package: the path is resolved *without
following symbolic links* (``..`` goes up a name, as written), and a symbolic link on the way,
or anywhere inside the package folder, is refused (a symlinked folder is not a way in: it would
let a policy read rule files from wherever the link points, and a policy's version would no
longer say what was read).

Three places hold folders, each a :class:`Folders`: the disk (:class:`DiskFolders`); the texts
given to ``load_policy_text`` (:class:`TextFolders`, a mapping of file names to texts); and a git
revision (in :mod:`policy_engine.analysis.versions`). A policy given as one text has no folders
(:class:`NoFolders`).
"""

from __future__ import annotations

import os
import posixpath
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

from . import ast
from .errors import Diagnostic, PolicyError, did_you_mean
from .files import POLICY_SUFFIX, display_name, read_rule_files
from .limits import MAX_PACKAGE_ENTRIES
from .source import Source


class Folders(Protocol):
    """Where the policy's packages are read from."""

    @property
    def provided(self) -> Mapping[str, str] | None:
        """Source documents given as text by path (None: read them from disk)."""

    def locate(self, rule_file: str, decl: ast.UseDecl) -> str:
        """The folder ``decl`` (written in ``rule_file``) names, as the names of the rule files
        read from it begin; a :class:`PolicyError` at the statement when there is none."""

    def contains(self, folder: str, name: str) -> bool:
        """Whether the rule file ``name`` is in ``folder`` or below it."""

    def read(self, folder: str, decl: ast.UseDecl) -> list[Source]:
        """Every rule file in ``folder`` and below it."""


def refuse(code: str, message: str, decl: ast.UseDecl, help: str | None = None) -> PolicyError:
    """The error of a ``use`` statement, at its place."""
    return PolicyError([Diagnostic(code, message, decl.span, help)])


SYMLINK_HELP = (
    "a symlinked folder is not a way in: name the package's own folder, or copy it beside the "
    "policy"
)


def check_path(decl: ast.UseDecl) -> list[str]:
    """The steps of a package path (``..``, names), refusing a path that is not relative."""
    path = decl.path
    if not path or path.startswith("/") or "\\" in path or (len(path) > 1 and path[1] == ":"):
        raise refuse(
            "package-path",
            f"`{path}` is not a relative path with `/` between its folders",
            decl,
            'a package is named from the folder of this file, e.g. `use law25 from "../law25"`',
        )
    return [part for part in path.split("/") if part not in ("", ".")]


def not_found(decl: ast.UseDecl, shown: str, missing: str, candidates: list[str]) -> PolicyError:
    close = did_you_mean(missing, candidates)
    hint = (
        "did you mean " + " or ".join(f"`{c}`" for c in close) + "?"
        if close
        else "the path is relative to the folder of the file that names it"
    )
    return refuse("package-not-found", f"no package folder `{shown}`", decl, hint)


class DiskFolders:
    """Packages on disk, reached without following a symbolic link."""

    provided: Mapping[str, str] | None = None

    def locate(self, rule_file: str, decl: ast.UseDecl) -> str:
        here = os.path.abspath(os.path.dirname(rule_file) or ".")
        for part in check_path(decl):
            if part == "..":
                here = os.path.dirname(here)
                continue
            parent, here = here, os.path.join(here, part)
            try:
                info = os.lstat(here)
            except OSError:
                raise not_found(decl, decl.path, part, _subfolders(parent)) from None
            if stat.S_ISLNK(info.st_mode):
                raise refuse(
                    "package-symlink",
                    f"`{display_name(Path(here))}` is a symbolic link: not followed",
                    decl,
                    SYMLINK_HELP,
                )
            if not stat.S_ISDIR(info.st_mode):
                raise refuse(
                    "package-not-a-folder",
                    f"`{decl.path}` is not a folder: a package is a folder of `{POLICY_SUFFIX}` "
                    "files",
                    decl,
                    "name the folder the package's rule files are in",
                )
        return display_name(Path(here))

    def contains(self, folder: str, name: str) -> bool:
        inside = os.path.abspath(folder)
        return os.path.abspath(name).startswith(inside.rstrip(os.sep) + os.sep)

    def read(self, folder: str, decl: ast.UseDecl) -> list[Source]:
        files: list[Path] = []
        seen = 0
        for top, folders, names in os.walk(folder):
            seen += len(folders) + len(names)
            if seen > MAX_PACKAGE_ENTRIES:
                raise refuse(
                    "package-too-large",
                    f"`{folder}` holds more than {MAX_PACKAGE_ENTRIES:,} files and folders: not "
                    "a policy folder",
                    decl,
                    "name the folder of the package's rule files",
                )
            for name in sorted(folders + names):
                path = Path(top) / name
                if path.is_symlink():
                    raise refuse(
                        "package-symlink",
                        f"`{display_name(path)}` in the package is a symbolic link: not followed",
                        decl,
                        SYMLINK_HELP,
                    )
                if name.endswith(POLICY_SUFFIX) and name in names:
                    files.append(path)
        if not files:
            raise refuse("no-policy-files", f"no `{POLICY_SUFFIX}` files in `{folder}`", decl)
        return read_rule_files(sorted(files))


def _subfolders(folder: str) -> list[str]:
    try:
        with os.scandir(folder) as entries:
            return [e.name for e in entries if e.is_dir(follow_symlinks=False)]
    except OSError:
        return []


class TextFolders:
    """Packages among texts given by file name (``load_policy_text`` with a mapping): a
    package folder is a folder of those names, e.g. ``law25/`` for ``law25/rules.policy``."""

    def __init__(self, rule_files: Mapping[str, str], documents: Mapping[str, str]) -> None:
        self._rules = {posixpath.normpath(name): text for name, text in rule_files.items()}
        self.provided: Mapping[str, str] | None = documents

    def locate(self, rule_file: str, decl: ast.UseDecl) -> str:
        here = posixpath.dirname(posixpath.normpath(rule_file))
        for part in check_path(decl):
            if part == ".." and not here:
                raise refuse(
                    "package-not-found",
                    f"`{decl.path}` leads out of the texts given",
                    decl,
                    "give the package's rule files in the same mapping, e.g. "
                    '`{"policy/rules.policy": ..., "law25/rules.policy": ...}`',
                )
            parent = here
            here = posixpath.dirname(here) if part == ".." else posixpath.join(here, part)
            if here in self._rules:
                raise refuse(
                    "package-not-a-folder",
                    f"`{decl.path}` is a rule file, not a folder: a package is a folder of "
                    f"`{POLICY_SUFFIX}` files",
                    decl,
                    "name the folder the package's rule files are in",
                )
            if part != ".." and not any(self.contains(here, n) for n in self._rules):
                below = {
                    (n[len(parent) + 1 :] if parent else n).split("/")[0]
                    for n in self._rules
                    if self.contains(parent, n)
                }
                raise not_found(decl, decl.path, part, sorted(below))
        return here

    def contains(self, folder: str, name: str) -> bool:
        name = posixpath.normpath(name)
        return not folder or folder == "." or name.startswith(folder + "/")

    def read(self, folder: str, decl: ast.UseDecl) -> list[Source]:
        return [Source(n, t) for n, t in sorted(self._rules.items()) if self.contains(folder, n)]


class NoFolders:
    """A policy given as one text: there is no folder to read a package from."""

    provided: Mapping[str, str] | None = {}

    def locate(self, rule_file: str, decl: ast.UseDecl) -> str:
        raise refuse(
            "package-not-found",
            "a policy given as one text cannot use a package",
            decl,
            "give the policy and the package's rule files as a mapping of file names to texts, "
            'e.g. `load_policy_text({"policy/rules.policy": ..., "law25/rules.policy": ...})`',
        )

    def contains(self, folder: str, name: str) -> bool:
        return False

    def read(self, folder: str, decl: ast.UseDecl) -> list[Source]:
        self.locate("", decl)
        return []
