"""model.CNN: the network with its parameters, answering through the reference or the fast path.

The reference (model/network.py, model/layers.py) is the article's network as the article
writes it; it gives every quantity the explorer shows: the forward cache, every gradient, the
feature maps. Plain answers (scores, probabilities) and training steps go through model/fast/,
which computes the same numbers faster, unless it is switched off (CNN_FAST=0): then the
reference does everything, more slowly.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from . import fast
from .architecture import ARCHITECTURE, IMAGE_SHAPE, NUM_PARAMS, PARAM_SHAPES
from .layers import Array, softmax
from .network import (
    Backward,
    Forward,
    InvalidInput,
    Params,
    Taught,
    as_images,
    as_labels,
    backprop,
    batch_gradients,
    check_params,
    forward,
    init_params,
)
from .weights import save_params


class CNN:
    """The article's convolutional network with its six parameter arrays.

    The instance holds the parameters (and, once frozen, matrices derived from them);
    every call returns fresh arrays, so one network can serve many threads at once.
    """

    def __init__(self, params: dict[str, Array]) -> None:
        self.params: Params = check_params(params)
        # Kept only by a frozen network, whose parameters cannot change: built once, not per call.
        self._inference: fast.Inference | None = None

    def frozen(self) -> CNN:
        """A copy whose parameters are read-only and whose derived matrices are built once: for
        serving, where rebuilding them for every request would cost a third of the answer."""
        params = {name: value.copy() for name, value in self.params.items()}
        for value in params.values():
            value.flags.writeable = False
        net = CNN(params)
        if fast.enabled():
            net._inference = fast.Inference(net.params)
            for derived in vars(net._inference).values():
                derived.flags.writeable = False  # shared by every thread that asks
        return net

    @classmethod
    def random(cls, seed: int = 0, dtype: np.dtype | type = np.float32) -> CNN:
        """A fresh network; the same seed gives the same parameters."""
        return cls(init_params(np.random.default_rng(seed), dtype))

    @property
    def dtype(self) -> np.dtype:
        return self.params["k1"].dtype

    def forward(self, images: Array) -> Forward:
        """The feedforward pass with everything it computed, in the article's layout (the reference)."""
        return forward(self.params, as_images(images, self.dtype))

    def scores(self, images: Array) -> Array:
        """(N, 28, 28) or (28, 28) images in [0, 1] -> (N, 10) the scores S, computing nothing else."""
        I = as_images(images, self.dtype)
        if not fast.enabled():
            return forward(self.params, I).S
        return (self._inference or fast.Inference(self.params)).scores(I)

    def predict_proba(self, images: Array) -> Array:
        """(N, 28, 28) or (28, 28) images in [0, 1] -> (N, 10) softmax probabilities O."""
        return softmax(self.scores(images))

    def predict(self, images: Array) -> Array:
        """(N, 28, 28) or (28, 28) images -> (N,) the most probable digit of each."""
        return self.scores(images).argmax(axis=1)

    def loss_and_gradients(self, images: Array, labels: Array) -> tuple[float, Params]:
        """The mean cross-entropy of the batch and its gradient for every parameter."""
        taught = self.taught(images, labels)
        return taught.loss, taught.grads

    def taught(self, images: Array, labels: Array) -> Taught:
        """What a training batch gives: its mean loss, how many it got right, the gradient of the mean loss."""
        I = as_images(images, self.dtype)
        y = as_labels(labels, len(I))
        return (fast.batch_gradients if fast.enabled() else batch_gradients)(self.params, I, y)

    def explain(self, image: Array, label: int) -> tuple[Forward, Backward]:
        """One (28, 28) image and a label to blame: the whole forward pass and every gradient of
        L = -ln O_label, including dLC1 and the gradient for the image itself."""
        if np.shape(image) != IMAGE_SHAPE:
            raise InvalidInput(f"expected one image of shape (28, 28), got {np.shape(image)}")
        fw = self.forward(image)
        return fw, backprop(self.params, fw, as_labels(np.array([label]), 1))

    def feature_maps(self, image: Array) -> dict[str, Array]:
        """One (28, 28) image -> its activations: C1 (6, 24, 24), P1 (6, 12, 12),
        C2 (12, 8, 8), P2 (12, 4, 4), S (10,) and O (10,)."""
        if np.shape(image) != IMAGE_SHAPE:
            raise InvalidInput(f"expected one image of shape (28, 28), got {np.shape(image)}")
        if not fast.enabled():
            fw = self.forward(image)
            return {name: getattr(fw, name)[0] for name in ("C1", "P1", "C2", "P2", "S", "O")}
        # The page asks for these with every stroke: the fast path's, equal to the reference's (test_fast.py).
        maps = (self._inference or fast.Inference(self.params)).feature_maps(as_images(image, self.dtype))
        return {**{name: value[0] for name, value in maps.items()}, "O": softmax(maps["S"])[0]}

    def save(self, path: str | os.PathLike[str], metadata: dict[str, Any] | None = None) -> Path:
        """Write the parameters to path (.npz) and metadata beside it (.json), each atomically.

        The metadata gains the architecture and the .npz's SHA-256; returns the .npz path.
        """
        architecture = {
            "layers": ARCHITECTURE,
            "param_shapes": {name: list(shape) for name, shape in PARAM_SHAPES.items()},
            "num_params": NUM_PARAMS,
            "dtype": str(self.dtype),
        }
        return save_params(path, self.params, {"architecture": architecture, **(metadata or {})})
