"""What a training step minimises, as a function of the scores S: the loss and its gradient dL/dS.

The article's loss is L = -ln O_label (eq. 6), whose gradient is O - y (eq. 23). Two levers change y:
- label smoothing (Szegedy et al. 2016): y puts 1 - eps on the label and eps/10 on every class;
- distillation (Hinton et al. 2015): a share `weight` of the loss is T^2 times the cross-entropy
  between the teacher's and the student's probabilities at temperature T, softmax(S_teacher / T)
  and softmax(S / T), whose gradient is T (softmax(S / T) - softmax(S_teacher / T)). The T^2 keeps
  its gradient's size as T changes.
Everything downstream of dL/dS (eqs. 25-65) is the article's backpropagation, unchanged.
"""

from __future__ import annotations

import numpy as np

from ..architecture import NUM_CLASSES
from ..cnn import Objective
from ..layers import Array, log_softmax


def objective(
    labels: Array, smoothing: float = 0.0, teacher_S: Array | None = None, temperature: float = 1.0, weight: float = 0.0
) -> Objective:
    """The loss of a batch with these labels (and, with weight > 0, the teacher's scores on the same images)."""
    y = np.full((len(labels), NUM_CLASSES), smoothing / NUM_CLASSES)
    y[np.arange(len(labels)), labels] += 1 - smoothing

    def loss_and_gradient(S: Array) -> tuple[float, Array]:
        log_O = log_softmax(S)
        L = -(y * log_O).sum(axis=1)
        dLS = np.exp(log_O) - y
        if teacher_S is not None and weight > 0:
            T = temperature
            log_q, log_p = log_softmax(S / T), log_softmax(teacher_S.astype(S.dtype) / T)
            p = np.exp(log_p)
            L = (1 - weight) * L + weight * T * T * (p * (log_p - log_q)).sum(axis=1)
            dLS = (1 - weight) * dLS + weight * T * (np.exp(log_q) - p)
        return float(L.mean()), (dLS / len(S)).astype(S.dtype, copy=False)

    return loss_and_gradient
