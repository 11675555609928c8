"""The decision log's hash chain and the canonical JSON it covers.

Each entry stores ``hash = sha256(previous_hash + canonical JSON of the entry)``, the first
entry's previous hash being :data:`GENESIS`. This module writes that JSON (orjson when it is
installed and gives the same text, the standard library otherwise), chains entries into the rows
both back ends store, and checks a stored row against the hash before it
(:meth:`.storage_base.Storage.verify_log`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..engine.context import ExactFloat
from . import exact_json
from .log_mac import LogKey
from .storage_types import StorageError

_orjson: Any
try:  # the server extra installs it; without it the standard library gives the same text
    import orjson as _orjson
except ImportError:  # pragma: no cover - exercised only without the server extra
    _orjson = None

GENESIS = "0" * 64

_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)
_LEAVES = frozenset({str, int, bool, type(None)})
_CONTAINERS = frozenset({dict, list, tuple})
_KNOWN = _LEAVES | _CONTAINERS


def _plain(value: Any) -> bool:
    """Whether ``value`` is made only of strings, integers, booleans, null, lists and objects:
    what orjson writes exactly as :data:`_CANONICAL` does, or refuses (integers beyond 64 bits,
    lone surrogates, keys that are not strings). Floats are not (``1e-07`` against ``1e-7``,
    ``NaN`` against ``null``), nor any other type. Checked a container at a time, the types of
    its items gathered in C."""
    kind = type(value)
    if kind is dict:
        items: Any = value.values()
    elif kind is list or kind is tuple:
        items = value
    else:
        return kind in _LEAVES
    kinds = set(map(type, items))
    if kinds <= _LEAVES:
        return True
    if not kinds <= _KNOWN:
        return False
    return all(_plain(item) for item in items if type(item) in _CONTAINERS)


def is_plain(value: Any) -> bool:
    """Whether ``value`` is plain JSON in the sense of :class:`PlainEntry` (no float anywhere)."""
    return _plain(value)


class PlainEntry(dict[str, Any]):
    """A log entry that holds, however deep, only strings, integers, booleans, null, lists and
    objects: :func:`_plain` by construction, so :func:`canonical_json` writes it without walking
    it first (the walk cost twice what orjson takes to write the entry).

    The service builds its entries this way: everything in them is its own text, except the
    arguments of obligations (plain unless one is a ``decimal``: the service checks those of a
    policy with such a parameter) and the request's context, which the policy has validated. A
    valid context holds only booleans, whole numbers, strings and lists of strings
    (``tests/test_service_log.py`` checks that every value the context types accept is plain),
    and objects of them (dotted keys), except for a ``decimal`` key, which holds a float (an
    :class:`ExactFloat` when the service read its text): the service checks such a context, and
    makes an entry that is not plain an ordinary ``dict``. An integer beyond 64 bits or a lone
    surrogate is still possible there; orjson refuses both, and the standard library writes
    them, as for any entry."""

    __slots__ = ()


def canonical_json(value: Any) -> str:
    """The one serialization the hash covers: sorted keys, no spaces, UTF-8 kept as is.

    That is ``json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)``;
    orjson writes the same text for :func:`_plain` values several times faster (keys sorted by
    code point either way), and is used for them when it is installed. Anything else, floats
    above all, and whatever orjson refuses, goes through the standard library, so the text never
    depends on which one ran. A :class:`PlainEntry` is taken at its word. A number the service
    read as written (a decimal key's, an :class:`~policy_engine.engine.context.ExactFloat`) is
    written as it was read (:func:`.exact_json.dumps`), so the log holds the number sent, not
    the float nearest to it."""
    if _orjson is not None and (type(value) is PlainEntry or _plain(value)):
        try:
            return str(_orjson.dumps(value, option=_orjson.OPT_SORT_KEYS), "utf-8")
        except TypeError:
            pass
    return exact_json.dumps(value, _CANONICAL)


def chain_hash(previous: str, entry: Mapping[str, Any]) -> str:
    return hashlib.sha256((previous + canonical_json(entry)).encode("utf-8")).hexdigest()


Row = tuple[Any, ...]

# The columns a decision entry is indexed by; they must agree with the hashed entry itself.
_INDEXED = ("id", "time", "subject", "party", "effect", "policy_version")


def chain_rows(
    previous: str, entries: Sequence[Mapping[str, Any]], key: LogKey | None = None
) -> tuple[list[Row], str]:
    """The rows that append ``entries`` after the entry whose hash is ``previous``: the
    :data:`_INDEXED` columns, the canonical text, the previous hash, the hash, and the hash's
    MAC with ``key`` (None without one). Each entry is serialized once, for its stored text and
    its hash alike. Returns the rows and the last hash."""
    rows: list[Row] = []
    mac = None if key is None else key.entry_mac
    for entry in entries:
        text = canonical_json(entry)
        try:
            digest = hashlib.sha256((previous + text).encode("utf-8")).hexdigest()
        except UnicodeEncodeError as exc:
            # A lone surrogate (an escape like "\ud800" in a request) has no UTF-8 form.
            raise StorageError(
                f"log entry {entry.get('id')} cannot be hashed: {exc}", refused=True
            ) from None
        rows.append(
            (
                entry["id"],
                entry["time"],
                entry.get("subject"),
                entry["party"],
                entry["effect"],
                entry["policy_version"],
                text,
                previous,
                digest,
                None if mac is None else mac(digest),
            )
        )
        previous = digest
    return rows, previous


@dataclass(frozen=True)
class VerifyResult:
    """The outcome of checking the decision log's chain."""

    ok: bool
    entries: int
    """How many entries were checked (up to and including the bad one)."""
    last_hash: str
    bad_seq: int | None = None
    bad_id: str | None = None
    problem: str | None = None
    maced: int = 0
    """Entries whose MAC was checked with the log key."""
    unmaced: int = 0
    """Entries that carry no MAC (written before a log key was configured)."""
    unchecked: int = 0
    """Entries that carry a MAC nobody checked (no log key given)."""
    anchors: int = 0
    """Anchors the log was checked against."""


def check_row(row: Sequence[Any], previous: str) -> str | None:
    """What is wrong with one stored entry (``seq``, the :data:`_INDEXED` columns, the entry,
    the previous hash and the hash), given the hash before it, or None."""
    if row[8] != previous:
        return "its previous hash does not match the entry before it (an entry is missing?)"
    try:
        # Numbers as written: each is written back so (`1e-07` stays `1e-07`, a decimal of 30
        # digits keeps them), and the entry's canonical JSON is the text that was hashed.
        entry = json.loads(row[7], parse_float=ExactFloat)
    except ValueError:
        return "its stored entry is not valid JSON"
    if not isinstance(entry, dict):
        return "its stored entry is not a JSON object"
    if chain_hash(previous, entry) != row[9]:
        return "its hash does not match its contents (the entry was changed)"
    for key, value in zip(_INDEXED, row[1:7], strict=True):
        if entry.get(key) != value:
            return f"its `{key}` column does not match the hashed entry"
    return None


def json_rows(rows: Sequence[Row]) -> str:
    """Rows as the JSON array of arrays ``policy_engine_append_log`` takes. What orjson refuses
    (a lone surrogate) is written escaped, for PostgreSQL to refuse in its turn, as a value it
    cannot store, rather than failing here."""
    if _orjson is not None:
        try:
            return str(_orjson.dumps(rows), "utf-8")
        except TypeError:
            pass
    return json.dumps(rows, separators=(",", ":"))
