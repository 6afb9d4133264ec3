"""The page's pictures in docs/, retaken in Chromium at a laptop's size (1366x768, mouse) and a
phone's (390x844, touch):

    python -m tests.e2e.screenshots      # writes docs/screenshot.png, docs/screenshot-phone.png ...
"""

from __future__ import annotations

import threading
import time

import uvicorn
from playwright.sync_api import sync_playwright

from app.config import Settings
from app.main import create_app
from bench.servers import free_port
from tests.conftest import ROOT, WEIGHTS
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.e2e.pointer import stroke

DOCS = ROOT / "docs"
SEVEN = [(0.25, 0.2), (0.75, 0.2), (0.42, 0.86)]


def ready(page, touch: bool) -> None:
    page.wait_for_function("document.querySelectorAll('#samples .sample').length === 10")
    page.evaluate("window.cnnMetrics = []")
    stroke(page, SEVEN, touch=touch)
    page.wait_for_function("window.cnnMetrics.some(m => m.final)")
    page.wait_for_timeout(300)  # the bars' transition


def laptop(browser, url: str) -> None:
    page = browser.new_context(viewport={"width": 1366, "height": 768}, bypass_csp=True).new_page()  # waits evaluate JS
    page.goto(url)
    ready(page, False)
    page.screenshot(path=str(DOCS / "screenshot.png"))
    cell = page.locator("#maps-C1 canvas").nth(2)
    cell.click(position={"x": 30, "y": 25})
    page.wait_for_function("document.querySelector('#equation').dataset.kind === 'S1'")
    page.wait_for_timeout(200)
    page.screenshot(path=str(DOCS / "equations.png"))
    page.keyboard.press("Escape")
    page.locator("#samples .sample").nth(3).click()
    page.locator("#blame button").nth(8).click()
    page.wait_for_function("document.body.dataset.explained === 'true'")
    for step in (1, 2):
        page.click("#teach")
        page.wait_for_function(f"document.querySelector('#answering').textContent.includes('{step} lesson')")
    page.wait_for_timeout(300)
    page.locator("#stage-explain").screenshot(path=str(DOCS / "explorer.png"))
    page.click("#reset")
    page.locator("#clear").click()
    page.evaluate("window.cnnMetrics = []")
    stroke(page, SEVEN)
    page.wait_for_function("window.cnnMetrics.some(m => m.final)")
    page.locator("#blame button").nth(9).click()
    page.wait_for_function("document.body.dataset.explained === 'true'")
    page.click("#nudge")
    page.wait_for_function("document.querySelector('#nudged').dataset.reached !== undefined", timeout=15_000)
    grad = page.locator("#grad-dLk1 canvas").first
    grad.click(position={"x": 2, "y": 2})
    page.wait_for_function("document.querySelector('#pop-check').textContent.includes('relative error')")
    page.wait_for_timeout(200)
    page.screenshot(path=str(DOCS / "nudge-and-check.png"))
    page.keyboard.press("Escape")
    page.select_option("#train-recipe", "article")
    page.fill("#train-speed", page.get_attribute("#train-speed", "max"))
    page.click("#train-start")
    page.wait_for_function("Number(document.body.dataset.training) > 0.95", timeout=120_000)
    page.click("#train-start")
    page.click("#train-use")
    page.locator("#stage-train").scroll_into_view_if_needed()
    page.locator("#stage-train").screenshot(path=str(DOCS / "training.png"))
    page.context.close()


def phone(browser, url: str) -> None:
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, has_touch=True, is_mobile=True, device_scale_factor=2, bypass_csp=True
    )
    page = context.new_page()
    page.goto(url)
    ready(page, True)
    page.screenshot(path=str(DOCS / "screenshot-phone.png"))
    page.click("#share")
    link = page.input_value("#share-link")
    other = context.new_page()
    other.goto(link)
    other.wait_for_function("document.body.dataset.state === 'predicted'")
    other.wait_for_timeout(300)
    other.screenshot(path=str(DOCS / "share.png"))
    context.close()


def main() -> None:
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(Settings(weights=WEIGHTS)), host="127.0.0.1", port=port, log_level="warning")
    )
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        laptop(browser, f"http://127.0.0.1:{port}/")
        phone(browser, f"http://127.0.0.1:{port}/")
        browser.close()
    server.should_exit = True


if __name__ == "__main__":
    main()
