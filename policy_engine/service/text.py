"""Text a client sends must be text the service can store and answer with: Unicode scalar values
(no lone surrogate: JSON's ``"\\ud800"`` escape makes one, and UTF-8 has no form for it) without
NUL (PostgreSQL's ``text`` and ``jsonb`` refuse it). Checked where it comes in (subjects, terms,
context keys and values, consent fields, query parameters), so that a bad value is a 400 naming
its field, not a 503 from the database counted as a failed log write.

Checking a decision body costs nothing in the common case: a JSON body can only hold such a
character as an escape (``\\u0000``, ``\\ud800`` … ``\\udfff``), so only a body whose bytes hold
one is walked (:func:`might_hold_bad_text`). ``inputs.check_text`` raises the 400.
"""

from __future__ import annotations

import re
from typing import Any

_BAD = re.compile("[\x00\ud800-\udfff]")
_ESCAPES = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])")
HELP = (
    "send Unicode text without NUL characters; in JSON, a character beyond U+FFFF is escaped as "
    "a pair of surrogates (\\ud83d\\ude00), never a lone one"
)


def might_hold_bad_text(raw: bytes) -> bool:
    """Whether a JSON body's bytes hold an escape that can make a NUL or a lone surrogate."""
    return b"\\u" in raw and _ESCAPES.search(raw) is not None


def printable(text: str) -> str:
    """``text`` with NULs and lone surrogates written as escapes (for error messages)."""
    return _BAD.sub(lambda found: f"\\u{ord(found.group()):04x}", text)


def bad_text(value: Any, where: str) -> tuple[str, str] | None:
    """The first string in ``value`` (dict keys included, lists and dicts walked) that is not
    good text: its place (``requests[2].context.channel``) and what is wrong with it."""
    if isinstance(value, str):
        found = _BAD.search(value)
        return None if found is None else (where, _problem(found.group()))
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str) and (bad := _BAD.search(key)) is not None:
                return (f"a key of `{where}`" if where else "a key", _problem(bad.group()))
            inner = bad_text(item, f"{where}.{key}" if where else str(key))
            if inner is not None:
                return inner
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            inner = bad_text(item, f"{where}[{index}]")
            if inner is not None:
                return inner
    return None


def describe(found: tuple[str, str]) -> str:
    """The message for what :func:`bad_text` found."""
    place, problem = found
    named = place if place.startswith("a key") else f"`{place}`"
    return f"{named} holds {problem}"


def _problem(character: str) -> str:
    if character == "\x00":
        return "a NUL character (U+0000)"
    return f"a lone surrogate (U+{ord(character):04X}), which is not a Unicode character"
