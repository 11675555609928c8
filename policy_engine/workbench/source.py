"""Where the workbench gets its policy: a path it loads itself and loads again when the files
change (``policy-engine workbench``), or the decision service's current policy (``serve``, which
reloads it on its own terms)."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from ..engine.policy import Policy, load_policy
from ..language.errors import Diagnostic, PolicyError

WATCHED_SUFFIXES = (".policy", ".toml", ".txt", ".text", ".md", ".markdown")
"""The files whose change makes :class:`FolderSource` load the policy again: rule files, test
files and source documents."""

CHECK_EVERY = 1.0
"""Seconds between two looks at the files."""

CELLS_KEPT = 1 << 16
"""The cells whose candidate rules a policy of the workbench keeps (the engine's default keeps
4,096): the check and the diff of a proposal walk every cell of both versions, PLANISO has 8,448,
and walking them again from a warm cache is a fifth faster."""


class PolicySource(Protocol):
    @property
    def name(self) -> str:
        """The policy's path as given: what commands and diagnostics name."""
        ...

    def current(self) -> Policy:
        """The policy to show now."""
        ...

    def problems(self) -> list[Diagnostic]:
        """Why the files on disk do not load, when they changed into a policy that does not
        (the last version that loaded is shown meanwhile)."""
        ...


class ServedPolicy:
    """The policy another component keeps (the decision service's, reloaded by it)."""

    def __init__(self, name: str, current: Callable[[], Policy]) -> None:
        self._name = name
        self._current = current

    @property
    def name(self) -> str:
        return self._name

    def current(self) -> Policy:
        return self._current()

    def problems(self) -> list[Diagnostic]:
        return []


class FolderSource:
    """The policy at a path, loaded again when a rule file, test file or document below it
    changes (looked at no more than once a second, on use)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self._name = os.fspath(path)
        self._policy = load_policy(path, cell_cache_size=CELLS_KEPT)
        self._problems: list[Diagnostic] = []
        self._signature = self._sign()
        self._checked = time.monotonic()
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return self._name

    def current(self) -> Policy:
        if time.monotonic() - self._checked >= CHECK_EVERY:
            with self._lock:
                if time.monotonic() - self._checked >= CHECK_EVERY:
                    self._refresh()
                    self._checked = time.monotonic()
        return self._policy

    def problems(self) -> list[Diagnostic]:
        return list(self._problems)

    def _refresh(self) -> None:
        signature = self._sign()
        if signature == self._signature:
            return
        self._signature = signature
        try:
            self._policy = load_policy(self._name, cell_cache_size=CELLS_KEPT)
        except PolicyError as exc:
            self._problems = list(exc.diagnostics)
        else:
            self._problems = []

    def _sign(self) -> tuple[tuple[str, int, int], ...]:
        root = Path(self._name)
        if root.is_dir():
            files = [p for p in root.rglob("*") if p.suffix.lower() in WATCHED_SUFFIXES]
        else:
            files = [root, *root.parent.glob("*.toml")]
        files += [Path(d.source.name) for d in self._policy.documents]
        found = []
        for file in sorted(set(files)):
            try:
                stat = file.stat()
            except OSError:
                continue
            found.append((str(file), stat.st_mtime_ns, stat.st_size))
        return tuple(found)
