"""The public facade: load a policy from files or text, decide requests, check rule files."""

from __future__ import annotations

import gc
import hashlib
import os
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from . import ast, cache, image
from .checker import CheckedPolicy, check
from .compiler import CompiledPolicy, CompiledRule, compile_policy
from .decision import Decision
from .errors import Diagnostic, PolicyError, PolicySyntaxError, RequestError
from .evaluator import decide_fast
from .models import ReasonModel
from .parser import parse_source
from .request import normalize_context, resolve_term
from .source import Source

POLICY_SUFFIX = ".policy"


def _display_name(path: Path) -> str:
    """Paths inside the working directory are shown relative to it, others as absolute paths."""
    absolute = path.resolve()
    try:
        return absolute.relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return absolute.as_posix()


def read_sources(path: str | os.PathLike[str]) -> list[Source]:
    """The rule files at ``path``: the file itself, or every ``.policy`` file below a folder."""
    root = Path(path)
    if root.is_file():
        files = [root]
    elif root.is_dir():
        files = sorted(p for p in root.rglob(f"*{POLICY_SUFFIX}") if p.is_file())
        if not files:
            raise PolicyError(
                [Diagnostic("no-policy-files", f"no `{POLICY_SUFFIX}` files in `{path}`")]
            )
    else:
        raise PolicyError([Diagnostic("no-such-path", f"no such file or directory: `{path}`")])
    sources = []
    for file in files:
        try:
            text = file.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise PolicyError(
                [Diagnostic("not-utf8", f"`{file}` is not UTF-8 text: {exc.reason}")]
            ) from None
        sources.append(Source(_display_name(file), text))
    return sources


def content_version(sources: Iterable[Source]) -> str:
    """SHA-256 of the rule files' names (relative to their common folder) and contents."""
    sources = sorted(sources, key=lambda s: s.name)
    names = [s.name for s in sources]
    common = os.path.commonpath(names) if len(names) > 1 else os.path.dirname(names[0])
    digest = hashlib.sha256()
    for source in sources:
        relative = os.path.relpath(source.name, common) if common else source.name
        digest.update(relative.encode() + b"\0")
        source.hash_into(digest)
        digest.update(b"\0")
    return digest.hexdigest()


def parse_all(sources: Iterable[Source]) -> list[ast.PolicyFile]:
    """Parse every file; syntax errors of all files are reported together."""
    files: list[ast.PolicyFile] = []
    problems: list[Diagnostic] = []
    for source in sources:
        try:
            files.append(parse_source(source))
        except PolicySyntaxError as exc:
            problems.extend(exc.diagnostics)
    if problems:
        raise PolicySyntaxError(problems)
    return files


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector around work that keeps many new objects alive
    (loading a policy, a batch of decisions). Every collection such work triggers would walk
    all those objects and every object already in the process, again and again; the engine's
    objects form no garbage cycles that need collecting meanwhile. Existing objects are set
    aside (``gc.freeze``, a constant-time splice) and both steps are undone afterwards, so
    nothing stays frozen and collection resumes as before."""
    was_enabled = gc.isenabled()
    gc.disable()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
        if was_enabled:
            gc.enable()


class Policy:
    """A loaded, checked and compiled policy. Immutable, thread-safe; ``decide`` is pure."""

    def __init__(self, sources: list[Source]) -> None:
        self.sources = sources
        self.version = content_version(sources)
        with collector_paused():
            self.compiled: CompiledPolicy
            self.warnings: list[Diagnostic]
            stored = cache.load(sources)
            if stored is not None:
                self.compiled, self.warnings = image.restore(
                    stored, sources, lambda: check(parse_all(sources))
                )
            else:
                checked: CheckedPolicy = check(parse_all(sources))
                self.compiled = compile_policy(checked, self.version)
                self.warnings = checked.warnings
                if cache.enabled():
                    _keep_image(self.compiled, self.warnings, sources)
        # A rule's reason (a pydantic model) is built the first time the rule decides something.
        self._reasons: dict[str, ReasonModel] = {}
        self._reason_lists: dict[tuple[CompiledRule, ...], tuple[ReasonModel, ...]] = {}
        self._reason_dict_lists: dict[tuple[CompiledRule, ...], tuple[dict[str, Any], ...]] = {}
        # Plain string sets: a request naming declared terms is checked with three lookups.
        hierarchies = self.compiled.hierarchies
        self._parties = frozenset(hierarchies["party"].terms)
        self._data = frozenset(hierarchies["data"].terms)
        self._purposes = frozenset(hierarchies["purpose"].terms)

    @property
    def rules(self) -> list[ReasonModel]:
        """A summary of every rule: id, effect, citation, description and place."""
        return sorted((self._reason(rule) for rule in self.compiled.rules), key=lambda r: r.id)

    def _reason(self, rule: CompiledRule) -> ReasonModel:
        found = self._reasons.get(rule.id)
        if found is None:
            found = self._reasons[rule.id] = _reason(rule)
        return found

    def terms(self, kind: str) -> list[str]:
        """The declared terms of one hierarchy: ``party``, ``data``, ``purpose``, ``obligation``."""
        return self.compiled.hierarchies[kind].terms

    @property
    def ledger_key(self) -> str | None:
        """The context key marked ``from consent ledger``: the one the decision service fills
        from its consent ledger. None when the policy marks no key (the checker allows at most
        one, a ``set of purpose``). :meth:`decide` itself never consults a ledger."""
        for name, key in self.compiled.context.items():
            if key.decl.source == "consent ledger":
                return name
        return None

    def decide(
        self,
        party: str,
        data: str,
        purpose: str,
        context: Mapping[str, Any] | None = None,
    ) -> Decision:
        """May ``party`` use ``data`` for ``purpose`` given ``context``?

        Raises :class:`UnknownTermError` for an undeclared term and :class:`RequestError` for a
        context key that is undeclared or of the wrong type; never answers such a request.
        """
        compiled = self.compiled
        if party in self._parties and data in self._data and purpose in self._purposes:
            terms = (party, data, purpose)
        else:
            terms = (
                resolve_term(compiled, "party", party),
                resolve_term(compiled, "data", data),
                resolve_term(compiled, "purpose", purpose),
            )
        given = {} if context is None else context
        outcome = decide_fast(compiled, terms, normalize_context(compiled, given))
        return Decision(outcome, self, terms, given)

    def _reasons_of(self, deciding: tuple[CompiledRule, ...]) -> tuple[ReasonModel, ...]:
        """The reasons for a set of deciding rules, built once per distinct set (rules hash by
        identity; large policies often decide with many rules at once)."""
        if not deciding:
            return ()
        found = self._reason_lists.get(deciding)
        if found is None:
            found = self._reason_lists[deciding] = tuple(self._reason(r) for r in deciding)
        return found

    def _reason_dicts_of(self, deciding: tuple[CompiledRule, ...]) -> tuple[dict[str, Any], ...]:
        """:meth:`_reasons_of` as dicts (``dict(reason)``), built once per distinct set, for
        ``Decision.model_dump``, which copies them (a batch dumps thousands of decisions, and
        ``dict()`` of a pydantic model costs several times a dict's copy)."""
        found = self._reason_dict_lists.get(deciding)
        if found is None:
            found = tuple(dict(reason) for reason in self._reasons_of(deciding))
            self._reason_dict_lists[deciding] = found
        return found

    def decide_many(self, requests: Iterable[Mapping[str, Any]]) -> list[Decision]:
        """Decide requests in order; each is a mapping with ``party``, ``data``, ``purpose`` and
        optionally ``context``. A malformed request raises its error with a note naming its
        position (``request 3``); :meth:`decide` gives the same answer one at a time."""
        with collector_paused():
            return self._decide_all(requests)

    def _decide_all(self, requests: Iterable[Mapping[str, Any]]) -> list[Decision]:
        decide = self.decide
        out: list[Decision] = []
        append = out.append
        for index, request in enumerate(requests):
            try:
                party = request["party"]
                data = request["data"]
                purpose = request["purpose"]
                context = request.get("context")
            except (KeyError, TypeError, AttributeError):
                raise RequestError(
                    [
                        Diagnostic(
                            "bad-request",
                            f"request {index} must be an object with `party`, `data`, `purpose` "
                            "and optionally `context`",
                        )
                    ]
                ) from None
            try:
                append(decide(party, data, purpose, context))
            except PolicyError as exc:
                exc.add_note(f"in request {index}")
                raise
        return out


def _keep_image(
    compiled: CompiledPolicy, warnings: list[Diagnostic], sources: list[Source]
) -> None:
    """Store the policy's image for the next load. A policy the image cannot describe (a rule
    without a place in the sources, say, built by other means than the parser) is simply not
    cached: the cache never stands in the way of a load."""
    try:
        captured = image.capture(compiled, warnings, sources)
    except (ValueError, TypeError):
        return
    cache.store(sources, captured)


def _reason(rule: CompiledRule) -> ReasonModel:
    about = rule.about
    return ReasonModel(
        id=rule.id,
        effect=rule.effect,
        citation=about.citation,
        description=about.description,
        file=about.file,
        line=about.line,
        location=f"{about.file}:{about.line}",
    )


def load_policy(path: str | os.PathLike[str]) -> Policy:
    """Load a policy from a ``.policy`` file or a folder of them (read as one policy)."""
    return Policy(read_sources(path))


def load_policy_text(text: str | Mapping[str, str], name: str = "<policy>") -> Policy:
    """Load a policy from text, or from a mapping of file name → text read as one policy."""
    if isinstance(text, str):
        return Policy([Source(name, text)])
    return Policy([Source(n, t) for n, t in sorted(text.items())])


def check_policy(path: str | os.PathLike[str], *, analyze: bool = True) -> list[Diagnostic]:
    """Every finding about the policy at ``path``, sorted by place; never raises for problems in
    the rule files (an unreadable path is reported as a diagnostic too).

    Loading problems are errors. With ``analyze`` the whole request space is examined too:
    broken invariants are errors (with a counterexample request); rules that can never apply,
    redundant rules and unused declarations are warnings; where a deny overrides an allow is
    information.
    """
    from .analysis import invariant_diagnostics, invariant_exprs, lint
    from .errors import sort_diagnostics
    from .space import RequestSpace

    try:
        policy = Policy(read_sources(path))
    except PolicyError as exc:
        return exc.diagnostics
    found = list(policy.warnings)
    if analyze:
        compiled = policy.compiled
        extra = [e for i in compiled.checked.invariants for e in invariant_exprs(i)]
        space = RequestSpace([compiled], extra)
        broken, _ = invariant_diagnostics(compiled, os.fspath(path), space)
        found += broken + lint(compiled, space)
    return sort_diagnostics(found)
