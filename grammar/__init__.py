"""The policy language grammar, shipped as package data (see pyproject.toml)."""
