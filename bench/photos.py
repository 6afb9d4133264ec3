"""MNIST digits as a phone would photograph them written on paper, in the conditions people meet.

Used by bench/photo_accuracy.py and the photo tests. Each condition makes, from
one (28, 28) MNIST test digit and a random generator, the bytes of a JPEG photo:
the digit is printed as dark ink on paper (the paper reflects most light, the
ink little), lit by light that may vary across the sheet, seen through a
slightly blurred lens, with sensor noise, and saved as a JPEG.

    light = illumination(y, x) * reflectance(y, x)    (per colour channel)

The conditions: flat light; light from one side (the sheet going from grey to
white); a hard shadow edge across the sheet; tinted paper; a blue pen; specks
and a ruled line; a small digit with a lot of paper around it; a digit only
8x8 or 16x16 pixels large, scaled up; a felt pen several times thicker than
MNIST's strokes.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageFilter

from bench.renderings import square_filter

Rng = np.random.Generator
RGB = tuple[float, float, float]

WHITE_PAPER: RGB = (0.88, 0.87, 0.84)
BLACK_INK: RGB = (0.12, 0.12, 0.13)
BLUE_INK: RGB = (0.12, 0.2, 0.55)
TINTED_PAPERS: tuple[RGB, ...] = ((0.95, 0.88, 0.55), (0.95, 0.75, 0.8), (0.7, 0.85, 0.95), (0.75, 0.92, 0.7))


@dataclass(frozen=True)
class Sheet:
    """How one photo is taken; every field has the value of a plain photo on flat light."""

    size: tuple[int, int] = (480, 640)  # (height, width) of the photo
    digit_height: float = 0.5  # of the photo's height
    paper: RGB = WHITE_PAPER
    ink: RGB = BLACK_INK
    thicken: float = 0.0  # extra stroke width, as a fraction of the digit's height (felt pen)
    source_side: int = 0  # > 0: the digit is first reduced to this many pixels a side (a low-resolution crop)
    gradient: float = 0.0  # the darkest side of the sheet gets this much less light
    shadow: float = 0.0  # a shadow with a hard edge takes this much of the light where it falls
    specks: int = 0  # dark dots of pencil dust or dirt
    ruled: bool = False  # ruled lines, as on a notebook page
    blur: float = 1.0  # the lens's blur, in photo pixels (Gaussian radius)
    noise: float = 0.02  # the sensor's noise (standard deviation of the light, 0-1)
    quality: int = 75  # JPEG quality


def digit_ink(digit: np.ndarray, height: int, sheet: Sheet, rng: Rng) -> np.ndarray:
    """The digit's ink (0-1) at `height` pixels tall, as the pen left it."""
    rows, cols = np.flatnonzero(digit.any(axis=1)), np.flatnonzero(digit.any(axis=0))
    crop = Image.fromarray(digit[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1])
    if sheet.source_side:  # a small, blurred source: the digit reduced, then blown up again
        small = max(2, round(sheet.source_side * crop.width / crop.height))
        crop = crop.resize((small, sheet.source_side), Image.Resampling.BOX)
    width = max(1, round(crop.width * height / crop.height))
    ink = np.asarray(crop.resize((width, height), Image.Resampling.BICUBIC), dtype=np.float64) / 255
    if sheet.thicken:
        k = 2 * round(sheet.thicken * height / 2) + 1
        ink = square_filter(np.pad(ink, k), k, np.max)
    return np.clip(ink, 0, 1)


def illumination(shape: tuple[int, int], sheet: Sheet, rng: Rng) -> np.ndarray:
    """The light falling on each point of the sheet, 1 at its brightest."""
    h, w = shape
    ys, xs = np.mgrid[0:h, 0:w] / max(h, w)
    angle = rng.uniform(0, 2 * np.pi)
    along = np.cos(angle) * ys + np.sin(angle) * xs  # distance along a random direction
    light = np.ones(shape)
    if sheet.gradient:  # a lamp on one side: the light falls off linearly across the sheet
        light *= 1 - sheet.gradient * (along - along.min()) / np.ptp(along)
        light *= 1 - 0.15 * ((ys - 0.5 * h / max(h, w)) ** 2 + (xs - 0.5 * w / max(h, w)) ** 2)  # vignetting
    if sheet.shadow:  # a hand or a phone between the lamp and the sheet, its edge across the digit
        edge = rng.uniform(np.quantile(along, 0.35), np.quantile(along, 0.65))
        softness = 2 / max(h, w)
        light *= 1 - sheet.shadow / (1 + np.exp(-(along - edge) / softness))
    return light


def photograph(digit: np.ndarray, sheet: Sheet, rng: Rng) -> bytes:
    """The JPEG bytes of a photo of `digit` written on paper as `sheet` says."""
    h, w = sheet.size
    height = round(sheet.digit_height * h * rng.uniform(0.85, 1.15))
    ink = digit_ink(digit, height, sheet, rng)
    coverage = np.zeros((h, w))  # how much of each point the pen covered
    ih, iw = ink.shape
    top = int(rng.integers(int(0.05 * h), max(int(0.05 * h) + 1, h - ih - int(0.05 * h))))
    left = int(rng.integers(int(0.05 * w), max(int(0.05 * w) + 1, w - iw - int(0.05 * w))))
    coverage[top : top + ih, left : left + iw] = ink[: h - top, : w - left]
    if sheet.specks:
        for _ in range(sheet.specks):
            cy, cx = rng.integers(0, h), rng.integers(0, w)
            r = rng.uniform(1, 3)
            ys, xs = np.ogrid[0:h, 0:w]
            coverage = np.maximum(coverage, np.clip(r + 0.5 - np.hypot(ys - cy, xs - cx), 0, 1))
    paper = np.array(sheet.paper) * rng.uniform(0.95, 1.05)
    reflectance = paper + coverage[..., None] * (np.array(sheet.ink) - paper)
    if sheet.ruled:  # thin light-blue lines, one under the digit, spaced as in a notebook
        spacing = max(8, round(0.3 * ih))
        thickness = max(1, round(0.006 * h))
        line = np.array([0.55, 0.7, 0.9]) * paper
        for y in range(int(top) + ih - thickness - spacing * (h // spacing), h, spacing):
            if 0 <= y < h:
                lit = reflectance[y : y + thickness]
                reflectance[y : y + thickness] = np.minimum(lit, line)
        if rng.random() < 0.5:  # a red margin line on one side
            margin = int(rng.integers(int(0.02 * w), max(int(0.02 * w) + 1, left - 4)))
            reflectance[:, margin : margin + thickness] = np.minimum(
                reflectance[:, margin : margin + thickness], [0.9, 0.45, 0.45]
            )
    light = illumination((h, w), sheet, rng)[..., None] * reflectance
    image = Image.fromarray((np.clip(light, 0, 1) * 255).astype(np.uint8), "RGB")
    if sheet.blur:
        image = image.filter(ImageFilter.GaussianBlur(sheet.blur * rng.uniform(0.7, 1.3)))
    pixels = np.asarray(image, dtype=np.float64) + rng.normal(0, 255 * sheet.noise, (h, w, 3))
    image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")
    buf = io.BytesIO()
    image.save(buf, format="JPEG", quality=sheet.quality)
    return buf.getvalue()


@dataclass(frozen=True)
class Condition:
    name: str
    sheet: Sheet
    about: str

    def photo(self, digit: np.ndarray, rng: Rng) -> bytes:
        sheet = self.sheet
        if sheet.paper == TINTED_PAPERS[0]:  # one of the tints, at random
            sheet = Sheet(**{**sheet.__dict__, "paper": TINTED_PAPERS[rng.integers(len(TINTED_PAPERS))]})
        return photograph(digit, sheet, rng)


CONDITIONS: tuple[Condition, ...] = (
    Condition("flat light", Sheet(), "white paper, even light"),
    Condition("light from one side", Sheet(gradient=0.6), "the sheet goes from 40 % to full light, and vignetting"),
    Condition("shadow edge", Sheet(shadow=0.55, gradient=0.2), "a hard shadow takes 55 % of the light on part of it"),
    Condition("tinted paper", Sheet(paper=TINTED_PAPERS[0], gradient=0.3), "yellow, pink, blue or green paper"),
    Condition("blue pen", Sheet(ink=BLUE_INK, gradient=0.3), "a blue ballpoint on white paper"),
    Condition("specks and ruled lines", Sheet(specks=12, ruled=True), "a notebook page with dust on it"),
    Condition("small on a big sheet", Sheet(digit_height=0.12, size=(960, 1280)), "the digit is 12 % of the photo"),
    Condition("8x8 source", Sheet(source_side=8, size=(240, 240), digit_height=0.7, noise=0.01), "blown up 20x"),
    Condition("16x16 source", Sheet(source_side=16, size=(240, 240), digit_height=0.7, noise=0.01), "blown up 10x"),
    Condition("thick felt pen", Sheet(thicken=0.12), "strokes about twice MNIST's width"),
)

PhotoMaker = Callable[[np.ndarray, Rng], bytes]
