"""The guided tour (issue 35) in Chromium at a phone's size (touch) and a laptop's: every step
visited on a drawing, each step's number equal to POST /equation's for its kind and cell, the
max-pool's winner and (56)'s k2 weights and dLS2 cells highlighted inside the viewport, the keys,
axe-core at every step, nothing moving while stepping; and the screenshots of docs/."""

from __future__ import annotations

import json

import httpx
import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from tests.conftest import ROOT
from tests.e2e.test_layout import SEVEN, SIZES, draw, moved, open_page

LABEL = 9  # the digit the drawing "should have been": every gradient is far from 0
STEP = "[data-tour-step]"
STILL = """el => new Promise((done) => { const top = el.getBoundingClientRect().top;
  requestAnimationFrame(() => requestAnimationFrame(() => done(el.getBoundingClientRect().top === top))); })"""
READY = "document.querySelector('[data-tour-step]')?.dataset.ready === 'true'"
VISIBLE = """el => { const r = el.getBoundingClientRect(); return r.width > 0 && r.height > 0
  && r.top >= 0 && r.left >= 0 && r.bottom <= innerHeight && r.right <= innerWidth; }"""


@pytest.fixture(params=list(SIZES))
def size(request) -> str:
    return request.param


def open_tour_page(browser, server_url, size: str):
    page = open_page(browser, server_url, size)
    page.wait_for_function("document.body.dataset.tourReady === 'true'")  # its module loads after the page
    return page


def step(page) -> dict:
    page.wait_for_function(READY, timeout=60_000)  # generous: a busy machine
    return page.eval_on_selector(STEP, "el => ({...el.dataset})")


def go_next(page, via_key: bool = False) -> dict:
    before = page.eval_on_selector(STEP, "el => el.dataset.step")
    if via_key:
        page.keyboard.press("ArrowRight")
    else:
        page.click('[data-tour="next"]')
    page.wait_for_function(f"document.querySelector('[data-tour-step]').dataset.step !== '{before}'")
    return step(page)


def asked(server_url: str, grid, s: dict) -> dict:
    body = {"image": grid, "label": int(s["label"]), "kind": s["kind"], "index": json.loads(s["index"])}
    if s["kind"] == "update":
        body |= {"parameter": s["parameter"], "lr": float(s["lr"])}
    r = httpx.post(server_url + "/equation", json=body, timeout=30)
    assert r.status_code == 200, r.text
    return r.json()


def highlighted(page) -> dict[str, bool]:
    """Every highlighted cell of the step -> whether it is inside the viewport."""
    cells = page.locator("[data-highlight]")
    return {cells.nth(i).get_attribute("data-highlight"): cells.nth(i).evaluate(VISIBLE) for i in range(cells.count())}


def cell_text(name: str, index: list[int]) -> str:
    return f"{name}[{', '.join(map(str, index))}]"


def test_the_tour_walks_every_step_with_the_servers_numbers(browser, server_url, size, artifacts):
    page = open_tour_page(browser, server_url, size)
    draw(page, [SEVEN], size == "phone")
    kinds = [k["name"] for k in httpx.get(server_url + "/model").json()["equations"]]
    start = page.locator('[data-tour="start"]:visible')
    if size == "phone":  # a finger taps a button that has stopped moving: the page scrolls it into view first
        start.evaluate("el => el.scrollIntoView({block: 'center'})")  # not at the bottom edge, where a tap may miss
        page.wait_for_function(STILL, arg=start.element_handle())
        start.tap()
        try:  # the emulated touch right after the pad's strokes is now and then taken as a second finger
            page.wait_for_selector(STEP, timeout=5_000)
        except PlaywrightTimeout:
            start.tap()
    else:
        start.click()
    s = step(page)
    assert s["step"] == "1" and s["steps"] == str(len(kinds) + 1) and s["kind"] == "architecture"
    grid = page.evaluate("window.cnnTourGrid")
    assert len(grid) == 28 and all(len(row) == 28 for row in grid)
    axe = Axe()
    page.evaluate("window.shifts = []")
    seen, clicks = ["architecture"], 1
    while s["step"] != s["steps"]:
        if page.locator(".tour-digits [data-label]").count():  # the loss: which digit should it have been?
            assert s["kind"] == "L" and page.is_disabled('[data-tour="next"]')
            page.click(f'.tour-digits [data-label="{LABEL}"]')
            clicks += 1
            page.wait_for_function("document.querySelector('[data-tour-step]').dataset.label === '9'")
            s = step(page)
        if s["kind"] != "architecture":
            answer = asked(server_url, grid, s)
            assert float(s["value"]) == pytest.approx(answer["value"], rel=1e-6, abs=1e-12), s
            assert s["equation"] == answer["equation"] and json.loads(s["index"]) == answer["index"]
        if s["kind"] == "dLC2":  # (43): the window's winner, in view
            winner = cell_text("C2", answer["winner"])
            assert page.get_attribute(f'[data-highlight="{winner}"]', "data-winner") == "true"
            assert highlighted(page)[winner], "the winner is out of view"
        if s["kind"] == "dLP1":  # (56): the k2 weights and the dLS2 cells that meet at the P1 cell
            shown, first = highlighted(page), answer["terms"][0]["factors"]
            assert {cell_text(f["name"], f["index"]) for f in first} <= set(shown), (first, shown)
            for f in first:
                assert shown[cell_text(f["name"], f["index"])], f"{f} is out of view"
            sums = {cell_text(f["name"], f["index"]) for t in answer["terms"] for f in t["factors"]}
            assert set(shown) <= sums
            page.screenshot(path=str(artifacts / f"tour-56-{size}.png"))
        results = axe.run(page)
        assert results.violations_count == 0, (s["kind"], results.generate_report())
        assert not moved(page), (s["kind"], moved(page))  # nothing moved while this step filled in
        s = go_next(page, via_key=s["kind"] in ("S", "dLf"))  # the arrow keys, now and then
        clicks += 1
        seen.append(s["kind"])
    assert seen == ["architecture", *kinds]
    answer = asked(server_url, grid, s)
    assert float(s["value"]) == pytest.approx(answer["value"], rel=1e-6)
    assert page.locator(".tour-update tbody tr").count() == 6
    assert not moved(page), moved(page)
    page.screenshot(path=str(artifacts / f"tour-66-{size}.png"))
    print(f"{size}: {s['steps']} steps, {clicks} clicks from a drawing to (66) by Next")
    assert not page.errors
    page.context.close()


def test_keys_prev_jump_pick_and_escape(browser, server_url):
    page = open_tour_page(browser, server_url, "laptop")
    draw(page, [SEVEN], False)
    page.click('[data-tour="start"]:visible')
    step(page)
    page.keyboard.press("ArrowRight")
    assert step(page)["kind"] == "S1"
    page.keyboard.press("ArrowLeft")
    assert step(page)["kind"] == "architecture"
    page.click('[data-tour="next"]')
    s = step(page)
    page.click('[data-tour="prev"]')
    assert step(page)["step"] == "1"
    page.select_option("#tour-jump", label="13. (25) dLb")  # backward: it asks for the digit first
    page.click(f'.tour-digits [data-label="{LABEL}"]')
    s = step(page)
    assert s["kind"] == "dLb" and s["label"] == str(LABEL)
    page.select_option("#tour-jump", index=4)  # P1: pick another cell on its map
    s = step(page)
    canvas = page.locator(".tour-map.main canvas")
    canvas.click(position={"x": 2, "y": 2})
    page.wait_for_function(f"document.querySelector('[data-tour-step]').dataset.index !== '{s['index']}'")
    assert json.loads(step(page)["index"]) == [json.loads(s["index"])[0], 0, 0]
    page.select_option("#tour-jump", index=25)  # (66), with a step far too large: the page says so
    page.select_option("#tour-lr", "1")
    page.wait_for_function("document.querySelector('[data-tour-step]').dataset.lr === '1'")
    s = step(page)
    assert "Too big a step" in page.inner_text(".tour-warning") and "With η = " in page.inner_text(".tour-warning")
    page.keyboard.press("Escape")
    assert page.locator("#tour").is_hidden()
    assert page.evaluate("document.activeElement.dataset.tour") == "start"
    page.context.close()


@pytest.mark.parametrize("name", ["laptop", "phone"])
def test_screenshots_of_the_tour_for_the_readme(browser, server_url, name):
    page = open_tour_page(browser, server_url, name)
    draw(page, [SEVEN], name == "phone")
    page.click('[data-tour="start"]:visible')
    step(page)
    page.select_option("#tour-jump", index=16)  # (43): the max-pool's routing
    page.click(f'.tour-digits [data-label="{LABEL}"]')
    assert step(page)["kind"] == "dLC2"
    page.screenshot(path=str(ROOT / "docs" / f"tour-{name}.png"))
    page.context.close()


def test_gradients_below_float32_noise_read_as_0_not_as_full_colour(browser, server_url):
    page = open_tour_page(browser, server_url, "laptop")
    draw(page, [SEVEN], False)
    page.locator("#blame button").nth(7).click()  # blame it for being what it already is
    page.wait_for_function("document.body.dataset.explained === 'true'")
    page.click('[data-tour="start"]:visible')
    step(page)
    grid = page.evaluate("window.cnnTourGrid")
    r = httpx.post(server_url + "/equation", json={"image": grid, "label": 7, "kind": "dLS", "index": [7]}, timeout=30)
    quiet = abs(r.json()["value"]) < 2**-20  # O_7 - 1, the largest |dLS| when the network reads a 7
    print(f"dLS[7] = {r.json()['value']}: quiet {quiet}")
    assert ("≈ 0" in page.inner_text("#grad-scale")) == quiet
    assert (page.inner_text("#norm-dLk1") == "≈ 0") == quiet
    page.context.close()
