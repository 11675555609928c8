"""The ``fmt`` command: rewrite ``.policy`` files in the canonical layout, or with ``--check`` and
``--diff`` only say what would change (exit 1 if anything would)."""

from __future__ import annotations

import argparse
import difflib
import sys
from pathlib import Path

from ..language.errors import Diagnostic
from .usage import EXIT_ERROR, UsageError


def add_fmt_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    fmt = commands.add_parser(
        "fmt",
        help="rewrite .policy files in the canonical layout, comments kept",
    )
    fmt.add_argument("path", help="a .policy file or a folder of them")
    fmt.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 if a file would change (and list them)",
    )
    fmt.add_argument(
        "--diff",
        action="store_true",
        help="write nothing; print a unified diff of the changes (exit 1 if any)",
    )


def _policy_files(path: str) -> list[Path]:
    """The ``.policy`` files to format: the file at ``path``, or every one below the folder."""
    root = Path(path)
    if root.is_dir():
        files = sorted(p for p in root.rglob("*.policy") if p.is_file())
        if not files:
            raise UsageError(f"no `.policy` files in `{path}`")
        return files
    if root.is_file():
        return [root]
    raise UsageError(f"no such file or directory: `{path}`")


def _diff_lines(text: str) -> list[str]:
    """Lines with their ``\\n`` for difflib; a missing final newline is shown as diff shows it."""
    lines = [line + "\n" for line in text.split("\n")]
    last = lines.pop()[:-1]
    if last:
        lines.append(last + "\n\\ No newline at end of file\n")
    return lines


def _format_file(file: Path, args: argparse.Namespace) -> bool | None:
    """Format one file as asked: whether it changed (or would), None when it cannot be formatted
    (the reason printed on standard error)."""
    from ..language.errors import PolicySyntaxError
    from ..language.formatter import FormatError, format_source

    try:
        old = file.read_bytes().decode("utf-8")
        new = format_source(old, str(file))
    except PolicySyntaxError as exc:
        print(str(exc), file=sys.stderr)
        return None
    except (OSError, UnicodeError, FormatError) as exc:
        print(Diagnostic("fmt", f"cannot format `{file}`: {exc}").render(), file=sys.stderr)
        return None
    if new == old:
        return False
    if args.diff:
        sys.stdout.writelines(
            difflib.unified_diff(_diff_lines(old), _diff_lines(new), str(file), str(file))
        )
    elif args.check:
        print(f"would reformat {file}")
    else:
        file.write_bytes(new.encode("utf-8"))
        print(f"reformatted {file}")
    return True


def run_fmt(args: argparse.Namespace) -> int:
    """``fmt``: exit 2 when a file cannot be formatted, 1 when ``--check`` or ``--diff`` find
    changes."""
    files = _policy_files(args.path)
    changed = failed = 0
    for file in files:
        outcome = _format_file(file, args)
        if outcome is None:
            failed += 1
        elif outcome:
            changed += 1
    if not args.diff:
        same = len(files) - changed - failed
        print(
            f"{changed} file{'s' * (changed != 1)} "
            + ("would be reformatted" if args.check else "reformatted")
            + f", {same} file{'s' * (same != 1)} "
            + ("already formatted" if args.check else "left unchanged")
            + (f", {failed} could not be formatted" if failed else "")
        )
    if failed:
        return EXIT_ERROR
    return 1 if changed and (args.check or args.diff) else 0
