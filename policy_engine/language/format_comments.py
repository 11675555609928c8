"""Comments and blank lines in formatted text. The grammar ignores ``#`` comments, so they are
scanned from the text (:func:`scan_comments`); the formatted statements and their clauses carry
the comments written in them (:func:`attach_comments`), and :func:`render_statements` writes them
out with the blank lines the layout keeps between statements."""

from __future__ import annotations

from dataclasses import dataclass, field

COMMENT_GAP = "  "
"""Between the end of a line and the comment that ends it."""


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


@dataclass
class Clause:
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
class Statement:
    """One statement as the lines of its clauses, with the source lines it was written on."""

    group: str | None
    """Statements of one group are not forced apart by a blank line (None: always apart)."""
    first: int
    last: int
    clauses: list[Clause]
    gap: list[Comment] = field(default_factory=list)
    """Own-line comments between the previous statement and this one."""


def attach_comments(comments: list[Comment], statements: list[Statement]) -> list[Comment]:
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


def render_statements(statements: list[Statement], tail: list[Comment]) -> list[str]:
    """The lines of the file: each statement with its comments, statements apart by one blank
    line (within a group only where the author left one), then the comments after the last."""
    out: list[str] = []
    previous: Statement | None = None
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
