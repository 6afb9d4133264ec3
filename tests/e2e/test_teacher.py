"""The teacher's view in a real Chromium: sign in with the token, read the class, export, delete,
fine-tune and hand the copy to the page; accessible by axe-core's rules; its screenshot for the README."""

from __future__ import annotations

import json
import re
import zipfile

import httpx
import numpy as np
import pytest

from app.config import Settings
from model.codec import ENCODED_LENGTH
from model.data import small_mnist
from tests.conftest import WEIGHTS
from tests.e2e.conftest import ARTIFACTS, serve

TOKEN = "the-teachers-token"
SCREENSHOT = ARTIFACTS / "teacher.png"  # docs/teacher.png, the README's, is a copy of one


@pytest.fixture(scope="module")
def teacher_url(tmp_path_factory):
    settings = Settings(weights=WEIGHTS, teacher_token=TOKEN, data_dir=tmp_path_factory.mktemp("class"), pool_workers=1)
    with serve(settings) as url:
        add_a_class(url)
        yield url


def add_a_class(url: str) -> None:
    mnist = small_mnist()  # a class: 40 of MNIST's test digits, every other one mirrored (a harder hand)
    for i in range(40):
        image = mnist.test_images[i] if i % 2 else mnist.test_images[i, :, ::-1]
        body = {"image": (image / 255).tolist(), "label": int(mnist.test_labels[i])}
        assert httpx.post(f"{url}/drawings", json=body).status_code == 201


@pytest.fixture
def teacher_page(browser, teacher_url):
    # bypass_csp: the tests evaluate JavaScript and inject axe-core, which the page's policy rightly forbids
    context = browser.new_context(
        viewport={"width": 1280, "height": 900}, device_scale_factor=1, accept_downloads=True, bypass_csp=True
    )
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if "Content Security Policy" in m.text else None)
    page.goto(teacher_url + "/teacher.html")
    yield page
    context.close()
    assert not errors, f"JavaScript errors on the teacher's view: {errors}"


def sign_in(page, token: str = TOKEN) -> None:
    page.fill("#token", token)
    page.click("text=Open the collection")


def test_a_wrong_token_is_refused_and_the_right_one_opens_the_collection(teacher_page):
    page = teacher_page
    sign_in(page, "not-it")
    page.wait_for_function("document.querySelector('#sign-in-status').textContent.includes('not the teacher')")
    assert page.is_hidden("#collection")
    sign_in(page)
    page.wait_for_selector("#gallery li")
    assert "40 drawings" in page.text_content("#summary-line")
    assert page.evaluate("sessionStorage.getItem('numpy-cnn:teacher-token')") == TOKEN
    assert page.evaluate("localStorage.length") == 0  # the token is kept in this tab only
    cells = page.eval_on_selector_all("#confusion tbody td", "tds => tds.map(td => Number(td.textContent || 0))")
    assert sum(cells) == 40


def test_the_teacher_filters_deletes_and_exports(teacher_page, tmp_path):
    page = teacher_page
    sign_in(page)
    page.wait_for_selector("#gallery li")
    page.click("#digits button:has-text('7 (')")
    page.wait_for_function(
        "[...document.querySelectorAll('#gallery li')].every(li => li.textContent.includes('meant 7'))"
    )
    page.check("#wrong")
    page.wait_for_function("[...document.querySelectorAll('#gallery li')].every(li => li.classList.contains('wrong'))")
    page.uncheck("#wrong")
    page.click("#digits button:has-text('All')")
    page.wait_for_function("document.querySelectorAll('#gallery li').length === 40")
    page.click("#gallery li:first-child button")
    page.wait_for_function("document.querySelector('#summary-line').textContent.includes('39 drawings')")
    with page.expect_download() as download:
        page.click("#export-npz")
    path = tmp_path / "drawings.npz"
    download.value.save_as(path)
    with np.load(path) as z:
        assert z["images"].shape == (39, 28, 28) and z["labels"].shape == (39,)
    with page.expect_download() as download:
        page.click("#export-idx")
    download.value.save_as(tmp_path / "idx.zip")
    assert set(zipfile.ZipFile(tmp_path / "idx.zip").namelist()) == {
        "drawings-images-idx3-ubyte",
        "drawings-labels-idx1-ubyte",
    }


def test_fine_tuning_shows_progress_and_scores_and_hands_the_copy_to_the_page(teacher_page, tmp_path):
    page = teacher_page
    sign_in(page)
    page.wait_for_selector("#gallery li")
    page.fill("#rounds", "6")
    page.click("#tune")
    page.wait_for_selector("#copy-actions:not([hidden])", timeout=60_000)
    assert page.get_attribute("#tune-progress", "value") == "6"
    assert page.text_content("#after-class").endswith("%") and page.text_content("#before-mnist").endswith("%")
    # The report in counts and words: the held-out drawings and MNIST's 1,000 right, before and after; what changed
    assert re.fullmatch(
        r"Of your \d+ drawings it never practised on, the shared network reads \d+ right; the copy reads \d+\.",
        page.text_content("#report-class"),
    )
    assert re.search(r"the shared network \d{3,4} right, the copy \d{3,4}\.$", page.text_content("#report-mnist"))
    words, shown = page.text_content("#report-changed"), page.locator("#changed li").count()
    if shown:
        assert words.startswith(f"The copy reads {shown} of your drawings differently")
    else:
        assert words == "The copy reads every one of your test drawings as the shared network does."
    page.click("#use-copy")
    copy = json.loads(page.evaluate("localStorage.getItem('numpy-cnn:class-copy')"))
    assert copy["steps"] == 96 and copy["drawings"] > 0 and len(copy["params"]) == ENCODED_LENGTH
    with page.expect_download() as download:
        page.click("#download-weights")
    download.value.save_as(tmp_path / "copy.zip")
    assert set(zipfile.ZipFile(tmp_path / "copy.zip").namelist()) == {"class-copy.npz", "class-copy.json"}
    SCREENSHOT.parent.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), full_page=True)


def test_the_teachers_view_breaks_none_of_axe_cores_rules(teacher_page):
    from axe_playwright_python.sync_playwright import Axe

    page = teacher_page
    assert Axe().run(page).violations_count == 0  # the sign-in form
    sign_in(page)
    page.wait_for_selector("#gallery li")
    results = Axe().run(page)
    assert results.violations_count == 0, results.generate_report()


def test_the_save_module_saves_a_drawing_from_the_page(teacher_page, teacher_url):
    page = teacher_page
    saved = page.evaluate(
        """async () => {
          const { saveDrawing } = await import('/js/save.js');
          const grid = Array.from({ length: 28 }, (_, i) => Array.from({ length: 28 }, (_, j) =>
            i > 4 && i < 24 && j > 12 && j < 15 ? 1 : 0));
          return saveDrawing(grid, 1);
        }"""
    )
    assert saved["label"] == 1 and saved["answer"] == 1
    listed = httpx.get(f"{teacher_url}/drawings", headers={"Authorization": f"Bearer {TOKEN}"}).json()
    assert listed["items"][0]["id"] == saved["id"]


def test_the_teachers_view_runs_under_the_content_security_policy(browser, teacher_url):
    context = browser.new_context()  # the service's policy in force: no inline code, no other origin
    page = context.new_page()
    violations: list[str] = []
    page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
    page.on("pageerror", lambda e: violations.append(str(e)))
    page.goto(teacher_url + "/teacher.html")
    sign_in(page)
    page.wait_for_selector("#gallery li canvas")
    context.close()
    assert not violations, violations


@pytest.fixture
def flooded_url(tmp_path):
    """A class of twelve drawings of its own, for the tests that delete many."""
    settings = Settings(weights=WEIGHTS, teacher_token=TOKEN, data_dir=tmp_path, pool_workers=1)
    with serve(settings) as url:
        mnist = small_mnist()
        for i in range(12):
            body = {"image": (mnist.test_images[i] / 255).tolist(), "label": int(mnist.test_labels[i])}
            assert httpx.post(f"{url}/drawings", json=body).status_code == 201
        yield url


@pytest.fixture
def flooded_page(browser, flooded_url):
    """The teacher's view of the twelve, signed in."""
    # bypass_csp: wait_for_function evaluates JavaScript, which the page's policy rightly forbids
    context = browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True)
    page = context.new_page()
    page.goto(flooded_url + "/teacher.html")
    sign_in(page)
    page.wait_for_function("document.querySelectorAll('#gallery li').length === 12")
    yield page
    context.close()


def test_the_teacher_deletes_a_selection_after_confirming_it(flooded_page):
    page = flooded_page
    assert page.is_disabled("#delete-selected")
    for n in (1, 2, 3):
        page.check(f"#gallery li:nth-child({n}) input[type=checkbox]")
    assert page.text_content("#delete-selected") == "Delete selected (3)"
    page.click("#delete-selected")
    page.wait_for_selector("#confirm-delete:not([hidden])")
    assert page.text_content("#confirm-text") == "Delete the 3 selected drawings? This cannot be undone."
    page.click("#confirm-no")  # the teacher changes their mind: nothing goes
    assert page.is_hidden("#confirm-delete") and page.text_content("#gallery-status") == "Nothing deleted."
    assert "12 drawings" in page.text_content("#summary-line")
    page.click("#delete-selected")
    page.wait_for_selector("#confirm-delete:not([hidden])")
    page.screenshot(path=str(ARTIFACTS / "teacher-bulk-delete.png"))
    page.click("#confirm-yes")
    page.wait_for_function("document.querySelector('#gallery-status').textContent === '3 drawings deleted.'")
    assert "9 drawings" in page.text_content("#summary-line")
    assert page.eval_on_selector_all("#gallery li", "lis => lis.length") == 9
    assert page.text_content("#delete-selected") == "Delete selected (0)"


def test_the_teacher_stops_a_flood_by_deleting_the_last_minutes_but_not_what_came_after(flooded_page, flooded_url):
    page = flooded_page
    page.fill("#minutes", "10")
    page.click("#delete-recent")
    page.wait_for_selector("#confirm-delete:not([hidden])")
    question = page.text_content("#confirm-text")
    assert question == "Delete the 12 drawings saved in the last 10 minutes? This cannot be undone."
    later = small_mnist().test_images[20] / 255  # saved while the teacher reads the question: it stays
    assert httpx.post(f"{flooded_url}/drawings", json={"image": later.tolist(), "label": 1}).status_code == 201
    page.click("#confirm-yes")
    page.wait_for_function("document.querySelector('#gallery-status').textContent === '12 drawings deleted.'")
    assert "1 drawing;" in page.text_content("#summary-line")
    assert page.eval_on_selector_all("#gallery li", "lis => lis.length") == 1


def test_a_busy_server_is_waited_for_with_a_word_on_screen(teacher_page):
    """The first round of a fine-tune is answered 429 with Retry-After (every slot taken, as under
    visitors' /train): the view says it waits, waits, and carries on; the server itself is real."""
    page = teacher_page
    refused = []

    def busy_once(route):
        if refused:
            route.continue_()
            return
        refused.append(route.request.url)
        route.fulfill(
            status=429,
            headers={"Retry-After": "1", "Content-Type": "application/json"},
            body=json.dumps({"detail": "every training slot is taken; retry after a second"}),
        )

    page.route("**/drawings/tune", busy_once)
    sign_in(page)
    page.wait_for_selector("#gallery li")
    page.fill("#rounds", "1")
    page.evaluate(  # every word the status line says, however briefly (a busy machine may not repaint in time)
        """() => {
          window.said = [];
          const status = document.querySelector('#tune-status');
          new MutationObserver(() => window.said.push(status.textContent))
            .observe(status, { childList: true, characterData: true, subtree: true });
        }"""
    )
    page.click("#tune")
    page.wait_for_selector("#copy-actions:not([hidden])", timeout=60_000)
    said = page.evaluate("window.said")
    assert refused and page.get_attribute("#tune-progress", "value") == "1"
    assert said[0] == "The server is busy; trying again in 1 s (attempt 2)…", said
    assert said[-1].startswith("Round 1 of 1: "), said
