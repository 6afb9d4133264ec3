"""The progress bar both training commands draw on stderr: images per second, and what they pass it."""

from __future__ import annotations

import sys

from tqdm import tqdm


def progress_bar(total: int, desc: str) -> tqdm:
    return tqdm(
        total=total, desc=desc, unit="img", unit_scale=True, dynamic_ncols=True, mininterval=0.5, file=sys.stderr
    )
