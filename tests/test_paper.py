"""Reading photos of paper: the paper's estimate, the digit among other marks, on pictures whose
right answer is known, and the photo conditions of bench/photo_accuracy.py through the service."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from app.pictures.marks import label, select_digit
from app.pictures.paper import closing, read_paper, running_extreme
from app.pictures.preprocessing import read_picture
from bench.photos import CONDITIONS


def rgba(lightness: np.ndarray) -> np.ndarray:
    return np.dstack([lightness] * 3 + [np.ones_like(lightness)])


def ring(shape: tuple[int, int], centre: tuple[int, int], radius: float, width: float) -> np.ndarray:
    """A 0 drawn with a pen `width` pixels wide: 1 on the stroke, 0 elsewhere."""
    ys, xs = np.indices(shape)
    return (np.abs(np.hypot(ys - centre[0], xs - centre[1]) - radius) < width / 2).astype(float)


@pytest.mark.parametrize("k", [1, 3, 5, 9, 31, 101])
def test_running_extreme_is_the_sliding_max_and_min(k):
    a = np.random.default_rng(k).random((7, 40))
    padded = np.pad(a, ((0, 0), (k // 2, k // 2)), constant_values=-np.inf)
    expected = np.array([[row[i : i + k].max() for i in range(40)] for row in padded])
    assert np.array_equal(running_extreme(a, k, 1, np.maximum, -np.inf), expected)
    b = a.T  # (40, 7): along the first axis
    padded = np.pad(b, ((k // 2, k // 2), (0, 0)), constant_values=np.inf)
    expected = np.array([[padded[i : i + k, j].min() for j in range(7)] for i in range(40)])
    assert np.array_equal(running_extreme(b, k, 0, np.minimum, np.inf), expected)


def test_a_closing_removes_strokes_and_keeps_shadow_steps():
    paper = np.where(np.arange(200)[None, :] < 120, 0.9, 0.4) * np.ones((200, 1))  # a shadow on the right
    strokes = paper * (1 - 0.85 * ring((200, 200), (100, 90), 50, 12))
    assert np.allclose(closing(strokes, 31), paper)


def test_a_canvas_drawing_is_read_as_before():
    """On a flat white (or black) ground the ink is 1 - L (or L), every mark kept: the page's
    normalisation and the service's still agree."""
    drawing = ring((280, 280), (140, 140), 80, 20)
    drawing[10:14, 10:14] = 1  # a stray dot, drawn on purpose as far as we know
    lightness = 1 - drawing * np.random.default_rng(0).uniform(0.5, 1, drawing.shape)
    for picture in (lightness, 1 - lightness):  # dark ink on white, light ink on black
        reading = read_picture(rgba(picture))
        assert not reading.paper.photo and reading.dropped == []
        assert np.allclose(reading.ink, 1 - lightness, rtol=0, atol=1e-12)


def test_uneven_light_and_a_shadow_edge_leave_only_the_ink():
    h, w = 300, 400
    ys, xs = np.indices((h, w))
    light = (0.45 + 0.55 * xs / w) * np.where(ys + 0.5 * xs < 260, 1.0, 0.45)  # a lamp on the right, a shadow
    stroke = ring((h, w), (150, 200), 70, 10)
    lightness = light * (0.85 - 0.75 * stroke) + np.random.default_rng(1).normal(0, 0.01, (h, w))
    reading = read_picture(rgba(np.clip(lightness, 0, 1)))
    assert reading.paper.photo and not reading.paper.light_on_dark
    on_stroke = ring((h, w), (150, 200), 70, 4) > 0  # the middle of the pen's line
    off_stroke = ring((h, w), (150, 200), 70, 30) == 0
    assert reading.ink[on_stroke].min() > 0.6  # as dark in the shadow as in the light
    assert np.quantile(reading.ink[off_stroke], 0.999) < 0.05  # the shadow's edge is not ink
    assert reading.paper.uneven > 0.5
    # the shadow's corners cut by the frame are narrower than the closing: ink, but not the digit
    assert {m.kind for m in reading.dropped} <= {"mark"}


def test_chalk_on_a_dark_board_is_light_ink():
    h, w = 200, 300
    board = 0.15 + 0.1 * np.indices((h, w))[1] / w + np.random.default_rng(2).normal(0, 0.01, (h, w))
    lightness = np.clip(board + 0.7 * ring((h, w), (100, 150), 60, 8), 0, 1)
    paper = read_paper(lightness)
    assert paper.light_on_dark
    assert paper.ink[ring((h, w), (100, 150), 60, 3) > 0].min() > 0.5


def flood_fill_count(mask: np.ndarray) -> int:
    """Components by a plain breadth-first search, the slow and obvious way, to check label()."""
    seen = np.zeros_like(mask)
    count = 0
    for start in zip(*np.nonzero(mask), strict=True):
        if seen[start]:
            continue
        count += 1
        todo = [start]
        seen[start] = True
        while todo:
            y, x = todo.pop()
            for ny in range(max(y - 1, 0), min(y + 2, mask.shape[0])):
                for nx in range(max(x - 1, 0), min(x + 2, mask.shape[1])):
                    if mask[ny, nx] and not seen[ny, nx]:
                        seen[ny, nx] = True
                        todo.append((ny, nx))
    return count


@pytest.mark.parametrize("density", [0.2, 0.45, 0.6])
def test_labels_are_the_8_connected_components(density):
    mask = np.random.default_rng(3).random((40, 60)) < density
    labels = label(mask)
    assert np.all(labels[~mask] == mask.size)
    assert len(np.unique(labels[mask])) == flood_fill_count(mask)
    for dy, dx in ((0, 1), (1, 0), (1, 1), (1, -1)):  # neighbours always share a label
        a = mask[: mask.shape[0] - dy, max(0, -dx) : mask.shape[1] - max(0, dx)]
        b = mask[dy:, max(0, dx) : mask.shape[1] + min(0, dx)]
        la = labels[: mask.shape[0] - dy, max(0, -dx) : mask.shape[1] - max(0, dx)]
        lb = labels[dy:, max(0, dx) : mask.shape[1] + min(0, dx)]
        assert np.all(la[a & b] == lb[a & b])


def test_a_spiral_is_one_component():
    mask = np.zeros((41, 41), bool)
    y, x, step = 20, 20, 1
    for turn in range(36):  # a square spiral, the worst case for label propagation
        dy, dx = ((0, 1), (1, 0), (0, -1), (-1, 0))[turn % 4]
        for _ in range(step):
            if 0 <= y + 2 * dy < 41 and 0 <= x + 2 * dx < 41:
                mask[y + dy, x + dx] = mask[y + 2 * dy, x + 2 * dx] = True
                y, x = y + 2 * dy, x + 2 * dx
        step += turn % 2
    assert len(np.unique(label(mask)[mask])) == 1


def test_specks_and_ruled_lines_are_dropped_and_named():
    h, w = 400, 600
    ink = ring((h, w), (200, 300), 80, 14)
    ink[40:43, :] = 0.7  # ruled lines across the page
    ink[330:333, :] = 0.7
    ink[20:26, 30:36] = 1  # specks far from the digit
    ink[370:375, 560:566] = 1
    chosen = select_digit(ink)
    assert np.array_equal(chosen.ink[100:300, 200:400] > 0, ring((h, w), (200, 300), 80, 14)[100:300, 200:400] > 0)
    assert chosen.ink[:60].max() == 0 and chosen.ink[320:].max() == 0
    kinds = sorted(m.kind for m in chosen.dropped)
    assert kinds == ["line", "line", "mark", "mark"]
    specks = [m.box for m in chosen.dropped if m.kind == "mark"]
    assert any(left <= 30 and top <= 20 and right >= 36 and bottom >= 26 for left, top, right, bottom in specks)


def test_a_digit_in_two_strokes_is_one_group():
    ink = np.zeros((300, 300))
    ink[50:200, 80:92] = 1  # a 4: the left stroke and the bar...
    ink[188:200, 80:220] = 1
    ink[70:270, 170:182] = 1  # ... and the stem, written separately, a few pixels apart
    ink[80:200, 168] = 0
    ink[188:200, 160:170] = 0
    chosen = select_digit(ink)
    assert chosen.dropped == [] and np.array_equal(chosen.ink, ink)


def test_a_sevens_bar_across_a_tight_crop_is_a_stroke_not_a_line():
    ink = np.zeros((120, 100))
    ink[5:25, 0:100] = 1  # the bar, edge to edge, a fifth of the crop thick
    for i in range(90):
        ink[25 + i, 70 - i // 2 : 84 - i // 2] = 1
    chosen = select_digit(ink)
    assert chosen.dropped == [] and np.array_equal(chosen.ink, ink)


def test_a_shadows_corner_at_the_frame_is_not_the_digit():
    ink = ring((300, 400), (150, 200), 60, 12)
    ys, xs = np.indices(ink.shape)
    ink[(ys + xs < 60)] = 0.6  # a dark corner cut by the frame, heavier than a speck
    chosen = select_digit(ink)
    assert chosen.ink[:40, :40].max() == 0
    assert [m.kind for m in chosen.dropped] == ["mark"] and chosen.dropped[0].box[:2] == (0, 0)


def test_a_photo_of_a_notebook_page_is_read_to_the_digit(mnist):
    """End to end on one photo: the reading finds the digit and drops nothing that is ink of it."""
    condition = next(c for c in CONDITIONS if c.name == "specks and ruled lines")
    digit = mnist.test.images[0]  # a 7
    photo = condition.photo(digit, np.random.default_rng(5))
    pixels = np.asarray(Image.open(io.BytesIO(photo)).convert("RGBA"), dtype=np.float64) / 255
    reading = read_picture(pixels)
    assert reading.paper.photo and not reading.paper.light_on_dark
    assert {m.kind for m in reading.dropped} == {"line", "mark"}
    assert reading.ink.max() > 0.5


@pytest.mark.parametrize("condition", CONDITIONS, ids=[c.name for c in CONDITIONS])
def test_photos_are_read_right_through_the_service(client, mnist, condition):
    """A sample of bench/photo_accuracy.py in CI: 40 test digits per condition, photographed
    afresh, sent as JPEG files. The bench's 500 per condition are all above 95 %."""
    pick = np.random.default_rng(7).choice(len(mnist.test.labels), 40, replace=False)
    rng = np.random.default_rng(8)
    right = 0
    for i in pick:
        r = client.post("/predict/image", files={"file": ("p.jpg", condition.photo(mnist.test.images[i], rng))})
        assert r.status_code == 200
        assert set(r.json()["reading"]) == {"photo", "light_on_dark", "uneven_light", "dropped", "dropped_count"}
        right += r.json()["label"] == mnist.test.labels[i]
    assert right >= 36, f"{condition.name}: {right} of 40"
