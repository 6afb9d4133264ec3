"""A lesson in a real Chromium: the teacher (a laptop, 1366x768) opens a class, three phones (390x844,
touch) join by its code and save, the board shows them live, pausing refuses, a published network
reaches the phones; the QR code on the teacher's screen decodes to the join address; axe-core finds
nothing on the phone's page, the teacher's view and its presentation mode. Screenshots for the README."""

from __future__ import annotations

import io

import httpx
import numpy as np
import pytest
from axe_playwright_python.sync_playwright import Axe

from app.config import Settings
from tests.conftest import WEIGHTS
from tests.e2e.conftest import ARTIFACTS, serve
from tests.e2e.pointer import stroke
from tests.e2e.test_layout import ONE, SEVEN, SIZES

TOKEN = "a-lesson-teachers-token-2026"
TEACHER = {"Authorization": f"Bearer {TOKEN}"}
FOUR = [(0.35, 0.15), (0.25, 0.6), (0.75, 0.6)]
WAIT = 15_000  # ms an expected change may take at most here; speed is measured in bench/


@pytest.fixture
def lesson(tmp_path):
    options = dict(weights=WEIGHTS, teacher_token=TOKEN, database_url=f"sqlite:///{tmp_path / 'class.db'}")
    with serve(Settings(**options, pool_workers=1)) as url:
        yield url


def clean(page) -> None:
    results = Axe().run(page)
    assert results.violations_count == 0, results.generate_report()


def test_a_lesson_three_phones_join_save_live_pause_and_get_the_class_network(browser, lesson):
    url = lesson
    errors: list[str] = []
    laptop = browser.new_context(bypass_csp=True, **SIZES["laptop"], accept_downloads=True)
    teacher = laptop.new_page()
    teacher.on("pageerror", lambda e: errors.append(str(e)))
    teacher.goto(f"{url}/teacher.html")
    teacher.fill("#token", TOKEN)
    teacher.click("text=Open the collection")
    teacher.fill("#class-name", "7B, Tuesday")
    teacher.click("text=Open a class")
    teacher.wait_for_selector("#board:not([hidden])")
    code = teacher.inner_text("#join-code")
    assert len(code) == 5 and teacher.inner_text("#join-url").endswith(f"/c/{code}")
    teacher.wait_for_function("document.querySelector('#qr').naturalWidth > 0")
    qr = decode(teacher.locator("#qr").screenshot())
    assert qr == teacher.inner_text("#join-url")
    teacher.wait_for_function("document.querySelector('#board-live').textContent.startsWith('Live')", timeout=WAIT)

    phones = []
    for _ in range(3):
        context = browser.new_context(bypass_csp=True, **SIZES["phone"])
        phone = context.new_page()
        phone.on("pageerror", lambda e: errors.append(str(e)))
        phone.goto(f"{url}/c/{code.lower()}")  # typed in lower case, as a phone's keyboard may
        phone.wait_for_function("document.body.dataset.state === 'ready'")
        assert phone.inner_text("#class-name") == "7B, Tuesday"
        phones.append(phone)
    clean(phones[0])

    for phone, (strokes, meant) in zip(phones, [(SEVEN, 7), (ONE, 1), (FOUR, 4)], strict=True):
        stroke(phone, strokes, touch=True)
        phone.wait_for_function("document.querySelector('#answer').textContent !== '?'", timeout=WAIT)
        assert phone.locator("#save").is_disabled()  # no digit is chosen for you
        assert phone.inner_text("#chosen") == "Choose the digit you meant."
        phone.click(f"#digits button:text-is('{meant}')")
        assert phone.inner_text("#chosen") == f"You meant a {meant}."
        chosen, save = phone.locator("#chosen").bounding_box(), phone.locator("#save").bounding_box()
        assert abs(chosen["y"] - save["y"]) < save["height"]  # side by side
        assert save["y"] + save["height"] <= 844  # and in view without scrolling
        phone.click("#save")
        phone.wait_for_function("document.querySelector('#saved').dataset.kind === 'saved'", timeout=WAIT)
        assert phone.inner_text("#saved").startswith(f"Saved as a {meant}")

    teacher.wait_for_function("document.querySelectorAll('#newest li').length === 3", timeout=WAIT)
    assert teacher.inner_text("#board-counts").startswith("3 drawings")
    teacher.wait_for_function("document.querySelectorAll('#gallery li').length === 3", timeout=WAIT)  # the list too
    teacher.click("#board-confusion button.cell >> nth=0")
    teacher.wait_for_selector("#cell:not([hidden]) #cell-drawings li")
    clean(teacher)
    ARTIFACTS.mkdir(exist_ok=True)
    teacher.screenshot(path=str(ARTIFACTS / "class-board.png"), full_page=True)

    teacher.click("#board-pause")
    for phone in phones:
        phone.wait_for_function(
            "document.querySelector('#class-state').textContent === 'Saving is paused by your teacher.'", timeout=WAIT
        )
        assert phone.locator("#save").is_disabled()
    refused = httpx.post(f"{url}/drawings", json={"image": np.zeros((28, 28)).tolist(), "label": 1, "class": code})
    assert refused.status_code == 409

    params = httpx.post(f"{url}/teach", json={"image": np.eye(28).tolist(), "label": 7}).json()["params"]
    flat = {"temperature": 20.0, "unsure_below": 0.9}  # a calibration under which every answer is unsure
    body = {"params": params, "drawings": 3, "calibration": flat}
    assert httpx.put(f"{url}/classes/{code}/network", json=body, headers=TEACHER).status_code == 200
    for phone in phones:
        phone.wait_for_function(
            "document.querySelector('#answering').textContent === \"the class's copy, tuned on 3 drawings\"",
            timeout=WAIT,
        )
    phones[0].wait_for_function("document.querySelector('#confidence').textContent.startsWith('unsure')")  # calibrated
    phones[0].click("#compare")
    phones[0].wait_for_function("document.querySelector('#compared').textContent.startsWith('The shared network')")
    clean(phones[0])
    phones[0].screenshot(path=str(ARTIFACTS / "class-phone.png"))

    teacher.click("#present")
    teacher.wait_for_timeout(200)
    assert teacher.locator("#sign-out").is_hidden() and teacher.locator("#newest").is_visible()
    clean(teacher)
    teacher.screenshot(path=str(ARTIFACTS / "class-present.png"))
    laptop.close()
    for phone in phones:
        phone.context.close()
    assert not errors, errors


def decode(png: bytes) -> str:
    zxingcpp = pytest.importorskip("zxingcpp")
    from PIL import Image

    found = zxingcpp.read_barcodes(np.asarray(Image.open(io.BytesIO(png)).convert("L")))
    assert len(found) == 1
    return found[0].text
