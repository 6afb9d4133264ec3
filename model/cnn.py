"""model.CNN: the network with its parameters, answering through the reference or the fast path.

The reference (model/network.py, model/layers.py) is the article's network as the article
writes it; it gives every quantity the explorer shows: the forward cache, every gradient, the
feature maps. Plain answers (scores, probabilities) and training steps go through model/fast/,
which computes the same numbers faster, unless it is switched off (CNN_FAST=0): then the
reference does everything, more slowly. `inference`, `scores` and `gradients` below are the one
place that chooses (the network, the training step and the service all ask them).

This is the public face: every image, label and parameter is checked here (InvalidInput names
what is wrong), and the reference trusts it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from . import fast
from .architecture import ARTICLE, IMAGE_SHAPE, NUM_CLASSES, Architecture
from .layers import Array, softmax
from .network import Backward, Forward, Params, Taught, backprop, batch_gradients, forward, init_params
from .weights import save_params

Objective = Callable[[Array], tuple[float, Array]]  # S (N, 10) -> (the mean loss, dL/dS of the mean)


class InvalidInput(ValueError):
    """Images or labels that the network cannot take; the message names what is wrong."""


# --- the one switch between model/fast/ and the reference (CNN_FAST) ---


def inference(params: Params) -> fast.Inference | None:
    """model/fast/'s answering matrices for params, or None when the fast path is switched off."""
    return fast.Inference(params) if fast.enabled() else None


def scores(params: Params, I: Array, prepared: fast.Inference | None = None) -> Array:
    """(N, 28, 28) inputs -> (N, 10) the scores S: the fast path's (prepared: built already), else the reference's."""
    engine = prepared or inference(params)
    return forward(params, I).S if engine is None else engine.scores(I)


def gradients(params: Params, I: Array, labels: Array, loss: Objective | None = None, threads: int = 1) -> Taught:
    """A training batch's loss and gradients: the fast path's, else the reference's (slower).

    loss (model/training/objectives.py) replaces the article's cross-entropy; only the fast path takes
    one. threads > 1 cuts the batch into as many parts, one a thread (fast/gradients.py); the
    reference runs on one."""
    if fast.enabled():
        return fast.batch_gradients(params, I, labels, loss, parts=threads)
    if loss is not None:
        raise ValueError("label smoothing and distillation need the fast path (CNN_FAST=1)")
    return batch_gradients(params, I, labels)


def calibrated(S: Array, T: float = 1.0) -> Array:
    """(N, 10) scores -> the probabilities softmax(S / T), in float64: at T = 1 the article's O; at the
    temperature model/training/calibration.py fits, what the service answers."""
    return softmax(S.astype(np.float64) / T)


# --- validation at the boundary: what the reference (network.py) trusts ---


def as_images(images: Array, dtype: np.dtype) -> Array:
    """(N, 28, 28) or (28, 28) finite numbers in [0, 1] -> (N, 28, 28) of dtype, else InvalidInput."""
    x = np.asarray(images)
    if x.shape == IMAGE_SHAPE:
        x = x[None]
    if x.ndim != 3 or x.shape[1:] != IMAGE_SHAPE:
        raise InvalidInput(f"expected images of shape (N, 28, 28) or (28, 28), got {x.shape}")
    if len(x) == 0:
        raise InvalidInput("expected at least one image, got an empty batch")
    if not (np.issubdtype(x.dtype, np.floating) or np.issubdtype(x.dtype, np.integer) or x.dtype == bool):
        raise InvalidInput(f"expected numbers, got an array of {x.dtype}")
    x = x.astype(dtype, copy=False)
    low, high = x.min(), x.max()
    if not (low >= 0 and high <= 1):  # also true when either is NaN, since min and max pass NaN on
        if not np.isfinite(x).all():
            raise InvalidInput("images contain NaN or infinity")
        raise InvalidInput(f"pixel values must lie in [0, 1], got values in [{low:g}, {high:g}]")
    return x


def as_labels(labels: Array, n: int) -> Array:
    """n integer labels in 0..9 -> an int64 array, else InvalidInput."""
    y = np.asarray(labels)
    if y.shape != (n,):
        raise InvalidInput(f"expected {n} labels, one per image, got an array of shape {y.shape}")
    if not np.issubdtype(y.dtype, np.integer):
        raise InvalidInput(f"labels must be integers, got {y.dtype}")
    if n and (y.min() < 0 or y.max() >= NUM_CLASSES):
        raise InvalidInput(f"labels must lie in 0..9, got values in [{y.min()}, {y.max()}]")
    return y.astype(np.int64, copy=False)


def check_params(params: dict[str, Array], architecture: Architecture = ARTICLE) -> Params:
    """The six arrays with the architecture's shapes, one float dtype, all finite, else InvalidInput."""
    shapes = architecture.param_shapes()
    if set(params) != set(shapes):
        raise InvalidInput(f"expected parameters {sorted(shapes)}, got {sorted(params)}")
    dtypes = {np.asarray(value).dtype for value in params.values()}
    if len(dtypes) != 1 or not np.issubdtype(next(iter(dtypes)), np.floating):
        raise InvalidInput(f"parameters must share one float dtype, got {sorted(map(str, dtypes))}")
    for name, shape in shapes.items():
        value = np.asarray(params[name])
        if value.shape != shape:
            raise InvalidInput(f"parameter {name} must have shape {shape} ({architecture}), got {value.shape}")
        if not np.isfinite(value).all():
            raise InvalidInput(f"parameter {name} contains NaN or infinity")
    return {name: np.asarray(params[name]) for name in shapes}


class CNN:
    """The article's convolutional network with its six parameter arrays, or another of its family
    (model/architecture.py: n1 and n2 kernels of side k) when given one.

    The instance holds the parameters (and, once frozen, matrices derived from them);
    every call returns fresh arrays, so one network can serve many threads at once.
    """

    def __init__(self, params: dict[str, Array], architecture: Architecture = ARTICLE) -> None:
        self.architecture = architecture
        self.params: Params = check_params(params, architecture)
        # Kept only by a frozen network, whose parameters cannot change: built once, not per call.
        self._inference: fast.Inference | None = None

    def frozen(self) -> CNN:
        """A copy whose parameters are read-only and whose derived matrices are built once: for
        serving, where rebuilding them for every request would cost a third of the answer."""
        params = {name: value.copy() for name, value in self.params.items()}
        for value in params.values():
            value.flags.writeable = False
        net = CNN(params, self.architecture)
        net._inference = inference(net.params)
        if net._inference is not None:
            for derived in vars(net._inference).values():
                if isinstance(derived, np.ndarray):
                    derived.flags.writeable = False  # shared by every thread that asks
        return net

    @classmethod
    def random(cls, seed: int = 0, dtype: np.dtype | type = np.float32, architecture: Architecture = ARTICLE) -> CNN:
        """A fresh network; the same seed gives the same parameters."""
        return cls(init_params(np.random.default_rng(seed), dtype, architecture), architecture)

    @property
    def dtype(self) -> np.dtype:
        return self.params["k1"].dtype

    def forward(self, images: Array) -> Forward:
        """The feedforward pass with everything it computed, in the article's layout (the reference)."""
        return forward(self.params, as_images(images, self.dtype))

    def scores(self, images: Array) -> Array:
        """(N, 28, 28) or (28, 28) images in [0, 1] -> (N, 10) the scores S, computing nothing else."""
        return scores(self.params, as_images(images, self.dtype), self._inference)

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
        return gradients(self.params, I, y)

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
        odd = any(side % 2 for side in self.architecture.sides[::2])  # C's last row unread: the fast path cannot
        engine = None if odd else self._inference or inference(self.params)
        if engine is None:
            fw = self.forward(image)
            return {name: getattr(fw, name)[0] for name in ("C1", "P1", "C2", "P2", "S", "O")}
        # The page asks for these with every stroke: the fast path's, equal to the reference's (test_fast.py).
        maps = engine.feature_maps(as_images(image, self.dtype))
        return {**{name: value[0] for name, value in maps.items()}, "O": softmax(maps["S"])[0]}

    def save(self, path: str | os.PathLike[str], metadata: dict[str, Any] | None = None) -> Path:
        """Write the parameters to path (.npz) and metadata beside it (.json), each atomically.

        The metadata gains the architecture (its args, from which model.load rebuilds it) and the
        .npz's SHA-256; returns the .npz path.
        """
        architecture = {**self.architecture.record(), "dtype": str(self.dtype)}
        return save_params(path, self.params, {"architecture": architecture, **(metadata or {})})
