"""The page as a person uses it (issue 26), in Chromium at a phone's size with a finger and at a
laptop's with a mouse, with real pointer events: the answer in view while drawing, a click's result
where the click was, one named network, nothing moving under the pen, controls a finger can hit, the
keyboard, share links (and hostile ones, issue 25), and axe-core with no violation."""

from __future__ import annotations

import base64
import json
import zlib

import numpy as np
import pytest
from axe_playwright_python.sync_playwright import Axe

import model
from model.codec import encode_params
from tests.conftest import WEIGHTS
from tests.e2e.pointer import stroke

SEVEN = [(0.25, 0.2), (0.75, 0.2), (0.42, 0.86)]
ONE = [(0.52, 0.15), (0.5, 0.5), (0.47, 0.86)]
CROSS = [[(0.3, 0.3), (0.7, 0.7)], [(0.7, 0.3), (0.3, 0.7)]]  # an x: the network is unsure (an 8 at about 70 %)
SIZES = {
    "phone": {
        "viewport": {"width": 390, "height": 844},
        "has_touch": True,
        "is_mobile": True,
        "device_scale_factor": 2,
    },
    "laptop": {"viewport": {"width": 1366, "height": 768}},
}
# Every layout shift and every long task, from the start, whatever caused it (stricter than CLS,
# which forgives shifts just after a click or a touch: exactly when the pad jumped under the pen).
# Each shift is kept with the nodes it moved. Chromium also reports specks that it attributes to
# no node at all (0.0008, at pen-up) or to a text whose box kept its place while its text changed
# (under 1e-4): moved() sets those apart, and the tests compare the pad's and answer's boxes too.
WATCH = """
window.shifts = []; window.longTasks = []; window.statusShownAt = null;
const nameOf = (n) => n ? (n.id || n.className || n.nodeName) : "?";
new PerformanceObserver((list) => { for (const e of list.getEntries())
  window.shifts.push([e.value, e.sources.map((s) =>
    `${nameOf(s.node)} ${JSON.stringify(s.previousRect)} -> ${JSON.stringify(s.currentRect)}`).join("; ")]); })
  .observe({ type: "layout-shift", buffered: true });
new PerformanceObserver((list) => { for (const e of list.getEntries()) window.longTasks.push(e.duration); })
  .observe({ type: "longtask", buffered: true });
addEventListener("DOMContentLoaded", () => new MutationObserver(() => {
  const s = document.querySelector("#status");
  if (s && !s.hidden && window.statusShownAt === null) window.statusShownAt = performance.now();
}).observe(document.body, { subtree: true, attributes: true, attributeFilter: ["hidden"] }));
"""
IN_VIEW = """s => { const r = document.querySelector(s).getBoundingClientRect();
  return r.width > 0 && r.height > 0 && r.top >= 0 && r.left >= 0
         && r.bottom <= innerHeight && r.right <= innerWidth; }"""


def open_page(browser, server_url, size: str, url: str = "/", **extra):
    context = browser.new_context(bypass_csp=True, **SIZES[size], **extra)
    context.add_init_script(WATCH)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.errors = errors
    page.goto(server_url + url)
    page.wait_for_function("document.querySelectorAll('#samples .sample').length === 10")
    return page


def draw(page, strokes, touch: bool) -> None:
    for points in strokes:  # each stroke's final answer, so that the last one on screen is the last stroke's
        page.evaluate("window.cnnMetrics = []")
        stroke(page, points, touch=touch)
        page.wait_for_function("window.cnnMetrics.some(m => m.final)", timeout=10_000)


def moved(page) -> list:
    """The layout shifts that moved an element (or were not specks), since window.shifts was last emptied."""
    return [
        (value, nodes)
        for value, nodes in page.evaluate("window.shifts")
        if value >= 1e-3 or (value >= 1e-4 and nodes) or any(not n.startswith("#text") for n in nodes.split("; ") if n)
    ]


def in_view(page, selector: str) -> bool:
    return page.evaluate(IN_VIEW, selector)


@pytest.fixture(params=list(SIZES))
def size(request) -> str:
    return request.param


def test_the_answer_is_in_view_while_drawing_and_nothing_moves(browser, server_url, size, artifacts):
    page = open_page(browser, server_url, size)
    touch = size == "phone"
    page.wait_for_timeout(300)  # the observer's reports of the page's loading have arrived
    boxes = {sel: page.locator(sel).bounding_box() for sel in ("#pad", "#answer", "#bars")}
    page.evaluate("window.shifts = []")
    draw(page, [SEVEN], touch)
    assert page.inner_text("#answer") == "7"
    assert moved(page) == []  # no layout shift during the stroke
    assert boxes == {sel: page.locator(sel).bounding_box() for sel in boxes}
    for selector in ("#pad", "#answer", "#confidence", "#answering"):
        assert in_view(page, selector), selector
    # A sample the network is unsure of: the unsure note is in view too, sticky on a phone.
    page.locator("#clear").click()
    draw(page, CROSS, touch)
    assert "unsure" in page.inner_text("#confidence")
    assert in_view(page, "#confidence") and in_view(page, "#answer")
    if touch:  # a phone, scrolled on to the layers: the answer stays at the top (sticky)
        page.evaluate("scrollTo(0, 500)")
        assert in_view(page, "#confidence") and in_view(page, "#answer")
    page.screenshot(path=str(artifacts / f"page-{size}.png"))
    page.context.close()


def test_a_clicks_result_opens_beside_it_within_a_second(browser, server_url, size):
    page = open_page(browser, server_url, size)
    draw(page, [SEVEN], size == "phone")
    cell = page.locator("#maps-C1 canvas").nth(2)
    cell.scroll_into_view_if_needed()
    cell.click(position={"x": 10, "y": 10})
    page.wait_for_function("document.querySelector('#equation').dataset.kind === 'S1'", timeout=1000)
    assert in_view(page, "#stage-equation")
    page.locator(".bar").nth(7).click()
    page.wait_for_function("document.querySelector('#equation').dataset.kind === 'O'", timeout=1000)
    assert in_view(page, "#stage-equation")
    page.keyboard.press("Escape")
    assert page.locator("#stage-equation").is_hidden()
    page.locator("#blame button").nth(9).click()
    page.wait_for_function("document.body.dataset.explained === 'true'")
    grad = page.locator("#grad-dLC1 canvas").first
    grad.scroll_into_view_if_needed()
    grad.click(position={"x": 1, "y": 1})
    page.wait_for_function("document.querySelector('#pop-check').textContent.includes('relative error')", timeout=1000)
    assert in_view(page, "#stage-equation") and page.inner_text("#pop-check").startswith("dLC1[0, 0, 0]")
    page.keyboard.press("Escape")
    page.locator("#nudge").click()  # its frames play beside the button
    page.wait_for_function("document.querySelector('#nudge-frames').dataset.painted === 'true'", timeout=2000)
    assert in_view(page, "#nudge-frames") and in_view(page, "#nudge")
    page.wait_for_function("document.querySelector('#nudged').dataset.reached !== undefined", timeout=15_000)
    reads = page.inner_text("#nudged").split("reads ")[1][0]  # the answer above says the same
    page.wait_for_function(f"document.querySelector('#answer').textContent.startsWith('{reads}')", timeout=2000)
    page.context.close()


def class_copy(drawings: int) -> str:
    params = model.load(WEIGHTS).params
    params = {k: v * (1.01 if k == "k1" else 1.0) for k, v in params.items()}  # not the shared one's
    return json.dumps(
        {"params": encode_params(params), "steps": 40, "drawings": drawings, "saved": "2026-12-02T03:00:00Z"}
    )


def kernel0(page) -> list:
    return page.evaluate("document.querySelector('#kernels canvas').values")


def test_one_badge_names_the_network_that_answers_and_every_panel_follows(browser, server_url):
    context = browser.new_context(bypass_csp=True, **SIZES["laptop"])
    context.add_init_script(f"localStorage.setItem('numpy-cnn:class-copy', {json.dumps(class_copy(12))})")
    page = context.new_page()
    page.goto(server_url + "/")
    page.wait_for_function("document.querySelectorAll('#samples .sample').length === 10")
    page.wait_for_function("document.querySelector('#kernels canvas').dataset.painted === 'true'")
    accuracy = model.read_metadata(WEIGHTS)["test_accuracy"]
    assert page.inner_text("#answering") == f"the shared network, {100 * accuracy:.2f}% on MNIST's 10,000 test digits"
    shared_k1 = kernel0(page)
    sent: list = []
    page.on("request", lambda r: sent.append(json.loads(r.post_data)) if r.method == "POST" else None)
    draw(page, [SEVEN], False)
    page.locator("#blame button").nth(4).click()
    page.wait_for_function("document.querySelector('#loss').textContent.startsWith('the network gives')")
    page.click("#teach")
    page.wait_for_function("document.querySelector('#answering').textContent === 'your copy, after 1 lesson'")
    page.wait_for_function("document.querySelector('#loss').textContent.startsWith('your copy (taught 1 step)')")
    assert kernel0(page) != shared_k1  # the kernels shown are the copy's
    assert "params" in sent[-1]
    page.click("#networks [data-network=class]")
    assert page.inner_text("#answering") == "the class's copy, tuned on 12 drawings"
    page.wait_for_function("document.querySelector('#loss').textContent.startsWith(\"the class's copy gives\")")
    assert "the class's copy" in page.inner_text("#model-facts")
    page.click("#networks [data-network=shared]")
    page.wait_for_function("document.querySelector('#loss').textContent.startsWith('the network gives')")
    assert kernel0(page) == shared_k1
    page.click("#train-step")
    page.wait_for_function("document.body.dataset.training !== undefined && document.body.dataset.training !== 'none'")
    page.click("#train-use")
    assert page.inner_text("#answering").startswith("the one trained here from scratch, after 1 step")
    assert page.get_attribute("#networks [data-network=scratch]", "aria-pressed") == "true"
    # switching the recipe would erase the run: it asks first, and "keep" keeps it
    page.select_option("#train-recipe", "ours")
    assert page.locator("#train-confirm").is_visible()
    page.click("#train-keep")
    assert page.input_value("#train-recipe") == "article" and page.inner_text("#answering").startswith(
        "the one trained"
    )
    page.click("#networks [data-network=taught]")
    assert page.inner_text("#answering") == "your copy, after 1 lesson"
    page.click("#reset")
    page.wait_for_function("document.querySelector('#answering').textContent.startsWith('the shared network')")
    context.close()


def test_a_broken_class_copy_is_not_offered(browser, server_url):
    context = browser.new_context(bypass_csp=True, **SIZES["laptop"])
    bad = json.dumps({"params": "A" * 20, "steps": 1, "drawings": 3})
    context.add_init_script(f"localStorage.setItem('numpy-cnn:class-copy', {json.dumps(bad)})")
    page = context.new_page()
    page.goto(server_url + "/")
    page.wait_for_function("document.querySelectorAll('#samples .sample').length === 10")
    assert page.locator("#networks [data-network=class]").is_hidden()
    context.close()


def test_the_onnx_download_is_of_the_network_that_answers(browser, server_url, page):
    with page.expect_download() as shared:
        page.click("#download-onnx")
    assert shared.value.suggested_filename == "digits.onnx"
    draw(page, [SEVEN], False)
    page.locator("#blame button").nth(4).click()
    page.click("#teach")
    page.wait_for_function("document.querySelector('#answering').textContent.startsWith('your copy')")
    with page.expect_download() as copy:
        page.click("#download-onnx")
    assert copy.value.suggested_filename == "digits-taught.onnx"


def test_a_phones_controls_are_big_enough_and_speak_touch(browser, server_url):
    page = open_page(browser, server_url, "phone")
    draw(page, [SEVEN], True)
    page.locator("#blame button").nth(3).click()
    page.wait_for_function("document.body.dataset.explained === 'true'")
    small = page.evaluate("""() => [...document.querySelectorAll(
        'button, select, input, textarea, [tabindex="0"], a:not(p a):not(li a)')]
      .filter(el => el.getClientRects().length && getComputedStyle(el).visibility !== 'hidden')
      .map(el => [el.id || el.className || el.tagName, el.getBoundingClientRect()])
      .filter(([, r]) => r.width < 24 || r.height < 24).map(([name, r]) => `${name} ${r.width}x${r.height}`)""")
    assert small == []
    for button in ("#undo", "#clear", "#share"):
        assert page.locator(button).bounding_box()["height"] >= 44
    assert page.evaluate("[...document.querySelectorAll('kbd')].every(k => !k.getClientRects().length)")
    assert page.locator(".only-touch").first.is_visible() and page.locator(".only-hover").first.is_hidden()
    page.locator("#input").scroll_into_view_if_needed()
    box = page.locator("#input").bounding_box()  # help without hover: a tap shows a map's number
    page.touchscreen.tap(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    assert page.inner_text("#tooltip").startswith("input[14, 14] = ")
    # the training chart's labels are as large as the page's small print (12 CSS px, drawn at the screen's size)
    canvas = page.locator("#train-curve")
    ratio = page.evaluate("(c) => c.width / c.getBoundingClientRect().width", canvas.element_handle())
    assert ratio == pytest.approx(2, abs=0.01)
    page.context.close()


def test_the_keyboard_reaches_cells_and_bars_and_shortcuts_need_the_pad(page):
    draw(page, [SEVEN], False)
    page.focus("#lr")
    for key in ("Delete", "Backspace", "c"):
        page.keyboard.press(key)
    assert page.inner_text("#answer") == "7"  # focus elsewhere: the drawing stays
    page.focus("#maps-C1 canvas:nth-child(2)")
    for key in ("ArrowRight", "ArrowRight", "ArrowRight", "ArrowDown", "ArrowDown", "Enter"):
        page.keyboard.press(key)
    page.wait_for_function("document.querySelector('#equation').dataset.kind === 'S1'", timeout=1000)
    assert "S1[1,2,3]" in page.inner_text("#equation").replace(" ", "")
    assert in_view(page, "#stage-equation")
    page.keyboard.press("Escape")
    assert page.evaluate("document.activeElement === document.querySelector('#maps-C1 canvas:nth-child(2)')")
    page.focus(".bar:nth-child(8)")
    page.keyboard.press("Enter")
    page.wait_for_function("document.querySelector('#equation').dataset.kind === 'O'", timeout=1000)
    page.keyboard.press("Escape")
    page.locator("#blame button").nth(9).click()
    page.wait_for_function("document.body.dataset.explained === 'true'")
    page.focus("#grad-dLk1 canvas")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    page.wait_for_function("document.querySelector('#checked').dataset.gradient === 'dLk1'", timeout=2000)
    assert page.inner_text("#checked").startswith("dLk1[0, 1, 0]")
    page.keyboard.press("Escape")
    page.focus("#pad")
    page.keyboard.press("c")
    page.wait_for_function("document.body.dataset.state === 'blank'")


def test_a_shared_link_is_short_copied_and_redrawn_without_moving_the_pad(browser, server_url, artifacts):
    page = open_page(browser, server_url, "laptop", permissions=["clipboard-read", "clipboard-write"])
    draw(page, [SEVEN], False)
    page.click("#share")
    page.wait_for_function("document.querySelector('#copied').textContent.startsWith('Copied')")
    plain = page.input_value("#share-link")
    page.locator("#blame button").nth(4).click()
    for step in (1, 2):
        page.click("#teach")
        page.wait_for_function(
            f"document.querySelector('#answering').textContent === 'your copy, after {step} lesson{'s' * (step > 1)}'"
        )
    page.wait_for_function("document.querySelector('#loss').textContent.startsWith('your copy (taught 2 steps)')")
    page.click("#share")
    page.wait_for_function(f"document.querySelector('#share-link').value.length !== {len(plain)}")
    link = page.input_value("#share-link")
    assert page.evaluate("navigator.clipboard.readText()") == link
    (artifacts / "share-lengths.json").write_text(json.dumps({"no lessons": len(plain), "2 lessons": len(link)}))
    assert len(link) < 2000  # lessons, not parameters: about the length of the drawing alone
    shown = {sel: page.inner_text(sel) for sel in ("#answer", "#confidence", "#loss", "#answering")}
    for size in SIZES:
        other = open_page(browser, server_url, size, url="/" + link.split("/", 3)[3])
        other.wait_for_function("document.querySelector('#loss').textContent.includes('taught 2 steps')")
        assert {sel: other.inner_text(sel) for sel in shown} == shown
        assert moved(other) == []  # from the first paint on: the banner floats, nothing moves
        inked = other.evaluate(
            "[...document.querySelector('#pad').getContext('2d').getImageData(0, 0, 560, 560).data].some(v => v < 128)"
        )
        assert inked  # the shared drawing is on the pad
        if size == "laptop":
            other.screenshot(path=str(artifacts / "shared.png"))
        draw(other, [ONE], size == "phone")
        assert moved(other) == []
        other.context.close()
    page.context.close()


def link_of(payload: bytes) -> str:
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    packed = packer.compress(payload) + packer.flush()
    return "#s=" + base64.urlsafe_b64encode(packed).decode().rstrip("=")


def bomb(byte: bytes, size: int) -> str:
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    chunk = byte * 1_000_000
    packed = b"".join(packer.compress(chunk) for _ in range(size // len(chunk))) + packer.flush()
    return "#s=" + base64.urlsafe_b64encode(packed).decode().rstrip("=")


HOSTILE = {
    "199 KB inflating to 154 MB": lambda: bomb(b"\0", 154_000_000),
    "154 M nested brackets": lambda: bomb(b"[", 154_000_000),
    "39 KB (under the length cap) inflating to 40 MB": lambda: bomb(b"[", 40_000_000),
    "a 154 MB params-like string": lambda: bomb(b"A", 154_000_000),
    "a header claiming 60 KB": lambda: link_of(bytes([0x60, 0xEA]) + b'{"v":2,"params":"' + b"A" * 59_980 + b'"}'),
    "a header of the wrong types": lambda: link_of(b'\x13\x00{"v":2,"grids":"x"}'),
}


# Counts the bytes every DecompressionStream gives the page: what a share link cost to inflate.
INFLATED = """
window.inflated = 0;
const Native = DecompressionStream;
window.DecompressionStream = class extends Native {
  constructor(format) {
    super(format);
    const readable = this.readable, getReader = readable.getReader.bind(readable);
    readable.getReader = (...how) => {
      const reader = getReader(...how), read = reader.read.bind(reader);
      reader.read = async () => {
        const chunk = await read();
        if (chunk.value) window.inflated += chunk.value.length;
        return chunk;
      };
      return reader;
    };
  }
};
"""


@pytest.mark.parametrize("name", list(HOSTILE))
def test_a_hostile_share_link_is_refused_at_once_and_the_page_stays_responsive(browser, server_url, name):
    """Refused "at once" is measured in work, not time: the bytes inflated stay within the largest state
    the page can make (under 1 MiB, against the bombs' 40-154 MB). The times are printed, bounded
    only generously: a page on a machine at a load of 10 took 1,451 ms (issue 33)."""
    fragment = HOSTILE[name]()
    context = browser.new_context(bypass_csp=True, **SIZES["laptop"])
    context.add_init_script(WATCH)
    context.add_init_script(INFLATED)
    page = context.new_page()
    bodies: list[int] = []
    page.on("request", lambda r: bodies.append(len(r.post_data or "")) if r.method == "POST" else None)
    page.goto(server_url + "/" + fragment)
    page.wait_for_function("window.statusShownAt !== null", timeout=30_000)
    # from the moment the page's own document has arrived (the server's time is not the page's)
    took = page.evaluate("window.statusShownAt - performance.getEntriesByType('navigation')[0].responseEnd")
    assert "share link" in page.inner_text("#status"), page.inner_text("#status")
    inflated = page.evaluate("window.inflated")
    assert inflated < 2**20, f"{name}: {inflated:,} bytes inflated"
    assert took < 10_000, f"{name}: the message came {took:.0f} ms after the page arrived"
    assert max(page.evaluate("window.longTasks"), default=0) < 2000
    assert bodies == []  # nothing sent to the server
    draw(page, [SEVEN], False)  # and the page works
    assert page.inner_text("#answer") == "7"
    print(f"{name}: {len(fragment):,} characters, {inflated:,} bytes inflated, message after {took:.0f} ms")
    context.close()


@pytest.mark.parametrize("kind", ["shared", "taught"])
def test_a_link_made_with_other_weights_is_refused_with_a_sentence(page, server_url, kind):
    """Issue 37: when the served weights change, a link that is answered by the served network (the
    shared one, or lessons replayed on it) names weights that are gone; it is refused, not answered
    by the new network as if it were the one shared. A link carrying its own parameters still opens."""
    grid = np.zeros((28, 28), np.float32)
    grid[4:24, 13:15] = 1.0  # a 1
    make = """async ({ grid, kind, sha, base }) => {
        const share = await import("./js/share.js");
        const info = await (await fetch("/model")).json();
        const lessons = kind === "taught" ? [{ grid, label: 1, lr: 0.01 }] : [];
        return share.encodeState({ grid, label: 1, kind, sha: sha ?? info.sha256, base, count: 0, lessons },
                                 share.limits(28, info.parameters));
    }"""
    other = "0123456789ab"  # no weights of this project have this fingerprint
    fragment = page.evaluate(make, {"grid": grid.tolist(), "kind": kind, "sha": other, "base": None})
    page.goto("about:blank")  # a change of the fragment alone would not load the page again
    page.goto(server_url + "/#" + fragment)
    page.wait_for_function("document.querySelector('#status').textContent.includes('share link')")
    status = page.inner_text("#status")
    assert "another version of the shared network (0123456789ab" in status and "draw a digit instead" in status
    assert page.inner_text("#answer") == "?"  # nothing answered in its name
    # the same link made with the served weights opens and is answered
    fragment = page.evaluate(make, {"grid": grid.tolist(), "kind": kind, "sha": None, "base": None})
    page.goto("about:blank")
    page.goto(server_url + "/#" + fragment)
    page.wait_for_function("document.querySelector('#status').textContent.startsWith('Opened from a share link')")
    assert page.inner_text("#answer") == "1"
    if kind == "taught":  # with its own parameters (the served ones, sent along) any version opens it
        served = model.load(WEIGHTS).params
        base = encode_params(served)
        fragment = page.evaluate(make, {"grid": grid.tolist(), "kind": kind, "sha": other, "base": base})
        page.goto("about:blank")
        page.goto(server_url + "/#" + fragment)
        page.wait_for_function("document.querySelector('#status').textContent.startsWith('Opened from a share link')")


def test_the_largest_link_the_page_can_make_opens(page):
    """The caps sit just above what the page can make: the most lessons, on the most drawings, on
    parameters of its own (deflate cannot shrink random numbers), still opens."""
    rng = np.random.default_rng(0)
    grids = [rng.random((28, 28)).astype(np.float32).tolist() for _ in range(8)]
    params = base64.b64encode(rng.uniform(-1, 1, 3898).astype("<f4").tobytes()).decode()
    size = page.evaluate(
        """async ({ grids, params }) => {
            const share = await import("./js/share.js");
            const info = await (await fetch("/model")).json();
            const limit = share.limits(28, info.parameters);
            const lessons = Array.from({ length: share.MAX_LESSONS },
                                       (_, i) => ({ grid: grids[i % 8], label: i % 10, lr: 0.003 }));
            const fragment = await share.encodeState({ grid: grids[0], label: 3, kind: "taught", sha: info.sha256,
                                                       base: params, count: 5, lessons }, limit);
            const state = await share.decodeState(fragment, limit);
            return { length: fragment.length, cap: limit.maxText, lessons: state.lessons.length,
                     base: state.base === params };
        }""",
        {"grids": grids, "params": params},
    )
    assert size["lessons"] == 32 and size["base"]
    # the cap is what the format can hold at most (incompressible numbers); the page's own worst comes close
    assert size["length"] <= size["cap"] < 1.3 * size["length"], size
    print(size)


def test_axe_finds_no_violation_after_every_section_is_used(browser, server_url, size, artifacts):
    page = open_page(browser, server_url, size)
    touch = size == "phone"
    draw(page, [SEVEN], touch)
    page.locator("#blame button").nth(9).click()
    page.wait_for_function("document.body.dataset.explained === 'true'")
    page.click("#teach")
    page.wait_for_function("document.querySelector('#answering').textContent.startsWith('your copy')")
    page.click("#nudge")
    page.wait_for_function("document.querySelector('#nudged').dataset.reached !== undefined", timeout=15_000)
    page.click("#share")
    page.wait_for_function("document.querySelector('#share-link').value.includes('#s=')")
    page.click("#train-step")
    page.wait_for_function("(document.body.dataset.training ?? 'none') !== 'none'")
    page.locator("#shared-scale").check()
    grad = page.locator("#grad-dLk1 canvas").first
    grad.scroll_into_view_if_needed()
    grad.click(position={"x": 3, "y": 3})
    page.wait_for_function("document.querySelector('#pop-check').textContent.includes('relative error')")
    page.screenshot(path=str(artifacts / f"explorer-{size}.png"))
    results = Axe().run(page)
    assert results.violations_count == 0, results.generate_report()
    assert not page.errors
    page.context.close()


def test_the_tooltip_and_the_click_name_the_same_cell_at_fractional_positions(page):
    draw(page, [SEVEN], False)
    canvas = page.locator("#maps-C1 canvas").nth(1)
    box = canvas.bounding_box()
    for fx, fy in ((0.4375, 0.4167), (0.52, 0.51), (0.7291, 0.3333)):  # on and near cell borders
        x, y = box["x"] + fx * box["width"] + 0.37, box["y"] + fy * box["height"] + 0.61
        page.mouse.move(x, y)
        row, col = (int(v) for v in page.inner_text("#tooltip").split("[")[1].split("]")[0].split(", ")[1:])
        page.mouse.down()
        page.mouse.up()
        page.wait_for_function(f"document.querySelector('#equation').textContent.includes('S1[1,{row},{col}]')")
        page.keyboard.press("Escape")
