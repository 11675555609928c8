"""Rule files on disk: which files make up a policy, their text, and the policy's version."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from pathlib import Path

from .errors import Diagnostic, PolicyError, PolicySyntaxError
from .limits import read_rule_file
from .source import Source

POLICY_SUFFIX = ".policy"


def display_name(path: Path) -> str:
    """Paths inside the working directory are shown relative to it, others as absolute paths
    (made absolute without following links: a file is named where it was found)."""
    absolute = Path(os.path.abspath(path))
    try:
        return absolute.relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return absolute.as_posix()


def read_sources(path: str | os.PathLike[str]) -> list[Source]:
    """The rule files at ``path``: the file itself, or every ``.policy`` file below a folder."""
    root = Path(path)
    if root.is_file():
        files = [root]
    elif root.is_dir():
        files = sorted(p for p in root.rglob(f"*{POLICY_SUFFIX}") if p.is_file())
        if not files:
            raise PolicyError(
                [Diagnostic("no-policy-files", f"no `{POLICY_SUFFIX}` files in `{path}`")]
            )
        _refuse_links_out(root, files)
    else:
        raise PolicyError([Diagnostic("no-such-path", f"no such file or directory: `{path}`")])
    return read_rule_files(files)


def read_rule_files(files: Iterable[Path]) -> list[Source]:
    """The text of each rule file, within the limits of one policy (:mod:`.limits`)."""
    sources = []
    read = 0
    for file in files:
        try:
            source, too_large = read_rule_file(file, display_name(file), read)
        except UnicodeDecodeError as exc:
            raise PolicyError(
                [Diagnostic("not-utf8", f"`{file}` is not UTF-8 text: {exc.reason}")]
            ) from None
        if too_large is not None:  # read no further than the limit
            raise PolicySyntaxError([too_large])
        read += len(source.text.encode())
        sources.append(source)
    return sources


def _refuse_links_out(root: Path, files: list[Path]) -> None:
    """A rule file of a folder must be inside the folder: a link that leads out of it (to
    `/proc/self/environ`, say, whose text a diagnostic would then print) is not followed."""
    inside = root.resolve()
    outside = [f for f in files if not f.resolve().is_relative_to(inside)]
    if outside:
        raise PolicyError(
            [
                Diagnostic(
                    "link-out-of-folder",
                    f"`{display_name(f)}` is a link to a file outside `{root}`: not followed",
                    None,
                    "copy the file into the folder, or name it on the command line itself",
                )
                for f in outside
            ]
        )


def content_version(sources: Iterable[Source]) -> str:
    """SHA-256 of the rule files' names (relative to their common folder) and contents."""
    sources = sorted(sources, key=lambda s: s.name)
    names = [s.name for s in sources]
    try:
        common = os.path.commonpath(names) if len(names) > 1 else os.path.dirname(names[0])
    except ValueError:  # absolute and relative names together: no common folder
        common = ""
    digest = hashlib.sha256()
    for source in sources:
        relative = os.path.relpath(source.name, common) if common else source.name
        digest.update(relative.encode() + b"\0")
        source.hash_into(digest)
        digest.update(b"\0")
    return digest.hexdigest()
