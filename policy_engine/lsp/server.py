"""The language server (``policy-engine lsp``): pygls over standard input and output.

Opening or changing a rule file checks its policy (:mod:`.folders`, :mod:`.checking`) a moment
after the typing stops, in a worker thread; one check runs per policy at a time, and a change
made while it runs is checked as soon as it ends (its results, stale, are not shown). The
requests (hover, definition, completion, formatting, symbols) are answered from each file's own
syntax tree (:mod:`.index`), so they work in a file that does not parse; the names of the
packages the policy uses, from what its last check read of them (:mod:`.packages`). A request
that fails is logged and answered with the protocol's error (pygls does that); the server goes
on.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from lsprotocol import types as lsp
from pygls.exceptions import JsonRpcException
from pygls.lsp.server import LanguageServer
from pygls.protocol import JsonRPCNotification, LanguageServerProtocol
from pygls.workspace import TextDocument

from .._version import __version__
from ..analysis.budget import Budget
from ..engine.policy import Policy
from ..language.document_files import read_documents
from ..language.documents import Document
from ..language.errors import PolicyError
from . import features
from .checking import Checked, by_file, check_in_thread, packages_of
from .completion import completions
from .convert import position, server_column, text_lines
from .folders import Snapshot, policy_key, take_snapshot
from .hover import hover_text
from .index import Index, Parses
from .packages import Packages
from .tokens import Token, token_at

DELAY = 0.25
"""Seconds after the last change before a policy is checked."""


UNREADABLE = "$/policy-engine/unreadable"
"""What a request that could not be read becomes, once answered: a notification ignored."""


class Protocol(LanguageServerProtocol):
    """pygls's protocol, except that a request whose parameters cannot be read is answered with
    the protocol's error (pygls logs it and answers nothing: the editor would wait forever)."""

    def structure_message(self, data: dict[str, Any]) -> Any:
        try:
            return super().structure_message(data)
        except JsonRpcException as exc:
            if "id" not in data or "method" not in data:
                raise
            self._send_response(data["id"], None, exc.to_response_error())
            return JsonRPCNotification(method=UNREADABLE, jsonrpc="2.0", params=None)


@dataclass(frozen=True)
class Here:
    """A request's document, its policy as the editor has it, and what that policy declares."""

    document: TextDocument
    snapshot: Snapshot
    index: Index
    lines: tuple[str, ...]

    def token(self, where: lsp.Position, server: PolicyServer) -> Token | None:
        if where.line >= len(self.lines):
            return None
        column = server_column(self.lines, where, server.workspace.position_codec)
        return token_at(self.lines[where.line], where.line, column)


class PolicyServer(LanguageServer):
    """The server: the checks it schedules and what it answers."""

    def __init__(self, budget: Budget, delay: float = DELAY) -> None:
        super().__init__("policy-engine", __version__, protocol_cls=Protocol)
        self.budget = budget
        self.delay = delay
        self.parses = Parses()
        self.loaded: dict[str, Policy] = {}
        """Each policy's last version that loaded (its source documents answer hovers)."""
        self.packages: dict[str, Packages] = {}
        """What each policy's last check read of its packages."""
        self.tasks: dict[str, asyncio.Task[None]] = {}
        self.dirty: dict[str, str] = {}
        """Policies changed since their check started → the document changed last."""
        self.published: dict[str, set[str]] = {}
        _register(self)

    # ---- diagnostics -------------------------------------------------------------------------

    def open_texts(self) -> dict[str, str]:
        return {d.uri: d.source for d in self.workspace.text_documents.values()}

    def opened(self, uri: str) -> TextDocument | None:
        found: TextDocument | None = self.workspace.text_documents.get(unquote(uri))
        return found

    def schedule(self, uri: str) -> None:
        """Check the policy of ``uri`` soon (see the module's docstring)."""
        key = policy_key(uri)
        self.dirty[key] = uri
        if key not in self.tasks:
            self.tasks[key] = asyncio.get_running_loop().create_task(self._checks(key))

    async def _checks(self, key: str) -> None:
        try:
            while key in self.dirty:
                await asyncio.sleep(self.delay)
                uri = self.dirty.pop(key)
                texts = self.open_texts()
                checked = await check_in_thread(uri, texts, self.budget, self.parses.parse)
                if key not in self.dirty:
                    self.publish(checked, uri)
        finally:
            del self.tasks[key]

    def publish(self, checked: Checked, asked: str) -> None:
        key = checked.snapshot.key
        if checked.snapshot.lone and self.opened(asked) is None:
            return  # closed while it was checked: nothing of it remains
        if checked.policy is not None:
            self.loaded[key] = checked.policy
        self.packages[key] = checked.packages
        found = by_file(checked, asked, self.workspace.position_codec)
        for uri in self.published.get(key, set()) - set(found):
            found[uri] = []  # a file that left the policy: clear what it showed
        self.published[key] = set(found)
        for uri, diagnostics in found.items():
            params = lsp.PublishDiagnosticsParams(uri=uri, diagnostics=diagnostics)
            self.text_document_publish_diagnostics(params)

    def closed(self, uri: str) -> None:
        if policy_key(uri) == uri:  # not a file: nothing of it remains
            self.dirty.pop(uri, None)
            self.published.pop(uri, None)
            params = lsp.PublishDiagnosticsParams(uri=uri, diagnostics=[])
            self.text_document_publish_diagnostics(params)
        else:
            self.schedule(uri)

    # ---- requests ----------------------------------------------------------------------------

    def here(self, uri: str) -> Here | None:
        document = self.opened(uri)
        if document is None:
            return None
        snapshot = take_snapshot(document.uri, self.open_texts())
        packages = self.packages.get(snapshot.key)
        if packages is None:  # not checked yet: read now, once
            packages = self.packages[snapshot.key] = packages_of(snapshot, self.parses.parse)
        index = self.parses.index(snapshot.sources, packages)
        return Here(document, snapshot, index, text_lines(document.source))

    def documents(self, here: Here) -> Sequence[Document]:
        """The policy's source documents (as its last check read them, else read now), and
        its packages' (named as the checker names them: ``law25.p39_1``)."""
        loaded = self.loaded.get(here.snapshot.key)
        own: Sequence[Document]
        if loaded is not None:
            own = [d for d in loaded.documents if not d.namespace]
        else:
            try:
                own = read_documents(here.index.files, {} if here.snapshot.lone else None)
            except PolicyError:
                own = []
        return [*own, *here.index.packages.documents()]

    def token_range(self, here: Here, token: Token) -> lsp.Range:
        codec = self.workspace.position_codec
        return lsp.Range(
            start=position(here.lines, token.line, token.start, codec),
            end=position(here.lines, token.line, token.end, codec),
        )

    def hover(self, params: lsp.HoverParams) -> lsp.Hover | None:
        here = self.here(params.text_document.uri)
        token = here.token(params.position, self) if here is not None else None
        if here is None or token is None:
            return None
        text = hover_text(token, here.index, self.documents(here), here.lines)
        if text is None:
            return None
        content = lsp.MarkupContent(kind=lsp.MarkupKind.Markdown, value=text)
        return lsp.Hover(contents=content, range=self.token_range(here, token))

    def definition(self, params: lsp.DefinitionParams) -> list[lsp.Location] | None:
        here = self.here(params.text_document.uri)
        token = here.token(params.position, self) if here is not None else None
        if here is None or token is None:
            return None
        codec = self.workspace.position_codec
        found = features.definitions(
            token, here.index, self.documents(here), here.snapshot.uri_of, codec, here.lines
        )
        return found or None

    def completion(self, params: lsp.CompletionParams) -> lsp.CompletionList | None:
        here = self.here(params.text_document.uri)
        if here is None or params.position.line >= len(here.lines):
            return None
        codec = self.workspace.position_codec
        column = server_column(here.lines, params.position, codec)
        asked = params.context
        typed = asked.trigger_character if asked is not None else None
        items = completions(here.index, here.lines, params.position.line, column, codec, typed)
        return lsp.CompletionList(is_incomplete=False, items=items)

    def formatting(self, params: lsp.DocumentFormattingParams) -> list[lsp.TextEdit] | None:
        document = self.opened(params.text_document.uri)
        if document is None:
            return None
        name = document.path or document.uri
        return features.formatting(document.source, name, self.workspace.position_codec)

    def symbols(self, params: lsp.DocumentSymbolParams) -> list[lsp.DocumentSymbol] | None:
        here = self.here(params.text_document.uri)
        if here is None:
            return None
        source = next(
            (
                s
                for s in here.snapshot.sources
                if here.snapshot.uris.get(s.name) == here.document.uri
            ),
            None,
        )
        tree = self.parses.parse(source) if source is not None else None
        return features.document_symbols(tree, self.workspace.position_codec)


def _register(server: PolicyServer) -> None:
    """The protocol's methods the server answers."""

    @server.feature(lsp.TEXT_DOCUMENT_DID_OPEN)
    def did_open(params: lsp.DidOpenTextDocumentParams) -> None:
        server.schedule(params.text_document.uri)

    @server.feature(lsp.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(params: lsp.DidChangeTextDocumentParams) -> None:
        server.schedule(params.text_document.uri)

    @server.feature(lsp.TEXT_DOCUMENT_DID_SAVE)
    def did_save(params: lsp.DidSaveTextDocumentParams) -> None:
        server.schedule(params.text_document.uri)

    @server.feature(lsp.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(params: lsp.DidCloseTextDocumentParams) -> None:
        server.closed(params.text_document.uri)

    @server.feature(UNREADABLE)
    def unreadable(params: object) -> None:
        """Nothing: the request was answered when it was read."""

    @server.feature(lsp.TEXT_DOCUMENT_HOVER)
    def hover(params: lsp.HoverParams) -> lsp.Hover | None:
        return server.hover(params)

    @server.feature(lsp.TEXT_DOCUMENT_DEFINITION)
    def definition(params: lsp.DefinitionParams) -> list[lsp.Location] | None:
        return server.definition(params)

    @server.feature(
        lsp.TEXT_DOCUMENT_COMPLETION, lsp.CompletionOptions(trigger_characters=[".", "("])
    )
    def completion(params: lsp.CompletionParams) -> lsp.CompletionList | None:
        return server.completion(params)

    @server.feature(lsp.TEXT_DOCUMENT_FORMATTING)
    def formatting(params: lsp.DocumentFormattingParams) -> list[lsp.TextEdit] | None:
        return server.formatting(params)

    @server.feature(lsp.TEXT_DOCUMENT_DOCUMENT_SYMBOL)
    def symbols(params: lsp.DocumentSymbolParams) -> list[lsp.DocumentSymbol] | None:
        return server.symbols(params)


def serve(budget: Budget | None = None) -> None:
    """Answer the editor over standard input and output until it says exit. The cache of
    compiled policies is off unless ``POLICY_ENGINE_CACHE`` says otherwise: every version typed
    would leave an image of its own there."""
    os.environ.setdefault("POLICY_ENGINE_CACHE", "off")
    PolicyServer(budget or Budget.from_environment()).start_io()
