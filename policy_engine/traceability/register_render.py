"""The register as JSON, CSV (one row per activity), Markdown and a self-contained HTML page."""

from __future__ import annotations

import csv
import html
import io
import re
from collections.abc import Callable

from .register import Activity, Categories, PartyUses, Register

CSV_COLUMNS = (
    "purpose",
    "description",
    "parties",
    "categories",
    "grounds",
    "recipients_outside",
    "obligations",
    "rules",
    "citations",
)

INTRO = (
    "Generated from the rules, through the same analysis as `policy-engine matrix`: each "
    "activity is a purpose some party may use personal information for, always or under the "
    "conditions shown (a test on a context key the request leaves out does not hold)."
)


def data_words(categories: Categories) -> str:
    """Whole subtrees by their highest term, then the categories named alone."""
    whole, alone = set(categories.highest), set(categories.only)
    return ", ".join(
        f"{t} (and below)" if t in whole else t for t in categories.data if t in whole | alone
    )


def party_words(party: PartyUses) -> str:
    uses = "; ".join(f"{data_words(u.categories)}: {u.when}" for u in party.uses)
    return f"{party.party} — {uses}"


def grounds_words(activity: Activity) -> list[str]:
    out = []
    for ground in activity.grounds:
        cited = f"{', '.join(ground.citations)} " if ground.citations else ""
        out.append(f"{cited}{ground.ground} — {', '.join(ground.rules)}")
    return out


def obligation_lines(activity: Activity) -> list[str]:
    out = []
    for o in activity.obligations:
        about = f" ({o.description})" if o.description else ""
        by = f" — {', '.join(o.rules)}" if o.rules else ""  # an override's: named in `when`
        out.append(f"{o.when}{about}{by}")
    return out


def _fields(activity: Activity) -> dict[str, list[str]]:
    """Each field of an activity as lines of words (what every format shows)."""
    return {
        "Parties": [party_words(p) for p in activity.parties],
        "Categories": [data_words(activity.categories)],
        "Legal grounds": grounds_words(activity),
        "Recipients outside the organisation": activity.recipients_outside or ["none"],
        "Communications outside the home jurisdiction, and obligations": obligation_lines(activity)
        or ["no obligation attached"],
        "Citations": [", ".join(activity.citations)],
    }


def _title(activity: Activity) -> str:
    about = f": {activity.description}" if activity.description else ""
    return f"{activity.purpose}{about}"


# ---- formats -------------------------------------------------------------------------------------


def render_json(register: Register) -> str:
    return register.model_dump_json(indent=2)


def render_csv(register: Register) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for a in register.activities:
        writer.writerow(
            [
                a.purpose,
                a.description or "",
                "; ".join(party_words(p) for p in a.parties),
                "; ".join(a.categories.data),
                "; ".join(grounds_words(a)),
                "; ".join(a.recipients_outside),
                "; ".join(obligation_lines(a)),
                "; ".join(a.rules),
                "; ".join(a.citations),
            ]
        )
    return buffer.getvalue()


def render_markdown(register: Register) -> str:
    out = [
        f"## Register of processing activities: {register.policy}",
        "",
        f"Organisation: `{register.organisation or 'none declared'}`. "
        f"Policy version `{register.version[:12]}`. " + INTRO,
    ]
    for activity in register.activities:
        out += ["", f"### {_title(activity)}", ""]
        for field, lines in _fields(activity).items():
            if len(lines) == 1:
                out.append(f"- **{field}**: {lines[0]}")
            else:
                out.append(f"- **{field}**:")
                out += [f"  - {line}" for line in lines]
    if register.never_allowed:
        out += ["", "Never allowed for any party: " + ", ".join(register.never_allowed) + "."]
    return "\n".join(out)


_STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5em; max-width: 70em; color: #1b1b1b; }
section { border-top: 1px solid #c8c8c8; padding-top: 0.5em; }
dt { font-weight: bold; margin-top: 0.4em; }
code { background: #f3f3f3; padding: 0 0.2em; }
"""

_CODE = re.compile(r"`([^`]*)`")


def _html(text: str) -> str:
    return _CODE.sub(r"<code>\1</code>", html.escape(text))


def render_html(register: Register) -> str:
    title = html.escape(f"Register of processing activities: {register.policy}")
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{title}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{title}</h1>",
        f"<p>Organisation: <code>{html.escape(register.organisation or 'none declared')}</code>. "
        "Policy version "
        f"<code>{html.escape(register.version[:12])}</code>. {_html(INTRO)}</p>",
    ]
    for activity in register.activities:
        out.append(f"<section><h2>{_html(_title(activity))}</h2><dl>")
        for field, lines in _fields(activity).items():
            items = "".join(f"<li>{_html(line)}</li>" for line in lines)
            out.append(f"<dt>{html.escape(field)}</dt><dd><ul>{items}</ul></dd>")
        out.append("</dl></section>")
    if register.never_allowed:
        never = ", ".join(html.escape(p) for p in register.never_allowed)
        out.append(f"<p>Never allowed for any party: {never}.</p>")
    out += ["</body></html>", ""]
    return "\n".join(out)


RENDERERS: dict[str, Callable[[Register], str]] = {
    "markdown": render_markdown,
    "json": render_json,
    "html": render_html,
    "csv": render_csv,
}
