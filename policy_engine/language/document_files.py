"""Reading the documents a policy names with ``source "file"``: each is a plain-text or Markdown
file in the folder of the rule file that names it (or below it). A document is untrusted input
like a rule file: a path that leaves that folder, by ``..`` or by a link, is not followed; a file
that is not text, too large, or missing is an error at the ``source`` statement."""

from __future__ import annotations

import dataclasses
import hashlib
import posixpath
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from . import ast
from .documents import Document, read_document
from .errors import Diagnostic, PolicyError
from .files import display_name
from .source import Source

DOCUMENT_SUFFIXES = (".txt", ".text", ".md", ".markdown")
MAX_DOCUMENT_BYTES = 10 * 1024 * 1024
"""A source document larger than this (10 MiB) is refused."""


def default_name(path: str) -> str:
    """A document's name when the policy gives none: its file name without the suffix, as a
    name (``planiso-privacy-policy.txt`` → ``planiso_privacy_policy``)."""
    stem = Path(path).name.rsplit(".", 1)[0]
    name = re.sub(r"[^A-Za-z0-9_]", "_", stem)
    return name if name[:1].isalpha() or name[:1] == "_" else f"_{name}"


Provided = Mapping[str, str] | None
"""Documents given as text by path (a policy loaded from text, or from a git revision): when
given, documents are looked up there only, never on disk."""


def read_documents(files: Sequence[ast.PolicyFile], provided: Provided = None) -> list[Document]:
    """The documents the policy's ``source`` statements name, in the order written."""
    documents: list[Document] = []
    problems: list[Diagnostic] = []
    names: dict[str, ast.SourceDecl] = {}
    for file in files:
        for decl in (i for i in file.items if isinstance(i, ast.SourceDecl)):
            name = decl.name.value if decl.name is not None else default_name(decl.path)
            if name in names:
                problems.append(
                    Diagnostic(
                        "duplicate-source",
                        f"a source document named `{name}` is already named",
                        decl.span,
                        'give one of them another name: `source other_name "file"`',
                    )
                )
                continue
            names[name] = decl
            try:
                text = _read(file.name, decl, provided)
                documents.append(read_document(text, name, (file.name, decl.path)))
            except PolicyError as exc:
                problems.extend(exc.diagnostics)
    if problems:
        raise PolicyError(problems)
    return documents


def reread(document: tuple[str, ...], provided: Provided = None) -> Document | None:
    """A document read again as a cached image recorded it (name, rule file, path, SHA-256 of
    its text, package): None when it can no longer be read or its text changed."""
    name, rule_file, path, digest, namespace = document
    try:
        source = _read(rule_file, ast.SourceDecl(path), provided)
    except PolicyError:
        return None
    if hashlib.sha256(source.text.encode("utf-8")).hexdigest() != digest:
        return None
    found = read_document(source, name, (rule_file, path))
    return dataclasses.replace(found, namespace=namespace) if namespace else found


def fingerprint(document: Document) -> tuple[str, str, str, str, str]:
    """What :func:`reread` needs to find ``document`` again and know it unchanged."""
    digest = hashlib.sha256(document.source.text.encode("utf-8")).hexdigest()
    return (document.name, *document.origin, digest, document.namespace)


def _provided(rule_file: str, decl: ast.SourceDecl, provided: Mapping[str, str]) -> Source:
    """A document given as text, named by its path beside the rule file that names it."""
    path = posixpath.normpath(decl.path)
    if posixpath.isabs(path) or path.split("/")[0] == "..":
        raise _refuse(
            "link-out-of-folder",
            f"`{decl.path}` is outside the folder of `{rule_file}`: not followed",
            decl,
            "put the document beside the rule files",
        )
    key = posixpath.normpath(posixpath.join(posixpath.dirname(rule_file), path))
    if key not in provided:
        raise _refuse(
            "source-not-found",
            f"no source document `{key}` was given with the policy's text",
            decl,
            f"give its text too, e.g. `load_policy_text({{..., {key!r}: text}})`",
        )
    return Source(key, provided[key])


def _refuse(code: str, message: str, decl: ast.SourceDecl, help: str | None = None) -> PolicyError:
    return PolicyError([Diagnostic(code, message, decl.span, help)])


def _read(rule_file: str, decl: ast.SourceDecl, provided: Provided = None) -> Source:
    if not decl.path.lower().endswith(DOCUMENT_SUFFIXES):
        raise _refuse(
            "source-not-text",
            f"`{decl.path}` is not a plain-text or Markdown file",
            decl,
            "a source document ends in " + ", ".join(f"`{s}`" for s in DOCUMENT_SUFFIXES),
        )
    if provided is not None:
        return _provided(rule_file, decl, provided)
    folder = Path(rule_file).parent
    target = folder / decl.path
    if Path(decl.path).is_absolute() or not target.resolve().is_relative_to(folder.resolve()):
        raise _refuse(
            "link-out-of-folder",
            f"`{decl.path}` is outside the folder of `{rule_file}`: not followed",
            decl,
            "put the document beside the rule files",
        )
    try:
        with target.open("rb") as handle:
            data = handle.read(MAX_DOCUMENT_BYTES + 1)
    except OSError as exc:
        raise _refuse(
            "source-not-found",
            f"cannot read source document `{decl.path}`: {exc.strerror}",
            decl,
        ) from None
    if len(data) > MAX_DOCUMENT_BYTES:
        raise _refuse(
            "source-too-large", f"`{decl.path}` is larger than {MAX_DOCUMENT_BYTES:,} bytes", decl
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _refuse("not-utf8", f"`{decl.path}` is not UTF-8 text: {exc.reason}", decl) from None
    return Source(display_name(target), text)
