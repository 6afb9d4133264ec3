"""Confidence that means what it says: temperature scaling, its error, and when to say "unsure".

The network's softmax is overconfident once training drives the training loss near zero.
Temperature scaling (Guo et al., 2017) divides the scores S by one number T > 0 fitted on the
validation split, O = softmax(S / T): the ranking and so the answer never change, only how
sure the probabilities say they are.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..cnn import calibrated
from ..layers import cross_entropy

Array = np.ndarray


def fit_temperature(S: Array, labels: Array) -> float:
    """The T minimising the mean cross-entropy of softmax(S / T): a golden-section search on log T."""
    nll = lambda log_t: float(cross_entropy(S / np.exp(log_t), labels).mean())  # noqa: E731
    lo, hi = np.log(0.05), np.log(20.0)
    golden = (np.sqrt(5) - 1) / 2
    a, b = hi - golden * (hi - lo), lo + golden * (hi - lo)
    fa, fb = nll(a), nll(b)
    for _ in range(60):
        if fa < fb:
            hi, b, fb = b, a, fa
            a = hi - golden * (hi - lo)
            fa = nll(a)
        else:
            lo, a, fa = a, b, fb
            b = lo + golden * (hi - lo)
            fb = nll(b)
    return float(np.exp((lo + hi) / 2))


def expected_calibration_error(O: Array, labels: Array, bins: int = 15) -> float:
    """ECE: the gap between confidence and accuracy, averaged over equal-width confidence bins."""
    confidence, predicted = O.max(axis=1), O.argmax(axis=1)
    correct = predicted == labels
    which = np.minimum((confidence * bins).astype(int), bins - 1)
    ece = 0.0
    for b in range(bins):
        inside = which == b
        if inside.any():
            ece += inside.mean() * abs(correct[inside].mean() - confidence[inside].mean())
    return float(ece)


class Calibration(NamedTuple):
    temperature: float
    unsure_below: float  # calibrated top probability under which the service says it is unsure
    target_accuracy: float  # what the answers at or above unsure_below reach on the validation split
    ece_before: float
    ece_after: float
    unsure_share: float  # of the validation images


def unsure_threshold(O: Array, labels: Array, target_accuracy: float) -> float:
    """The lowest top probability t such that the answers with confidence >= t are right at least
    target_accuracy of the time on these images."""
    confidence = O.max(axis=1)
    correct = O.argmax(axis=1) == labels
    order = np.argsort(-confidence)
    running = np.cumsum(correct[order]) / np.arange(1, len(order) + 1)  # accuracy of the most confident k
    ok = np.nonzero(running >= target_accuracy)[0]
    if len(ok) == 0:
        return 1.0
    return float(confidence[order][ok[-1]])


def calibrate(S: Array, labels: Array, target_accuracy: float = 0.995) -> Calibration:
    """Fit T on validation scores S and pick the "unsure" threshold for target_accuracy."""
    T = fit_temperature(S.astype(np.float64), labels)
    before, after = calibrated(S), calibrated(S, T)
    t = unsure_threshold(after, labels, target_accuracy)
    return Calibration(
        T,
        t,
        target_accuracy,
        expected_calibration_error(before, labels),
        expected_calibration_error(after, labels),
        float((after.max(axis=1) < t).mean()),
    )


def calibration_errors(S: Array, labels: Array, T: float) -> tuple[float, float]:
    """The expected calibration error of scores S before temperature scaling and after it at T."""
    return expected_calibration_error(calibrated(S), labels), expected_calibration_error(calibrated(S, T), labels)
