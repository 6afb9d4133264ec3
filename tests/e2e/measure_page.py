"""Where things are on the page, measured in Chromium at a phone's and a laptop's size (issue 26's
closing figures): the answer after a stroke, a click's result, share links' lengths, pen-up to answer.

    python -m tests.e2e.measure_page [--static DIR] [--out FILE]   # prints JSON

--static serves another copy of the page (e.g. `git archive 0c964ac static | tar -x -C /tmp/before`,
then --static /tmp/before/static), to compare before and after in one sitting.
"""

from __future__ import annotations

import argparse
import json
import statistics
import threading
import time
from pathlib import Path

import uvicorn
from playwright.sync_api import sync_playwright

from app.config import Settings
from app.main import create_app
from bench.servers import free_port
from tests.conftest import WEIGHTS
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.e2e.pointer import stroke

SEVEN = [(0.25, 0.2), (0.75, 0.2), (0.42, 0.86)]
SIZES = {
    "390x844 touch": ({"width": 390, "height": 844}, True),
    "1366x768 mouse": ({"width": 1366, "height": 768}, False),
}


def box(page, selector: str) -> dict:
    return page.evaluate(
        """s => { const r = document.querySelector(s).getBoundingClientRect();
                  return {top: Math.round(r.top), bottom: Math.round(r.bottom), left: Math.round(r.left),
                          right: Math.round(r.right),
                          in_view: r.top >= 0 && r.bottom <= innerHeight && r.height > 0}; }""",
        selector,
    )


def measure(browser, url: str, viewport: dict, touch: bool) -> dict:
    context = browser.new_context(viewport=viewport, has_touch=touch, is_mobile=touch, bypass_csp=True)
    page = context.new_page()
    page.goto(url)
    page.wait_for_function("document.querySelectorAll('#samples .sample').length === 10")
    latencies = []
    for _ in range(5):
        page.evaluate("window.cnnMetrics = []")
        if page.inner_text("#answer") != "?":
            page.click("#clear")
        stroke(page, SEVEN, touch=touch)
        page.wait_for_function("window.cnnMetrics.some(m => m.final)")
        latencies += [m["latency"] for m in page.evaluate("window.cnnMetrics") if m["final"]]
    answer = box(page, "#answer")
    confidence = box(page, "#confidence")
    cell = page.locator("#maps-C1 canvas").nth(2)
    cell.scroll_into_view_if_needed()
    cell.click(position={"x": 12, "y": 10})
    page.wait_for_function("document.querySelector('#equation').dataset.kind === 'S1'")
    time.sleep(0.3)
    clicked = box(page, "#maps-C1 canvas:nth-child(3)")
    result = box(page, "#equation")
    links = {}
    if not touch:
        page.click("#blame button:nth-child(5)")
        page.wait_for_function("document.body.dataset.explained === 'true'")
        page.click("#share")
        page.wait_for_function("document.querySelector('#share-link').value.includes('#s=')")
        links["no lessons"] = len(page.input_value("#share-link"))
        for step in (1, 2):
            page.click("#teach")
            page.wait_for_function(f"document.querySelector('#loss').textContent.includes('taught {step} step')")
        page.click("#share")
        page.wait_for_function(f"document.querySelector('#share-link').value.length !== {links['no lessons']}")
        links["2 lessons"] = len(page.input_value("#share-link"))
    context.close()
    return {
        "answer_after_stroke": answer,
        "confidence_after_stroke": confidence,
        "clicked_C1_cell": clicked,
        "its_equation": result,
        "pen_up_to_answer_ms": {"median": round(statistics.median(latencies), 1), "max": round(max(latencies), 1)},
        "share_link_chars": links,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--static", type=Path, default=None, help="serve this copy of static/")
    parser.add_argument("--out", type=Path, default=None, help="also write the JSON here")
    args = parser.parse_args()
    settings = Settings(weights=WEIGHTS, **({"static_dir": args.static} if args.static else {}))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="critical"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        report = {name: measure(browser, f"http://127.0.0.1:{port}/", vp, touch) for name, (vp, touch) in SIZES.items()}
        browser.close()
    server.should_exit = True
    text = json.dumps(report, indent=1)
    if args.out:
        args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
