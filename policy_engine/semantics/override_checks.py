"""The pass over overrides: each one lifts deny rules only, named by id (declared, and deny rules)
or by the sections they cite (at least one deny cites each), and carries declared obligations.
What it lifts is recorded for the compiler (``CheckState.lifted``)."""

from __future__ import annotations

from ..language import ast
from .check_state import CheckState
from .citation_checks import cites_within
from .rule_checks import expect_term


def check_overrides(state: CheckState) -> None:
    """Resolve what each override lifts; refuse what it cannot lift."""
    rules = {rule.id.value: rule for rule in state.rules}
    for override in state.overrides:
        for clause in override.obligations:
            for name in clause.names:
                expect_term(state, name, "obligation")
        found = _by_citation(state, override) if override.citing else _by_id(state, override, rules)
        lifted = set(found)
        state.lifted[override.id.value] = tuple(
            r.id.value for r in state.rules if r.id.value in lifted
        )


def _deny_ids(state: CheckState) -> list[str]:
    return [r.id.value for r in state.rules if r.effect == "deny"]


def _by_id(state: CheckState, override: ast.Override, rules: dict[str, ast.Rule]) -> list[str]:
    found: list[str] = []
    overrides = {o.id.value: o for o in state.overrides}
    for name in override.lifts:
        rule = rules.get(name.value)
        if rule is not None and rule.effect == "deny":
            found.append(name.value)
        elif rule is not None:
            state.error(
                "override-lifts-allow",
                f"`{name.value}` is an allow rule; an override lifts deny rules only",
                name.span,
                _near_denies(state, name.value) or "name the deny rules it sets aside",
                notes=(("the allow rule is here", rule.id.span),) if rule.id.span else (),
            )
        elif name.value in overrides:
            other = overrides[name.value]
            state.error(
                "override-lifts-override",
                f"`{name.value}` is an override; an override lifts deny rules only",
                name.span,
                "name the deny rules themselves: two overrides of one deny each lift it",
                notes=(("the override is here", other.id.span),) if other.id.span else (),
            )
        else:
            state.error(
                "unknown-rule",
                f"no rule `{name.value}` to lift",
                name.span,
                _near_denies(state, name.value) or "name a deny rule of the policy by its id",
            )
    return found


def _near_denies(state: CheckState, word: str) -> str | None:
    close = state.near(word, _deny_ids(state))
    return ("did you mean " + " or ".join(f"`{c}`" for c in close) + "?") if close else None


def _by_citation(state: CheckState, override: ast.Override) -> list[str]:
    """The deny rules citing each section (or a section within it); a section no deny cites is
    an error (an override that lifts nothing)."""
    found: list[str] = []
    packages = {id(item): file.package for file in state.files for item in file.items}
    at = packages.get(id(override), "")
    for target in override.citing:
        citing = [
            r
            for r in state.rules
            if any(
                cites_within(state.documents, c, target, (packages.get(id(r), ""), at))
                for c in r.citations
            )
        ]
        denies = [r.id.value for r in citing if r.effect == "deny"]
        if denies:
            found += denies
            continue
        allows = ", ".join(f"`{r.id.value}`" for r in citing)
        cited = sorted({c.text for r in state.rules if r.effect == "deny" for c in r.citations})
        close = state.near(target.text, cited)
        state.error(
            "override-lifts-nothing",
            f"no deny rule cites `{target.text}` or a section within it, so the override lifts "
            "nothing there",
            target.span,
            f"only allow rules cite it ({allows}); an override lifts deny rules only"
            if citing
            else ("did you mean " + " or ".join(f"`{c}`" for c in close) + "?")
            if close
            else "name a section a deny rule cites, or the deny rules by id: `lifts rule_id`",
        )
    return found
