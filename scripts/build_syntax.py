"""Write the two highlighters of rule files from their one source, the grammar's words
(``policy_engine/language/keywords.py``): the VS Code extension's TextMate grammar and the
workbench editor's ``syntax.js``. Run from the repository's root after changing the grammar:

    .venv/bin/python scripts/build_syntax.py          # write both files
    .venv/bin/python scripts/build_syntax.py --check  # exit 1 if either is out of date
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from policy_engine.lsp.highlighting import (
    TEXTMATE_PATH,
    WORKBENCH_PATH,
    textmate_text,
    workbench_script,
)

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if stale")
    args = parser.parse_args()
    stale = []
    for path, text in ((TEXTMATE_PATH, textmate_text()), (WORKBENCH_PATH, workbench_script())):
        file = ROOT / path
        if file.exists() and file.read_text("utf-8") == text:
            continue
        stale.append(path)
        if not args.check:
            file.parent.mkdir(parents=True, exist_ok=True)
            file.write_text(text, "utf-8")
    for path in stale:
        print(f"{'out of date' if args.check else 'wrote'}: {path}", file=sys.stderr)
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
