"""Saving a drawing for the class from the main page (issue 29, item 1), in Chromium at a phone's size
with a finger and at a laptop's with a mouse: the control beside the answer, the digit meant, exactly
the grid /predict read stored once (checked through the teacher's API), every refusal said in place,
nothing moving under the pen, and no control at all where the service does not collect."""

from __future__ import annotations

import base64
import json

import httpx
import numpy as np
import pytest
from axe_playwright_python.sync_playwright import Axe

from app.config import Settings
from tests.conftest import WEIGHTS
from tests.e2e.conftest import serve
from tests.e2e.test_layout import ONE, SEVEN, SIZES, draw, in_view, moved, open_page

TOKEN = "the-class-teachers-token"
TEACHER = {"Authorization": f"Bearer {TOKEN}"}


def collecting(tmp_path, **settings):
    """The service collecting into a fresh SQLite file (what CNN_DATABASE_URL=sqlite:///... gives)."""
    options = dict(weights=WEIGHTS, teacher_token=TOKEN, database_url=f"sqlite:///{tmp_path / 'class.db'}")
    return serve(Settings(**options | {"pool_workers": 1} | settings))


def stored(url: str) -> list[dict]:
    return httpx.get(f"{url}/drawings", headers=TEACHER).json()["items"]


def still(page) -> bool:
    """No layout shift moved an element. Chromium may add one speck attributed to no element (0.0013 here,
    0.0008 without the control) when an answer mid-stroke is "unsure" and its two lines reflow the
    confidence's anonymous text box; the boxes of the pad, the answer and the control are compared too."""
    return all(not nodes and value < 0.002 for value, nodes in moved(page))


def said(page, kind: str) -> str:
    page.wait_for_function(f"document.querySelector('#saved').dataset.kind === '{kind}'", timeout=5000)
    return page.inner_text("#saved")


@pytest.mark.parametrize("size", list(SIZES))
def test_a_drawing_is_saved_with_the_digit_meant_exactly_as_the_network_read_it(browser, tmp_path, size, artifacts):
    touch = size == "phone"
    with collecting(tmp_path) as url:
        page = open_page(browser, url, size)
        assert page.locator("#save").is_visible() and page.locator("#save").is_disabled()  # there, before any answer
        read: list[dict] = []  # what each /predict read
        page.on("request", lambda r: read.append(json.loads(r.post_data)) if r.url.endswith("/predict") else None)
        keys: list[str | None] = []
        page.on(
            "request",
            lambda r: keys.append(r.headers.get("idempotency-key")) if r.url.endswith("/drawings") else None,
        )
        page.wait_for_timeout(300)  # the observer's reports of the page's loading have arrived
        boxes = {sel: page.locator(sel).bounding_box() for sel in ("#pad", "#answer", "#save")}
        page.evaluate("window.shifts = []")
        draw(page, [SEVEN], touch)
        assert still(page) and boxes == {sel: page.locator(sel).bounding_box() for sel in boxes}
        assert page.inner_text("#answer") == "7"
        assert page.input_value("#save-digit") == ""  # never the answer by default
        assert page.locator("#save").is_disabled()  # until the digit meant is chosen
        for selector in ("#pad", "#answer", "#confidence", "#save-digit", "#save", "#clear"):
            assert in_view(page, selector), selector
        for control in ("#save-digit", "#save"):
            box = page.locator(control).bounding_box()
            assert box["width"] >= 24 and box["height"] >= 24, control
        page.select_option("#save-digit", "1")
        # The first answer is lost on its way back (the server stored the drawing): the retry of the
        # same click carries the same Idempotency-Key, and the drawing is stored once.
        page.route("**/drawings", lambda route: (route.fetch(), route.abort()), times=1)
        page.click("#save")
        assert said(page, "refused") == "Not saved: the server cannot be reached."
        page.click("#save")
        assert said(page, "saved") == "Saved as a 1 — the network read 7."
        assert in_view(page, "#saved")
        assert page.locator("#save").is_disabled()  # saved with that digit: not twice
        assert len(keys) == 2 and keys[0] and keys[0] == keys[1]
        (item,) = stored(url)
        assert (item["label"], item["answer"]) == (1, 7)
        grid = np.asarray(read[-1]["image"], np.float32)  # the grid of the answer on screen
        pixels = np.frombuffer(base64.b64decode(item["pixels"]), np.uint8).reshape(28, 28)
        assert np.array_equal(pixels, np.rint(np.clip(grid, 0, 1) * 255).astype(np.uint8))
        results = Axe().run(page)
        assert results.violations_count == 0, results.generate_report()
        page.screenshot(path=str(artifacts / f"saved-{size}.png"))
        # A new drawing: the sentence goes, the digit follows the new answer, nothing moves under the pen.
        page.click("#clear")
        page.wait_for_timeout(100)
        page.evaluate("window.shifts = []")
        draw(page, [ONE], touch)
        assert still(page) and boxes == {sel: page.locator(sel).bounding_box() for sel in boxes}
        assert page.input_value("#save-digit") == "" and page.locator("#save").is_disabled()  # chosen anew
        assert page.get_attribute("#saved", "data-kind") == ""
        page.select_option("#save-digit", "1")
        assert not page.locator("#save").is_disabled()
        page.click("#save")
        assert said(page, "saved") == "Saved as a 1 — the network read 1."
        assert len(keys) == 3 and keys[2] != keys[0]  # another click, another key
        assert [d["label"] for d in stored(url)] == [1, 1]
        assert not page.errors
        page.context.close()


def test_every_refusal_is_said_where_the_save_was_asked(browser, tmp_path):
    with collecting(tmp_path, max_drawings=2, drawings_per_minute=20) as url:
        page = open_page(browser, url, "laptop")
        draw(page, [SEVEN], False)
        # 422, in the server's own words: a drawing it cannot read (sent altered, on its way)
        bad = {"image": [[0.0] * 28] * 27, "label": 7}
        because = httpx.post(f"{url}/predict", json={"image": bad["image"]}).json()["detail"]
        page.route("**/drawings", lambda route: route.continue_(post_data=json.dumps(bad)), times=1)
        page.select_option("#save-digit", "7")
        page.click("#save")
        assert said(page, "refused") == f"Not saved: {because}."
        assert not page.locator("#save").is_disabled()  # it may be tried again
        page.click("#save")
        assert said(page, "saved") == "Saved as a 7 — the network read 7."
        page.select_option("#save-digit", "1")
        page.click("#save")
        assert said(page, "saved") == "Saved as a 1 — the network read 7."
        # 409: the collection is full
        page.select_option("#save-digit", "2")
        page.click("#save")
        assert said(page, "refused").startswith("Not saved: the collection is full (2 drawings)")
        # 429: this address has saved too often; the button waits out Retry-After (at most 3 s at 20 a minute)
        while httpx.post(f"{url}/drawings", json={"image": [], "label": 1}).status_code != 429:
            pass
        page.select_option("#save-digit", "3")  # the last sentence goes with the digit it was about
        page.click("#save")
        assert said(page, "refused").startswith("Not saved: too many drawings saved from this address; try again in")
        assert page.locator("#save").is_disabled()
        assert said(page, "ready") == "You can save again."
        assert not page.locator("#save").is_disabled()
        assert [(d["label"], d["answer"]) for d in stored(url)] == [(1, 7), (7, 7)]
        assert not page.errors
        page.context.close()


def test_without_a_teachers_token_the_page_offers_no_saving_and_asks_nothing(browser, server_url):
    context = browser.new_context(bypass_csp=True, **SIZES["laptop"])
    page = context.new_page()
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url) if r.url.split("?")[0].endswith("/drawings") else None)
    page.goto(server_url + "/")
    page.wait_for_function("document.querySelectorAll('#samples .sample').length === 10")
    assert page.evaluate("fetch('/model').then(r => r.json()).then(m => m.collecting)") is False
    draw(page, [SEVEN], False)
    assert page.locator("#for-class").is_hidden() and page.locator("#save").is_hidden()
    assert asked == []
    context.close()
