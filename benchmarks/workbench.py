"""How fast the workbench's pages are, in a real browser: prints figures, never a pass/fail.

- every page of PLANISO, from navigation until the page has drawn what it shows
  (``body[data-ready]``; the Propose page until its first check is shown): the first load after
  the server started, and the median of the loads after it;
- an edit in the Propose page's editor (PLANISO): from the change (the editor's input event) to
  the diagnostics, tests and diff shown, the page's 150 ms pause for typing included, and the
  server's own time;
- the Matrix page of the 1,000-rule generated policy (``generate.py``): the first load after the
  server started (the matrix is computed then), a later load, and every line opened.

Needs the test extra (Playwright) and Chromium (``apt-get install chromium``)::

    .venv/bin/python benchmarks/workbench.py [--chromium /usr/bin/chromium] [--rounds 5]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
PLANISO = HERE.parent / "rules" / "planiso"
PAGES = [
    "policy",
    "matrix",
    "playground?party=marketing_department&data=email&purpose=marketing_communication"
    "&context=%7B%22consented_purposes%22%3A%5B%22marketing%22%5D%7D",
    "vocabulary",
    "register",
    "propose",
]
GUARDED = (
    "  allow customer_service to use contact_information for respond_to_requests\n"
    "  when purpose in consented_purposes\n"
)
EDITS: list[Callable[[str], str]] = [
    lambda t: t.replace(GUARDED, GUARDED.split("\n")[0] + "\n"),  # widens
    lambda t: t.replace("for respond_to_requests\n", "for respond_to_requests, marketing\n", 1),
    lambda t: t.replace("rule it_technical_support", "rule it_technical_support allow"),  # error
    lambda t: t + "\nrule no_rnd deny rnd_partners from using any data for any purpose\n",
    lambda t: t,  # back to the loaded text
]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def workbench(path: Path) -> Iterator[str]:
    port = _free_port()
    url = f"http://127.0.0.1:{port}/"
    process = subprocess.Popen(
        [sys.executable, "-m", "policy_engine", "workbench", str(path), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(url + "api/summary", timeout=5):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"the workbench for {path} did not start") from None
                time.sleep(0.05)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


def load(page: Any, url: str) -> float:
    start = time.perf_counter()
    page.goto(url)
    page.wait_for_selector("body[data-ready]", state="attached", timeout=120_000)
    if "/propose" in url:
        page.wait_for_function("() => document.body.dataset.checked", timeout=120_000)
    return time.perf_counter() - start


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f} ms"


def planiso_pages(browser: Any, rounds: int) -> None:
    print("PLANISO: every page, navigation to drawn")
    print(f"  {'page':<12} {'first load':>12} {'median after':>14}")
    with workbench(PLANISO) as url:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        for address in PAGES:
            first = load(page, url + address)
            later = statistics.median(load(page, url + address) for _ in range(rounds))
            print(f"  {address.split('?')[0]:<12} {_ms(first):>12} {_ms(later):>14}")
        edits(page, url)
        page.close()


EDIT_AND_WAIT = """([text]) => new Promise((resolve) => {
  const area = document.querySelector('textarea[aria-label$="access.policy"]');
  const before = document.body.dataset.checked;
  const start = performance.now();
  const watch = new MutationObserver(() => {
    if (document.body.dataset.checked !== before) {
      watch.disconnect();
      resolve(performance.now() - start);
    }
  });
  watch.observe(document.body, { attributes: true });
  area.value = text;
  area.dispatchEvent(new InputEvent("input", { inputType: "insertText", data: "x" }));
})"""


def edits(page: Any, url: str) -> None:
    load(page, url + "propose")
    text = page.locator('textarea[aria-label$="access.policy"]').input_value()
    server: list[float] = []
    page.on(
        "response",
        lambda r: server.append(r.json().get("seconds", 0.0)) if "api/propose" in r.url else None,
    )
    print("PLANISO: an edit in the editor, from the change to diagnostics + tests + diff shown")
    print(f"  {'edit':<4} {'shown after':>12} {'server':>10}")
    for number, edit in enumerate(EDITS, 1):
        shown = page.evaluate(EDIT_AND_WAIT, [edit(text)]) / 1000
        page.wait_for_timeout(100)
        print(f"  {number:<4} {_ms(shown):>12} {_ms(server[-1]) if server else '?':>10}")
    print("  (shown after: includes the page's 150 ms pause for typing before it asks)")


def generated_matrix(browser: Any, rounds: int) -> None:
    sys.path.insert(0, str(HERE))
    from generate import generate

    with tempfile.TemporaryDirectory() as folder:
        target = Path(folder) / "synthetic.policy"
        target.write_text(generate(1000).policy_text(), encoding="utf-8")
        print("1,000-rule generated policy: the Matrix page")
        with workbench(Path(folder)) as url:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            print(f"  first load after start  {_ms(load(page, url + 'matrix')):>10}")
            later = statistics.median(load(page, url + "matrix") for _ in range(rounds))
            print(f"  median load after       {_ms(later):>10}")
            start = time.perf_counter()
            page.click("text=Open every line")
            page.wait_for_function(
                "() => document.querySelectorAll('table.matrix tbody tr').length > 100",
                timeout=120_000,
            )
            rows = page.locator("table.matrix tbody tr").count()
            print(f"  every line opened ({rows} rows)  {_ms(time.perf_counter() - start):>10}")
            page.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--chromium", default=os.environ.get("POLICY_ENGINE_CHROMIUM", "/usr/bin/chromium")
    )
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=args.chromium)
        planiso_pages(browser, args.rounds)
        generated_matrix(browser, args.rounds)
        browser.close()


if __name__ == "__main__":
    main()
