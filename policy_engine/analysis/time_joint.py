"""The classes of a group of date (or instant) keys compared with each other, taken together.

:mod:`.time_trees` finds requests that stand for every way the group's comparisons can hold
(every combination of truth values some request gives them is given by one of these). A class
of the group is then what a request says of it: which of its keys it sends, and the truth value
of every comparison that reads only those (a comparison with a key left out is unknown,
whatever the others are; one with an attribute of a term, for each value terms give it). Two
requests alike in that are alike to every condition of the policy, which reads dates only
through those comparisons and through `is known` / `is missing`: one of them stands for both.
A request that leaves a key out is matched by a found request with that key left out (any
value of a missing key is as good as another to the others), so every class is found by taking
the found requests with each set of keys left out.

Keeping the group's keys together, rather than giving each key its own values and taking every
combination of those, keeps what the analysis searches to the ways the group can hold: the keys
of a cycle depend on each other so closely that most combinations of separately chosen values
would only repeat a class.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

from ..engine.compiler import MISSING
from ..language.time_values import TimeKind, time_value
from .context_classes import Joint
from .time_atoms import NotExact, TimeAtom

MAX_CLASSES = 50_000
"""The most classes one group of keys may have."""


def _truths(atoms: Sequence[TimeAtom], request: dict[str, int]) -> tuple[tuple[bool, ...], ...]:
    return tuple(atom.outcomes(request) for atom in atoms)


def joint_classes(
    kind: TimeKind, keys: Sequence[str], atoms: Sequence[TimeAtom], requests: list[dict[str, int]]
) -> list[Joint]:
    """The group's classes (see the module's docstring), fewest keys sent first; ``atoms``:
    every comparison that reads the group's keys (with each other or with constants)."""
    keys = sorted(keys)
    whole: dict[tuple[tuple[bool, ...], ...], dict[str, int]] = {}
    for request in requests:
        whole.setdefault(_truths(atoms, request), request)
    reads = [{side.key for side in (a.left, a.right) if side.key is not None} for a in atoms]
    found: dict[tuple[Any, ...], Joint] = {}
    for present in itertools.product((False, True), repeat=len(keys)):
        sent = {k for k, on in zip(keys, present, strict=True) if on}
        known = [read <= sent for read in reads]
        for truths, request in whole.items():
            signature = (present, tuple(t for t, k in zip(truths, known, strict=True) if k))
            if signature in found:
                continue
            found[signature] = Joint(
                tuple((k, time_value(kind, request[k]) if k in sent else MISSING) for k in keys)
            )
        if len(found) > MAX_CLASSES:
            names = ", ".join(f"`{k}`" for k in keys)
            raise NotExact(
                f"the comparisons of dates among {names} tell more than {MAX_CLASSES:,} "
                "classes of requests apart",
                atoms[0].expr.span,
            )
    return sorted(found.values(), key=Joint.present)
