"""The classifier behind the routes: pre-process -> the network -> a prediction of NumPy arrays."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

import model
from app.pictures.preprocessing import Reading, normalize
from model import CNN, calibrated
from model.network import Backward, Forward, Params, backprop, mean_loss, sgd


@dataclass(frozen=True)
class Prediction:
    label: int
    probabilities: np.ndarray  # (10,), the calibrated softmax output, softmax(S / T)
    input: np.ndarray  # (28, 28), what the network saw
    maps: dict[str, np.ndarray] | None  # C1 P1 C2 P2 S, when asked for
    unsure: bool = False  # the top probability is below the threshold chosen on validation data
    reading: Reading | None = None  # for an image file: how the digit was found on it


@dataclass(frozen=True)
class Explanation:
    label: int  # the digit blamed
    loss: float  # -ln O_label
    probabilities: np.ndarray  # (10,), the article's O = softmax(S) of this network
    input: np.ndarray  # (28, 28)
    forward: Forward
    backward: Backward
    params: Params  # of the network that answered


@dataclass(frozen=True)
class Lesson:
    params: Params  # after one step
    loss_before: float
    loss_after: float
    before: np.ndarray  # (10,) O before the step
    after: np.ndarray  # (10,) O after it


@dataclass(frozen=True)
class Confidence:
    """How the weights' metadata says to read the scores: temperature T and the "unsure" threshold."""

    temperature: float = 1.0
    unsure_below: float = 0.0  # 0: never unsure (weights trained without a validation split)

    @classmethod
    def of(cls, metadata: dict[str, Any]) -> Confidence:
        cal = metadata.get("calibration") or {}
        return cls(float(cal.get("temperature", 1.0)), float(cal.get("unsure_below", 0.0)))

    def probabilities(self, S: np.ndarray) -> np.ndarray:
        """(N, 10) scores -> calibrated probabilities softmax(S / T), in float64."""
        return calibrated(S, self.temperature)

    def unsure(self, O: np.ndarray) -> np.ndarray:
        return O.max(axis=-1) < self.unsure_below


class Classifier:
    """The loaded network and what is known about it. Read-only, so threads may share it."""

    def __init__(self, net: CNN, metadata: dict[str, Any], weights_path: Path) -> None:
        self.net = net
        self.dtype = net.dtype  # the float type it reads: a caller keeping what it read asks here
        self.metadata = metadata
        self.weights_path = weights_path
        self.confidence = Confidence.of(metadata)

    @classmethod
    def load(cls, weights_path: Path) -> Classifier:
        """Load and verify the weights (SHA-256 against their metadata), then run one warm-up pass."""
        net = model.load(weights_path).frozen()  # raises model.WeightsError, saying what is wrong
        if net.architecture != model.ARTICLE:  # /model, the page and the codec describe the article's network
            raise model.WeightsError(
                f"{weights_path} holds a network with {net.architecture}; the service serves only the article's "
                f"({model.ARTICLE}, {model.NUM_PARAMS} parameters)"
            )
        metadata = model.read_metadata(weights_path)
        net.predict_proba(np.zeros((28, 28), dtype=net.dtype))
        return cls(net, metadata, weights_path)

    def network(self, params: Params | None) -> tuple[CNN, Confidence]:
        """The shared network, or a visitor's copy (then uncalibrated: T was fitted to the shared one)."""
        if params is None:
            return self.net, self.confidence
        return CNN(params), Confidence()

    def predict(self, image: np.ndarray, *, feature_maps: bool = False, params: Params | None = None) -> Prediction:
        """One 28x28 image in [0, 1], normalised already where it needed it (the handlers time that stage)."""
        net, confidence = self.network(params)
        if feature_maps:
            maps = net.feature_maps(image)
            del maps["O"]  # the article's softmax(S); we answer the calibrated one
            S = maps["S"][None]
        else:
            maps, S = None, net.scores(image)
        O = confidence.probabilities(S)[0]
        return Prediction(int(O.argmax()), O, np.asarray(image), maps, bool(confidence.unsure(O)))

    def explain(
        self, grid: np.ndarray, label: int, *, normalized: bool = False, params: Params | None = None
    ) -> Explanation:
        """Backpropagation of L = -ln O_label for one image: every gradient the article names."""
        image = normalize(grid) if normalized else np.asarray(grid, dtype=np.float64)
        net, _ = self.network(params)
        fw, bw = net.explain(image, label)
        return Explanation(
            label, mean_loss(fw, np.array([label])), fw.O[0].astype(np.float64), np.asarray(image), fw, bw, net.params
        )

    def teach(
        self, grid: np.ndarray, label: int, lr: float, *, normalized: bool = False, params: Params | None = None
    ) -> Lesson:
        """One SGD step, eq. (66), k <- k - lr dL/dk, on a copy of the parameters; the shared network never changes."""
        image = normalize(grid) if normalized else np.asarray(grid, dtype=np.float64)
        net, _ = self.network(params)
        y = np.array([label])
        fw = net.forward(image)  # one pass before the step, one after: each gives its loss and O
        taught = CNN(sgd(net.params, backprop(net.params, fw, y).params(), lr))  # eq. (66)
        after = taught.forward(image)
        return Lesson(
            taught.params,
            mean_loss(fw, y),
            mean_loss(after, y),
            fw.O[0].astype(np.float64),
            after.O[0].astype(np.float64),
        )

    def predict_batch(self, images: np.ndarray) -> np.ndarray:
        """(N, 28, 28) images in one forward pass -> (N, 10) probabilities."""
        return self.confidence.probabilities(self.net.scores(images))
