"""The one HTML document every page is: the navigation, a heading and an empty main area that the
page's script fills from the JSON endpoints. Every address is relative to the workbench's root
(``<base href>``), so the same pages work at ``/`` (``policy-engine workbench``) and at ``/ui/``
(``policy-engine serve``)."""

from __future__ import annotations

from html import escape

from .._version import __version__

PAGES: dict[str, str] = {
    "policy": "Policy",
    "matrix": "Matrix",
    "playground": "Playground",
    "vocabulary": "Vocabulary",
    "propose": "Propose a change",
    "register": "Register",
}
"""The pages of every workbench: address → title."""

SERVICE_PAGES: dict[str, str] = {
    "log": "Decision log",
    "subjects": "Consents and disclosures",
}
"""The pages of the decision service only (they read the log and the ledger: a read token)."""

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)
"""Nothing but this server: no script, style, font or request goes to any other host."""


def pages(service: bool) -> dict[str, str]:
    return {**PAGES, **SERVICE_PAGES} if service else dict(PAGES)


def render_shell(page: str, root: str, name: str, service: bool) -> str:
    """The document of ``page``; ``root`` is the workbench's address, ending in ``/``."""
    shown = pages(service)
    title = shown[page]
    current = ' aria-current="page"'
    links = "".join(
        f'<li><a href="{key}"{current if key == page else ""}>{escape(label)}</a></li>'
        for key, label in shown.items()
    )
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)} · {escape(name)} · policy-engine workbench</title>
<base href="{escape(root)}">
<link rel="stylesheet" href="static/workbench.css?v={__version__}">
<link rel="icon" href="static/icon.svg" type="image/svg+xml">
<script type="module" src="static/js/main.js?v={__version__}"></script>
</head>
<body data-page="{escape(page)}" data-service="{"1" if service else ""}">
<a class="skip" href="{escape(page)}#main">Skip to the content</a>
<header class="top">
<p class="brand"><span>policy-engine</span> workbench</p>
<nav aria-label="Pages"><ul>{links}</ul></nav>
<p class="policy-name" id="policy-name">{escape(name)}</p>
</header>
<main id="main" tabindex="-1">
<h1>{escape(title)}</h1>
<div id="banner" role="status"></div>
<div id="app"><p class="loading">Loading…</p></div>
</main>
</body>
</html>
"""


def render_not_found(root: str, path: str) -> str:
    return f"""<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Not found · policy-engine workbench</title>
<base href="{escape(root)}"><link rel="stylesheet" href="static/workbench.css"></head>
<body><main id="main"><h1>Not found</h1>
<p>There is no page <code>{escape(path)}</code> here. <a href="policy">Go to the policy</a>.</p>
</main></body>
</html>
"""
