"""Anchors: the decision log's head (how many entries, the last one's seq, id and hash) written
down outside the database, signed with the log key when there is one.

The hash chain shows an entry changed or removed in the middle of the log, but not entries cut
off its end, nor a log whose chain was recomputed after a rewrite. An anchor kept elsewhere does:
``log verify --anchor FILE`` fails when the log no longer reaches an anchored head (fewer
entries, or another hash at the anchored ``seq``). ``log anchor`` prints one; ``serve`` appends
one on a schedule and at shutdown (:mod:`.log_anchor_sink`).

An anchor is one JSON object::

    {"format": 1, "database": "sqlite:///…", "entries": 1500, "last_seq": 1500,
     "last_id": "…", "last_hash": "…", "time": "2026-…Z", "key_id": "…", "mac": "…"}

``mac`` is HMAC-SHA256 with the log key (:class:`.log_mac.LogKey`) over the canonical JSON of
the other fields, ``key_id`` names that key; both are null without a key. A file holds one
anchor, a JSON array of them, or one per line (as ``serve`` and ``log anchor >> FILE`` append
them); a folder holds such files (``*.json``, ``*.jsonl``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .log_chain import GENESIS, canonical_json
from .log_mac import LogKey

FORMAT = 1
_SUFFIXES = (".json", ".jsonl")
_HEX = frozenset("0123456789abcdef")


class AnchorError(Exception):
    """Anchors that cannot be read, or are not anchors."""


class ForgedAnchorError(AnchorError):
    """An anchor whose signature does not match its contents (or another key's)."""


@dataclass(frozen=True)
class LogHead:
    """The end of the decision log: how many entries, and the last one's seq, id and hash."""

    entries: int
    last_seq: int
    last_id: str | None
    last_hash: str


EMPTY_HEAD = LogHead(0, 0, None, GENESIS)


@dataclass(frozen=True)
class Anchor:
    """One anchor read back, with where it was read (for messages)."""

    head: LogHead
    time: str
    key_id: str | None
    mac: str | None
    fields: Mapping[str, Any]
    where: str

    def describe(self) -> str:
        return f"the anchor in {self.where} (taken {self.time})"


def make_anchor(head: LogHead, database: str, time: str, key: LogKey | None) -> dict[str, Any]:
    """The anchor of ``head``, signed with ``key`` when there is one."""
    fields: dict[str, Any] = {
        "format": FORMAT,
        "database": database,
        "entries": head.entries,
        "last_seq": head.last_seq,
        "last_id": head.last_id,
        "last_hash": head.last_hash,
        "time": time,
        "key_id": None if key is None else key.key_id,
    }
    fields["mac"] = None if key is None else key.sign(canonical_json(fields))
    return fields


def _signed_text(fields: Mapping[str, Any]) -> str:
    return canonical_json({k: v for k, v in fields.items() if k != "mac"})


def _whole(value: Any) -> bool:
    return type(value) is int and value >= 0


def parse_anchor(fields: Any, where: str) -> Anchor:
    """An anchor from its JSON object, or :class:`AnchorError` naming what is wrong with it."""
    if not isinstance(fields, dict):
        raise AnchorError(f"{where} is not an anchor (not a JSON object)")
    missing = [k for k in ("entries", "last_seq", "last_hash", "time") if k not in fields]
    if missing:
        raise AnchorError(f"{where} is not an anchor (no `{'`, `'.join(missing)}`)")
    entries, last_seq, last_hash = fields["entries"], fields["last_seq"], fields["last_hash"]
    last_id, mac, key_id = fields.get("last_id"), fields.get("mac"), fields.get("key_id")
    if fields.get("format", FORMAT) != FORMAT:
        raise AnchorError(f"{where} is an anchor of format {fields['format']!r}, not {FORMAT}")
    problem = None
    if not (_whole(entries) and _whole(last_seq)):
        problem = "`entries` and `last_seq` are whole numbers"
    elif (entries == 0) != (last_seq == 0) or entries > last_seq:
        problem = "`entries` is at most `last_seq`, and 0 only for an empty log"
    elif not (isinstance(last_hash, str) and len(last_hash) == 64 and _HEX.issuperset(last_hash)):
        problem = "`last_hash` is 64 hexadecimal digits"
    elif not (last_id is None or isinstance(last_id, str)) or (last_id is None) != (entries == 0):
        problem = "`last_id` is the last entry's id, null only for an empty log"
    elif not all(v is None or isinstance(v, str) for v in (mac, key_id, fields["time"])):
        problem = "`time`, `key_id` and `mac` are strings or null"
    if problem is not None:
        raise AnchorError(f"{where} is not a valid anchor: {problem}")
    head = LogHead(entries, last_seq, last_id, last_hash)
    return Anchor(head, str(fields["time"]), key_id, mac, fields, where)


def _documents(text: str, name: str, warnings: list[str]) -> list[tuple[Any, str]]:
    """The JSON values in an anchor file's text, each with where it was read: one per line
    (an array on a line gives its items), or else the whole text as one value.

    A last line that is not JSON and has no line break after it, following lines that are
    anchors, is an append the writer did not finish (a crash, a full disk): it is left out
    with a warning, as if it had never been written. Anywhere else a line that is not JSON is
    an error."""
    if not text.strip():
        raise AnchorError(f"{name} holds no anchor")
    found: list[tuple[Any, str]] = []
    lines = text.splitlines()
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except ValueError as exc:
            if found and number == len(lines) and not text.endswith(("\n", "\r")):
                warnings.append(
                    f"{name} line {number} was left out: an anchor whose writing was cut off "
                    "(no line break after it)"
                )
                return found
            bad = f"{name} line {number} is not JSON: {exc}"
            break
        where = f"{name} line {number}"
        items = enumerate(value, 1) if isinstance(value, list) else [(0, value)]
        found += [(item, f"{where} item {n}" if n else where) for n, item in items]
    else:
        return found
    try:  # not one value per line: one value in all (an anchor as `log anchor | jq` prints it)
        whole = json.loads(text)
    except ValueError:
        raise AnchorError(bad) from None
    if isinstance(whole, list):
        return [(item, f"{name} item {n}") for n, item in enumerate(whole, 1)]
    return [(whole, name)]


def _files(path: Path) -> list[Path]:
    if not path.is_dir():
        return [path]
    files = sorted(
        p
        for p in path.iterdir()
        if p.suffix in _SUFFIXES and not p.name.startswith(".") and p.is_file()
    )
    if not files:
        raise AnchorError(f"the folder `{path}` holds no anchor files (*.json, *.jsonl)")
    return files


def read_anchors(paths: Iterable[str], warnings: list[str] | None = None) -> list[Anchor]:
    """Every anchor in the files (or folders of files) ``paths`` name; :class:`AnchorError`
    when one cannot be read or holds something that is not an anchor. What was left out (a
    last line cut off while being written) is added to ``warnings``."""
    warnings = [] if warnings is None else warnings
    anchors: list[Anchor] = []
    for name in paths:
        try:
            found = len(anchors)
            for path in _files(Path(name)):
                text = path.read_text(encoding="utf-8")
                for fields, where in _documents(text, f"`{path}`", warnings):
                    anchors.append(parse_anchor(fields, where))
            if len(anchors) == found:
                raise AnchorError(f"`{name}` holds no anchor")
        except OSError as exc:
            raise AnchorError(f"cannot read anchors at `{name}`: {exc.strerror}") from None
        except UnicodeDecodeError:
            raise AnchorError(f"anchor file `{name}` is not UTF-8 text") from None
    return anchors


def check_signatures(anchors: Sequence[Anchor], key: LogKey | None) -> tuple[int, int]:
    """Check every signed anchor's MAC with ``key``: :class:`AnchorError` for the first one
    forged or edited (or signed with another key). Returns how many were signed and checked,
    and how many were not (unsigned, or no key to check them with).

    An unsigned anchor is still checked against the log: an anchor added by someone else can only
    make ``log verify`` stricter, never hide a change."""
    checked = 0
    for anchor in anchors:
        if anchor.mac is None or key is None:
            continue
        if anchor.key_id is not None and anchor.key_id != key.key_id:
            raise ForgedAnchorError(
                f"{anchor.describe()} was signed with another log key (key id "
                f"{anchor.key_id}; this key's id is {key.key_id}), or is forged"
            )
        if not key.signature_ok(_signed_text(anchor.fields), anchor.mac):
            raise ForgedAnchorError(
                f"{anchor.describe()} is forged or edited: its MAC does not match its contents"
            )
        checked += 1
    return checked, len(anchors) - checked
