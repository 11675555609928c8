"""Coverage-guided fuzzing of rule files with atheris (tests/fuzz/README.md).

    pip install atheris
    python tests/fuzz/fuzz_policy.py tests/fuzz/corpus -max_total_time=600

Each input is a rule file's bytes. It is loaded (``load_policy_text``), checked (``check_report``,
the API's check, on a file holding it), formatted (``format_source``, what ``policy-engine fmt``
writes) and, when it loads, asked a few requests (``decide``, ``explain``). The one property:
nothing but the ``PolicyError`` family escapes any of them, and what loads formats to a text that
formats to itself and loads to the same policy (the same terms, rules and decisions).

:func:`TestOneInput` needs nothing but the engine: the suite runs it over every file of the corpus
(``tests/test_fuzz_grammar.py``) without atheris installed, and the hypothesis tests there call
:func:`exercise` on the texts they draw."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import policy_engine
from policy_engine import Budget, Policy, PolicyError
from policy_engine.language import ast
from policy_engine.language.formatter import format_source

BUDGET = Budget(seconds=2.0, steps=20_000)
"""What ``check`` may spend on one input: enough for the analysis of a small policy, and an
input that needs more says `analysis-undecided` (a finding, not a failure)."""

_FOLDER = tempfile.TemporaryDirectory(prefix="policy-engine-fuzz-")


def TestOneInput(data: bytes) -> None:
    """One input: the rule file ``data`` as UTF-8 (lone surrogates written as UTF-8 included,
    as a ``str`` may hold them); bytes that are no such text are not a rule file's text."""
    try:
        text = data.decode("utf-8", "surrogatepass")
    except UnicodeDecodeError:
        return
    exercise(text)


def exercise(text: str) -> Policy | None:
    """Load, check, format and decide ``text`` as one rule file; fails (an exception other than
    ``PolicyError``, or an ``AssertionError``) on a broken property. Returns the policy when it
    loads."""
    return exercise_files({"fuzz.policy": text})


def exercise_files(files: Mapping[str, str]) -> Policy | None:
    """:func:`exercise` for a policy of several files (name → text; files not named
    ``*.policy``, such as a source document, are given as they are and not formatted)."""
    policy = _load(files)
    _check(files)
    formatted = {name: _format(text, name) for name, text in files.items() if _is_rules(name)}
    if policy is None:
        return None
    _decide_samples(policy)
    again = dict(files)
    for name, text in formatted.items():
        assert text is not None, f"{name}: a policy that loads does not format"
        assert format_source(text, name) == text, f"{name}: formatting is not idempotent"
        again[name] = text
    reloaded = policy_engine.load_policy_text(again)
    assert meaning(reloaded) == meaning(policy), "the formatted text means something else"
    return policy


def _is_rules(name: str) -> bool:
    return name.endswith(".policy")


def _load(files: Mapping[str, str]) -> Policy | None:
    try:
        return policy_engine.load_policy_text(dict(files))
    except PolicyError:
        return None


def _check(files: Mapping[str, str]) -> None:
    """The API's check, which reads the policy from a folder of files."""
    folder = Path(_FOLDER.name)
    for old in folder.iterdir():
        old.unlink()
    for name, text in files.items():
        try:
            (folder / name).write_text(text, encoding="utf-8", newline="")
        except UnicodeEncodeError:  # a lone surrogate: no file can hold this text
            return
    report = policy_engine.check_report(folder, budget=BUDGET)
    assert all(isinstance(d, policy_engine.Diagnostic) for d in report.diagnostics)


def _format(text: str, name: str) -> str | None:
    try:
        return format_source(text, name)
    except PolicyError:
        return None


def meaning(policy: Policy) -> tuple[Any, ...]:
    """What a policy says, apart from where it is written: its terms, its rules and what it
    decides on sample requests."""
    terms = tuple(tuple(policy.terms(kind)) for kind in ("party", "data", "purpose", "obligation"))
    rules = tuple((r.id, r.effect, r.citation, r.description) for r in policy.rules)
    decisions = []
    for party, data, purpose, context in sample_requests(policy):
        decision = policy.decide(party, data, purpose, context)
        decisions.append((decision.effect, decision.obligations, decision.missing))
    return terms, rules, tuple(decisions)


def _decide_samples(policy: Policy) -> None:
    for party, data, purpose, context in sample_requests(policy):
        decision = policy.decide(party, data, purpose, context)
        assert decision.effect in ("allow", "deny")
        decision.explain()
        decision.model_dump_json()
    for wrong in (("nobody", "x", "y", {}), (None, None, None, {"nothing": 1})):
        with contextlib.suppress(PolicyError):
            policy.decide(*wrong)  # type: ignore[arg-type]


def sample_requests(policy: Policy) -> Iterator[tuple[str, str, str, dict[str, Any]]]:
    """The first and last term of each kind, with no context and with every key given."""
    kinds = [policy.terms(kind) for kind in ("party", "data", "purpose")]
    if not all(kinds):
        return
    full = {name: _value(policy, key.decl.type) for name, key in policy.compiled.context.items()}
    for party in {kinds[0][0], kinds[0][-1]}:
        for data in {kinds[1][0], kinds[1][-1]}:
            for purpose in {kinds[2][0], kinds[2][-1]}:
                yield party, data, purpose, {}
                yield party, data, purpose, full


def _value(policy: Policy, type_: ast.ValueType) -> Any:
    """A value of a context key's type."""
    if isinstance(type_, ast.BoolType):
        return True
    if isinstance(type_, ast.IntType):
        return 0
    if isinstance(type_, ast.OneOfType):
        return type_.literals[0]
    if isinstance(type_, ast.ListType):
        return list(type_.literals or ["x"])[:1]
    if isinstance(type_, ast.TermSetType):
        return policy.terms(type_.kind)[-1:]
    return ""


def main() -> None:
    import atheris  # type: ignore[import-not-found]  # not a dependency: see README.md

    os.environ.setdefault("POLICY_ENGINE_CACHE", "off")  # no cache entry per input
    atheris.instrument_all()
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
