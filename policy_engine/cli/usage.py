"""How the command fails and what it exits with: the exit codes and :class:`UsageError`, the
error for bad command-line input that ``main`` prints as a ``usage`` diagnostic."""

from __future__ import annotations

EXIT_ALLOW, EXIT_DENY, EXIT_ERROR = 0, 1, 2


class UsageError(Exception):
    """Bad command-line input (exit 2)."""
