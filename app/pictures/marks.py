"""Which of the marks on a picture is the digit: stroke groups, ruled lines, specks.

A photo of paper holds more than the digit: dust, pencil dots, a notebook's
ruled lines and margin, the edge of the page. The digit is what a person would
point at: the largest group of strokes, where strokes that nearly touch (a 4
or a 5 written in two strokes) belong to one group. Everything else is dropped
and named in the answer, rather than kept to shrink the digit into a corner of
its 20x20 box.

  1. The ink is thresholded on a grid of at most GRID_CELLS cells a side (a cell
     is inked if any of its pixels is).
  2. Ruled lines: runs of inked cells along a row (or a column) longer than
     LINE_SPAN of the picture's width (or height) are lines, not strokes,
     unless nothing else is inked.
  3. The rest is split into 8-connected marks (label propagation with pointer
     jumping, a few dozen whole-array steps).
  4. The heaviest mark (by ink) is the seed; marks within GAP of the group's
     size join it, repeatedly. The others are dropped.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .paper import blocks, dilate, erode

GRID_CELLS = 192  # the marks are found on a grid at most this many cells a side
INKED = 0.3  # of the darkest ink: fainter pixels do not make a cell inked
LINE_SPAN = 0.75  # a row or column run this long (of the picture's width or height) is a ruled line
LINE_FILL = 0.7  # ... of which at least this share is inked (a faint line breaks up in the noise)
LINE_INK = 0.12  # of the darkest ink: the threshold for lines, fainter than the pen's strokes
LINE_WIDTH = 0.02  # ... and at most this thick (of the picture's longer side), on average
LINE_CROSSING = 4  # a stroke's two sides of a line are one stroke when they are this few cells apart
LINE_TILT = 1  # rows (or columns) either side that a run may wander into: lines are seldom level
GAP = 0.25  # marks nearer than this (of the group's longer side) to the group join it
JOIN_MASS = 0.05  # ... if they hold at least this share of the group's ink, or lie within its box
FRAMED_ODDS = 3  # a mark cut by the frame is the digit only if this many times heavier
KEEP_MARGIN = 0.05  # faint ink this near the group (of its longer side) is the digit's: blurred edges
SPECK = 0.01  # marks inside the group's box join it only if they hold this share of its ink
MAX_STEPS = 1000  # label propagation steps; a spiral the size of the grid needs that many at most


@dataclass(frozen=True)
class Mark:
    kind: str  # "line" or "mark"
    box: tuple[int, int, int, int]  # (left, top, right, bottom) in the picture's pixels, right/bottom excluded
    share: float  # of all the ink in the picture

    def scaled(self, sx: float, sy: float) -> Mark:
        """The same mark in a picture sx times wider and sy times taller."""
        left, top, right, bottom = self.box
        box = (math.floor(left * sx), math.floor(top * sy), math.ceil(right * sx), math.ceil(bottom * sy))
        return Mark(self.kind, box, self.share)


@dataclass(frozen=True)
class Selection:
    ink: np.ndarray  # (H, W): the digit's ink alone
    dropped: list[Mark]


def label(mask: np.ndarray) -> np.ndarray:
    """8-connected components of a boolean grid: each inked cell gets the smallest flat index in
    its component, other cells get mask.size."""
    h, w = mask.shape
    n = mask.size
    labels = np.where(mask, np.arange(n).reshape(h, w), n)
    for _ in range(MAX_STEPS):
        padded = np.pad(labels, 1, constant_values=n)
        smallest = labels.copy()
        for dy in (0, 1, 2):
            for dx in (0, 1, 2):
                np.minimum(smallest, padded[dy : dy + h, dx : dx + w], out=smallest)
        smallest = np.where(mask, smallest, n)
        flat = np.append(smallest.ravel(), n)
        for _ in range(4):  # pointer jumping: a cell takes its label's label
            flat = flat[flat]
        done = np.array_equal(flat[:n], labels.ravel())
        labels = flat[:n].reshape(h, w)
        if done:
            break
    return labels


def ruled_lines(mask: np.ndarray) -> np.ndarray:
    """The cells of long straight runs along rows (or columns), allowing a little tilt and gaps
    (a faint line in a noisy photo breaks up), each thin for its length."""
    lines = np.zeros_like(mask)
    for axis in (0, 1):  # runs along rows (axis 1 varies) and along columns
        grid = mask if axis == 0 else mask.T
        band = grid.copy()
        for s in range(1, LINE_TILT + 1):  # a run may step up or down a cell or so
            band[s:] |= grid[:-s]
            band[:-s] |= grid[s:]
        k = math.ceil(LINE_SPAN * grid.shape[1])
        if k > grid.shape[1]:
            continue
        inked = np.pad(np.cumsum(band, axis=1), ((0, 0), (1, 0)))
        full = inked[:, k:] - inked[:, :-k] >= LINE_FILL * k  # window [i, i + k) mostly inked
        starts = np.pad(np.cumsum(full, axis=1), ((0, 0), (k, k - 1)), mode="edge")
        starts[:, :k] = 0
        covered = starts[:, k:] - starts[:, :-k] > 0  # cell j: some window starting in (j - k, j]
        found = covered & grid
        # a line is thin for its length: a 7's bar across a tight crop is a stroke, not a line
        labels = label(found)
        thickest = max(LINE_WIDTH * max(mask.shape), 2)
        for root in np.unique(labels[found]):
            cells = labels == root
            if cells.sum() > thickest * np.count_nonzero(cells.any(axis=0)):
                found[cells] = False
        lines |= found if axis == 0 else found.T
    return lines


def bridges(strokes: np.ndarray, lines: np.ndarray) -> np.ndarray:
    """The cells of lines that a stroke crosses: ink on both sides, within LINE_CROSSING cells.
    Two parts of a digit that a ruled line separated are one mark again."""
    sides = {k: np.zeros_like(strokes) for k in ("up", "down", "left", "right")}
    for s in range(1, LINE_CROSSING + 1):
        sides["up"][s:] |= strokes[:-s]
        sides["down"][:-s] |= strokes[s:]
        sides["left"][:, s:] |= strokes[:, :-s]
        sides["right"][:, :-s] |= strokes[:, s:]
    return lines & (sides["up"] & sides["down"] | sides["left"] & sides["right"])


def select_digit(ink: np.ndarray) -> Selection:
    """Keep the digit's stroke group in a photo; name what else is dropped (see the module's
    docstring). Marks cut by the frame (a shadow's corner, the page's edge, the table) are not
    the digit while something else is there."""
    h, w = ink.shape
    darkest = float(ink.max(initial=0.0))
    if darkest <= 0:
        return Selection(ink, [])
    c = max(1, math.ceil(max(h, w) / GRID_CELLS))
    cell_ink = blocks(ink, c, np.add)
    mask = blocks(ink > INKED * darkest, c, np.logical_or)
    lines = ruled_lines(blocks(ink > LINE_INK * darkest, c, np.logical_or))
    if lines.all() or not (mask & ~lines).any():
        lines[:] = False  # only lines: they must be the digit (a 1, a 7's bar)
    labels = label(mask & ~lines | bridges(mask & ~lines, lines))
    roots, inverse = np.unique(labels, return_inverse=True)
    ids: np.ndarray = inverse.reshape(labels.shape)
    count = len(roots) - (roots[-1] == labels.size)  # the last root is the background, if any
    total = float(cell_ink.sum())
    ys, xs = (np.asarray(axis) for axis in np.indices(mask.shape))
    inked: np.ndarray = ids < count
    mass = np.bincount(ids[inked], weights=cell_ink[inked], minlength=count)
    top = np.full(count, mask.shape[0])
    left = np.full(count, mask.shape[1])
    bottom = np.zeros(count, int)
    right = np.zeros(count, int)
    np.minimum.at(top, ids[inked], ys[inked])
    np.minimum.at(left, ids[inked], xs[inked])
    np.maximum.at(bottom, ids[inked], ys[inked] + 1)
    np.maximum.at(right, ids[inked], xs[inked] + 1)

    framed = (top > 0) & (left > 0) & (bottom < mask.shape[0]) & (right < mask.shape[1])
    if mass.max() > FRAMED_ODDS * np.where(framed, mass, 0).max():
        framed[:] = True  # a digit cut by the frame (a tight crop) is still the digit
    group = np.zeros(count, bool)
    group[int(np.where(framed, mass, -1).argmax())] = True
    while True:
        g_top, g_left = top[group].min(), left[group].min()
        g_bottom, g_right = bottom[group].max(), right[group].max()
        gap = GAP * max(g_bottom - g_top, g_right - g_left)
        distance = np.maximum(
            np.maximum(g_top - bottom, top - g_bottom), np.maximum(g_left - right, left - g_right)
        ).clip(0)
        inside = (top >= g_top) & (bottom <= g_bottom) & (left >= g_left) & (right <= g_right)
        heavy = mass >= np.where(inside, SPECK, JOIN_MASS) * mass[group].sum()
        joins = ~group & framed & (distance <= gap) & heavy
        if not joins.any():
            break
        group |= joins

    grouped = group[np.minimum(ids, count - 1)] & inked
    margin = 2 * round(KEEP_MARGIN * max(g_bottom - g_top, g_right - g_left)) + 3  # the group's box, as it ended
    near = dilate(grouped.astype(np.uint8), margin).astype(bool)
    others = dilate((inked & ~grouped).astype(np.uint8), 3).astype(bool)
    # where a ruled line crosses a stroke, the crossing is the digit's
    keep = near & ~others & ~lines | dilate(grouped.astype(np.uint8), 3).astype(bool)
    keep |= lines & erode(dilate(grouped.astype(np.uint8), 5), 5).astype(bool)  # a closing of the group
    keep_pixels = np.repeat(np.repeat(keep, c, axis=0), c, axis=1)[:h, :w]
    dropped = [
        Mark(
            "mark",
            (int(left[i] * c), int(top[i] * c), int(min(right[i] * c, w)), int(min(bottom[i] * c, h))),
            float(mass[i] / total),
        )
        for i in np.flatnonzero(~group)
    ]
    if lines.any():
        line_labels = label(lines)
        for root in np.unique(line_labels[lines]):
            cells = line_labels == root
            rows, cols = np.flatnonzero(cells.any(axis=1)), np.flatnonzero(cells.any(axis=0))
            box = (int(cols[0] * c), int(rows[0] * c), int(min((cols[-1] + 1) * c, w)), int(min((rows[-1] + 1) * c, h)))
            dropped.append(Mark("line", box, float(cell_ink[cells].sum() / total)))
    dropped.sort(key=lambda m: -m.share)
    return Selection(np.where(keep_pixels, ink, 0.0), dropped)
