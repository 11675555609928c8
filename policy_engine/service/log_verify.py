"""``log verify``'s pass over the decision log: the hash chain, each entry's MAC (with the log
key), and the anchors the log must still reach, checked entry by entry in one pass in ``seq``
order (:meth:`.storage_base.Storage.verify_log` supplies the rows)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .log_anchor import Anchor
from .log_chain import GENESIS, Row, VerifyResult, check_row
from .log_mac import LogKey

#: The columns :func:`verify_rows` reads, in order (``check_row``'s, then the MAC).
VERIFY_COLUMNS = (
    "seq, id, time, subject, party, effect, policy_version, entry, prev_hash, hash, mac"
)


@dataclass
class _Tally:
    count: int = 0
    maced: int = 0
    unmaced: int = 0
    unchecked: int = 0
    first_mac_seq: int | None = None


def _mac_problem(row: Row, key: LogKey | None, tally: _Tally) -> str | None:
    """What is wrong with the MAC of a row whose chain is right, or None."""
    mac = row[10]
    if mac is None:
        if tally.first_mac_seq is not None:
            return (
                f"it carries no MAC, while the entries from seq {tally.first_mac_seq} on do "
                "(written or rewritten without the log key)"
            )
        tally.unmaced += 1
        return None
    if tally.first_mac_seq is None:
        tally.first_mac_seq = int(row[0])
    if key is None:
        tally.unchecked += 1
        return None
    if not key.entry_mac_ok(row[9], mac):
        return (
            "its MAC does not match its hash (the entry was rewritten and the chain recomputed "
            "without the log key, or another key wrote it)"
        )
    tally.maced += 1
    return None


class AnchorCheck:
    """The anchors, in ``seq`` order, checked against the entries as they go by: the entry at
    an anchored ``seq`` must be there, with the anchored hash and as many entries up to it."""

    def __init__(self, anchors: Sequence[Anchor]) -> None:
        self._pending = sorted((a for a in anchors if a.head.last_seq > 0), key=_anchored_seq)
        self._next = 0

    def see(self, seq: int, entry_id: str, digest: str, count: int) -> str | None:
        """What entry ``seq`` (the ``count``-th) says against the anchors, or None."""
        pending = self._pending
        while self._next < len(pending) and pending[self._next].head.last_seq <= seq:
            anchor = pending[self._next]
            head = anchor.head
            self._next += 1
            if head.last_seq < seq:
                return (
                    f"{anchor.describe()} recorded entry seq {head.last_seq} (id {head.last_id}) "
                    "as the log's last, and it is no longer in the log: entries were removed "
                    "and the chain recomputed"
                )
            if digest != head.last_hash or entry_id != head.last_id:
                return (
                    f"entry seq {seq} (id {entry_id}) has hash {digest}, but "
                    f"{anchor.describe()} recorded id {head.last_id}, hash {head.last_hash} "
                    "there: the log was rewritten and its chain recomputed"
                )
            if count != head.entries:
                return (
                    f"{anchor.describe()} counted {head.entries} entries up to seq {seq}, the "
                    f"log has {count} there: entries were "
                    f"{'removed' if count < head.entries else 'added'} before it"
                )
        return None

    def finish(self, count: int, last_seq: int) -> str | None:
        """After the last entry: an anchor past the log's end, or None."""
        if self._next == len(self._pending):
            return None
        anchor = self._pending[-1]
        head = anchor.head
        if count == 0:
            now = "the log is empty: every entry was removed"
        else:
            removed = f"{head.entries - count} or more " if count < head.entries else ""
            now = (
                f"the log ends at seq {last_seq} with {count} entries: {removed}entries were "
                "removed from its end"
            )
        return (
            f"{anchor.describe()} recorded {head.entries} entries up to seq {head.last_seq} "
            f"(id {head.last_id}, hash {head.last_hash}), but {now}"
        )


def _anchored_seq(anchor: Anchor) -> int:
    return anchor.head.last_seq


def verify_rows(
    batches: Iterable[Sequence[Row]], key: LogKey | None, anchors: Sequence[Anchor] = ()
) -> VerifyResult:
    """Check rows of :data:`VERIFY_COLUMNS`, in ``seq`` order; stop at the first problem."""
    tally = _Tally()
    anchored = AnchorCheck(anchors)
    previous = GENESIS
    last_seq = 0

    def result(
        problem: str | None, seq: int | None = None, entry_id: str | None = None
    ) -> VerifyResult:
        return VerifyResult(
            problem is None,
            tally.count,
            previous,
            seq,
            entry_id,
            problem,
            maced=tally.maced,
            unmaced=tally.unmaced,
            unchecked=tally.unchecked,
            anchors=len(anchors) if problem is None else 0,
        )

    for rows in batches:
        for row in rows:
            seq, entry_id = int(row[0]), str(row[1])
            tally.count += 1
            problem = check_row(row, previous) or _mac_problem(row, key, tally)
            if problem is not None:
                return result(problem, seq, entry_id)
            problem = anchored.see(seq, entry_id, row[9], tally.count)
            if problem is not None:
                return result(problem)
            previous, last_seq = row[9], seq
    return result(anchored.finish(tally.count, last_seq))
