"""What a checked policy keeps about each package it uses."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ..language import ast


@dataclass(frozen=True)
class PackageUse:
    """One package of the policy, at any depth."""

    namespace: str
    """Its full namespace: ``law25``, or ``dept.law25`` for a package of the package ``dept``."""
    folder: str
    version: str
    """The package's own version (what loading its folder alone gives)."""
    supplies: Mapping[str, str]
    """Each supplied key of the package (``law25.destination``) → the key its rules read."""
    decl: ast.UseDecl
