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
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from lark import Token, Tree

from . import ast
from .grammar import lark_parser
from .parser import parse_source
from .printer import Doc, affix, doc_text, expr_doc, list_doc, literal_text
from .source import Source

WIDTH = 100
"""Lines longer than this are broken (a single word or string longer than it stays whole)."""

CLAUSE_INDENT = "  "
CLAUSE_CONTINUATION = "    "
DECLARATION_CONTINUATION = "  "
COMMENT_GAP = "  "
"""Between the end of a line and the comment that ends it."""


class FormatError(RuntimeError):
    """The formatter would have changed a policy's meaning or lost a comment (a bug: report it)."""


# ---- comments -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Comment:
    """A ``#`` comment: where it starts (1-based), its text (trailing blanks removed), and whether
    nothing but whitespace comes before it on its line."""

    line: int
    column: int
    text: str
    own_line: bool


def scan_comments(text: str) -> list[Comment]:
    """Every comment of ``text``, in order. A ``#`` outside a string runs to the end of the line;
    strings never span lines (the grammar forbids it), so scanning line by line is exact."""
    comments: list[Comment] = []
    for number, line in enumerate(text.split("\n"), start=1):
        in_string = False
        index = 0
        while index < len(line):
            char = line[index]
            if in_string:
                if char == "\\":
                    index += 1
                elif char == '"':
                    in_string = False
            elif char == '"':
                in_string = True
            elif char == "#":
                own_line = not line[:index].strip()
                comments.append(Comment(number, index + 1, line[index:].rstrip(), own_line))
                break
            index += 1
    return comments


# ---- layout ---------------------------------------------------------------------------------


def layout(doc: Doc, indent: str, continuation: str, width: int = WIDTH) -> list[str]:
    """``doc`` as lines: parts are filled onto the line while they fit; a part that does not fit
    starts a continuation line, and only a part too long for a whole line is broken inside."""
    lines: list[str] = []
    current = indent
    fresh = True

    def place(part: Doc) -> None:
        nonlocal current, fresh
        text = doc_text(part)
        if fresh:
            if isinstance(part, str) or len(current) + len(text) <= width:
                current += text
                fresh = False
            else:
                for sub in part:
                    place(sub)
        elif len(current) + 1 + len(text) <= width:
            current += " " + text
        else:
            lines.append(current)
            current = continuation
            fresh = True
            place(part)

    place(doc)
    lines.append(current)
    return lines


def _names(names: Sequence[ast.Name], before: str = "") -> Doc:
    return list_doc([name.value for name in names], before)


def _citations(citations: Sequence[ast.Citation]) -> list[Doc]:
    return [list_doc([c.text for c in citations])] if citations else []


def _description(description: str | None) -> list[Doc]:
    return [] if description is None else [literal_text(description)]


def _declaration_doc(decl: ast.TermDecl) -> Doc:
    parts = [_names(decl.names, f"{decl.kind} ")]
    if decl.parents:
        parts.append(_names(decl.parents, "under "))
    return (*parts, *_description(decl.description), *_citations(decl.citations))


def _type_doc(value_type: ast.ValueType) -> Doc:
    if isinstance(value_type, ast.OneOfType):
        return list_doc([literal_text(v) for v in value_type.literals], "one of ")
    if isinstance(value_type, ast.ListType) and value_type.literals is not None:
        return list_doc([literal_text(v) for v in value_type.literals], "list of ")
    return value_type.describe()


def _context_doc(decl: ast.ContextDecl) -> Doc:
    parts = [affix(_type_doc(decl.type), f"context {decl.name.value}: ")]
    if decl.source is not None:
        parts.append(f"from {decl.source}")
    if decl.default is not None:
        parts.append(f"default {literal_text(decl.default.value)}")
    return (*parts, *_description(decl.description), *_citations(decl.citations))


def _header_doc(keyword: str, name: ast.Name, citations: Sequence[ast.Citation]) -> Doc:
    return (f"{keyword} {name.value}", *_citations(citations))


def _terms(names: Sequence[ast.Name] | None, kind: str, before: str) -> Doc:
    return f"{before}any {kind}" if names is None else _names(names, before)


def _rule_scope_doc(rule: ast.Rule) -> Doc:
    verb = "to use" if rule.effect == "allow" else "from using"
    return (
        _terms(rule.parties, "party", f"{rule.effect} "),
        _terms(rule.data, "data", f"{verb} "),
        _terms(rule.purposes, "purpose", "for "),
    )


def _scope(scope: ast.Scope, kind: str, before: str) -> Doc:
    terms = _terms(scope.names, kind, before)
    if not scope.excepts:
        return terms
    # one flat group, so that a long `except` list fills on from `for any purpose`
    excepts = _names(scope.excepts, "except ")
    return (
        *((terms,) if isinstance(terms, str) else terms),
        *((excepts,) if isinstance(excepts, str) else excepts),
    )


def _claim_doc(invariant: ast.Invariant) -> Doc:
    if invariant.wording == "never":
        lead, verb = "never ", "use"
    else:
        lead = f"always {invariant.expect} "
        verb = "to use" if invariant.expect == "allow" else "from using"
    parts = [_scope(invariant.parties, "party", lead), _scope(invariant.data, "data", f"{verb} ")]
    if invariant.purposes != ast.Scope(None):
        parts.append(_scope(invariant.purposes, "purpose", "for "))
    return tuple(parts)


def _obligation_doc(clause: ast.ObligationClause) -> Doc:
    word = "obligation" if len(clause.names) == 1 else "obligations"
    names = _names(clause.names, f"with {word} ")
    if clause.condition is None:
        return names
    return (names, affix(expr_doc(clause.condition), "when "))


# ---- statements and their clauses -----------------------------------------------------------


@dataclass
class _Clause:
    """One part of a statement that starts a line of its own in the canonical layout."""

    first: int
    last: int
    lines: list[str]
    indent: str
    comments: list[Comment] = field(default_factory=list)

    def split_comments(self) -> tuple[list[Comment], Comment | None]:
        """(comments written before the clause, the one kept at its end): the last comment stays
        at the end of the clause when it was an end-of-line comment; all others go before it."""
        comments = sorted(self.comments, key=lambda c: (c.line, c.column))
        if comments and not comments[-1].own_line:
            return comments[:-1], comments[-1]
        return comments, None

    def render(self, with_leading: bool = True) -> list[str]:
        leading, trailing = self.split_comments()
        out = [self.indent + c.text for c in leading] if with_leading else []
        out.extend(self.lines)
        if trailing is not None:
            out[-1] += COMMENT_GAP + trailing.text
        return out


@dataclass
class _Statement:
    group: str | None
    """Statements of one group are not forced apart by a blank line (None: always apart)."""
    first: int
    last: int
    clauses: list[_Clause]
    gap: list[Comment] = field(default_factory=list)
    """Own-line comments between the previous statement and this one."""


def _meta_lines(node: Tree[Token]) -> tuple[int, int]:
    return node.meta.line, node.meta.end_line


def _token_line(token: Token) -> int:
    return token.end_line or token.line or 1


def _clauses(
    node: Tree[Token],
    children: list[Tree[Token] | Token],
    header: Doc,
    description: str | None,
    scope: Doc,
    scope_first: int,
    conditions: list[Doc],
) -> list[_Clause]:
    """The clauses of a rule or an invariant, with the source lines each was written on.

    ``children`` are the statement's parse-tree children (an invariant's claim flattened in);
    ``conditions`` the docs of its ``when``, ``unless`` and ``with obligation`` clauses in order.
    """
    header_last = node.meta.line
    description_lines: tuple[int, int] | None = None
    scope_last = scope_first
    condition_lines: list[tuple[int, int]] = []
    for child in children:
        if isinstance(child, Token):
            if child.type == "NAME":
                header_last = max(header_last, _token_line(child))
            else:  # the effect
                scope_last = max(scope_last, _token_line(child))
        elif child.data == "citations":
            header_last = child.meta.end_line
        elif child.data == "description":
            description_lines = _meta_lines(child)
        elif child.data in ("when", "unless", "obligation_clause"):
            condition_lines.append(_meta_lines(child))
        else:  # who, the verb, what, for what
            scope_last = max(scope_last, child.meta.end_line)
    if len(condition_lines) != len(conditions) or (description is None) != (
        description_lines is None
    ):
        raise FormatError(f"line {node.meta.line}: the statement's clauses are not understood")
    clauses = [_Clause(node.meta.line, header_last, layout(header, "", CLAUSE_CONTINUATION), "")]
    if description is not None and description_lines is not None:
        clauses.append(
            _Clause(*description_lines, [CLAUSE_INDENT + literal_text(description)], CLAUSE_INDENT)
        )
    for (first, last), doc in [
        ((scope_first, scope_last), scope),
        *zip(condition_lines, conditions, strict=True),
    ]:
        clauses.append(
            _Clause(first, last, layout(doc, CLAUSE_INDENT, CLAUSE_CONTINUATION), CLAUSE_INDENT)
        )
    return clauses


def _rule(rule: ast.Rule, node: Tree[Token]) -> _Statement:
    effect = next(c for c in node.children if isinstance(c, Token) and c.type == "EFFECT")
    conditions: list[Doc] = []
    if rule.condition is not None:
        conditions.append(affix(expr_doc(rule.condition), "when "))
    conditions += [affix(expr_doc(e), "unless ") for e in rule.exceptions]
    conditions += [_obligation_doc(o) for o in rule.obligations]
    clauses = _clauses(
        node,
        node.children,
        _header_doc("rule", rule.id, rule.citations),
        rule.description,
        _rule_scope_doc(rule),
        effect.line or node.meta.line,
        conditions,
    )
    return _Statement(None, node.meta.line, node.meta.end_line, clauses)


def _invariant(invariant: ast.Invariant, node: Tree[Token]) -> _Statement:
    claim = node.children[-1]
    if not isinstance(claim, Tree):
        raise FormatError(f"line {node.meta.line}: the invariant's claim is not understood")
    conditions: list[Doc] = []
    if invariant.condition is not None:
        conditions.append(affix(expr_doc(invariant.condition), "when "))
    conditions += [affix(expr_doc(e), "unless ") for e in invariant.exceptions]
    clauses = _clauses(
        node,
        [*node.children[:-1], *claim.children],
        _header_doc("invariant", invariant.id, invariant.citations),
        invariant.description,
        _claim_doc(invariant),
        claim.meta.line,
        conditions,
    )
    return _Statement(None, node.meta.line, node.meta.end_line, clauses)


def _statement(item: ast.Item, node: Tree[Token] | Token) -> _Statement:
    if not isinstance(node, Tree):
        raise FormatError("the parse tree does not match the syntax tree")
    if isinstance(item, ast.Rule):
        return _rule(item, node)
    if isinstance(item, ast.Invariant):
        return _invariant(item, node)
    group: str
    if isinstance(item, ast.TermDecl):
        group, doc = item.kind, _declaration_doc(item)
    elif isinstance(item, ast.ContextDecl):
        group, doc = "context", _context_doc(item)
    else:  # pragma: no cover - a statement kind this formatter does not know yet
        raise FormatError(f"line {node.meta.line}: cannot format a `{type(item).__name__}`")
    lines = layout(doc, "", DECLARATION_CONTINUATION)
    first, last = _meta_lines(node)
    return _Statement(group, first, last, [_Clause(first, last, lines, "")])


# ---- putting comments back ------------------------------------------------------------------


def _attach(comments: list[Comment], statements: list[_Statement]) -> list[Comment]:
    """Give every comment to a statement's gap or to one of its clauses; return the rest (the
    comments after the last statement)."""
    tail: list[Comment] = []
    for comment in comments:
        line = comment.line
        if comment.own_line:
            inside = next((s for s in statements if s.first < line < s.last), None)
            if inside is None:
                following = next((s for s in statements if s.first > line), None)
                (following.gap if following else tail).append(comment)
                continue
            # inside a statement: before the clause it is in, else before the next clause
            clause = next(
                (c for c in inside.clauses if c.first <= line <= c.last),
                None,
            ) or next(c for c in inside.clauses if c.first > line)
            clause.comments.append(comment)
            continue
        # an end-of-line comment belongs to the last clause that starts on or before its line
        owner = next((s for s in reversed(statements) if s.first <= line), None)
        if owner is None or line > owner.last:  # pragma: no cover - no code before it
            following = next((s for s in statements if s.first > line), None)
            (following.gap if following else tail).append(comment)
            continue
        clause = next(c for c in reversed(owner.clauses) if c.first <= line)
        clause.comments.append(comment)
    return tail


def _render(statements: list[_Statement], tail: list[Comment]) -> list[str]:
    out: list[str] = []
    previous: _Statement | None = None
    for statement in statements:
        # (thing, is a blank line before it in the source) for the gap comments, the comments
        # moved out of the statement's first line, and the statement itself
        entries: list[tuple[Comment | None, bool]] = []
        last = previous.last if previous else 0
        for comment in statement.gap:
            entries.append((comment, comment.line - last >= 2))
            last = comment.line
        blank = statement.first - last >= 2
        head = statement.clauses[0]
        moved, _ = head.split_comments()
        for index, comment in enumerate(moved):
            entries.append((comment, blank if index == 0 else False))
        if moved:
            blank = False
        entries.append((None, blank))
        for index, (entry, blank_before) in enumerate(entries):
            if index == 0 and previous is not None:
                grouped = previous.group is not None and previous.group == statement.group
                blank_before = blank_before if grouped else True
            if blank_before and out:
                out.append("")
            if entry is not None:
                out.append(entry.text)
        out.extend(head.render(with_leading=False))
        for clause in statement.clauses[1:]:
            out.extend(clause.render())
        previous = statement
    last = previous.last if previous else 0
    for comment in tail:
        if comment.line - last >= 2 and out:
            out.append("")
        out.append(comment.text)
        last = comment.line
    return out


# ---- the entry point ------------------------------------------------------------------------


def format_source(text: str, name: str = "<policy>") -> str:
    """The canonical text of one policy file. Raises :class:`PolicySyntaxError` when ``text`` does
    not parse (and :class:`FormatError` if the result would not mean the same: a bug)."""
    text = text.replace("\r\n", "\n")
    policy = parse_source(Source(name, text))
    tree = lark_parser().parse(text)
    if len(tree.children) != len(policy.items):  # pragma: no cover - parser and grammar disagree
        raise FormatError(f"{name}: the parse tree does not match the syntax tree")
    statements = [
        _statement(item, node) for item, node in zip(policy.items, tree.children, strict=True)
    ]
    comments = scan_comments(text)
    tail = _attach(comments, statements)
    lines = _render(statements, tail)
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
