"""The network, described once: its layers and their shapes, its parameters, and the gradients of
backpropagation in the order the article derives them, with its equation numbers.

The article's network is one of a family (Architecture: n1 and n2 kernels of side k); LAYERS,
PARAM_SHAPES, GRADIENTS and the rest below are the article's, which the service serves.
model/network.py computes what is described here; the service (GET /model, app/api/responses.py) and
the page (which reads GET /model) take names, shapes and equation numbers from here, and nowhere
else writes them down.
"""

from __future__ import annotations

from math import prod
from typing import Any, NamedTuple

IMAGE_SHAPE = (28, 28)
NUM_CLASSES = 10


class Layer(NamedTuple):
    name: str  # the article's symbol for what the layer puts out
    what: str  # the layer, in words
    shape: tuple[int, ...]  # of one image's output
    equation: str  # the article's equation number, "" where it has none


class Gradient(NamedTuple):
    name: str
    equation: str  # "-" for the one the article does not derive
    shape: tuple[int, ...]  # for one image, or the parameter's shape
    meaning: str


class Architecture(NamedTuple):
    """The family of the article's network: its numbers of kernels and their side, every size derived.

    The article's is Architecture(n1=6, n2=12, k=5). A max-pool of a map with an odd side drops its
    last row and column (as PyTorch's floor mode does): k=3 gives C1 26x26, P1 13x13, C2 11x11, P2 5x5.
    """

    n1: int = 6  # kernels of the first convolution (maps of C1)
    n2: int = 12  # kernels of the second convolution (maps of C2)
    k: int = 5  # the side of every kernel

    @property
    def sides(self) -> tuple[int, int, int, int]:
        """The sides of C1, P1, C2 and P2's maps: 24, 12, 8 and 4 for the article's."""
        c1 = IMAGE_SHAPE[0] - self.k + 1
        c2 = c1 // 2 - self.k + 1
        return c1, c1 // 2, c2, c2 // 2

    @property
    def flat(self) -> int:
        """The length of f, the flattened P2: 192 for the article's."""
        return self.n2 * self.sides[3] ** 2

    def check(self) -> Architecture:
        """self, or ValueError if it cannot be built (a map with no pixel left)."""
        if min(self) < 1 or self.sides[3] < 1:
            raise ValueError(f"no network with n1={self.n1}, n2={self.n2}, k={self.k}: P2 would have no pixel")
        return self

    def layers(self) -> tuple[Layer, ...]:
        n1, n2, k = self
        c1, p1, c2, p2 = self.sides
        return (
            Layer("I", "input", IMAGE_SHAPE, ""),
            Layer("C1", f"conv {n1}x{k}x{k} + ReLU", (n1, c1, c1), "1"),
            Layer("P1", "max-pool 2x2", (n1, p1, p1), "2"),
            Layer("C2", f"conv {n2}x{n1}x{k}x{k} + ReLU", (n2, c2, c2), "3"),
            Layer("P2", "max-pool 2x2", (n2, p2, p2), "4"),
            Layer("f", "flatten", (self.flat,), ""),
            Layer("S", f"fully connected {NUM_CLASSES}", (NUM_CLASSES,), "5"),
            Layer("O", "softmax", (NUM_CLASSES,), "5"),
        )

    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        n1, n2, k = self
        return {
            "k1": (n1, k, k),
            "b1": (n1,),
            "k2": (n2, n1, k, k),
            "b2": (n2,),
            "w": (NUM_CLASSES, self.flat),
            "b": (NUM_CLASSES,),
        }

    @property
    def num_params(self) -> int:
        return sum(prod(shape) for shape in self.param_shapes().values())

    def gradients(self) -> tuple[Gradient, ...]:
        """Backpropagation's order: from the answer back to the image."""
        shapes, (_, c1, p1, c2, p2, f, *_) = self.param_shapes(), (layer.shape for layer in self.layers())
        return (
            Gradient("dLS", "23", (NUM_CLASSES,), "∂L/∂S, the scores' gradient: O - y"),
            Gradient("dLb", "25", shapes["b"], "∂L/∂b, the same as ∂L/∂S"),
            Gradient("dLw", "30", shapes["w"], "∂L/∂w, the fully connected weights"),
            Gradient("dLf", "38", f, "∂L/∂f, the flattened P2"),
            Gradient("dLP2", "39", p2, "∂L/∂P2 = ∂L/∂f unflattened"),
            Gradient("dLC2", "43", c2, "∂L/∂C2: ∂L/∂P2 at each window's winner"),
            Gradient("dLS2", "45", c2, "∂L/∂S2, where S2 > 0"),
            Gradient("dLb2", "47", shapes["b2"], "∂L/∂b2"),
            Gradient("dLk2", "50", shapes["k2"], "∂L/∂k2, the second kernels"),
            Gradient("dLP1", "56", p1, "∂L/∂P1, carried back through the kernels k2"),
            Gradient("dLC1", "58", c1, "∂L/∂C1: only each window's winner"),
            Gradient("dLS1", "60", c1, "∂L/∂S1, the first convolution's output"),
            Gradient("dLb1", "62", shapes["b1"], "∂L/∂b1"),
            Gradient("dLk1", "65", shapes["k1"], "∂L/∂k1, the first kernels"),
            Gradient("dLI", "-", IMAGE_SHAPE, "for the image itself: which pixels matter"),
        )

    def summary(self) -> list[str]:
        """One line a layer, as the weights' metadata records the architecture."""
        lines = []
        for layer in self.layers():
            if layer.name == "I":
                lines.append(f"input {'x'.join(map(str, layer.shape))}")
            elif layer.name == "S":
                lines.append(f"{layer.what} + softmax")
            elif layer.name != "O":
                lines.append(f"{layer.what} -> {'x'.join(map(str, layer.shape))}")
        return lines

    def record(self) -> dict[str, Any]:
        """What a weights file's metadata says of the network, its arguments first (as nanoGPT's model_args)."""
        return {
            "args": self._asdict(),
            "layers": self.summary(),
            "param_shapes": {name: list(shape) for name, shape in self.param_shapes().items()},
            "num_params": self.num_params,
        }

    @classmethod
    def of_record(cls, record: Any) -> Architecture:
        """The architecture a weights file's metadata records; the article's for files from before
        the family existed (their record has no "args")."""
        args = record.get("args") if isinstance(record, dict) else None
        if args is None:
            return ARTICLE
        if not isinstance(args, dict) or set(args) != set(cls._fields):
            raise ValueError(f"the architecture's args must be {list(cls._fields)}, got {args!r}")
        if not all(type(args[name]) is int for name in cls._fields):
            raise ValueError(f"the architecture's args must be whole numbers, got {args!r}")
        return cls(**args).check()

    @classmethod
    def of_params(cls, params: dict[str, Any]) -> Architecture:
        """The architecture whose kernels have these shapes (k1 (n1, k, k), k2 (n2, n1, k, k))."""
        n1, k, _ = params["k1"].shape
        return cls(n1, params["k2"].shape[0], k)


ARTICLE = Architecture()
LAYERS = ARTICLE.layers()
FEATURE_MAPS = ("C1", "P1", "C2", "P2", "S")  # what the service shows of one image's forward pass
PARAM_SHAPES = ARTICLE.param_shapes()
NUM_PARAMS = ARTICLE.num_params  # 3,898
GRADIENTS = ARTICLE.gradients()


ARCHITECTURE = ARTICLE.summary()
