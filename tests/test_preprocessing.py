"""Normalisation: any drawing becomes an MNIST-like 28x28 digit, and image files are read safely."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

import model
from app.pictures.preprocessing import (
    STROKE,
    THICK,
    EmptyDrawing,
    area_weights,
    decode_image,
    max_filter,
    normalize,
    resample,
    stroke_width,
)
from bench.renderings import STYLES, render
from tests.conftest import WEIGHTS


def centre_of_mass(grid: np.ndarray) -> tuple[float, float]:
    ys, xs = np.indices(grid.shape)
    return float((grid * ys).sum() / grid.sum()), float((grid * xs).sum() / grid.sum())


def png(array: np.ndarray, mode: str | None = None) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array, mode=mode).save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture
def seven() -> np.ndarray:
    """A thick 7 on a 200x160 canvas, well off-centre."""
    canvas = np.zeros((200, 160))
    canvas[30:42, 20:110] = 1.0  # the bar
    for i in range(100):  # the stem, going down to the left
        canvas[42 + i, 95 - i // 2 : 107 - i // 2] = 1.0
    return canvas


def test_area_weights_average_what_each_new_pixel_covers():
    W = area_weights(2, 5)  # two output pixels, each covering 2.5 input pixels
    assert np.allclose(W, [[0.4, 0.4, 0.2, 0, 0], [0, 0, 0.2, 0.4, 0.4]])
    assert np.allclose(area_weights(7, 3).sum(axis=1), 1)  # enlarging too: every row is a mean


def test_a_drawing_becomes_an_mnist_like_digit(seven):
    grid = normalize(seven)
    assert grid.shape == (28, 28) and grid.dtype == np.float32
    assert grid.max() == 1.0 and grid.min() == 0.0
    rows, cols = np.flatnonzero(grid.any(axis=1)), np.flatnonzero(grid.any(axis=0))
    assert max(rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1) == 20  # the longer side fits 20 pixels
    cy, cx = centre_of_mass(grid)
    assert abs(cy - 14) <= 0.5 and abs(cx - 14) <= 0.5  # centre of mass on (14, 14), to the pixel


def test_where_the_digit_is_drawn_does_not_matter(seven):
    moved = np.zeros((400, 500))
    moved[180:380, 10:170] = seven
    assert np.array_equal(normalize(moved), normalize(seven))


def test_the_size_of_the_drawing_barely_matters(seven):
    bigger = np.kron(seven, np.ones((3, 3)))  # the same drawing, three times larger
    assert np.abs(normalize(bigger) - normalize(seven)).mean() < 0.02


def test_thin_strokes_are_widened_to_mnists_width(seven):
    thin = np.zeros((600, 600))
    thin[100:500, 300:302] = 1.0  # a hairline "1"
    grid = normalize(thin)
    assert (grid > 0.5).sum(axis=1).max() >= 2  # at least two pixels wide, as MNIST's ones are
    fine = np.zeros((100, 100))
    fine[10:90, 48:52] = 1
    assert stroke_width(fine) == pytest.approx(4, rel=0.1)


def test_max_filter_grows_the_image_by_k_minus_1():
    image = np.zeros((5, 6))
    image[2, 3] = 1.0
    out = max_filter(image, 3)
    assert out.shape == (7, 8) and out.sum() == 9


def test_a_blank_drawing_is_refused():
    with pytest.raises(EmptyDrawing, match="blank"):
        normalize(np.zeros((50, 50)))
    with pytest.raises(EmptyDrawing):
        normalize(np.full((50, 50), 0.01))  # a little noise is not a digit


def test_dark_on_light_light_on_dark_and_transparent_canvases_agree(seven):
    dark_ink = (255 * (1 - seven)).astype(np.uint8)
    expected = normalize(decode_image(png(dark_ink)))
    light_ink = (255 * seven).astype(np.uint8)
    assert np.allclose(normalize(decode_image(png(light_ink))), expected, atol=1e-6)
    strokes = np.zeros((*seven.shape, 4), np.uint8)  # black strokes on a transparent canvas
    strokes[..., 3] = (255 * seven).astype(np.uint8)
    assert np.allclose(normalize(decode_image(png(strokes, "RGBA"))), expected, atol=1e-6)
    white = np.full((*seven.shape, 4), 255, np.uint8)  # white strokes on a transparent canvas
    white[..., 3] = (255 * seven).astype(np.uint8)
    assert np.allclose(normalize(decode_image(png(white, "RGBA"))), expected, atol=1e-6)


def test_grey_paper_is_background_not_ink(seven):
    photo = (200 - 150 * seven).astype(np.uint8)  # dark grey ink on light grey paper
    ink = decode_image(png(photo))
    assert ink.min() == 0  # the paper
    assert ink.max() == pytest.approx((200 - 50) / 200)  # the ink, as dark as it is against that paper


def test_a_large_image_is_reduced_before_the_work(seven):
    huge = np.kron((255 * (1 - seven)).astype(np.uint8), np.ones((15, 15), np.uint8))  # 3000x2400
    assert decode_image(png(huge)).shape == (1000, 800)  # reduced by 3, an integer factor


def test_a_picture_smaller_than_mnists_digits_is_blown_up_smoothly(mnist):
    """An 8x8 scan (UCI's optical digits are such) is read as the same scan blown up smoothly, not as
    a staircase of square pixels; MNIST's own 28x28 pictures are read as they are. On MNIST digits
    reduced to 8x8, the smooth reading is the better one (bench/other_sources.py: UCI's 1,797 scans
    at 8x8, 92.0 % -> 94.3 %)."""
    net = model.load(WEIGHTS)
    pick = np.random.default_rng(2).choice(len(mnist.test.labels), 150, replace=False)
    small, squares = [], []
    for i in pick:
        scan = Image.fromarray(255 - mnist.test.images[i]).resize((8, 8), Image.Resampling.BOX)
        smooth = scan.resize((160, 160), Image.Resampling.BICUBIC)
        square = scan.resize((160, 160), Image.Resampling.NEAREST)
        read = normalize(decode_image(png(np.asarray(scan))))
        assert np.allclose(read, normalize(decode_image(png(np.asarray(smooth)))), atol=1e-6)
        small.append(read)
        squares.append(normalize(decode_image(png(np.asarray(square)))))
    labels = mnist.test.labels[pick]
    as_scanned = (net.predict(np.stack(small)) == labels).mean()
    assert as_scanned > (net.predict(np.stack(squares)) == labels).mean() + 0.02, as_scanned
    digit = 255 - mnist.test.images[pick[0]]
    assert decode_image(png(digit)).shape == (28, 28)  # not blown up: as many pixels as MNIST's


def test_real_mnist_digits_drawn_any_way_are_recognised(mnist):
    """Every canvas style of bench/renderings.py, through file decoding and normalisation,
    scores nearly what the same digits score as MNIST gave them."""
    net = model.load(WEIGHTS)
    pick = np.random.default_rng(1).choice(len(mnist.test.labels), 200, replace=False)
    labels = mnist.test.labels[pick]
    as_given = float((net.predict(mnist.test.images[pick] / 255) == labels).mean())
    accuracy = {}
    for style in STYLES:
        grids = [normalize(decode_image(png(render(mnist.test.images[i], style)))) for i in pick]
        accuracy[style.name] = float((net.predict(np.stack(grids)) == labels).mean())
    assert min(accuracy.values()) >= as_given - 0.045, (as_given, accuracy)
    assert np.mean(list(accuracy.values())) >= min(0.97, as_given - 0.01), (as_given, accuracy)


def test_normalising_mnist_itself_keeps_it_recognisable(mnist):
    net = model.load(WEIGHTS)
    images = mnist.test.images[:1000] / 255
    normalised = np.stack([normalize(image) for image in images])
    assert (net.predict(normalised) == mnist.test.labels[:1000]).mean() >= 0.98


def test_a_felt_pens_strokes_are_thinned_towards_mnists_width():
    thick = np.zeros((300, 300))
    thick[20:280, 110:190] = 1.0  # a 1 whose stroke is 30 % of its height
    fine = resample(thick[20:280, 110:190], 100)
    assert stroke_width(fine) > 2 * STROKE * 100
    grid = normalize(thick)
    width = (grid > 0.5).sum(axis=1).max()
    assert width <= THICK * STROKE * 20 + 2  # about 1.5 times MNIST's width, in the 20x20 box
    moderate = np.zeros((300, 300))
    moderate[20:280, 135:165] = 1.0  # 11.5 %: MNIST's own width, left alone
    assert (normalize(moderate) > 0.5).sum(axis=1).max() >= 2
