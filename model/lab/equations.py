"""The article's equations with a drawing's own numbers in them, one output cell at a time.

Each function takes the forward pass (and, for the backward ones, backpropagation) the network
computed, and returns the terms of one equation for one cell beside the value the network has
there: the terms are read from the same arrays, so what the page shows is what was computed.

    S1     eq. (1):  S1[p,i,j] = sum_u sum_v I[i+u, j+v] k1[p,u,v] + b1[p];  C1 = max(0, S1)
    P1     eq. (2):  P1[p,i,j] = max of C1's 2x2 window; the winner I1
    O      eq. (5):  O_j = exp(S_j) / sum_k exp(S_k)
    L      eq. (6):  L = -ln O_label
    dLS    eq. (23): dL/dS_j = O_j - y_j
    dLC2   eq. (43): dL/dP2[m,x,y] goes to the winner of C2's window, 0 to the other three
    dLk1   eq. (65): dL/dk1[p,u,v] = sum_i sum_j dLS1[p,i,j] I[i+u, j+v]
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..architecture import GRADIENTS, LAYERS
from ..layers import log_softmax
from ..network import Backward, Forward, Params

KINDS = ("S1", "P1", "O", "L", "dLS", "dLC2", "dLk1")
_SHAPE = {layer.name: layer.shape for layer in LAYERS} | {g.name: g.shape for g in GRADIENTS}
SHAPES = {  # the cells each kind can be asked about
    "S1": _SHAPE["C1"],
    "P1": _SHAPE["P1"],
    "O": _SHAPE["O"],
    "L": (),
    "dLS": _SHAPE["dLS"],
    "dLC2": _SHAPE["P2"],  # one 2x2 window of C2 per cell of P2
    "dLk1": _SHAPE["dLk1"],
}
TOP_TERMS = 6  # the largest terms of a long sum shown one by one


def window(a: np.ndarray, i: int, j: int, size: int) -> np.ndarray:
    return a[i : i + size, j : j + size]


def pool_window(C: np.ndarray, i: int, j: int) -> tuple[dict[str, Any], int]:
    """C's 2x2 window under pooled cell (i, j) with where its winner sits in C, as the answers give
    them, and the index (0-3, row-major) of the winner in the window."""
    w = C[2 * i : 2 * i + 2, 2 * j : 2 * j + 2]
    winner = int(np.argmax(w))  # ties go to the first maximum, as maxpool2 does
    return {"window": w.tolist(), "winner": [2 * i + winner // 2, 2 * j + winner % 2]}, winner


def equation(
    params: Params, fw: Forward, bw: Backward, label: int, kind: str, index: tuple[int, ...]
) -> dict[str, Any]:
    I = fw.I[0]
    if kind == "S1":
        p, i, j = index
        x, k = window(I, i, j, 5), params["k1"][p]
        products = x * k
        return {
            "equation": "1",
            "text": f"S1[{p},{i},{j}] = Σu Σv I[{i}+u, {j}+v] k1[{p},u,v] + b1[{p}];  C1 = max(0, S1)",
            "window": x.tolist(),
            "kernel": k.tolist(),
            "products": products.tolist(),
            "sum_of_products": float(products.sum()),
            "bias": float(params["b1"][p]),
            "value": float(fw.S1[0, p, i, j]),
            "after_relu": float(fw.C1[0, p, i, j]),
        }
    if kind == "P1":
        p, i, j = index
        pooled, _ = pool_window(fw.C1[0, p], i, j)
        return {
            "equation": "2",
            "text": f"P1[{p},{i},{j}] = max(C1[{p}, {2 * i}..{2 * i + 1}, {2 * j}..{2 * j + 1}])",
            **pooled,
            "value": float(fw.P1[0, p, i, j]),
        }
    if kind == "O":
        (j,) = index
        S = fw.S[0].astype(np.float64)
        exps = np.exp(S - S.max())  # the same ratio, without overflow: the article's exp(S) / sum exp(S)
        return {
            "equation": "5",
            "text": f"O{j} = exp(S{j}) / Σk exp(Sk)  (each exp taken after subtracting max S = {S.max():.6g})",
            "scores": S.tolist(),
            "exps": exps.tolist(),
            "sum_of_exps": float(exps.sum()),
            "value": float(fw.O[0, j]),
        }
    if kind == "L":  # from S, not from O: finite even where O_label rounds to 0 (-ln 0 is no JSON number)
        log_O = log_softmax(fw.S[:1].astype(np.float64))[0]
        return {
            "equation": "6",
            "text": f"L = −ln O{label} = ln Σk exp(Sk) − S{label}",
            "probability": float(fw.O[0, label]),
            "log_probability": float(log_O[label]),
            "value": float(-log_O[label]),
        }
    if kind == "dLS":
        (j,) = index
        return {
            "equation": "23",
            "text": f"∂L/∂S{j} = O{j} − y{j}",
            "probability": float(fw.O[0, j]),
            "target": float(j == label),
            "value": float(bw.dLS[0, j]),
        }
    if kind == "dLC2":
        m, r, c = index
        pooled, winner = pool_window(fw.C2[0, m], r, c)
        routed = bw.dLC2[0, m, 2 * r : 2 * r + 2, 2 * c : 2 * c + 2]
        return {
            "equation": "43",
            "text": f"∂L/∂C2 in window ({m}, {r}, {c}) = ∂L/∂P2[{m},{r},{c}] at the winner, 0 elsewhere",
            **pooled,
            "upstream": float(bw.dLP2[0, m, r, c]),
            "routed": routed.tolist(),
            "value": float(routed.reshape(-1)[winner]),
        }
    if kind == "dLk1":
        p, u, v = index
        dLS1 = bw.dLS1[0, p]
        pixels = I[u : u + 24, v : v + 24]
        terms = dLS1 * pixels
        nonzero = np.flatnonzero(terms)
        top = nonzero[np.argsort(-np.abs(terms.reshape(-1)[nonzero]))][:TOP_TERMS]
        return {
            "equation": "65",
            "text": f"∂L/∂k1[{p},{u},{v}] = Σi Σj ∂L/∂S1[{p},i,j] I[i+{u}, j+{v}]",
            "terms": int(terms.size),
            "nonzero_terms": int(nonzero.size),
            "largest": [
                {"i": int(t // 24), "j": int(t % 24), "dLS1": float(dLS1.flat[t]), "I": float(pixels.flat[t])}
                for t in top
            ],
            "sum": float(terms.sum()),
            "value": float(bw.dLk1[p, u, v]),
        }
    raise ValueError(f"unknown equation {kind!r}; one of {', '.join(KINDS)}")
