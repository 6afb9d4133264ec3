"""The article's equations with a drawing's own numbers in them, one cell at a time, (1) to (66).

`equation(...)` takes the forward pass and backpropagation the network computed and answers, for one
cell of the quantity a kind names, the value the network has there beside the terms of its equation,
read from the same arrays: what the page shows is what was computed. The terms always add up to the
value: a short sum is given whole, a long one as its largest terms (with the cells they come from)
and the rest as one number. Each term is a coefficient times a product of factors, each factor a
named cell and its number, so that the page can write it out and point at the cells.

Kinds, in the article's order (KINDS): S1 C1 (1), P1 (2), S2 C2 (3), P2 (4), f S O (5), L (6),
dLS (7)-(23), dLb (25), dLw (30), dLf (38), dLP2 (39), dLC2 (43), dLS2 (45), dLb2 (47), dLk2 (50),
dLP1 (56), dLC1 (58), dLS1 (60), dLb1 (62), dLk1 (65), and update (66) for one parameter.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..layers import log_softmax
from ..network import Backward, Forward, Params
from .cells import Answer, Index, cell, term
from .kinds import BY_NAME, KINDS, SHAPES, shape_of
from .update import Known, update

__all__ = ["KINDS", "BY_NAME", "SHAPES", "Known", "equation", "shape_of"]


ALL_TERMS = 12  # a sum of at most this many terms is given whole
TOP_TERMS = 8  # of a longer one, this many of the largest, and the rest as one number


def summed(values: np.ndarray, make: Callable[[tuple[int, ...]], dict[str, Any]]) -> dict[str, Any]:
    """A sum's terms: all of them when they are few, else the largest |value| ones and the rest as one
    number (with how many it holds and how many of those are not 0). values: each term's value, any
    shape; make(index) builds the term at that index."""
    flat = values.reshape(-1).astype(np.float64)
    if flat.size <= ALL_TERMS:
        shown = np.arange(flat.size)
    else:
        shown = np.argsort(-np.abs(flat), kind="stable")[:TOP_TERMS]
        shown = shown[flat[shown] != 0]
    rest = np.ones(flat.size, bool)
    rest[shown] = False
    return {
        "terms": [make(tuple(int(i) for i in np.unravel_index(t, values.shape))) for t in shown],
        "rest": {
            "count": int(rest.sum()),
            "nonzero": int(np.count_nonzero(flat[rest])),
            "value": float(flat[rest].sum()),
        },
        "term_count": int(flat.size),
    }


def pooled(C: np.ndarray, name: str, p: int, x: int, y: int) -> dict[str, Any]:
    """C's 2x2 window under pooled cell (p, x, y) and its winner (ties: the first, as maxpool2)."""
    w = C[p, 2 * x : 2 * x + 2, 2 * y : 2 * y + 2]
    k = int(np.argmax(w))
    winner = [p, 2 * x + k // 2, 2 * y + k % 2]
    return {
        "window": w.tolist(),
        "window_origin": [p, 2 * x, 2 * y],
        "winner": winner,
        "terms": [term(cell(name, winner, C[tuple(winner)]))],
    }


def relu_case(S: np.ndarray, name: str, index: Index) -> str:
    return f"{name}{list(index)} = {S[index]:.9g} > 0" if S[index] > 0 else f"{name}{list(index)} = {S[index]:.9g} ≤ 0"


# --- the equations ---


def conv(
    x: np.ndarray, xname: str, k: np.ndarray, kname: str, b: float, bname: str, out: Index, at: Index
) -> dict[str, Any]:
    """S[out] = Σ x[at + window] k + b, where x is (C, H, W) and k is (C, kh, kw): eqs. (1), (3)."""
    C, kh, kw = k.shape
    i, j = at
    window = x[:, i : i + kh, j : j + kw].astype(np.float64)
    products = window * k
    s = summed(
        products,
        lambda t: term(
            cell(xname, (t[0], i + t[1], j + t[2]) if C > 1 else (i + t[1], j + t[2]), window[t]),
            cell(kname, (*out[:1], *t) if C > 1 else (out[0], t[1], t[2]), k[t]),
        ),
    )
    s["terms"].append(term(cell(bname, out[:1], b)))
    return s


def feedforward(params: Params, fw: Forward, label: int, kind: str, index: Index) -> Answer:
    I = fw.I[0].astype(np.float64)
    if kind in ("S1", "C1"):
        p, i, j = index
        k1 = params["k1"][p].astype(np.float64)
        s = conv(I[None], "I", k1[None], "k1", float(params["b1"][p]), "b1", (p,), (i, j))
        text = f"S1[{p},{i},{j}] = Σg Σh I[g+{i}, h+{j}] k1[{p},g,h] + b1[{p}]"
        extra = {
            "window": I[i : i + 5, j : j + 5].tolist(),
            "kernel": k1.tolist(),
            "products": (I[i : i + 5, j : j + 5] * k1).tolist(),
            "bias": float(params["b1"][p]),
            "after_relu": float(fw.C1[0, p, i, j]),
        }
        if kind == "S1":
            return {"text": text, "value": float(fw.S1[0, p, i, j]), **s, **extra}
        return {
            "text": f"C1[{p},{i},{j}] = ReLU(S1[{p},{i},{j}]) = S1 if S1 > 0, else 0;  {text}",
            "value": float(fw.C1[0, p, i, j]),
            "terms": [term(cell("S1", index, fw.S1[0][index]), cell("[S1 > 0]", index, fw.S1[0][index] > 0))],
            "case": relu_case(fw.S1[0], "S1", index),
            **extra,
        }
    if kind in ("S2", "C2"):
        m, u, v = index
        k2 = params["k2"][m].astype(np.float64)
        s = conv(fw.P1[0], "P1", k2, "k2", float(params["b2"][m]), "b2", (m,), (u, v))
        text = f"S2[{m},{u},{v}] = Σn Σp Σq P1[n, p+{u}, q+{v}] k2[{m},n,p,q] + b2[{m}]"
        if kind == "S2":
            return {"text": text, "value": float(fw.S2[0, m, u, v]), "bias": float(params["b2"][m]), **s}
        return {
            "text": f"C2[{m},{u},{v}] = ReLU(S2[{m},{u},{v}]) = S2 if S2 > 0, else 0;  {text}",
            "value": float(fw.C2[0, m, u, v]),
            "terms": [term(cell("S2", index, fw.S2[0][index]), cell("[S2 > 0]", index, fw.S2[0][index] > 0))],
            "case": relu_case(fw.S2[0], "S2", index),
        }
    if kind == "P1":
        p, r, s_ = index
        return {
            "text": f"P1[{p},{r},{s_}] = max(C1[{p}, {2 * r}..{2 * r + 1}, {2 * s_}..{2 * s_ + 1}])",
            "value": float(fw.P1[0, p, r, s_]),
            **pooled(fw.C1[0], "C1", p, r, s_),
        }
    if kind == "P2":
        m, x, y = index
        return {
            "text": f"P2[{m},{x},{y}] = max(C2[{m}, {2 * x}..{2 * x + 1}, {2 * y}..{2 * y + 1}])",
            "value": float(fw.P2[0, m, x, y]),
            **pooled(fw.C2[0], "C2", m, x, y),
        }
    if kind == "f":
        (k,) = index
        m, x, y = k // 16, k % 16 // 4, k % 4
        return {
            "text": f"f[{k}] = P2[{m},{x},{y}]  (k = 16m + 4x + y = 16·{m} + 4·{x} + {y})",
            "value": float(fw.f[0, k]),
            "terms": [term(cell("P2", (m, x, y), fw.P2[0, m, x, y]))],
            "flat_index": k,
        }
    if kind == "S":
        (i,) = index
        w, f = params["w"][i].astype(np.float64), fw.f[0].astype(np.float64)
        s = summed(w * f, lambda t: term(cell("w", (i, t[0]), w[t]), cell("f", t, f[t])))
        s["terms"].append(term(cell("b", (i,), params["b"][i])))
        return {"text": f"S[{i}] = Σj w[{i},j] f[j] + b[{i}]", "value": float(fw.S[0, i]), **s}
    S = fw.S[0].astype(np.float64)
    exps = np.exp(S - S.max())  # the same ratio without overflow: the article's exp(S) / Σ exp(S)
    if kind == "O":
        (j,) = index
        return {
            "text": f"O[{j}] = exp(S[{j}]) / Σk exp(S[k])  (both taken after subtracting max S = {S.max():.6g})",
            "value": float(fw.O[0, j]),
            "terms": [
                term(cell("exp(S − max S)", (j,), exps[j]), cell("1 / Σk exp(S[k] − max S)", (), 1 / exps.sum()))
            ],
            "scores": S.tolist(),
            "exps": exps.tolist(),
            "sum_of_exps": float(exps.sum()),
        }
    # L: from S, not from O, so it is finite even where O_label rounds to 0 (-ln 0 is no JSON number)
    log_O = log_softmax(S[None])[0]
    return {
        "text": f"L = −ln O[{label}] = ln Σk exp(S[k]) − S[{label}]",
        "value": float(-log_O[label]),
        "terms": [
            term(cell("ln Σk exp(S[k])", (), S[label] - log_O[label])),
            term(cell("S", (label,), S[label]), coefficient=-1.0),
        ],
        "probability": float(fw.O[0, label]),
        "log_probability": float(log_O[label]),
        "label": label,
    }


def routed(dLP: np.ndarray, C: np.ndarray, dLC: np.ndarray, names: tuple[str, str], index: Index) -> Answer:
    """eqs. (43), (58): dL/dC at a cell is dL/dP of its window if the cell won the max, else 0."""
    n, i, j = index
    dP, cname = names
    window = pooled(C, cname, n, i // 2, j // 2)
    won = window["winner"] == [n, i, j]
    tie = int((np.asarray(window["window"]) == np.max(window["window"])).sum()) > 1
    up = (n, i // 2, j // 2)
    return {
        "text": f"{dP.replace('P', 'C')}[{n},{i},{j}] = {dP}[{n},{i // 2},{j // 2}] if {cname}[{n},{i},{j}] won "
        f"its 2x2 window's max, else 0",
        "value": float(dLC[index]),
        "terms": [term(cell(dP, up, dLP[up]))] if won else [],
        "window": window["window"],
        "window_origin": window["window_origin"],
        "winner": window["winner"],
        "upstream": float(dLP[up]),
        "routed": dLC[n, 2 * (i // 2) : 2 * (i // 2) + 2, 2 * (j // 2) : 2 * (j // 2) + 2].tolist(),
        "case": f"{cname}[{n},{i},{j}] {'is' if won else 'is not'} the largest of its window"
        + (" (a tie: the first of the equal largest wins, as in the forward pass)" if tie else ""),
    }


def masked(dLC: np.ndarray, S: np.ndarray, dLS: np.ndarray, names: tuple[str, str, str], index: Index) -> Answer:
    """eqs. (45), (60): dL/dS = dL/dC where S > 0, else 0; with the channel's whole mask."""
    dC, sname, dS = names
    return {
        "text": f"{dS}{list(index)} = {dC}{list(index)} × d{sname.replace('S', 'C')}{sname}{list(index)}, "
        f"where d{sname.replace('S', 'C')}{sname} = 1 if {sname} > 0, else 0",
        "value": float(dLS[index]),
        "terms": [term(cell(dC, index, dLC[index]), cell(f"[{sname} > 0]", index, S[index] > 0))],
        "mask": (S[index[0]] > 0).astype(int).tolist(),
        "case": relu_case(S, sname, index),
    }


def backward(params: Params, fw: Forward, bw: Backward, label: int, kind: str, index: Index) -> Answer:
    O, f = fw.O[0].astype(np.float64), fw.f[0].astype(np.float64)
    dLS = bw.dLS[0].astype(np.float64)
    if kind == "dLS":
        (i,) = index
        case = (
            f"i = label = {label}: ∂L/∂S[{i}] = O[{i}] − 1"
            if i == label
            else f"i = {i} ≠ label = {label}: ∂L/∂S[{i}] = O[{i}]"
        )
        return {
            "text": f"∂L/∂S[{i}] = Σj ∂L/∂O[j] ∂O[j]/∂S[{i}] = O[{i}] − y[{i}], y[{i}] = 1 if {i} is the label, else 0",
            "value": float(bw.dLS[0, i]),
            "terms": [term(cell("O", (i,), O[i])), term(cell("y", (i,), i == label), coefficient=-1.0)],
            "case": case,
            "probability": float(O[i]),
            "target": float(i == label),
            "label": label,
        }
    if kind == "dLb":
        (i,) = index
        return {
            "text": f"∂L/∂b[{i}] = ∂L/∂S[{i}] × 1",
            "value": float(bw.dLb[i]),
            "terms": [term(cell("dLS", (i,), dLS[i]))],
        }
    if kind == "dLw":
        i, j = index
        return {
            "text": f"∂L/∂w[{i},{j}] = ∂L/∂S[{i}] f[{j}]",
            "value": float(bw.dLw[i, j]),
            "terms": [term(cell("dLS", (i,), dLS[i]), cell("f", (j,), f[j]))],
        }
    if kind == "dLf":
        (k,) = index
        w = params["w"][:, k].astype(np.float64)
        return {
            "text": f"∂L/∂f[{k}] = Σi ∂L/∂S[i] w[i,{k}]",
            "value": float(bw.dLf[0, k]),
            **summed(dLS * w, lambda t: term(cell("dLS", t, dLS[t]), cell("w", (t[0], k), w[t]))),
        }
    if kind == "dLP2":
        m, x, y = index
        k = 16 * m + 4 * x + y
        return {
            "text": f"dLP2[{m},{x},{y}] = dLf[16m + 4x + y] = dLf[{k}]",
            "value": float(bw.dLP2[0, m, x, y]),
            "terms": [term(cell("dLf", (k,), bw.dLf[0, k]))],
            "flat_index": k,
        }
    if kind == "dLC2":
        return routed(bw.dLP2[0], fw.C2[0], bw.dLC2[0], ("dLP2", "C2"), index)
    if kind == "dLC1":
        return routed(bw.dLP1[0], fw.C1[0], bw.dLC1[0], ("dLP1", "C1"), index)
    if kind == "dLS2":
        return masked(bw.dLC2[0], fw.S2[0], bw.dLS2[0], ("dLC2", "S2", "dLS2"), index)
    if kind == "dLS1":
        return masked(bw.dLC1[0], fw.S1[0], bw.dLS1[0], ("dLC1", "S1", "dLS1"), index)
    if kind in ("dLb2", "dLb1"):
        (m,) = index
        name, g, ij = ("dLS2", bw.dLS2[0, m], "uv") if kind == "dLb2" else ("dLS1", bw.dLS1[0, m], "ij")
        g = g.astype(np.float64)
        return {
            "text": f"∂L/∂{kind[2:]}[{m}] = Σ{ij[0]} Σ{ij[1]} {name}[{m},{ij[0]},{ij[1]}] × 1",
            "value": float(getattr(bw, kind)[m]),
            **summed(g, lambda t: term(cell(name, (m, *t), g[t]))),
        }
    if kind == "dLk2":
        m, n, p, q = index
        g, P1 = bw.dLS2[0, m].astype(np.float64), fw.P1[0, n, p : p + 8, q : q + 8].astype(np.float64)
        return {
            "text": f"∂L/∂k2[{m},{n},{p},{q}] = Σu Σv dLS2[{m},u,v] P1[{n}, {p}+u, {q}+v]",
            "value": float(bw.dLk2[m, n, p, q]),
            **summed(g * P1, lambda t: term(cell("dLS2", (m, *t), g[t]), cell("P1", (n, p + t[0], q + t[1]), P1[t]))),
        }
    if kind == "dLk1":
        n, g_, h = index
        g, I = bw.dLS1[0, n].astype(np.float64), fw.I[0, g_ : g_ + 24, h : h + 24].astype(np.float64)
        return {
            "text": f"∂L/∂k1[{n},{g_},{h}] = Σi Σj dLS1[{n},i,j] I[{g_}+i, {h}+j]",
            "value": float(bw.dLk1[n, g_, h]),
            **summed(g * I, lambda t: term(cell("dLS1", (n, *t), g[t]), cell("I", (g_ + t[0], h + t[1]), I[t]))),
        }
    if kind == "dLP1":
        n, r, s = index
        u0, v0 = max(0, r - 4), max(0, s - 4)  # the dLS2 cells (m, u, v) whose 5x5 window covers (r, s)
        g = bw.dLS2[0, :, u0 : min(7, r) + 1, v0 : min(7, s) + 1].astype(np.float64)
        k2 = np.stack([params["k2"][:, n, r - u, :] for u in range(u0, u0 + g.shape[1])], axis=1)  # (12, U, 5)
        k2 = np.stack([k2[:, :, s - v] for v in range(v0, v0 + g.shape[2])], axis=2).astype(np.float64)  # (12, U, V)
        return {
            "text": f"∂L/∂P1[{n},{r},{s}] = Σm Σu Σv dLS2[m,u,v] k2[m,{n},{r}−u,{s}−v], over the u, v "
            f"whose 5x5 window covers ({r}, {s})",
            "value": float(bw.dLP1[0, n, r, s]),
            **summed(
                g * k2,
                lambda t: term(
                    cell("dLS2", (t[0], u0 + t[1], v0 + t[2]), g[t]),
                    cell("k2", (t[0], n, r - u0 - t[1], s - v0 - t[2]), k2[t]),
                ),
            ),
            "region": {"u": [u0, u0 + g.shape[1] - 1], "v": [v0, v0 + g.shape[2] - 1]},
        }
    raise ValueError(f"unknown kind {kind!r}; one of {', '.join(BY_NAME)}")


def equation(
    params: Params,
    fw: Forward,
    bw: Backward,
    label: int,
    kind: str,
    index: Index,
    parameter: str | None = None,
    lr: float = 0.1,
    known: Known | None = None,
) -> Answer:
    """One cell of the quantity `kind` names: its value as the network computed it, the equation's
    number and text, and its terms with this drawing's numbers (they add up to the value)."""
    shape = shape_of(kind, parameter)
    if len(index) != len(shape) or not all(0 <= i < n for i, n in zip(index, shape, strict=False)):
        raise ValueError(f"index {list(index)} is not a cell of {kind}, whose shape is {list(shape)}")
    if kind == "update":
        answer = update(params, fw, bw, label, str(parameter), index, lr, known)
    elif kind in ("S1", "C1", "P1", "S2", "C2", "P2", "f", "S", "O", "L"):
        answer = feedforward(params, fw, label, kind, index)
    else:
        answer = backward(params, fw, bw, label, kind, index)
    answer.setdefault("rest", None)
    answer.setdefault("term_count", len(answer["terms"]))
    return {"equation": BY_NAME[kind].equation, "name": kind, "shape": list(shape), **answer}
