"""The workbench screenshots of docs/workbench.md and the README, taken again with
``.venv/bin/python docs/img/screenshots.py`` (Playwright and Debian's chromium, as the browser
tests use them)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import sync_playwright

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
GUARDED = (
    "  allow customer_service to use contact_information for respond_to_requests\n"
    "  when purpose in consented_purposes\n"
)
SHOTS = {
    "workbench-policy.jpg": "policy?q=cloud_providers",
    "workbench-matrix.jpg": "matrix?open_party=planiso,staff,partners"
    "&open_data=personal_information&cell=cloud_providers|0|personal_identifiers|1",
    "workbench-playground.jpg": "playground?party=cloud_providers&data=email&purpose=data_hosting"
    "&context=%7B%22destination%22%3A%22US%22%7D",
    "workbench-vocabulary.jpg": "vocabulary?kind=data&term=email",
    "workbench-register.jpg": "register",
    "workbench-propose.jpg": "propose",
}


def main() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/"
    command = [sys.executable, "-m", "policy_engine", "workbench", "rules/planiso"]
    server = subprocess.Popen([*command, "--port", str(port)], cwd=ROOT)
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(url + "api/summary", timeout=2).close()
                break
            except OSError:
                time.sleep(0.1)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium")
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            for name, address in SHOTS.items():
                page.goto(url + address)
                page.wait_for_selector("body[data-ready]", state="attached")
                if address == "propose":
                    page.wait_for_function("() => document.body.dataset.checked")
                    area = page.locator('textarea[aria-label$="access.policy"]')
                    area.fill(area.input_value().replace(GUARDED, GUARDED.split("\n")[0] + "\n"))
                    page.wait_for_function("() => Number(document.body.dataset.checked) > 1")
                page.screenshot(path=str(HERE / name), type="jpeg", quality=72)
            browser.close()
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
