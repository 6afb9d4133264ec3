"""The network, described once: its layers and their shapes, its parameters, and the gradients of
backpropagation in the order the article derives them, with its equation numbers.

model/network.py computes what is described here; the service (GET /model, app/api/responses.py) and
the page (which reads GET /model) take names, shapes and equation numbers from here, and nowhere
else writes them down.
"""

from __future__ import annotations

from math import prod
from typing import NamedTuple

IMAGE_SHAPE = (28, 28)
NUM_CLASSES = 10


class Layer(NamedTuple):
    name: str  # the article's symbol for what the layer puts out
    what: str  # the layer, in words
    shape: tuple[int, ...]  # of one image's output
    equation: str  # the article's equation number, "" where it has none


LAYERS = (
    Layer("I", "input", IMAGE_SHAPE, ""),
    Layer("C1", "conv 6x5x5 + ReLU", (6, 24, 24), "1"),
    Layer("P1", "max-pool 2x2", (6, 12, 12), "2"),
    Layer("C2", "conv 12x6x5x5 + ReLU", (12, 8, 8), "3"),
    Layer("P2", "max-pool 2x2", (12, 4, 4), "4"),
    Layer("f", "flatten", (192,), ""),
    Layer("S", "fully connected 10", (NUM_CLASSES,), "5"),
    Layer("O", "softmax", (NUM_CLASSES,), "5"),
)
FEATURE_MAPS = ("C1", "P1", "C2", "P2", "S")  # what the service shows of one image's forward pass

PARAM_SHAPES: dict[str, tuple[int, ...]] = {
    "k1": (6, 5, 5),
    "b1": (6,),
    "k2": (12, 6, 5, 5),
    "b2": (12,),
    "w": (10, 192),
    "b": (10,),
}
NUM_PARAMS = sum(prod(shape) for shape in PARAM_SHAPES.values())  # 3,898


class Gradient(NamedTuple):
    name: str
    equation: str  # "-" for the one the article does not derive
    shape: tuple[int, ...]  # for one image, or the parameter's shape
    meaning: str


GRADIENTS = (  # backpropagation's order: from the answer back to the image
    Gradient("dLS", "23", (10,), "∂L/∂S, the scores' gradient: O - y"),
    Gradient("dLb", "25", PARAM_SHAPES["b"], "∂L/∂b, the same as ∂L/∂S"),
    Gradient("dLw", "30", PARAM_SHAPES["w"], "∂L/∂w, the fully connected weights"),
    Gradient("dLf", "38", (192,), "∂L/∂f, the flattened P2"),
    Gradient("dLP2", "39", (12, 4, 4), "∂L/∂P2 = ∂L/∂f unflattened"),
    Gradient("dLC2", "43", (12, 8, 8), "∂L/∂C2: ∂L/∂P2 at each window's winner"),
    Gradient("dLS2", "45", (12, 8, 8), "∂L/∂S2, where S2 > 0"),
    Gradient("dLb2", "47", PARAM_SHAPES["b2"], "∂L/∂b2"),
    Gradient("dLk2", "50", PARAM_SHAPES["k2"], "∂L/∂k2, the second kernels"),
    Gradient("dLP1", "56", (6, 12, 12), "∂L/∂P1, carried back through the kernels k2"),
    Gradient("dLC1", "58", (6, 24, 24), "∂L/∂C1: only each window's winner"),
    Gradient("dLS1", "60", (6, 24, 24), "∂L/∂S1, the first convolution's output"),
    Gradient("dLb1", "62", PARAM_SHAPES["b1"], "∂L/∂b1"),
    Gradient("dLk1", "65", PARAM_SHAPES["k1"], "∂L/∂k1, the first kernels"),
    Gradient("dLI", "-", IMAGE_SHAPE, "for the image itself: which pixels matter"),
)


def summary() -> list[str]:
    """One line a layer, as the weights' metadata records the architecture."""
    lines = []
    for layer in LAYERS:
        if layer.name == "I":
            lines.append(f"input {'x'.join(map(str, layer.shape))}")
        elif layer.name == "S":
            lines.append(f"{layer.what} + softmax")
        elif layer.name != "O":
            lines.append(f"{layer.what} -> {'x'.join(map(str, layer.shape))}")
    return lines


ARCHITECTURE = summary()
