"""The engine's version (one place, importable without the rest of the package)."""

__version__ = "0.1.0"
