"""The limits of a policy's rule files, in one place. Rule files are untrusted input: each limit
bounds what loading them may cost, and each is refused with an error at the place that goes past
it (docs/language.md, "Limits"). All are far above what a policy written by people needs: the
10,000-rule benchmark policy is 1.4 MiB and declares some 1,200 terms; PLANISO's longest name has
49 characters and its longest string 99.

This module also reads a rule file from disk no further than the limits allow, and says where a
text given in memory goes past them."""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

from .errors import Diagnostic
from .source import Source, Span

MAX_FILE_BYTES = 10 * 1024 * 1024
"""The largest rule file, in bytes of UTF-8 (10 MiB; some 70,000 rules)."""

MAX_POLICY_BYTES = 20 * 1024 * 1024
"""The largest policy: all its rule files together, in bytes of UTF-8 (20 MiB)."""

MAX_PACKAGES = 1000
"""The most package folders one policy may read, its packages' packages included (a package
used twice, under two namespaces, counts twice)."""

MAX_PACKAGE_ENTRIES = 100_000
"""The most files and folders one package folder may hold, all depths: a `use` in an untrusted
rule file may name any folder beside it, and one such as `../../usr` must not be walked whole."""

MAX_TERMS = 100_000
"""The most names a policy may declare: parties, data categories, purposes, obligations and
context keys together."""

MAX_RULES = 100_000
"""The most rules a policy may have, its invariants counted with them."""

MAX_NAME_LENGTH = 256
"""The longest name (a term, a context key, a rule or invariant id), in characters."""

MAX_STRING_LENGTH = 10_000
"""The longest quoted string, in characters as written between its quotes."""

MAX_NESTING = 64
"""How deeply conditions may nest (`not`, parenthesised `and`/`or`, lists in lists): every step
after the parser walks them recursively."""

MAX_INTEGER_DIGITS = 4300
"""The longest integer literal: Python's own limit for reading one (every literal that loaded
before this limit still loads)."""

MAX_DURATION_DIGITS = 9
"""The number of a duration (``30 days``): up to 999,999,999 of its unit, far beyond any date a
request can write, and small enough that every moved date can still be written out."""


def read_rule_file(path: Path, name: str, already: int) -> tuple[Source, Diagnostic | None]:
    """The text of the rule file at ``path`` (shown as ``name``), read no further than the
    limits allow once ``already`` bytes of other files were read; with the diagnostic of the
    limit it goes past, if any (the text is then only what was read). Raises
    ``UnicodeDecodeError`` for a file that is not UTF-8."""
    room = min(MAX_FILE_BYTES, MAX_POLICY_BYTES - already)
    with path.open("rb") as handle:
        data = handle.read(room + 1)
    if len(data) <= room:
        # As ``Path.read_text`` would: universal newlines (`\r\n` and `\r` are `\n`).
        return Source(name, io.TextIOWrapper(io.BytesIO(data), encoding="utf-8").read()), None
    source = Source(name, data[:room].decode("utf-8", "ignore"))
    return source, _past_limit(source, len(source.text), room < MAX_FILE_BYTES)


def size_problems(sources: Sequence[Source]) -> list[Diagnostic]:
    """Where the texts of a policy's rule files go past the size of a file or of a policy (the
    policy's size once, at the file that goes past it)."""
    problems = []
    total = 0
    for source in sources:
        room = min(MAX_FILE_BYTES, MAX_POLICY_BYTES - total)
        size = _utf8_size(source.text, room)
        if size > room:
            at = len(source.text.encode()[:room].decode("utf-8", "ignore"))
            problems.append(_past_limit(source, at, room < MAX_FILE_BYTES))
            if room < MAX_FILE_BYTES:
                break
        total += min(size, MAX_FILE_BYTES)
    return problems


def _utf8_size(text: str, room: int) -> int:
    """The UTF-8 size of ``text``, exact when it is at most ``room``, else any size past it."""
    if len(text) * 4 <= room:  # no character takes more than 4 bytes
        return len(text)
    if len(text) > room:
        return len(text)
    return len(text.encode())


def _size(limit: int) -> str:
    return f"{limit // 2**20} MiB" if limit % 2**20 == 0 else f"{limit:,} bytes"


def _past_limit(source: Source, at: int, whole_policy: bool) -> Diagnostic:
    """The diagnostic of a file whose text goes past a limit at character ``at``."""
    text = source.text
    line = text.count("\n", 0, at) + 1
    column = at - (text.rfind("\n", 0, at) + 1) + 1
    span = Span(source, line, column, line, column + 1)
    if whole_policy:
        return Diagnostic(
            "policy-too-large",
            f"the policy's rule files are larger than {_size(MAX_POLICY_BYTES)} together, the "
            "most a policy may be; they go past it here",
            span,
            "a policy of this size is not supported; check that the folder holds only rule files",
        )
    return Diagnostic(
        "file-too-large",
        f"this rule file is larger than {_size(MAX_FILE_BYTES)}, the most a rule file may be; it "
        "goes past it here",
        span,
        f"split the policy into files of at most {_size(MAX_FILE_BYTES)} each (a folder of them "
        "is one policy)",
    )
