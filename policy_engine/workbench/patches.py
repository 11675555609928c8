"""A proposed change handed over without touching the disk: as a unified diff that ``git apply``
takes (paths as the policy names its files), or as the changed files in a zip archive built in
memory."""

from __future__ import annotations

import difflib
import io
import zipfile
from collections.abc import Mapping

_NO_NEWLINE = "\\ No newline at end of file\n"


def _lines(text: str) -> list[str]:
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n" + _NO_NEWLINE
    return lines


def _path(name: str) -> str:
    return name.lstrip("/")


def unified_patch(originals: Mapping[str, str], changed: Mapping[str, str]) -> str:
    """The changes from ``originals`` to ``changed`` (by file name), files in name order."""
    out: list[str] = []
    for name in sorted(changed):
        before = originals.get(name, "")
        out += difflib.unified_diff(
            _lines(before),
            _lines(changed[name]),
            fromfile=f"a/{_path(name)}" if name in originals else "/dev/null",
            tofile=f"b/{_path(name)}",
        )
    return "".join(out)


def zip_files(files: Mapping[str, str]) -> bytes:
    """The files in a zip archive (made in memory), each at its path."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(files):
            archive.writestr(_path(name), files[name].encode("utf-8"))
    return buffer.getvalue()
