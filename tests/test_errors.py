"""Error messages: a table of bad policies and bad requests, each with its exact diagnostic.

Every row names the exception class, the stable code, the message, the help line and the place
(line, column, and the text the caret underlines). Messages follow the style of Cedar's guide:
lowercase, user input in backticks, the place named, a useful hint, never a parser-internal name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pytest

from policy_engine import (
    PolicyError,
    PolicySyntaxError,
    PolicyValidationError,
    RequestError,
    UnknownTermError,
    load_policy_text,
)
from policy_engine.language.errors import Diagnostic

FILE = "bad.policy"

# Eleven lines of vocabulary; the statement under test is line 12.
BASE = """\
party staff
party clerk under staff
data contact
purpose support
obligation notify
context age: integer
context channel: one of "email", "phone"
context cookies: boolean
context note: string
context opted_out: list of "email", "phone"
context consented: set of purpose
"""
# 48 characters: a condition written after it with " when " starts at column 55.
HEAD = "rule r §1 allow clerk to use contact for support"

STATEMENTS = (
    "`party`, `data`, `purpose`, `obligation`, `condition`, `context`, `attribute`, `rule`, "
    "`override`, `invariant`, `source`, `not a decision`, `use`"
)
RESERVED_HELP = (
    "pick another name; the language's own words (`party`, `rule`, `when`, `any`, ...) are reserved"
)
UNFINISHED = "a statement was left unfinished"


@dataclass(frozen=True)
class Bad:
    text: str
    error: type[PolicyError]
    code: str
    line: int
    column: int
    marked: str  # the source text the caret line underlines ("" past the end of the file)
    message: str
    help: str | None
    notes: tuple[tuple[str, int, int], ...] = ()  # (note, line, column)


def syntax(
    text: str, code: str, line: int, column: int, marked: str, message: str, help: str | None
) -> Bad:
    return Bad(text, PolicySyntaxError, code, line, column, marked, message, help)


def invalid(
    statement: str,
    code: str,
    line: int,
    column: int,
    marked: str,
    message: str,
    help: str | None,
    notes: tuple[tuple[str, int, int], ...] = (),
) -> Bad:
    return Bad(
        BASE + statement, PolicyValidationError, code, line, column, marked, message, help, notes
    )


def when(condition: str) -> str:
    return f"{HEAD} when {condition}"


BAD_POLICIES: dict[str, Bad] = {
    # ---- syntax: strings and characters -----------------------------------------------------
    "unterminated string": syntax(
        'party p "never closed\n',
        "unterminated-string",
        1,
        9,
        '"never closed',
        "unterminated string",
        'close the string with `"` on the same line',
    ),
    "unterminated string inside a rule": syntax(
        'rule r\n  "open\n  allow p to use d for u\n',
        "unterminated-string",
        2,
        3,
        '"open',
        "unterminated string",
        'close the string with `"` on the same line',
    ),
    "bad character": syntax(
        "party a$b\n",
        "unexpected-character",
        1,
        8,
        "$",
        "unexpected character `$`",
        "names use ASCII letters, digits and `_`; text goes between double quotes",
    ),
    "non-ascii letter in a name": syntax(
        "party café\n",
        "unexpected-character",
        1,
        10,
        "é",
        "unexpected character `é`",
        "names use ASCII letters, digits and `_`; text goes between double quotes",
    ),
    "citation without a number": syntax(
        "party a §\n",
        "bad-citation",
        1,
        9,
        "§",
        "a citation needs a section number",
        "write citations like `§5.1` or `§1.4`",
    ),
    # ---- syntax: unknown keywords -----------------------------------------------------------
    "misspelt rule": syntax(
        "rulle r allow p to use d for u\n",
        "unknown-keyword",
        1,
        1,
        "rulle",
        "unknown keyword `rulle`",
        "did you mean `rule`?",
    ),
    "misspelt keyword on a later line": syntax(
        "party p\npartty q\n",
        "unknown-keyword",
        2,
        1,
        "partty",
        "unknown keyword `partty`",
        "did you mean `party`?",
    ),
    "unknown statement": syntax(
        "member p\n",
        "unknown-keyword",
        1,
        1,
        "member",
        "unknown keyword `member`",
        f"statements start with {STATEMENTS}",
    ),
    "misspelt when": syntax(
        "rule r allow p to use d for u\n  whne x\n",
        "unknown-keyword",
        2,
        3,
        "whne",
        "unknown keyword `whne`",
        "did you mean `when`?",
    ),
    "keyword glued to a name at the start": syntax(
        "ruler allow p to use d for u\n",
        "unknown-keyword",
        1,
        1,
        "ruler",
        "unknown keyword `ruler`",
        "did you mean `rule`?",
    ),
    # ---- syntax: unexpected tokens ----------------------------------------------------------
    "too use": syntax(
        "rule r allow x too use d for u\n",
        "unexpected-token",
        1,
        16,
        "too",
        "expected `,`, `except`, `from` or `to`, found `too`",
        "did you mean `to`?",
    ),
    "to glued to use": syntax(
        "rule r allow p touse d for u\n",
        "unexpected-token",
        1,
        16,
        "touse",
        "expected `,`, `except`, `from` or `to`, found `touse`",
        "did you mean `to`?",
    ),
    "and glued to a name": syntax(
        "rule r allow p to use d for u when x = 1 andy = 2\n",
        "unexpected-token",
        1,
        42,
        "andy",
        "expected `and`, `or`, `unless`, `with` or the start of a statement, found `andy`",
        "did you mean `and`?",
    ),
    "number glued to a name": syntax(
        "rule r allow p to use d for u when x = 3abc\n",
        "unexpected-token",
        1,
        40,
        "3abc",
        "expected a value, found `3abc`",
        None,
    ),
    "missing for": syntax(
        "rule r allow p to use d u\n",
        "unexpected-token",
        1,
        25,
        "u",
        "expected `,`, `except` or `for`, found `u`",
        None,
    ),
    "missing effect": syntax(
        "rule r p to use d for u\n",
        "unexpected-token",
        1,
        8,
        "p",
        "expected `allow`, `deny`, `ground`, a citation such as `§5.1` or a quoted string, "
        "found `p`",
        None,
    ),
    "citation after the description of a rule": syntax(
        'rule r "why" §1 allow p to use d for u\n',
        "unexpected-token",
        1,
        14,
        "§1",
        "expected `allow`, `deny` or `ground`, found `§1`",
        "in a rule, citations come right after the rule id, before the description",
    ),
    "when after unless": syntax(
        "rule r allow p to use d for u\n  unless x\n  when y\n",
        "unexpected-token",
        3,
        3,
        "when",
        "expected `and`, `in`, `is`, `not`, `or`, `unless`, `with`, a comparison (`=`, `!=`, "
        "`<`, `<=`, `>`, `>=`) or the start of a statement, found `when`",
        "a rule's `when` comes before its `unless` clauses",
    ),
    "with without obligation": syntax(
        "rule r allow p to use d for u with notify\n",
        "unexpected-token",
        1,
        36,
        "notify",
        "expected `obligation` or `obligations`, found `notify`",
        None,
    ),
    "obligation with a parent": syntax(
        "obligation o under p\n",
        "unexpected-token",
        1,
        14,
        "under",
        "expected `(`, `,`, `when`, a citation such as `§5.1`, a quoted string or the start of a "
        "statement, found `under`",
        None,
    ),
    "is present": syntax(
        "rule r allow p to use d for u when x is present\n",
        "unexpected-token",
        1,
        41,
        "present",
        "expected `known` or `missing`, found `present`",
        None,
    ),
    "is known on the request's party": syntax(
        "rule r allow p to use d for u when party is known\n",
        "unexpected-token",
        1,
        42,
        "is",
        "expected `.`, `and`, `in`, `not`, `or`, `unless`, `with`, a comparison (`=`, `!=`, "
        "`<`, `<=`, `>`, `>=`) or the start of a statement, found `is`",
        "`party`, `data` and `purpose` are always known; `is known` tests context keys",
    ),
    "double equals": syntax(
        "rule r allow p to use d for u when x == 3\n",
        "unexpected-token",
        1,
        39,
        "=",
        "expected a value, found `=`",
        "equality is a single `=`",
    ),
    "trailing comma in a list": syntax(
        "rule r allow p to use d for u when x in [a,]\n",
        "unexpected-token",
        1,
        44,
        "]",
        "expected a value, found `]`",
        None,
    ),
    "quoted name": syntax(
        'party "p"\n',
        "unexpected-token",
        1,
        7,
        '"p"',
        'expected a name, found `"p"`',
        "names are written without quotes",
    ),
    "unknown type": syntax(
        "context x: int\n",
        "unexpected-token",
        1,
        12,
        "int",
        "expected `boolean`, `data`, `date`, `decimal`, `instant`, `integer`, `list`, `one`, "
        "`party`, `purpose`, `set` or `string`, found `int`",
        "did you mean `integer`?",
    ),
    "set of something else": syntax(
        "context x: set of people\n",
        "unexpected-token",
        1,
        19,
        "people",
        "expected `data`, `party` or `purpose`, found `people`",
        None,
    ),
    "number at the start of a statement": syntax(
        "42\n",
        "unexpected-token",
        1,
        1,
        "42",
        "expected the start of a statement, found `42`",
        None,
    ),
    # ---- syntax: reserved words -------------------------------------------------------------
    "reserved word as a party": syntax(
        "party rule\n",
        "reserved-word",
        1,
        7,
        "rule",
        "`rule` is a reserved word and cannot be used as a name",
        RESERVED_HELP,
    ),
    "reserved word as a parent": syntax(
        "party p under data\n",
        "reserved-word",
        1,
        15,
        "data",
        "`data` is a reserved word and cannot be used as a name",
        RESERVED_HELP,
    ),
    "reserved word as a context key": syntax(
        "context when: boolean\n",
        "reserved-word",
        1,
        9,
        "when",
        "`when` is a reserved word and cannot be used as a name",
        RESERVED_HELP,
    ),
    "reserved word as a rule id": syntax(
        "rule any allow p to use d for u\n",
        "reserved-word",
        1,
        6,
        "any",
        "`any` is a reserved word and cannot be used as a name",
        RESERVED_HELP,
    ),
    "reserved word in a condition": syntax(
        "rule r allow p to use d for u when x in [a, or]\n",
        "reserved-word",
        1,
        45,
        "or",
        "`or` is a reserved word and cannot be used as a name",
        RESERVED_HELP,
    ),
    # ---- syntax: unexpected end of file -----------------------------------------------------
    "end of file in the scope": syntax(
        "rule r allow p to use d\n",
        "unexpected-end",
        1,
        24,
        "",
        "unexpected end of file, expected `,`, `except` or `for`",
        UNFINISHED,
    ),
    "end of file after when": syntax(
        "rule r allow p to use d for u\n  when\n",
        "unexpected-end",
        2,
        7,
        "",
        "unexpected end of file, expected a condition",
        UNFINISHED,
    ),
    "end of file after a comparison": syntax(
        "rule r allow p to use d for u when x =",
        "unexpected-end",
        1,
        39,
        "",
        "unexpected end of file, expected a value",
        UNFINISHED,
    ),
    "end of file in parentheses": syntax(
        "rule r allow p to use d for u when (x = 1\n",
        "unexpected-end",
        1,
        42,
        "",
        "unexpected end of file, expected `)`, `and` or `or`",
        UNFINISHED,
    ),
    "end of file after party": syntax(
        "party p\nparty\n",
        "unexpected-end",
        2,
        6,
        "",
        "unexpected end of file, expected a name",
        UNFINISHED,
    ),
    "end of file after default": syntax(
        "context x: integer default\n",
        "unexpected-end",
        1,
        27,
        "",
        "unexpected end of file, expected `[`, `date`, `false`, `instant`, `true`, a decimal "
        "number, a name, a quoted string or a whole number",
        UNFINISHED,
    ),
    # ---- validation: names --------------------------------------------------------------------
    "undeclared party in a rule": invalid(
        "rule r §1 allow clerc to use contact for support",
        "unknown-term",
        12,
        17,
        "clerc",
        "unknown party `clerc`",
        "did you mean `clerk`?",
    ),
    "undeclared purpose without a close name": invalid(
        "rule r §1 allow clerk to use contact for zzz",
        "unknown-term",
        12,
        42,
        "zzz",
        "unknown purpose `zzz`",
        "declare it: `purpose zzz`",
    ),
    "purpose used as a party": invalid(
        "rule r §1 allow support to use contact for support",
        "wrong-kind",
        12,
        17,
        "support",
        "`support` is a purpose, not a party",
        None,
        notes=(("declared here as a purpose", 4, 9),),
    ),
    "party used as an obligation": invalid(
        f"{HEAD} with obligation clerk",
        "wrong-kind",
        12,
        66,
        "clerk",
        "`clerk` is a party, not an obligation",
        None,
        notes=(("declared here as a party", 2, 7),),
    ),
    "unknown parent": invalid(
        "party boss under staf",
        "unknown-parent",
        12,
        18,
        "staf",
        "unknown party `staf`",
        "did you mean `staff`?",
    ),
    "parent of another kind": invalid(
        "data file under staff",
        "wrong-kind-parent",
        12,
        17,
        "staff",
        "`file` is a data category but its parent `staff` is a party",
        "a data category can only sit under another data category",
    ),
    "cycle of two": invalid(
        "party a under b\nparty b under a",
        "cycle",
        13,
        15,
        "a",
        "the party hierarchy has a cycle: `b` → `a` → `b`",
        "a term cannot be above and below the same term; remove one of these parent links",
    ),
    "cycle of three": invalid(
        "data x under z\ndata y under x\ndata z under y",
        "cycle",
        14,
        14,
        "y",
        "the data category hierarchy has a cycle: `z` → `y` → `x` → `z`",
        "a term cannot be above and below the same term; remove one of these parent links",
    ),
    "declared under itself": invalid(
        "purpose loop under loop",
        "cycle",
        12,
        20,
        "loop",
        "`loop` is declared under itself",
        "remove it from its own parents",
    ),
    "declared twice": invalid(
        "data staff",
        "duplicate-declaration",
        12,
        6,
        "staff",
        "`staff` is declared twice",
        "every party, data category, purpose, obligation, context key and named condition needs "
        "a name of its own",
        notes=(("first declared here as a party", 1, 7),),
    ),
    "rule id used twice": invalid(
        f"{HEAD}\n{HEAD}",
        "duplicate-rule",
        13,
        6,
        "r",
        "rule id `r` is used twice",
        "rule ids are stable references in decisions and logs; give each rule its own",
        notes=(("first used here", 12, 6),),
    ),
    # ---- validation: obligations and defaults -----------------------------------------------
    "obligation on a deny rule": invalid(
        "rule r §1 deny clerk from using contact for support with obligation notify",
        "obligation-on-deny",
        12,
        53,
        "with obligation notify",
        "rule `r` denies, so it cannot carry obligations",
        "obligations come with an allow; attach them to the allow rule they qualify",
    ),
    "undeclared obligation": invalid(
        f"{HEAD} with obligation notfy",
        "unknown-term",
        12,
        66,
        "notfy",
        "unknown obligation `notfy`",
        "did you mean `notify`?",
    ),
    "string default for an integer": invalid(
        'context x: integer default "a"',
        "bad-default",
        12,
        28,
        '"a"',
        "the default of `x` must be a whole number",
        "`x` is declared as integer",
    ),
    "default outside one of": invalid(
        'context size: one of "s", "m" default "xl"',
        "bad-default",
        12,
        39,
        '"xl"',
        'the default of `size` must be one of "s", "m"',
        '`size` is declared as one of "s", "m"',
    ),
    "a single value as the default of a list": invalid(
        'context tags: list of string default "a"',
        "bad-default",
        12,
        38,
        '"a"',
        "the default of `tags` must be a list",
        '`tags` is declared as list of string: write e.g. `default ["…"]` (`[]` for the empty '
        "list)",
    ),
    "a list as the default of a single value": invalid(
        'context size: one of "s", "m" default ["s"]',
        "bad-default",
        12,
        39,
        '["s"]',
        "the default of `size` must be a single value, not a list",
        '`size` is declared as one of "s", "m"',
    ),
    "a misspelt term in the default of a set": invalid(
        "context allowed: set of purpose default [suport]",
        "unknown-term",
        12,
        42,
        "suport",
        "unknown purpose `suport`",
        "did you mean `support`?",
    ),
    "a string in the default of a set": invalid(
        'context allowed: set of purpose default ["support"]',
        "bad-default",
        12,
        42,
        '"support"',
        'the default of `allowed` lists purpose terms, not `"support"`',
        "name declared terms without quotes, e.g. `default [purpose_name]`",
    ),
    "a value outside the list's values in its default": invalid(
        'context blocked: list of "email", "phone" default ["emial"]',
        "bad-default",
        12,
        52,
        '"emial"',
        'the default of `blocked` lists `"emial"`, which is not one of its values',
        'did you mean `"email"`?',
    ),
    "a number in the default of a list of strings": invalid(
        "context tags: list of string default [1]",
        "bad-default",
        12,
        39,
        "1",
        "the default of `tags` lists quoted strings, not `1`",
        'quote each value, e.g. `default ["1"]`',
    ),
    # ---- the key the consent ledger supplies: validation, then syntax ------------------------
    "ledger mark on a boolean": invalid(
        "context flag: boolean from consent ledger",
        "ledger-key-type",
        12,
        23,
        "from consent ledger",
        "`flag` is marked `from consent ledger` but is declared as boolean, not set of purpose",
        "the ledger supplies the purposes a subject consented to: declare "
        "`context flag: set of purpose from consent ledger`, or remove the mark",
    ),
    "ledger mark on a set of parties": invalid(
        "context given: set of party from consent ledger",
        "ledger-key-type",
        12,
        29,
        "from consent ledger",
        "`given` is marked `from consent ledger` but is declared as set of party, not set of "
        "purpose",
        "the ledger supplies the purposes a subject consented to: declare "
        "`context given: set of purpose from consent ledger`, or remove the mark",
    ),
    "two keys from the ledger": invalid(
        "context granted: set of purpose from consent ledger\n"
        "context agreed: set of purpose from consent ledger",
        "duplicate-ledger-key",
        13,
        32,
        "from consent ledger",
        "`agreed` is marked `from consent ledger`, but `granted` already is",
        "the consent ledger supplies one context key; keep the mark on the key the rules test "
        "consent with",
        notes=(("`granted` is marked here", 12, 33),),
    ),
    "ledger key with a default": invalid(
        'context granted: set of purpose from consent ledger default "support"',
        "ledger-key-default",
        12,
        61,
        '"support"',
        "`granted` is marked `from consent ledger` and cannot have a default",
        "remove the default: consent is what the ledger records, never assumed; with no record "
        "to read, the key is missing and a rule that needs it does not grant",
    ),
    "misspelt consent ledger": syntax(
        "context granted: set of purpose from consnet ledger\n",
        "unexpected-token",
        1,
        38,
        "consnet",
        "expected `consent ledger`, found `consnet`",
        "the key the consent ledger supplies is marked `from consent ledger`, written right after "
        "its type",
    ),
    "consent ledger quoted": syntax(
        'context granted: set of purpose from "consent ledger"\n',
        "unexpected-token",
        1,
        38,
        '"consent ledger"',
        'expected `consent ledger`, found `"consent ledger"`',
        "the key the consent ledger supplies is marked `from consent ledger`, written right after "
        "its type",
    ),
    "consent ledger without from": syntax(
        "context granted: set of purpose consent ledger\n",
        "unexpected-token",
        1,
        33,
        "consent",
        "expected `default`, `from`, `is`, `supplies`, a citation such as `§5.1`, a quoted "
        "string or the start of a statement, found `consent`",
        "the key the consent ledger supplies is marked `from consent ledger`, written right after "
        "its type",
    ),
    "consent starting a line is a misspelt statement": syntax(
        "context granted: set of purpose\nconsent agreed: boolean\n",
        "unknown-keyword",
        2,
        1,
        "consent",
        "unknown keyword `consent`",
        "did you mean `context`?",
    ),
    # ---- validation: conditions -------------------------------------------------------------
    "integer compared with a quoted number": invalid(
        when('age = "14"'),
        "type-mismatch",
        12,
        55,
        'age = "14"',
        'cannot compare `age` (integer) with `"14"` (string)',
        "write the number without quotes: `14`",
    ),
    "integer compared with a word": invalid(
        when('age != "old"'),
        "type-mismatch",
        12,
        55,
        'age != "old"',
        'cannot compare `age` (integer) with `"old"` (string)',
        "compare `age` with an integer",
    ),
    # `decide` used to raise TypeError on these: a valid policy never crashes a decision.
    "a set key tested against an empty list": invalid(
        when("consented not in []"),
        "type-mismatch",
        12,
        55,
        "consented",
        "`in` tests one value, but `consented` is a set of purpose",
        "put a single value on the left of `in`, e.g. a string key or a term",
    ),
    "a list key tested against an empty list": invalid(
        when("opted_out in []"),
        "type-mismatch",
        12,
        55,
        "opted_out",
        '`in` tests one value, but `opted_out` is a list of "email", "phone"',
        "put a single value on the left of `in`, e.g. a string key or a term",
    ),
    "terms of different kinds compared": invalid(
        when("party = support"),
        "type-mismatch",
        12,
        55,
        "party = support",
        "cannot compare `party` (party) with `support` (purpose)",
        "compare `party` with a party",
    ),
    "less than on a string key": invalid(
        when("note < 3"),
        "type-mismatch",
        12,
        55,
        "note",
        "`<` compares numbers, but `note` is a string",
        "strings can only be tested with `=`, `!=` and `in`",
    ),
    "at least on a boolean key": invalid(
        when("3 >= cookies"),
        "type-mismatch",
        12,
        60,
        "cookies",
        "`>=` compares numbers, but `cookies` is a boolean",
        None,
    ),
    "list compared with =": invalid(
        when('opted_out = "email"'),
        "type-mismatch",
        12,
        55,
        'opted_out = "email"',
        "`=` cannot compare lists or sets",
        "test membership with `in`, e.g. `purpose in consented_purposes`",
    ),
    "value not in one of": invalid(
        when('channel = "emial"'),
        "unknown-value",
        12,
        65,
        '"emial"',
        '`"emial"` is not a value of `channel`',
        'did you mean `"email"`?',
    ),
    "value not in one of, nothing close": invalid(
        when('"fax" != channel'),
        "unknown-value",
        12,
        55,
        '"fax"',
        '`"fax"` is not a value of `channel`',
        'its values are "email", "phone"',
    ),
    "value not in a list of literals": invalid(
        when('"sms" in opted_out'),
        "unknown-value",
        12,
        55,
        '"sms"',
        '`"sms"` is not a value of `opted_out`',
        'its values are "email", "phone"',
    ),
    "in on a string": invalid(
        when("channel in note"),
        "type-mismatch",
        12,
        66,
        "note",
        "`in` needs a list or a set on its right, but `note` is a string",
        "use `=` to compare single values",
    ),
    "not in on an integer": invalid(
        when("age not in 3"),
        "type-mismatch",
        12,
        66,
        "3",
        "`in` needs a list or a set on its right, but `3` is an integer",
        "use `=` to compare single values",
    ),
    "party in a set of purposes": invalid(
        when("party in consented"),
        "type-mismatch",
        12,
        55,
        "party",
        "`consented` holds purpose terms, but `party` is a party",
        "test a purpose here, e.g. `purpose in consented`",
    ),
    "integer in a list of strings": invalid(
        when("age in opted_out"),
        "type-mismatch",
        12,
        55,
        "age",
        '`opted_out` is a list of "email", "phone", but `age` is an integer',
        None,
    ),
    "one-of key in a set of purposes": invalid(
        when("channel in consented"),
        "type-mismatch",
        12,
        55,
        "channel",
        '`consented` holds purpose terms, but `channel` is a string (one of "email", "phone")',
        "test a purpose here, e.g. `purpose in consented`",
    ),
    "mixed list": invalid(
        when('channel in ["email", staff]'),
        "mixed-list",
        12,
        66,
        '["email", staff]',
        "a list must hold values of one kind: all quoted strings, or all terms of one hierarchy",
        None,
    ),
    "bare integer as a condition": invalid(
        when("age"),
        "not-a-condition",
        12,
        55,
        "age",
        "`age` is an integer, not a condition",
        'compare it with something, e.g. `subject_age >= 14` or `destination = "CA-QC"`',
    ),
    "bare string as a condition": invalid(
        when('"yes"'),
        "not-a-condition",
        12,
        55,
        '"yes"',
        '`"yes"` is a string, not a condition',
        'compare it with something, e.g. `subject_age >= 14` or `destination = "CA-QC"`',
    ),
    "bare term as a condition": invalid(
        f"{HEAD} unless staff",
        "not-a-condition",
        12,
        57,
        "staff",
        "`staff` is a party, not a condition",
        'compare it with something, e.g. `subject_age >= 14` or `destination = "CA-QC"`',
    ),
    "is known on a term": invalid(
        when("staff is known"),
        "not-a-context-key",
        12,
        55,
        "staff",
        "`staff` is a party, not a context key",
        "`is known` and `is missing` test context keys and attributes of terms",
    ),
    "is missing on an unknown key": invalid(
        when("ag is missing"),
        "not-a-context-key",
        12,
        55,
        "ag",
        "unknown context key `ag`",
        "did you mean `age`?",
    ),
    "unknown name in a condition": invalid(
        when("ag > 3"),
        "unknown-name",
        12,
        55,
        "ag",
        "unknown name `ag`",
        "did you mean `age`?",
    ),
    "unknown name with nothing close": invalid(
        f"{HEAD} with obligation notify when zzz",
        "unknown-name",
        12,
        78,
        "zzz",
        "unknown name `zzz`",
        "conditions use declared context keys and vocabulary terms; quote text values",
    ),
    "obligation tested in a condition": invalid(
        when("notify"),
        "obligation-in-condition",
        12,
        55,
        "notify",
        "`notify` is an obligation and cannot be tested in a condition",
        "obligations are attached to allow rules with `with obligation ...`",
    ),
}


def expected_head(case: Bad) -> str:
    """The header, source line and caret line a diagnostic renders as."""
    source_line = case.text.splitlines()[case.line - 1]
    gutter = str(case.line)
    pad = " " * len(gutter)
    caret = " " * (case.column - 1) + "^" * max(len(case.marked), 1)
    return (
        f"{FILE}:{case.line}:{case.column}: error: {case.message}\n"
        f"{pad} |\n"
        f"{gutter} | {source_line}\n"
        f"{pad} | {caret}"
    )


@pytest.mark.parametrize("case", list(BAD_POLICIES.values()), ids=list(BAD_POLICIES))
def test_bad_policy(case: Bad) -> None:
    with pytest.raises(PolicyError) as raised:
        load_policy_text(case.text, FILE)
    error = raised.value
    assert type(error) is case.error
    assert len(error.errors) == 1, error
    found = error.errors[0]
    assert (found.code, found.message, found.help) == (case.code, case.message, case.help)
    assert found.severity == "error"
    span = found.span
    assert span is not None
    assert span.source.name == FILE
    assert (span.line, span.column) == (case.line, case.column)
    assert span.end_line == span.line
    assert span.end_column - span.column == max(len(case.marked), 1)
    source_line = case.text.splitlines()[case.line - 1]
    assert source_line[span.column - 1 : span.end_column - 1] == case.marked
    assert [(note, s.line, s.column) for note, s in found.notes] == list(case.notes)

    rendered = found.render()
    head = expected_head(case)
    tail = f"\n  = help: {case.help}" if case.help else ""
    if case.notes:  # the notes (checked above) sit between the caret line and the help
        assert rendered.startswith(head + "\n")
        assert rendered.endswith(tail)
    else:
        assert rendered == head + tail
    if case.help is None:
        assert "= help:" not in rendered
    assert rendered in str(error)


def test_messages_never_show_parser_internals() -> None:
    # Lark's names for terminals: `__ANON_0`, `$END`, `NAME`, `LPAR`, `BOOLEAN_T`, ...
    internal = re.compile(r"__ANON|\$END|\b(?!ASCII\b)[A-Z][A-Z_]{2,}\b")
    for name, case in BAD_POLICIES.items():
        with pytest.raises(PolicyError) as raised:
            load_policy_text(case.text, FILE)
        for diagnostic in raised.value.diagnostics:
            shown = f"{diagnostic.message}\n{diagnostic.help or ''}"
            assert not internal.search(shown), (name, shown)
            assert shown[0].islower() or shown[0] in '`"', (name, shown)
            assert not diagnostic.message.endswith("."), (name, diagnostic.message)


def test_every_reserved_word_of_a_file_is_reported() -> None:
    with pytest.raises(PolicySyntaxError) as raised:
        load_policy_text("party rule, ok, when\ndata to\n", FILE)
    assert [(d.location, d.code, d.message) for d in raised.value.diagnostics] == [
        (f"{FILE}:1:7", "reserved-word", "`rule` is a reserved word and cannot be used as a name"),
        (f"{FILE}:1:17", "reserved-word", "`when` is a reserved word and cannot be used as a name"),
        (f"{FILE}:2:6", "reserved-word", "`to` is a reserved word and cannot be used as a name"),
    ]


def test_names_that_merely_contain_keywords_are_fine() -> None:
    policy = load_policy_text(
        "party rules, anyone, party_a\ndata datum, data_set\npurpose purposeful, into\n"
        "context is_known: boolean\n"
        "rule rule_1 §1 allow rules, anyone to use data_set for into when is_known\n",
        FILE,
    )
    assert policy.decide("anyone", "data_set", "into", {"is_known": True}).effect == "allow"


# ---- rendering --------------------------------------------------------------------------------


def test_rendered_diagnostic_has_place_source_caret_and_help() -> None:
    with pytest.raises(PolicyValidationError) as raised:
        load_policy_text(BASE + "rule r §1 allow clerc to use contact for support\n", FILE)
    assert str(raised.value) == (
        "bad.policy:12:17: error: unknown party `clerc`\n"
        "   |\n"
        "12 | rule r §1 allow clerc to use contact for support\n"
        "   |                 ^^^^^\n"
        "  = help: did you mean `clerk`?"
    )


def test_rendered_duplicate_points_at_both_places() -> None:
    with pytest.raises(PolicyValidationError) as raised:
        load_policy_text({"a.policy": "party p\ndata d\n", "b.policy": "purpose d\n"})
    assert str(raised.value) == (
        "b.policy:1:9: error: `d` is declared twice\n"
        "  |\n"
        "1 | purpose d\n"
        "  |         ^\n"
        "a.policy:2:6: note: first declared here as a data category\n"
        "  |\n"
        "2 | data d\n"
        "  |      ^\n"
        "  = help: every party, data category, purpose, obligation, context key and named "
        "condition needs a name of its own"
    )


def test_caret_keeps_tabs_so_it_lines_up() -> None:
    with pytest.raises(PolicySyntaxError) as raised:
        load_policy_text("party\tp$\n", FILE)
    assert str(raised.value).splitlines()[1:4] == [
        "  |",
        "1 | party\tp$",
        "  |      \t ^",
    ]


def test_warnings_are_rendered_with_errors_in_order() -> None:
    text = (
        "party p\ndata d\npurpose u\n"
        "rule r allow p to use d for u\n"
        "rule s §1 allow q to use d for u\n"
    )
    with pytest.raises(PolicyValidationError) as raised:
        load_policy_text(text, FILE)
    error = raised.value
    assert [(d.severity, d.code, d.span.line if d.span else 0) for d in error.diagnostics] == [
        ("warning", "missing-citation", 4),
        ("error", "unknown-term", 5),
    ]
    assert [d.code for d in error.errors] == ["unknown-term"]
    text_shown = str(error)
    assert text_shown.startswith("bad.policy:4:6: warning: rule `r` has no citation\n")
    assert "\n\nbad.policy:5:17: error: unknown party `q`\n" in text_shown


# ---- several files ----------------------------------------------------------------------------


def test_syntax_errors_of_several_files_are_reported_together_in_file_order() -> None:
    files = {
        "z.policy": "party p\nrulle r\n",
        "a.policy": "party\n",
        "m.policy": "party ok\n",
    }
    with pytest.raises(PolicySyntaxError) as raised:
        load_policy_text(files)
    found = [(d.location, d.code) for d in raised.value.diagnostics]
    assert found == [("a.policy:1:6", "unexpected-end"), ("z.policy:2:1", "unknown-keyword")]
    shown = str(raised.value)
    assert shown.index("a.policy:1:6: error: unexpected end of file") < shown.index(
        "z.policy:2:1: error: unknown keyword `rulle`"
    )


def test_validation_errors_of_several_files_are_sorted_by_file_and_line() -> None:
    files = {
        "vocabulary.policy": "party p\ndata d\npurpose u\nparty p2 under nobody\n",
        "rules/z.policy": "rule r2 §1 allow q to use d for u\n",
        "rules/a.policy": (
            "\n\nrule r1 §1 allow p to use e for u\nrule r0 §1 allow p to use d for v\n"
        ),
    }
    with pytest.raises(PolicyValidationError) as raised:
        load_policy_text(files)
    found = [(d.location, d.message) for d in raised.value.diagnostics]
    assert found == [
        ("rules/a.policy:3:27", "unknown data category `e`"),
        ("rules/a.policy:4:33", "unknown purpose `v`"),
        ("rules/z.policy:1:18", "unknown party `q`"),
        ("vocabulary.policy:4:16", "unknown party `nobody`"),
    ]
    shown = str(raised.value)
    positions = [shown.index(f"{location}: error: {message}") for location, message in found]
    assert positions == sorted(positions)


# ---- bad requests -----------------------------------------------------------------------------

REQUEST_POLICY = """\
party staff
party clerk under staff
data contact
purpose support, marketing
context age: integer
context channel: one of "email", "phone"
context cookies: boolean
context consented: set of purpose
context opted_out: list of "email", "phone"
context tags: list of string
rule r §1 allow clerk to use contact for support when age >= 14
"""
REQUEST = ("clerk", "contact", "support")


@pytest.fixture(scope="module")
def small() -> Any:
    return load_policy_text(REQUEST_POLICY, "small.policy")


UNKNOWN_TERMS = {
    "unknown party": (
        ("clerc", "contact", "support"),
        "party",
        "unknown party `clerc`",
        ["clerk"],
    ),
    "unknown data category": (
        ("clerk", "contacts", "support"),
        "data",
        "unknown data category `contacts`",
        ["contact"],
    ),
    "unknown purpose": (
        ("clerk", "contact", "suport"),
        "purpose",
        "unknown purpose `suport`",
        ["support"],
    ),
    "unknown party, nothing close": (
        ("nobody", "contact", "support"),
        "party",
        "unknown party `nobody`",
        [],
    ),
    "data category passed as party": (
        ("contact", "contact", "support"),
        "party",
        "`contact` is a data category, not a party",
        [],
    ),
    "purpose passed as data": (
        ("clerk", "support", "support"),
        "data",
        "`support` is a purpose, not a data category",
        [],
    ),
}


@pytest.mark.parametrize(
    ("args", "kind", "message", "suggestions"),
    list(UNKNOWN_TERMS.values()),
    ids=list(UNKNOWN_TERMS),
)
def test_unknown_term_in_request(
    small: Any, args: tuple[str, str, str], kind: str, message: str, suggestions: list[str]
) -> None:
    with pytest.raises(UnknownTermError) as raised:
        small.decide(*args)
    error = raised.value
    assert isinstance(error, RequestError)
    assert (error.kind, error.suggestions) == (kind, suggestions)
    assert error.term in args
    [found] = error.diagnostics
    assert (found.code, found.message, found.span) == ("unknown-term", message, None)
    hint = "did you mean " + " or ".join(f"`{s}`" for s in suggestions) + "?"
    assert found.help == (hint if suggestions else None)
    assert str(error) == f"error: {message}" + (f"\n  = help: {hint}" if suggestions else "")


DECLARED_KEYS = "`age`, `channel`, `consented`, `cookies`, `opted_out`, `tags`"
BAD_CONTEXTS: dict[str, tuple[dict[str, Any], str, str, str | None]] = {
    "undeclared key": (
        {"agee": 20},
        "unknown-context-key",
        "unknown context key `agee`",
        "did you mean `age`?",
    ),
    "undeclared key, nothing close": (
        {"weather": "rain"},
        "unknown-context-key",
        "unknown context key `weather`",
        f"the policy declares {DECLARED_KEYS}",
    ),
    "string for integer": (
        {"age": "14"},
        "wrong-context-type",
        'context key `age` must be a whole number, got "14"',
        "send the number without quotes",
    ),
    "word for integer": (
        {"age": "old"},
        "wrong-context-type",
        'context key `age` must be a whole number, got "old"',
        None,
    ),
    "bool for integer": (
        {"age": True},
        "wrong-context-type",
        "context key `age` must be a whole number, got true",
        None,
    ),
    "fraction for integer": (
        {"age": 14.5},
        "wrong-context-type",
        "context key `age` must be a whole number, got the number 14.5",
        None,
    ),
    "int for boolean": (
        {"cookies": 1},
        "wrong-context-type",
        "context key `cookies` must be true or false, got the number 1",
        None,
    ),
    "string for boolean": (
        {"cookies": "true"},
        "wrong-context-type",
        'context key `cookies` must be true or false, got "true"',
        None,
    ),
    "value outside one of": (
        {"channel": "emial"},
        "wrong-context-type",
        'context key `channel` must be one of "email", "phone", got "emial"',
        "did you mean `email`?",
    ),
    "unknown term in a set of purpose": (
        {"consented": ["support", "marketin"]},
        "unknown-term",
        'context key `consented` lists unknown purpose "marketin"',
        "did you mean `marketing`?",
    ),
    "non-list for a set": (
        {"consented": "support"},
        "wrong-context-type",
        'context key `consented` must be a list (set of purpose), got "support"',
        None,
    ),
    "non-list for a list": (
        {"opted_out": "email"},
        "wrong-context-type",
        'context key `opted_out` must be a list (list of "email", "phone"), got "email"',
        None,
    ),
    "list item outside the literals": (
        {"opted_out": ["email", "fax"]},
        "wrong-context-type",
        'context key `opted_out` must be a list of "email", "phone", got a list',
        '"fax" is not allowed',
    ),
    "number in a list of strings": (
        {"tags": ["a", 3]},
        "wrong-context-type",
        "context key `tags` must be a list of strings, got a list",
        "the number 3 is not allowed",
    ),
}


@pytest.mark.parametrize(
    ("context", "code", "message", "help"), list(BAD_CONTEXTS.values()), ids=list(BAD_CONTEXTS)
)
def test_bad_context(
    small: Any, context: dict[str, Any], code: str, message: str, help: str | None
) -> None:
    with pytest.raises(RequestError) as raised:
        small.decide(*REQUEST, context)
    error = raised.value
    assert type(error) is RequestError
    [found] = error.diagnostics
    assert (found.code, found.message, found.help, found.span) == (code, message, help, None)
    assert str(error) == f"error: {message}" + (f"\n  = help: {help}" if help else "")


def test_several_context_problems_are_reported_at_once(small: Any) -> None:
    context = {"age": "x", "channel": "fax", "weather": 1, "cookies": True}
    with pytest.raises(RequestError) as raised:
        small.decide(*REQUEST, context)
    found: list[Diagnostic] = raised.value.diagnostics
    assert [(d.code, d.message) for d in found] == [
        ("wrong-context-type", 'context key `age` must be a whole number, got "x"'),
        ("wrong-context-type", 'context key `channel` must be one of "email", "phone", got "fax"'),
        ("unknown-context-key", "unknown context key `weather`"),
    ]
    assert str(raised.value).count("error: ") == 3


def test_null_context_value_is_treated_as_missing(small: Any) -> None:
    with_null = small.decide(*REQUEST, {"age": None, "channel": None})
    without = small.decide(*REQUEST, {})
    assert with_null.effect == without.effect == "deny"
    assert with_null.missing == without.missing == ["age"]
    assert small.decide(*REQUEST, {"age": 20}).effect == "allow"


def test_request_term_that_is_not_a_string(small: Any) -> None:
    with pytest.raises(RequestError) as raised:
        small.decide(123, "contact", "support")
    assert type(raised.value) is RequestError
    [found] = raised.value.diagnostics
    assert (found.code, found.message) == (
        "bad-request",
        "the party must be a name, got the number 123",
    )
