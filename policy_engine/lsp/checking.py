"""The diagnostics of a policy as ``check`` finds them: loaded from the editor's texts
(:mod:`.folders`), then analysed as :func:`~policy_engine.api.check_loaded` analyses it, within a
budget. Runs in a worker thread; a policy that does not load is its diagnostics, and even a bug
of the engine is a diagnostic (and a log entry), never a dead server."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass

from lsprotocol import types as lsp
from pygls.workspace.position_codec import PositionCodec

from ..analysis.budget import Budget
from ..api import check_loaded
from ..engine.policy import Policy
from ..language.errors import Diagnostic, PolicyError
from .convert import lsp_diagnostic
from .folders import Snapshot, policy_key, take_snapshot

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Checked:
    """What checking a snapshot found: the policy (when it loads) and every diagnostic."""

    snapshot: Snapshot
    policy: Policy | None
    diagnostics: tuple[Diagnostic, ...]


def check_snapshot(snapshot: Snapshot, budget: Budget) -> Checked:
    """The diagnostics ``policy-engine check`` reports for the snapshot's rule files."""
    if snapshot.problems or not snapshot.sources:
        return Checked(snapshot, None, snapshot.problems)
    try:
        try:
            policy = Policy(list(snapshot.sources), {} if snapshot.lone else None)
        except PolicyError as exc:
            return Checked(snapshot, None, tuple(exc.diagnostics))
        report = check_loaded(policy, snapshot.name, budget=budget)
    except Exception as exc:  # a bug: said where the user looks, and logged with its trace
        logger.exception("checking %s failed", snapshot.name)
        return Checked(snapshot, None, (_internal_error(exc),))
    return Checked(snapshot, policy, tuple(report.diagnostics))


def _internal_error(exc: Exception) -> Diagnostic:
    return Diagnostic(
        "internal-error",
        f"policy-engine could not check this policy: {type(exc).__name__}: {exc}",
        None,
        "please report this (the language server's log has the details)",
    )


def check_document(uri: str, texts: Mapping[str, str], budget: Budget) -> Checked:
    """The policy of the document ``uri`` read (``texts``: the open documents' texts by URI)
    and checked; never raises."""
    try:
        snapshot = take_snapshot(uri, texts)
    except Exception as exc:  # an unreadable folder the reader did not foresee
        logger.exception("reading the policy of %s failed", uri)
        empty = Snapshot(policy_key(uri), uri, (), {})
        return Checked(empty, None, (_internal_error(exc),))
    return check_snapshot(snapshot, budget)


async def check_in_thread(uri: str, texts: Mapping[str, str], budget: Budget) -> Checked:
    """:func:`check_document` in a daemon thread: the event loop answers requests meanwhile,
    and the editor's ``exit`` never waits for an analysis to end."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[Checked] = loop.create_future()

    def settle(found: Checked) -> None:
        if not done.done():
            done.set_result(found)

    def run() -> None:
        found = check_document(uri, texts, budget)
        with contextlib.suppress(RuntimeError):  # the loop is closed: the server is exiting
            loop.call_soon_threadsafe(settle, found)

    threading.Thread(target=run, name=f"check {uri}", daemon=True).start()
    return await done


def by_file(checked: Checked, asked: str, codec: PositionCodec) -> dict[str, list[lsp.Diagnostic]]:
    """The protocol's diagnostics by file URI: every rule file of the policy (none for a file
    with no problem, so that the editor clears what it showed), the source documents with a
    problem, and ``asked``, the document whose change led to the check, for the diagnostics
    with no place."""
    snapshot = checked.snapshot
    found: dict[str, list[lsp.Diagnostic]] = {uri: [] for uri in snapshot.uris.values()}
    found.setdefault(asked, [])
    for diagnostic in checked.diagnostics:
        span = diagnostic.span
        uri = snapshot.uri_of(span.source.name) if span is not None else None
        shown = lsp_diagnostic(diagnostic, codec, dict(snapshot.uris))
        if uri is None and span is not None:  # a place in no file the editor can open
            shown.range = lsp.Range(start=lsp.Position(0, 0), end=lsp.Position(0, 0))
            shown.message = f"{span.location}: {shown.message}"
        found.setdefault(uri or asked, []).append(shown)
    return found
