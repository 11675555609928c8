"""Numbers exactly as they were sent: finding the JSON numbers a float would change, and writing
JSON that keeps each number read as an :class:`~policy_engine.engine.context.ExactFloat` in the
text it was written with.

A request's body is read with pydantic's parser, which makes every fractional number a float;
that float is exact for the number written when its shortest ``repr`` is that number
(``0.25``, ``1e-7``, any number of up to 15 significant digits in the float's range), and only
then. :func:`changed_by_float` finds a body holding any other
(``0.1000000000000000055511151231257827``, ``1e400``), which :mod:`.body` reads again as the
command line reads it (``json.loads`` with ``parse_float=ExactFloat``). :func:`dumps` writes
such values back as written: in the decision log (the text its hashes cover,
:mod:`.log_chain`) and in the service's answers.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

from ..engine.context import ExactFloat

# A number with a fraction or an exponent. In a JSON text such a number is always matched whole
# (the character before it is never a digit, a point or a sign); matches inside strings are
# harmless: they can only send a body the slower, exact way.
_FRACTIONAL = re.compile(rb"-?\d+(?:\.\d+)?[eE][+-]?\d+|-?\d+\.\d+")
_JSON_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?")

# The shape of a body's bytes: digits, points and signs as `0`, the letters e and E as `e`,
# anything else as a space. Searching the shape takes a fraction of the time a regular
# expression takes over the bytes.
_SHAPE = bytes.maketrans(
    bytes(range(256)),
    bytes(
        ord("0") if chr(b) in "0123456789.+-" else ord("e") if chr(b) in "eE" else ord(" ")
        for b in range(256)
    ),
)
_LONG = b"0" * 16
"""A number of 16 digits or more is written with at least 16 of these in a row."""
_WIDE_EXPONENT = b"e000"
"""An exponent of three digits, or of two after a sign."""


def changed_by_float(raw: bytes) -> bool:
    """Whether ``raw`` holds a number with a fraction or an exponent whose nearest float is not
    that number read back (its ``repr``).

    A float keeps every number of at most 15 significant digits within its range (from about
    1e-307 to 1e308), and a number written with at most 15 digits and an exponent of at most
    two digits is within it; so the shape of the bytes (:data:`_SHAPE`) shows at once that most
    bodies hold no other number (no run of 16 digits, points and signs; no exponent of three
    digits, or of two after a sign). Only a body whose shape does not is scanned number by
    number."""
    shape = raw.translate(_SHAPE)
    if _LONG not in shape and _WIDE_EXPONENT not in shape:
        return False
    for found in _FRACTIONAL.finditer(raw):
        text = found.group().decode("ascii")
        # An infinity (`1e400`) reads back as Decimal("Infinity"): changed too.
        if Decimal(repr(float(text))) != Decimal(text):
            return True
    return False


def number_text(value: ExactFloat) -> str:
    """The JSON text of ``value``: as it was written, when that is a JSON number, else its
    float's ``repr`` (an ``ExactFloat`` made in Python from any text ``float`` accepts)."""
    text = value.text
    if _JSON_NUMBER.fullmatch(text):
        return text
    return float.__repr__(value)


def holds_exact(value: Any) -> bool:
    """Whether ``value`` holds an :class:`ExactFloat` anywhere (lists and objects walked)."""
    kind = type(value)
    if kind is ExactFloat:
        return True
    if kind is dict:
        return any(holds_exact(item) for item in value.values())
    if kind is list or kind is tuple:
        return any(holds_exact(item) for item in value)
    return False


def dumps(value: Any, encoder: json.JSONEncoder) -> str:
    """``encoder.encode(value)``, except that an :class:`ExactFloat` is written as it was read
    (:func:`number_text`). ``encoder`` must write without spaces (``separators=(",", ":")``);
    its other options (sorted keys, ASCII, NaN) hold for everything else, written by it."""
    if not holds_exact(value):
        return encoder.encode(value)
    parts: list[str] = []
    _write(value, encoder, parts)
    return "".join(parts)


def _write(value: Any, encoder: json.JSONEncoder, parts: list[str]) -> None:
    kind = type(value)
    if kind is ExactFloat:
        parts.append(number_text(value))
    elif kind is dict and all(type(key) is str for key in value):
        items = sorted(value.items()) if encoder.sort_keys else value.items()
        parts.append("{")
        for index, (key, item) in enumerate(items):
            parts.append(("," if index else "") + encoder.encode(key) + ":")
            _write(item, encoder, parts)
        parts.append("}")
    elif kind is list or kind is tuple:
        parts.append("[")
        for index, item in enumerate(value):
            if index:
                parts.append(",")
            _write(item, encoder, parts)
        parts.append("]")
    else:
        parts.append(encoder.encode(value))
