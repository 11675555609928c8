"""AST and comments → canonical text: the layout ``policy-engine fmt`` writes.

The layout (the style of ``rules/planiso``):

* one statement per line group; declarations read ``party a, b under c "description" §1.1``
  (a context key ``context k: set of purpose from consent ledger "description" §1.1``);
  consecutive declarations of one kind (or consecutive ``context`` keys) form a group, in which a
  blank line the author left is kept (at most one); every other pair of statements, and in
  particular every rule and invariant, is separated by exactly one blank line;
* a rule is ``rule ID §x, §y``, then on lines of their own, indented by two spaces, the
  description, ``allow PARTIES to use DATA for PURPOSES`` (``deny … from using …``), ``when …``,
  each ``unless …`` and each ``with obligation(s) …``; an invariant likewise, its claim reading
  ``never PARTIES use DATA [for PURPOSES]`` or ``always allow|deny PARTIES to use|from using …``;
* a line longer than :data:`WIDTH` breaks at its most natural point first (before ``for``,
  ``under``, the description, ``and``/``or``; after a comma last) and goes on two spaces deeper
  (four spaces inside a rule, two below a declaration);
* conditions as :func:`policy_engine.printer.expr_text` prints them, strings re-escaped,
  citations without a space after ``§``, no trailing whitespace, one newline at the end.

Statements are never reordered. The grammar ignores ``#`` comments, so they are recovered from the
text (:func:`scan_comments`) and put back: a comment on a line of its own stays before the
statement (inside a rule: before the clause) it precedes, an end-of-line comment stays at the end of
the clause it was written on, comments after the last statement stay at the end. Every comment is
kept, once, in its original order; :func:`format_source` checks that, and that the text it returns
parses to the same syntax tree, before returning it.

This module owns that entry point and its checks; the layout's docs and line filling are in
:mod:`.format_layout`, the statements and their clauses in :mod:`.format_statements`, comments and
blank lines in :mod:`.format_comments`.
"""

from __future__ import annotations

from . import ast
from .format_comments import Comment, attach_comments, render_statements, scan_comments
from .format_layout import WIDTH, layout
from .format_statements import FormatError, statement_of
from .grammar import lark_parser
from .parser import parse_source
from .source import Source

# Kept importable from here: the layout's width, its line filler and the comment scanner.
__all__ = ["WIDTH", "Comment", "FormatError", "format_source", "layout", "scan_comments"]


def format_source(text: str, name: str = "<policy>") -> str:
    """The canonical text of one policy file. Raises :class:`PolicySyntaxError` when ``text`` does
    not parse (and :class:`FormatError` if the result would not mean the same: a bug)."""
    text = text.replace("\r\n", "\n")
    policy = parse_source(Source(name, text))
    tree = lark_parser().parse(text)
    if len(tree.children) != len(policy.items):  # pragma: no cover - parser and grammar disagree
        raise FormatError(f"{name}: the parse tree does not match the syntax tree")
    statements = [
        statement_of(item, node) for item, node in zip(policy.items, tree.children, strict=True)
    ]
    comments = scan_comments(text)
    tail = attach_comments(comments, statements)
    lines = render_statements(statements, tail)
    result = "\n".join(line.rstrip() for line in lines) + "\n" if lines else ""
    _verify(policy, comments, result, name)
    return result


def _verify(policy: ast.PolicyFile, comments: list[Comment], result: str, name: str) -> None:
    """Refuse to return a text that means something else or lost, doubled or moved a comment."""
    again = parse_source(Source(name, result))
    if again != policy:
        raise FormatError(f"{name}: formatting would change the policy; please report this")
    if [c.text for c in scan_comments(result)] != [c.text for c in comments]:
        raise FormatError(f"{name}: formatting would lose or move a comment; please report this")
