"""Which rule files make the policy an open document belongs to, with the text the editor has.

A policy is a file or a folder of ``.policy`` files read as one (``policy-engine check FOLDER``).
An open rule file belongs to the folder it is in, or to the highest folder above it that holds
rule files itself, in an unbroken line: ``rules/planiso/use.policy`` is part of ``rules/planiso``
(``rules/`` holds no rule file of its own). The files of that folder are read as ``check`` reads
them, except that a file open in the editor is read from the editor, unsaved changes included.
A document that is not a file on disk (an untitled one) is a policy of its own.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlparse

from ..language.errors import Diagnostic, PolicyError
from ..language.files import POLICY_SUFFIX, display_name, read_sources
from ..language.source import Source


def uri_path(uri: str) -> Path | None:
    """The file a ``file:`` URI names (absolute, not resolved), None for any other scheme."""
    parsed = urlparse(uri)
    if parsed.scheme != "file":
        return None
    path = unquote(parsed.path)
    if os.name == "nt" and path.startswith("/") and path[2:3] == ":":  # pragma: no cover
        path = path[1:]
    return Path(os.path.abspath(path))


def path_uri(path: Path) -> str:
    return Path(os.path.abspath(path)).as_uri()


def _holds_rules(folder: Path) -> bool:
    try:
        return any(p.suffix == POLICY_SUFFIX and p.is_file() for p in folder.iterdir())
    except OSError:
        return False


def policy_folder(file: Path) -> Path:
    """The folder whose rule files make the policy of ``file`` (see the module's docstring)."""
    folder = file.parent
    while folder.parent != folder and _holds_rules(folder.parent):
        folder = folder.parent
    return folder


@dataclass(frozen=True)
class Snapshot:
    """The rule files of one policy as they are now, ready to be checked in another thread."""

    key: str
    """The policy's folder, or the URI of a document that is a policy of its own."""
    name: str
    """How ``check`` names the policy (its counterexample commands name it)."""
    sources: tuple[Source, ...]
    uris: Mapping[str, str]
    """Each source's name → the URI of its file (an open document: the URI the editor gave)."""
    lone: bool = False
    """A document that is not a file: its ``source`` documents cannot be read."""
    problems: tuple[Diagnostic, ...] = field(default=())
    """Why the folder's rule files could not be read (then there is nothing else to check)."""

    def uri_of(self, name: str) -> str | None:
        """The URI of the file a diagnostic's span names: a rule file, or a source document."""
        known = self.uris.get(name)
        if known is not None or self.lone:
            return known
        return path_uri(Path(name))


def policy_key(uri: str) -> str:
    """The key of the policy a document belongs to (:attr:`Snapshot.key`)."""
    path = uri_path(uri)
    return uri if path is None else str(policy_folder(path))


def take_snapshot(uri: str, open_texts: Mapping[str, str]) -> Snapshot:
    """The policy ``uri`` belongs to, with the texts of the open documents (URI → text)."""
    path = uri_path(uri)
    if path is None:
        name = urlparse(uri).path or uri
        return Snapshot(uri, name, (Source(name, open_texts.get(uri, "")),), {name: uri}, True)
    folder = policy_folder(path)
    opened = {p: u for u in open_texts if (p := uri_path(u)) is not None}
    try:
        sources = read_sources(folder)
    except PolicyError as exc:
        if any(d.code != "no-policy-files" for d in exc.diagnostics):
            return Snapshot(
                str(folder), display_name(folder), (), {}, problems=tuple(exc.diagnostics)
            )
        sources = []
    uris: dict[str, str] = {}
    texts: dict[str, str] = {}
    for source in sources:
        file = Path(os.path.abspath(source.name))
        uris[source.name] = opened.pop(file) if file in opened else path_uri(file)
        texts[source.name] = open_texts.get(uris[source.name], source.text)
    for file, opened_uri in opened.items():  # open, inside the folder, never saved
        if file.suffix == POLICY_SUFFIX and file.is_relative_to(folder):
            uris[display_name(file)] = opened_uri
            texts[display_name(file)] = open_texts[opened_uri]
    found = tuple(Source(name, texts[name]) for name in sorted(texts))
    return Snapshot(str(folder), display_name(folder), found, uris)
