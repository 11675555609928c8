"""The examples of docs/language.md's sections on numbers, defaults of lists, attributes of terms
and relationships: every ```policy block there is a whole policy that loads without an error, and
that the formatter leaves as it is once formatted (so the page shows the language as the engine
reads and writes it). ```decisions blocks right after a ```policy block (lines as in
docs/semantics.md: party, data, purpose[, context] → allow|deny) are decided too. (The sections on
time and named conditions have their own tests: ``test_time.py``, ``test_named_conditions.py``.)
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from policy_engine import load_policy_text
from policy_engine.engine.context import ExactFloat
from policy_engine.language.formatter import format_source

LANGUAGE = Path(__file__).resolve().parent.parent / "docs" / "language.md"


SECTIONS = ("## Numbers", "## Attributes of terms", "## Context schema")
"""The sections whose examples are whole policies (the context schema's: defaults of lists,
relationships)."""


def section(text: str, heading: str) -> str:
    start = text.index("\n" + heading + "\n")
    end = text.find("\n## ", start + len(heading) + 2)
    return text[start : end if end != -1 else len(text)]


def blocks() -> list[tuple[str, str]]:
    """(policy text, its decision lines) for every ```policy block of those sections, in order."""
    page = LANGUAGE.read_text(encoding="utf-8")
    text = "".join(section(page, heading) for heading in SECTIONS)
    found: list[tuple[str, str]] = []
    for match in re.finditer(r"^```(\w+)\n(.*?)^```", text, re.S | re.M):
        lang, body = match.group(1), match.group(2)
        if lang == "policy":
            found.append((body, ""))
        elif lang == "decisions" and found:
            found[-1] = (found[-1][0], found[-1][1] + body)
    return found


BLOCKS = blocks()


def test_the_page_has_examples() -> None:
    assert len(BLOCKS) >= 4


@pytest.mark.parametrize("block", BLOCKS, ids=[f"block-{i}" for i in range(len(BLOCKS))])
def test_a_policy_example_loads_and_is_formatted(block: tuple[str, str]) -> None:
    text, decisions = block
    policy = load_policy_text(text)
    formatted = format_source(text)
    assert format_source(formatted) == formatted
    assert load_policy_text(formatted).compiled.checked.rules == policy.compiled.checked.rules
    for line in decisions.strip().splitlines():
        request, _, answer = line.partition("→")
        parts = [p.strip() for p in request.strip().split(",", 3)]
        context = json.loads(parts[3], parse_float=ExactFloat) if len(parts) > 3 else None
        assert policy.decide(parts[0], parts[1], parts[2], context).effect == answer.strip(), line
