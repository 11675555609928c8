"""The diagnostics of a policy as ``check`` finds them: loaded from the editor's texts
(:mod:`.folders`), then analysed as :func:`~policy_engine.api.check_loaded` analyses it, within a
budget. Runs in a worker thread; a policy that does not load is its diagnostics, and even a bug
of the engine is a diagnostic (and a log entry), never a dead server.

The packages the policy uses are read too (:mod:`.packages`, for hover, definition and
completion), and a diagnostic in a package's file is shown on the policy, at the ``use`` that
brings the package in (:mod:`.package_diagnostics`): a package's file is not the policy's, and
the package's own diagnostics are its own check's to show."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from lsprotocol import types as lsp
from pygls.workspace.position_codec import PositionCodec

from ..analysis.budget import Budget
from ..api import check_loaded
from ..engine.policy import Policy
from ..language import ast
from ..language.errors import Diagnostic, PolicyError
from ..language.package_folders import DiskFolders
from ..language.parser import parse_source
from ..language.source import Source
from .convert import lsp_diagnostic
from .folders import Snapshot, policy_key, take_snapshot
from .package_diagnostics import through_packages
from .packages import Packages, read_packages

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Checked:
    """What checking a snapshot found: the policy (when it loads) and every diagnostic."""

    snapshot: Snapshot
    policy: Policy | None
    diagnostics: tuple[Diagnostic, ...]
    packages: Packages = field(default_factory=Packages)


USE = re.compile(r"^[ \t]*use\b", re.MULTILINE)
"""A line a ``use`` statement may start (only such files are parsed for their packages)."""


Parse = Callable[[Source], ast.PolicyFile | None]
"""How a rule file is parsed: by default anew (None when it does not parse); the server's
:class:`~.index.Parses` gives the last good tree of a file being typed."""


def parse_anew(source: Source) -> ast.PolicyFile | None:
    try:
        return parse_source(source)
    except PolicyError:
        return None


def packages_of(snapshot: Snapshot, parse: Parse = parse_anew) -> Packages:
    """The packages the snapshot's policy uses, as far as they can be read; never raises."""
    if snapshot.lone:
        return Packages()
    try:
        with_uses = (s for s in snapshot.sources if USE.search(s.text))
        files = [file for source in with_uses if (file := parse(source)) is not None]
        return read_packages(files, DiskFolders())
    except Exception:  # a bug: hover knows less, the check still runs
        logger.exception("reading the packages of %s failed", snapshot.name)
        return Packages()


def check_snapshot(snapshot: Snapshot, budget: Budget, parse: Parse = parse_anew) -> Checked:
    """The diagnostics ``policy-engine check`` reports for the snapshot's rule files."""
    if snapshot.problems or not snapshot.sources:
        return Checked(snapshot, None, snapshot.problems)
    packages = packages_of(snapshot, parse)
    try:
        try:
            policy = Policy(list(snapshot.sources), {} if snapshot.lone else None)
        except PolicyError as exc:
            return Checked(snapshot, None, tuple(exc.diagnostics), packages)
        report = check_loaded(policy, snapshot.name, budget=budget)
    except Exception as exc:  # a bug: said where the user looks, and logged with its trace
        logger.exception("checking %s failed", snapshot.name)
        return Checked(snapshot, None, (_internal_error(exc),), packages)
    return Checked(snapshot, policy, tuple(report.diagnostics), packages)


def _internal_error(exc: Exception) -> Diagnostic:
    return Diagnostic(
        "internal-error",
        f"policy-engine could not check this policy: {type(exc).__name__}: {exc}",
        None,
        "please report this (the language server's log has the details)",
    )


def check_document(
    uri: str, texts: Mapping[str, str], budget: Budget, parse: Parse = parse_anew
) -> Checked:
    """The policy of the document ``uri`` read (``texts``: the open documents' texts by URI)
    and checked; never raises."""
    try:
        snapshot = take_snapshot(uri, texts)
    except Exception as exc:  # an unreadable folder the reader did not foresee
        logger.exception("reading the policy of %s failed", uri)
        empty = Snapshot(policy_key(uri), uri, (), {})
        return Checked(empty, None, (_internal_error(exc),))
    return check_snapshot(snapshot, budget, parse)


async def check_in_thread(
    uri: str, texts: Mapping[str, str], budget: Budget, parse: Parse = parse_anew
) -> Checked:
    """:func:`check_document` in a daemon thread: the event loop answers requests meanwhile,
    and the editor's ``exit`` never waits for an analysis to end."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[Checked] = loop.create_future()

    def settle(found: Checked) -> None:
        if not done.done():
            done.set_result(found)

    def run() -> None:
        found = check_document(uri, texts, budget, parse)
        with contextlib.suppress(RuntimeError):  # the loop is closed: the server is exiting
            loop.call_soon_threadsafe(settle, found)

    threading.Thread(target=run, name=f"check {uri}", daemon=True).start()
    return await done


def by_file(checked: Checked, asked: str, codec: PositionCodec) -> dict[str, list[lsp.Diagnostic]]:
    """The protocol's diagnostics by file URI: every rule file of the policy (none for a file
    with no problem, so that the editor clears what it showed), the source documents with a
    problem, and ``asked``, the document whose change led to the check, for the diagnostics
    with no place. A diagnostic in a package's file is shown at the policy's ``use``."""
    snapshot = checked.snapshot
    found: dict[str, list[lsp.Diagnostic]] = {uri: [] for uri in snapshot.uris.values()}
    found.setdefault(asked, [])
    own, packaged = through_packages(checked.diagnostics, snapshot, checked.packages, codec)
    for diagnostic in own:
        span = diagnostic.span
        uri = snapshot.uri_of(span.source.name) if span is not None else None
        shown = lsp_diagnostic(diagnostic, codec, dict(snapshot.uris))
        if uri is None and span is not None:  # a place in no file the editor can open
            shown.range = lsp.Range(start=lsp.Position(0, 0), end=lsp.Position(0, 0))
            shown.message = f"{span.location}: {shown.message}"
        found.setdefault(uri or asked, []).append(shown)
    for uri, diagnostics in packaged.items():
        found.setdefault(uri, []).extend(diagnostics)
    return found
