"""The ``policy-engine`` command: a thin shell that parses arguments, makes one library call
and prints its result with an exit code."""

from .main import main

__all__ = ["main"]
