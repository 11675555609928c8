"""What the browser tests share: a ``policy-engine`` server started on a free port of 127.0.0.1
and stopped afterwards, and a browser tab that records every request it makes (all must go to
that server) and every uncaught script error (there must be none)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import urlparse

import pytest


def unavailable(reason: str) -> NoReturn:
    """Skip, or fail when ``POLICY_ENGINE_REQUIRE_BROWSER=1`` says the browser must be there."""
    if os.environ.get("POLICY_ENGINE_REQUIRE_BROWSER") == "1":
        pytest.fail(f"POLICY_ENGINE_REQUIRE_BROWSER=1 but {reason}")
    pytest.skip(reason)


CHROMIUM = os.environ.get("POLICY_ENGINE_CHROMIUM", "/usr/bin/chromium")


@contextmanager
def chromium() -> Iterator[Any]:
    """Debian's Chromium driven by Playwright (skipped, or failed, when either is missing)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("Playwright is not installed (pip install '.[test]')")
    if not Path(CHROMIUM).is_file():
        unavailable(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM)
        try:
            yield launched
        finally:
            launched.close()


def axe_runner() -> Any:
    """axe-core, run from Python on a page (skipped, or failed, when it is not installed)."""
    try:
        from axe_playwright_python.sync_playwright import Axe
    except ImportError:
        unavailable("axe-playwright-python is not installed (pip install '.[test]')")
    return Axe()


def no_serious_violations(axe: Any, tab: TabWatch) -> None:
    """axe-core finds no serious or critical accessibility violation on the tab's page."""
    found = axe.run(tab.page).response["violations"]
    serious = [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes'][:3]]}"
        for v in found
        if v["impact"] in ("serious", "critical")
    ]
    assert serious == [], f"{tab.page.url}:\n" + "\n".join(serious)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Served:
    base: str
    """``http://127.0.0.1:PORT/``"""
    root: str
    """Where the pages are: ``base``, or ``base`` + ``ui/`` on the decision service."""

    @property
    def host(self) -> str:
        return urlparse(self.base).netloc

    def cli(self, *args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "policy_engine", *args],
            capture_output=True,
            text=True,
            timeout=120,
        )
        return done.stdout

    def call(self, method: str, path: str, token: str | None, body: object) -> Any:
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        request = urllib.request.Request(
            self.base + path, json.dumps(body).encode(), headers, method=method
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())


@contextmanager
def serve(
    args: list[str], workdir: Path, env: Mapping[str, str] | None = None, root: str = ""
) -> Iterator[Served]:
    """``policy-engine ARGS --port PORT`` until the block ends; ready when its pages answer."""
    port = free_port()
    served = Served(f"http://127.0.0.1:{port}/", f"http://127.0.0.1:{port}/{root}")
    log = workdir / f"server-{port}.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "policy_engine", *args, "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise AssertionError(f"the server exited {process.returncode}:\n{log.read_text()}")
            try:
                with urllib.request.urlopen(served.root + "api/summary", timeout=5):
                    break
            except (OSError, urllib.error.URLError):
                if time.monotonic() > deadline:
                    raise AssertionError(f"the server is not ready:\n{log.read_text()}") from None
                time.sleep(0.2)
        yield served
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass
class TabWatch:
    served: Served
    page: Any
    hosts: set[str] = field(default_factory=set)
    errors: list[str] = field(default_factory=list)

    @classmethod
    @contextmanager
    def open(cls, browser: Any, served: Served) -> Iterator[TabWatch]:
        context = browser.new_context(
            viewport={"width": 1400, "height": 1000}, accept_downloads=True
        )
        try:
            watch = cls(served, context.new_page())
            watch.page.on("request", lambda r: watch.hosts.add(urlparse(r.url).netloc))
            watch.page.on("pageerror", lambda e: watch.errors.append(str(e)))
            yield watch
            assert watch.errors == [], watch.errors
            # blob: downloads have no host; everything else is this server.
            assert watch.hosts <= {served.host, ""}, watch.hosts
        finally:
            context.close()

    def go(self, address: str) -> Any:
        self.page.goto(self.served.root + address)
        self.page.wait_for_selector("body[data-ready]", state="attached", timeout=30_000)
        return self.page
