"""Drawings and image files -> the 28x28 grids MNIST is made of.

MNIST's digits were made by fitting the ink's bounding box into 20x20 pixels
(aspect ratio kept, anti-aliased) and placing that in a 28x28 field so that the
centre of mass sits at the centre. `normalize` does the same to any drawing:

  1. find the ink's bounding box (pixels above a tenth of the darkest ink),
  2. resample the box so its longer side is 100 pixels, by area averaging
     (each new pixel is the mean of the old pixels it covers),
  3. widen strokes thinner than MNIST's (about 11% of the digit's longer side)
     with a square maximum filter, so a fine pen on a big canvas still looks
     like MNIST's pencil; thin strokes over 1.5 times as wide (a felt pen) to
     that with a square minimum filter,
  4. resample again so the longer side is 20 pixels (area averaging: anti-aliased),
  5. stretch the ink so its darkest pixel is 1, as in MNIST,
  6. place it in 28x28 so its centre of mass falls on pixel (14, 14), the mean
     centre of mass of MNIST's digits, moved by whole pixels only.

static/js/normalize.js follows these steps line for line, so the page and the
service turn the same drawing into the same grid (the browser tests check it).
Rounding is floor(x + 0.5) in both, never Python's round-half-to-even.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, replace

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from PIL import ExifTags, Image, UnidentifiedImageError

from .marks import Mark, select_digit
from .paper import Paper, read_paper

GRID = 28  # MNIST's field
BOX = 20  # the ink's bounding box is fitted into BOX x BOX
FINE = 100  # the intermediate resolution at which strokes are measured and widened
STROKE = 0.11  # MNIST's typical stroke width, as a fraction of the digit's longer side
CENTRE = 14.0  # where MNIST's centres of mass lie, in pixel indices
THICK = 1.5  # strokes wider than this many times MNIST's (a felt pen) are thinned to it
INK_THRESHOLD = 0.1  # of the darkest ink: fainter pixels don't extend the bounding box
BLANK_LEVEL = 0.05  # no pixel inkier than this: nothing was drawn

IMAGE_FORMATS = ("PNG", "JPEG", "GIF", "BMP", "WEBP")
MAX_PIXELS = 4096 * 4096  # larger images are refused before they are decoded (decompression bombs)
MAX_DRAWING_SIDE = 1024  # rows and columns of a raw drawing sent as JSON numbers
WORK_SIDE = 1024  # larger images are first reduced by a whole factor to at most this side
TINY_WORK_SIDE = 160  # images with fewer than BOX pixels a side are first blown up to about this side
# A JPEG's cost grows with its scans and markers, not only its pixels: a progressive JPEG of a
# photo has about 10 scans and 20 markers. Thousands of (empty) scans cost minutes of CPU.
MAX_JPEG_SCANS = 64
MAX_JPEG_MARKERS = 512
# Formats people send that are not read, by their first bytes, to name them in the refusal
OTHER_FORMATS = {
    b"II*\x00": "TIFF",
    b"MM\x00*": "TIFF",
    b"%PDF": "PDF",
    b"%!PS": "PostScript",
    b"\xc5\xd0\xd3\xc6": "EPS",
    b"\x00\x00\x00\x18ftypheic": "HEIC",
    b"\x00\x00\x00\x1cftypheic": "HEIC",
    b"<svg": "SVG",
    b"<?xml": "SVG",
    b"\x00\x00\x01\x00": "ICO",
}
# EXIF orientation -> the transpose that shows the picture upright (as ImageOps.exif_transpose)
UPRIGHT = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


@dataclass(frozen=True)
class Reading:
    """What was read off a picture: the digit's ink and how it was found."""

    ink: np.ndarray  # (H, W) in [0, 1], the digit's strokes alone
    paper: Paper  # the paper's estimate and all the ink on it
    dropped: list[Mark]  # marks that are not the digit


class InvalidImage(ValueError):
    """An image or drawing that cannot be made into a digit; the message says why."""

    status = 422


class EmptyDrawing(InvalidImage):
    """No ink at all: a blank canvas or a blank image."""


class UnsupportedImage(InvalidImage):
    """A file that is not one of IMAGE_FORMATS."""

    status = 415


class ImageTooLarge(InvalidImage):
    """An image with more than MAX_PIXELS pixels."""

    status = 413


def half_up(x: float) -> int:
    return math.floor(x + 0.5)


def area_weights(n_out: int, n_in: int) -> np.ndarray:
    """(n_out, n_in): row i averages the input cells that output cell i covers, by overlap."""
    scale = n_in / n_out
    lo = np.arange(n_out)[:, None] * scale  # output cell i spans [lo, hi) in input coordinates
    hi = lo + scale
    j = np.arange(n_in)[None, :]
    overlap = np.clip(np.minimum(hi, j + 1) - np.maximum(lo, j), 0, None)
    return overlap / scale


def resample(image: np.ndarray, side: int) -> np.ndarray:
    """Area-average image so that its longer side is `side` pixels, the aspect ratio kept."""
    h, w = image.shape
    th = max(1, half_up(h * side / max(h, w)))
    tw = max(1, half_up(w * side / max(h, w)))
    return area_weights(th, h) @ image @ area_weights(tw, w).T


def stroke_width(ink: np.ndarray) -> float:
    """The mean width of the strokes: twice the inked area over its perimeter (a band of
    width t and length L has area tL and perimeter about 2L)."""
    inked = ink > INK_THRESHOLD * ink.max()
    edges = (inked[1:] != inked[:-1]).sum() + (inked[:, 1:] != inked[:, :-1]).sum()
    edges += inked[0].sum() + inked[-1].sum() + inked[:, 0].sum() + inked[:, -1].sum()
    return 2 * inked.sum() / max(edges, 1)


def max_filter(image: np.ndarray, k: int) -> np.ndarray:
    """Each pixel the maximum of the k x k square around it (k odd); the image grows by k - 1."""
    padded = np.pad(image, k - 1)
    rows = sliding_window_view(padded, k, axis=0).max(axis=-1)
    return sliding_window_view(rows, k, axis=1).max(axis=-1)


def min_filter(image: np.ndarray, k: int) -> np.ndarray:
    """Each pixel the minimum of the k x k square around it (k odd), blank beyond the edges;
    the size is kept."""
    padded = np.pad(image, k // 2)
    rows = sliding_window_view(padded, k, axis=0).min(axis=-1)
    return sliding_window_view(rows, k, axis=1).min(axis=-1)


def normalize(ink: np.ndarray) -> np.ndarray:
    """(H, W) ink in [0, 1] (1 = ink) -> (28, 28) float32 in [0, 1], an MNIST-like digit."""
    ink = np.asarray(ink, dtype=np.float64)
    darkest = ink.max(initial=0.0)
    if darkest < BLANK_LEVEL:
        raise EmptyDrawing("the drawing is blank: draw a digit first")

    # 1. the bounding box of the ink
    inked = ink > INK_THRESHOLD * darkest
    rows, cols = np.flatnonzero(inked.any(axis=1)), np.flatnonzero(inked.any(axis=0))
    box = ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]

    # 2.-3. at a fixed fine resolution, thin strokes widened to MNIST's width
    fine = resample(box, FINE)
    missing = STROKE * FINE - stroke_width(fine)
    k = 2 * half_up(missing / 2) + 1
    if k > 1:
        fine = max_filter(fine, k)
    excess = -missing - (THICK - 1) * STROKE * FINE
    k = 2 * half_up(excess / 2) + 1
    if k > 1:  # a felt pen: strokes thinned to THICK times MNIST's width, holes as they are
        fine = min_filter(fine, k)

    # 4.-5. the longer side made BOX pixels, the darkest pixel 1
    digit = resample(fine, BOX)  # (th, tw)
    digit /= digit.max()

    # 6. the centre of mass moved to (14, 14), keeping the digit inside the field
    th, tw = digit.shape
    mass = digit.sum()
    cy = (digit.sum(axis=1) * np.arange(th)).sum() / mass
    cx = (digit.sum(axis=0) * np.arange(tw)).sum() / mass
    top = min(max(half_up(CENTRE - cy), 0), GRID - th)
    left = min(max(half_up(CENTRE - cx), 0), GRID - tw)
    grid = np.zeros((GRID, GRID))
    grid[top : top + th, left : left + tw] = digit
    return grid.astype(np.float32)


def decode_image(data: bytes) -> np.ndarray:
    """An image file's bytes -> (H, W) ink of the digit in [0, 1], upright (see read_image)."""
    return read_image(data).ink


def read_image(data: bytes) -> Reading:
    """An image file's bytes -> the digit's ink, upright, and how it was found.

    Only IMAGE_FORMATS are ever parsed, and structures whose cost is out of proportion to their
    pixels are refused before decoding (check_structure). The ink is separated from the paper
    locally (app/pictures/paper.py: uneven light, shadows, tinted paper, light ink on dark ground), and
    the digit from the other marks (app/pictures/marks.py: specks, ruled lines, the page's edge).
    Transparent pixels count as background, so strokes on a transparent canvas work too.
    """
    if not data:
        raise InvalidImage("the file is empty")
    check_structure(data)
    try:
        image = Image.open(io.BytesIO(data), formats=IMAGE_FORMATS)
    except Image.DecompressionBombError as e:  # Pillow's own, larger limit, checked on opening
        raise ImageTooLarge(f"the image is far too large ({e}); the limit is {MAX_PIXELS:,} pixels") from None
    except UnidentifiedImageError:
        kind = next((name for magic, name in OTHER_FORMATS.items() if data.startswith(magic)), None)
        if kind:
            raise UnsupportedImage(f"{kind} images are not supported; use one of {', '.join(IMAGE_FORMATS)}") from None
        raise UnsupportedImage(f"not an image in a supported format ({', '.join(IMAGE_FORMATS)})") from None
    except (OSError, ValueError, SyntaxError) as e:
        raise InvalidImage(f"the image is truncated or damaged: {e}") from None
    width, height = image.size
    if width * height > MAX_PIXELS:
        raise ImageTooLarge(f"the image has {width}x{height} pixels; the limit is {MAX_PIXELS:,} pixels")
    if width == 0 or height == 0:
        raise InvalidImage("the image has no pixels")
    try:
        orientation = image.getexif().get(ExifTags.Base.Orientation, 1)
        factor = math.ceil(max(width, height) / WORK_SIDE)  # the work is then at most WORK_SIDE a side
        if image.format == "JPEG" and factor > 1:
            image.draft(image.mode, (width // factor, height // factor))  # libjpeg scales while it decodes
            factor = math.ceil(max(image.size) / WORK_SIDE)
        image.seek(0)  # the first frame of an animation
        image.load()
        frame: Image.Image = image
        if frame.mode.startswith("I"):  # 16-bit greys: Pillow's convert() would clip them at 255, not scale them
            frame = Image.fromarray((np.asarray(frame).clip(0, 65535) >> 8).astype(np.uint8), "L")
        rgba = frame.convert("RGBA")
        if factor > 1:
            rgba = rgba.reduce(factor)
        elif max(rgba.size) < BOX:  # fewer pixels than MNIST's digits (an 8x8 scan): blown up smoothly
            grow = math.ceil(TINY_WORK_SIDE / max(rgba.size))  # as a scanner's driver would; square pixels
            rgba = rgba.resize((rgba.width * grow, rgba.height * grow), Image.Resampling.BICUBIC)  # read worse
        if orientation in UPRIGHT:  # a phone photo's pixels are stored as the sensor saw them
            rgba = rgba.transpose(UPRIGHT[orientation])
            if orientation >= 5:  # a quarter turn: the upright picture is height x width
                width, height = height, width
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as e:
        raise InvalidImage(f"the image is truncated or damaged: {e}") from None
    pixels = np.asarray(rgba, dtype=np.float64) / 255
    reading = read_picture(pixels)
    scale = (width / rgba.width, height / rgba.height)  # the work's pixels -> the picture's
    return replace(reading, dropped=[m.scaled(*scale) for m in reading.dropped])


def check_structure(data: bytes) -> None:
    """Refuse, before decoding, a file whose structure would cost far more than its pixels: a JPEG
    with more scans or markers than any camera or encoder writes."""
    if data[:3] == b"\xff\xd8\xff":
        b = np.frombuffer(data, np.uint8)
        follows = b[1:][b[:-1] == 0xFF]  # the byte after each 0xFF
        # a marker is 0xFF then C0..FE, except RST0..7 (D0..D7), which sit inside the compressed data
        markers = follows[(follows >= 0xC0) & (follows != 0xFF) & ((follows < 0xD0) | (follows > 0xD7))]
        scans = int(np.count_nonzero(markers == 0xDA))
        if scans > MAX_JPEG_SCANS or len(markers) > MAX_JPEG_MARKERS:
            raise InvalidImage(
                f"this JPEG has {scans} scans and {len(markers)} markers; a photo has about 10 and "
                f"20, and at most {MAX_JPEG_SCANS} and {MAX_JPEG_MARKERS} are read"
            )


def read_picture(rgba: np.ndarray) -> Reading:
    """(H, W, 4) RGBA in [0, 1] -> the digit's ink, the paper under it, and what else was on it."""
    lightness = rgba[..., :3] @ np.array([0.299, 0.587, 0.114])  # ITU-R 601 luma, as Pillow's "L"
    alpha = rgba[..., 3]
    if alpha.min() < 1:
        # Put the strokes on the background they contrast with: dark strokes on white, light on black.
        opaque_lightness = (lightness * alpha).sum() / max(alpha.sum(), 1e-12)
        background = 1.0 if opaque_lightness < 0.5 else 0.0
        lightness = alpha * lightness + (1 - alpha) * background
    paper = read_paper(lightness)
    if not paper.photo:  # a drawing made on a computer: every mark on it was drawn on purpose
        return Reading(paper.ink, paper, [])
    digit = select_digit(paper.ink)
    return Reading(digit.ink, paper, digit.dropped)
