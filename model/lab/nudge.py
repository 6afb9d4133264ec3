"""Change the drawing, not the network: gradient steps on the image towards a chosen digit.

    I <- clip(I - η ∂L/∂I, 0, 1),   L = -ln O_target

∂L/∂I is what backpropagation already computes for the explorer (dLI: the first convolution's
gradient carried one step further, to the pixels). The steps stop when the network reads the
target, or after max_steps. "add" keeps only the steps that add ink, "remove" only those that
take it away: how little it takes, either way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from ..architecture import IMAGE_SHAPE
from ..network import Params, backprop, forward

Mode = Literal["any", "add", "remove"]
MAX_STEPS = 200  # the most steps one call may take (POST /nudge's bound): about 1 ms each


@dataclass(frozen=True)
class Nudge:
    frames: np.ndarray  # (steps + 1, 28, 28): the drawing before each step, and the last one
    target_probability: np.ndarray  # (steps + 1,): O_target on each frame
    label: int  # what the network reads on the last frame
    probabilities: np.ndarray  # (10,) on the last frame (the article's softmax, uncalibrated)
    steps: int

    @property
    def l2(self) -> float:
        return float(np.linalg.norm(self.frames[-1] - self.frames[0]))

    @property
    def largest_change(self) -> float:
        return float(np.abs(self.frames[-1] - self.frames[0]).max())


def nudge(params: Params, image: np.ndarray, target: int, step: float, max_steps: int, mode: Mode = "any") -> Nudge:
    I = np.asarray(image, np.float64).reshape(IMAGE_SHAPE).copy()
    p = {k: np.asarray(v, np.float64) for k, v in params.items()}
    frames, chances = [], []
    y = np.array([target])
    for _ in range(max_steps + 1):
        fw = forward(p, I[None])
        frames.append(I.copy())
        chances.append(fw.O[0, target])
        if fw.O[0].argmax() == target or len(frames) > max_steps:
            break
        move = -step * backprop(p, fw, y).dLI[0]
        if mode == "add":
            move = np.maximum(move, 0)
        elif mode == "remove":
            move = np.minimum(move, 0)
        I = np.clip(I + move, 0, 1)
    O = fw.O[0]
    return Nudge(np.array(frames), np.array(chances), int(O.argmax()), O, len(frames) - 1)
