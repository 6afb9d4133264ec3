"""The update of eq. (66), k <- k - eta dL/dk, and the optimisers built on it; each changes the
parameters (and its own memory) in place.

Plain SGD is the article's; momentum, Nesterov's momentum and Adam keep a memory of past
gradients (`new_state`). Every recipe (recipes.py) names one, and the step (steps.py) takes it.
"""

from __future__ import annotations

import numpy as np

from ..network import Params, sgd

OPTIMIZERS = ("momentum", "nesterov", "adam", "sgd")
ADAM_BETA2, ADAM_EPS = 0.999, 1e-8


def average_step(average: Params, params: Params, decay: float) -> None:
    """average <- decay average + (1 - decay) params: the exponential moving average of the weights."""
    for name, value in params.items():
        average[name] *= np.asarray(decay, value.dtype)
        average[name] += np.asarray(1 - decay, value.dtype) * value


def sgd_step(params: Params, grads: Params, lr: float) -> None:
    """param <- param - lr dL/dparam: eq. (66) as network.sgd writes it, the new arrays put in place."""
    params.update(sgd(params, grads, lr))


def momentum_step(params: Params, velocity: Params, grads: Params, lr: float, momentum: float) -> None:
    """v <- momentum v - lr dL/dparam; param <- param + v: eq. (66) with momentum, in place."""
    for name, grad in grads.items():
        velocity[name] *= np.asarray(momentum, grad.dtype)
        velocity[name] -= np.asarray(lr, grad.dtype) * grad
        params[name] += velocity[name]


def nesterov_step(params: Params, velocity: Params, grads: Params, lr: float, momentum: float) -> None:
    """Nesterov's momentum: the step looks ahead along the velocity, param += momentum v - lr dL/dparam."""
    for name, grad in grads.items():
        velocity[name] *= momentum
        velocity[name] -= lr * grad
        params[name] += momentum * velocity[name] - lr * grad


def adam_step(params: Params, state: Params, grads: Params, lr: float, beta1: float, t: int) -> None:
    """Adam (Kingma and Ba, 2015): steps scaled by running estimates of each gradient's size."""
    for name, grad in grads.items():
        m, v = state[name], state[f"{name}_v"]
        m *= beta1
        m += (1 - beta1) * grad
        v *= ADAM_BETA2
        v += (1 - ADAM_BETA2) * grad * grad
        m_hat, v_hat = m / (1 - beta1**t), v / (1 - ADAM_BETA2**t)
        params[name] -= lr * m_hat / (np.sqrt(v_hat) + ADAM_EPS)


def new_state(optimizer: str, params: Params) -> Params:
    """The optimiser's memory: the velocity (momentum, Nesterov), or Adam's two moments; plain SGD has none."""
    if optimizer == "sgd":
        return {}
    state = {k: np.zeros_like(v) for k, v in params.items()}
    if optimizer == "adam":
        state |= {f"{k}_v": np.zeros_like(v) for k, v in params.items()}
    return state


def update(optimizer: str, params: Params, state: Params, grads: Params, lr: float, momentum: float, step: int) -> None:
    """One step of `optimizer` (one of OPTIMIZERS) at training step `step` (from 0)."""
    if optimizer == "sgd":
        sgd_step(params, grads, lr)
    elif optimizer == "adam":
        adam_step(params, state, grads, lr, momentum, step + 1)
    elif optimizer == "nesterov":
        nesterov_step(params, state, grads, lr, momentum)
    else:
        momentum_step(params, state, grads, lr, momentum)
