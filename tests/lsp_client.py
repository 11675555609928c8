"""A small Language Server Protocol client for the tests: starts a server as a subprocess and
speaks JSON-RPC over its standard input and output (``Content-Length`` framed messages), as an
editor does."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

TIMEOUT = 15.0


class LspClient:
    def __init__(self, cwd: Path, command: Sequence[str] | None = None) -> None:
        self.log = cwd / "lsp-server.log"
        args = list(command or [sys.executable, "-m", "policy_engine", "lsp"])
        self.process = subprocess.Popen(
            args,
            cwd=cwd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log.open("wb"),
        )
        self.messages: list[dict[str, Any]] = []
        self.changed = threading.Condition()
        self.next_id = 0
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    # ---- the wire ----------------------------------------------------------------------------

    def _read(self) -> None:
        out = self.process.stdout
        assert out is not None
        while True:
            headers: dict[str, str] = {}
            while (line := out.readline()) not in (b"\r\n", b""):
                name, _, value = line.decode("ascii").partition(":")
                headers[name.strip().lower()] = value.strip()
            if not line:  # the server is gone
                with self.changed:
                    self.changed.notify_all()
                return
            body = out.read(int(headers["content-length"]))
            with self.changed:
                self.messages.append(json.loads(body))
                self.changed.notify_all()

    def send(self, message: dict[str, Any]) -> None:
        body = json.dumps({"jsonrpc": "2.0", **message}).encode()
        stdin = self.process.stdin
        assert stdin is not None
        stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        stdin.flush()

    def wait_for(
        self, found: Callable[[dict[str, Any]], bool], timeout: float = TIMEOUT
    ) -> dict[str, Any]:
        """The first message received (now or later) that ``found`` accepts; it is consumed."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while True:
                for message in self.messages:
                    if found(message):
                        self.messages.remove(message)
                        return message
                left = deadline - time.monotonic()
                if left <= 0 or self.process.poll() is not None:
                    raise AssertionError(
                        f"no such message within {timeout} s; server log:\n{self.server_log()}"
                    )
                self.changed.wait(left)

    def server_log(self) -> str:
        return self.log.read_text("utf-8", errors="replace")

    # ---- requests and notifications ----------------------------------------------------------

    def call(self, method: str, params: Any) -> dict[str, Any]:
        """The whole response (``result`` or ``error``) to one request."""
        self.next_id += 1
        asked = self.next_id
        self.send({"id": asked, "method": method, "params": params})
        return self.wait_for(lambda m: m.get("id") == asked and "method" not in m)

    def request(self, method: str, params: Any) -> Any:
        response = self.call(method, params)
        assert "error" not in response, response
        return response["result"]

    def notify(self, method: str, params: Any) -> None:
        self.send({"method": method, "params": params})

    def initialize(self, root: Path) -> dict[str, Any]:
        result = self.request(
            "initialize",
            {
                "processId": None,
                "rootUri": root.as_uri(),
                "capabilities": {
                    "textDocument": {"hover": {"contentFormat": ["markdown", "plaintext"]}}
                },
            },
        )
        self.notify("initialized", {})
        return dict(result)

    def diagnostics(
        self, uri: str, found: Callable[[list[dict[str, Any]]], bool] = lambda d: True
    ) -> list[dict[str, Any]]:
        """The next diagnostics published for ``uri`` that ``found`` accepts."""
        message = self.wait_for(
            lambda m: (
                m.get("method") == "textDocument/publishDiagnostics"
                and m["params"]["uri"] == uri
                and found(m["params"]["diagnostics"])
            )
        )
        return list(message["params"]["diagnostics"])

    def open(self, uri: str, text: str) -> None:
        item = {"uri": uri, "languageId": "policy", "version": 1, "text": text}
        self.notify("textDocument/didOpen", {"textDocument": item})

    def change(self, uri: str, version: int, text: str) -> None:
        self.notify(
            "textDocument/didChange",
            {"textDocument": {"uri": uri, "version": version}, "contentChanges": [{"text": text}]},
        )

    def at(self, uri: str, line: int, character: int) -> dict[str, Any]:
        return {"textDocument": {"uri": uri}, "position": {"line": line, "character": character}}

    def stop(self) -> int:
        """Shut the server down as an editor does; its exit code."""
        if self.process.poll() is None:
            self.request("shutdown", None)
            self.notify("exit", None)
        try:
            return self.process.wait(timeout=TIMEOUT)
        finally:
            self.reader.join(timeout=TIMEOUT)
            for stream in (self.process.stdin, self.process.stdout):
                if stream is not None:
                    stream.close()

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
