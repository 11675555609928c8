"""The grammar and its LALR parser: the grammar text shipped as package data, the language's
reserved words, and Lark's analysed tables, kept in the cache folder so a process loads them
instead of rebuilding them (~80 ms to build, ~7 ms to load)."""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

import lark
from lark import Lark, Token
from lark.grammar import Rule
from lark.lexer import TerminalDef

from . import store


@functools.cache
def grammar_text() -> str:
    """The grammar shipped inside the package as ``policy_engine.grammar`` (the wheel maps the
    repository's ``grammar/`` folder there). Run from a source checkout without installing, the
    package has no such subpackage, so the checkout's ``grammar/policy.lark`` is read instead."""
    try:
        files = resources.files("policy_engine.grammar")
    except ModuleNotFoundError:
        checkout = Path(__file__).resolve().parents[2] / "grammar" / "policy.lark"
        return checkout.read_text("utf-8")
    return files.joinpath("policy.lark").read_text("utf-8")


@functools.cache
def reserved_words() -> frozenset[str]:
    """The language's own words (every keyword of the grammar): none of them may be a name."""
    words = {"allow", "deny"}  # EFFECT is a pattern, not a plain string
    for term in lark_parser().terminals:
        if term.pattern.type == "str" and term.pattern.value.isalpha():
            words.add(term.pattern.value)
    return frozenset(words)


@functools.cache
def lark_parser() -> Lark:
    """The LALR parser, built once per process."""
    return load_parser({})


_LARK_OPTIONS: dict[str, Any] = {
    "parser": "lalr",
    "propagate_positions": True,
    "maybe_placeholders": False,
}


def load_parser(lexer_callbacks: dict[str, Callable[[Token], Token]]) -> Lark:
    data, memo = _parser_tables()
    parser: Lark = Lark._load_from_dict(  # type: ignore[no-untyped-call]
        data, memo, propagate_positions=True, lexer_callbacks=lexer_callbacks
    )
    return parser


@functools.cache
def _parser_tables() -> tuple[dict[str, Any], dict[int, Any]]:
    """Lark's analysis of the grammar (terminals, rules, LALR tables) as plain data, kept in the
    engine's cache folder under a hash of the grammar and Lark's version. Lark's own cache
    option would unpickle arbitrary objects from a shared folder; this data is only builtins,
    read with the store's restricted unpickler
    (:mod:`policy_engine.language.store`)."""

    digest = hashlib.sha256(f"{lark.__version__}\0{_LARK_OPTIONS}\0{grammar_text()}".encode())
    name = f"grammar-{digest.hexdigest()[:32]}.pickle"
    stored = store.read(name, ())
    if isinstance(stored, tuple) and len(stored) == 2:
        return stored
    built = Lark(grammar_text(), cache=False, **_LARK_OPTIONS)
    data, memo = built.memo_serialize([TerminalDef, Rule])
    store.write(name, (data, memo), ())
    return data, memo
