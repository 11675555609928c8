"""What every storage module shares: :class:`StorageError`, and the text form of times that both
back ends store (fixed width UTC, so that text order is time order)."""

from __future__ import annotations

from datetime import UTC, datetime

TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


class StorageError(Exception):
    """The database could not be opened, read or written."""

    def __init__(self, message: str, *, refused: bool = False) -> None:
        super().__init__(message)
        self.refused = refused
        """The database refused these values (a constraint, a character it cannot store): the
        same write would fail again, while other writes may succeed."""


def format_time(moment: datetime) -> str:
    """UTC, fixed width (the year always four digits: ``strftime`` writes the year 999 as
    ``999``, which sorted after 2026), so that text order is time order in both back ends."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    m = moment.astimezone(UTC)
    return (
        f"{m.year:04d}-{m.month:02d}-{m.day:02d}T{m.hour:02d}:{m.minute:02d}:{m.second:02d}"
        f".{m.microsecond:06d}Z"
    )


def now_text() -> str:
    return format_time(datetime.now(UTC))
