"""Loading a version of a policy to diff: a path, or ``git:REV:path`` read from the repository
without touching the work tree."""

from __future__ import annotations

import os
import subprocess

from ..engine.policy import Policy
from ..language.document_files import DOCUMENT_SUFFIXES
from ..language.errors import Diagnostic, PolicyError
from ..language.files import read_sources
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
    return Policy(sources, documents)
