"""eq. (66), the update, made tangible: one SGD step on a copy of the parameters, one cell of one
parameter old -> gradient -> new, and what the whole step does to the drawing's loss and to digits
the network already reads right (whether it overshoots, and a smaller rate that would not)."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..network import Backward, Forward, Params, forward, mean_loss, sgd
from .cells import Answer, Index, cell, term

MAX_HALVINGS = 12  # how far the rate is halved looking for one that lowers the loss


GRADIENT_OF = {"k1": "dLk1", "b1": "dLb1", "k2": "dLk2", "b2": "dLb2", "w": "dLw", "b": "dLb"}


class Known(NamedTuple):
    """Digits whose answers a step should not break (the page's MNIST samples): (K, 28, 28), (K,)."""

    images: np.ndarray
    labels: np.ndarray


def flips(params: Params, stepped: Params, known: Known | None, drawing: np.ndarray) -> list[dict[str, int]]:
    """The known digits read right before the step and wrong after it (the drawing itself, if it is
    one of them, is meant to change)."""
    if known is None or not len(known.labels):
        return []
    before = forward(params, known.images).S.argmax(axis=1)
    after = forward(stepped, known.images).S.argmax(axis=1)
    other = np.abs(known.images - drawing).max(axis=(1, 2)) > 1e-6
    broken = np.flatnonzero((before == known.labels) & (after != known.labels) & other)
    return [{"label": int(known.labels[k]), "reads": int(after[k]), "sample": int(k)} for k in broken]


def update(
    params: Params,
    fw: Forward,
    bw: Backward,
    label: int,
    parameter: str,
    index: Index,
    lr: float,
    known: Known | None = None,
) -> Answer:
    """eq. (66) for one cell of one parameter, and what the whole step does: the loss and the
    probabilities before and after on this drawing, and whether it overshoots (the loss rises, or a
    known digit read right is read wrong after it), with the largest of lr/2, lr/4, ... that would not."""
    grads = bw.params()
    new = sgd(params, grads, lr)
    old, grad = float(params[parameter][index]), float(grads[parameter][index])
    labels = np.array([label])
    after = forward(new, fw.I)
    loss_before, loss_after = mean_loss(fw, labels), mean_loss(after, labels)
    broken = flips(params, new, known, fw.I[0])
    safe = None
    if loss_after > loss_before or broken:
        rate = lr
        for _ in range(MAX_HALVINGS):
            rate /= 2
            smaller = sgd(params, grads, rate)
            if mean_loss(forward(smaller, fw.I), labels) < loss_before and not flips(params, smaller, known, fw.I[0]):
                safe = rate
                break
    i = ",".join(map(str, index))
    return {
        "text": f"{parameter}[{i}] ← {parameter}[{i}] − η ∂L/∂{parameter}[{i}],  η = {lr:g}",
        "value": float(new[parameter][index]),
        "terms": [
            term(cell(parameter, index, old)),
            term(cell("η", (), lr), cell(GRADIENT_OF[parameter], index, grad), coefficient=-1.0),
        ],
        "parameter": parameter,
        "lr": lr,
        "old": old,
        "gradient": grad,
        "new": float(new[parameter][index]),
        "loss_before": loss_before,
        "loss_after": loss_after,
        "probabilities_before": fw.O[0].tolist(),
        "probabilities_after": after.O[0].tolist(),
        "answer_before": int(fw.O[0].argmax()),
        "answer_after": int(after.O[0].argmax()),
        "overshoots": loss_after > loss_before or bool(broken),
        "known_flipped": broken,
        "safe_lr": safe,
    }
