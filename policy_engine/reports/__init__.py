"""Renderings of the library's results for people and tools: diagnostics as text, JSON, SARIF
and GitHub annotations. Imports the library steps, never a shell."""
