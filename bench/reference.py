"""The article's equations as plain loops over one image: the oracle for the vectorised code.

Slow on purpose: every line mirrors an equation of the article (model/__init__.py cites it)
so that a reader can check it against the text, index by index. The sizes are read from the
parameters (the article's: 6 and 12 kernels of 5x5, C1 24x24, P1 12x12, C2 8x8, P2 4x4); a
max-pool over an odd side leaves its last row and column out of every window.
"""

from __future__ import annotations

import numpy as np


def forward_one(p: dict[str, np.ndarray], I: np.ndarray) -> dict[str, np.ndarray]:
    """Eqs. (1)-(5) for one 28x28 image I, with the pooling winners I1, I2 of (42), (57)."""
    k1, b1, k2, b2, w, b = (p[name] for name in ("k1", "b1", "k2", "b2", "w", "b"))
    n1, k, _ = k1.shape
    n2 = len(k2)
    c1 = len(I) - k + 1  # 24
    p1 = c1 // 2  # 12
    c2 = p1 - k + 1  # 8
    p2 = c2 // 2  # 4
    S1 = np.zeros((n1, c1, c1))
    for n in range(n1):
        for i in range(c1):
            for j in range(c1):
                S1[n, i, j] = sum(I[g + i, h + j] * k1[n, g, h] for g in range(k) for h in range(k)) + b1[n]  # (1)
    C1 = np.where(S1 > 0, S1, 0)
    P1, I1 = np.zeros((n1, p1, p1)), np.zeros((n1, p1, p1, 2), dtype=int)
    for n in range(n1):
        for r in range(p1):
            for s in range(p1):
                cells = [(2 * r, 2 * s), (2 * r, 2 * s + 1), (2 * r + 1, 2 * s), (2 * r + 1, 2 * s + 1)]
                i_max, j_max = max(cells, key=lambda c: (C1[n, c[0], c[1]], -cells.index(c)))  # first max wins
                P1[n, r, s], I1[n, r, s] = C1[n, i_max, j_max], (i_max, j_max)  # (2), (57)
    S2 = np.zeros((n2, c2, c2))
    for m in range(n2):
        for u in range(c2):
            for v in range(c2):
                S2[m, u, v] = (
                    sum(P1[n, p_ + u, q + v] * k2[m, n, p_, q] for n in range(n1) for p_ in range(k) for q in range(k))
                    + b2[m]
                )  # (3)
    C2 = np.where(S2 > 0, S2, 0)
    P2, I2 = np.zeros((n2, p2, p2)), np.zeros((n2, p2, p2, 2), dtype=int)
    for m in range(n2):
        for x in range(p2):
            for y in range(p2):
                cells = [(2 * x, 2 * y), (2 * x, 2 * y + 1), (2 * x + 1, 2 * y), (2 * x + 1, 2 * y + 1)]
                u_max, v_max = max(cells, key=lambda c: (C2[m, c[0], c[1]], -cells.index(c)))
                P2[m, x, y], I2[m, x, y] = C2[m, u_max, v_max], (u_max, v_max)  # (4), (42)
    f = np.zeros(n2 * p2 * p2)  # 192
    for m in range(n2):
        for x in range(p2):
            for y in range(p2):
                f[p2 * p2 * m + p2 * x + y] = P2[m, x, y]  # f[16m + 4x + y]
    S = np.array([sum(w[i, j] * f[j] for j in range(len(f))) + b[i] for i in range(10)])  # (5)
    O = np.exp(S - S.max()) / np.exp(S - S.max()).sum()
    return dict(I=I, S1=S1, C1=C1, P1=P1, I1=I1, S2=S2, C2=C2, P2=P2, I2=I2, f=f, S=S, O=O)


def backward_one(p: dict[str, np.ndarray], fw: dict[str, np.ndarray], label: int) -> dict[str, np.ndarray]:
    """Eqs. (23)-(65) for one image: the parameters' gradients, by name (k1, b1, k2, b2, w, b)."""
    g = backward_all(p, fw, label)
    return {name: g[f"dL{name}"] for name in ("k1", "b1", "k2", "b2", "w", "b")}


def unpooled(dLP: np.ndarray, winners: np.ndarray, side: int) -> np.ndarray:
    """Eqs. (43) and (58): each pooling window's gradient to the cell that won it (winners[m, x, y] is
    that cell's (row, column) in the side x side map), 0 to the rest."""
    dLC = np.zeros((len(dLP), side, side))
    for m, x, y in np.ndindex(dLP.shape):
        u_max, v_max = winners[m, x, y]
        dLC[m, u_max, v_max] = dLP[m, x, y]
    return dLC


def backward_all(p: dict[str, np.ndarray], fw: dict[str, np.ndarray], label: int) -> dict[str, np.ndarray]:
    """Eqs. (23)-(65) for one image, each gradient by the article's own procedure, named as it names them."""
    w, k2 = p["w"], p["k2"]
    I, S1, I1, P1, S2, I2, f, O = (fw[k] for k in ("I", "S1", "I1", "P1", "S2", "I2", "f", "O"))
    n2, n1, k, _ = k2.shape
    c1, p1, c2, p2 = len(S1[0]), len(P1[0]), len(S2[0]), len(I2[0])  # 24, 12, 8, 4
    dLS = np.array([O[i] - 1 if i == label else O[i] for i in range(10)])  # (23)
    dLb = dLS.copy()  # (25)
    dLw = np.array([[dLS[i] * f[j] for j in range(len(f))] for i in range(10)])  # (29), (30)
    dLf = np.array([sum(dLS[i] * w[i, j] for i in range(10)) for j in range(len(f))])  # (37)
    dLP2 = dLf.reshape(n2, p2, p2)  # (39)
    dLC2 = unpooled(dLP2, I2, c2)  # (43)
    dLS2 = dLC2 * (S2 > 0)  # (44), (45)
    dLb2 = np.array([sum(dLS2[m, u, v] for u in range(c2) for v in range(c2)) for m in range(n2)])  # (47)
    dLk2 = np.zeros((n2, n1, k, k))
    for m, n, p_, q in np.ndindex(n2, n1, k, k):
        dLk2[m, n, p_, q] = sum(dLS2[m, u, v] * P1[n, p_ + u, q + v] for u in range(c2) for v in range(c2))  # (50)
    dLP1 = np.zeros((n1, p1, p1))
    for m in range(n2):
        for u in range(c2):
            for v in range(c2):
                dLP1[:, u : u + k, v : v + k] += dLS2[m, u, v] * k2[m]  # (54)-(56), dS2P1 summed on the fly
    dLC1 = unpooled(dLP1, I1, c1)  # (58)
    dLS1 = dLC1 * (S1 > 0)  # (59), (60)
    dLb1 = np.array([dLS1[n].sum() for n in range(n1)])  # (62)
    dLk1 = np.zeros((n1, k, k))
    for n, g, h in np.ndindex(n1, k, k):
        dLk1[n, g, h] = sum(dLS1[n, i, j] * I[g + i, h + j] for i in range(c1) for j in range(c1))  # (65)
    return dict(
        dLS=dLS,
        dLb=dLb,
        dLw=dLw,
        dLf=dLf,
        dLP2=dLP2,
        dLC2=dLC2,
        dLS2=dLS2,
        dLb2=dLb2,
        dLk2=dLk2,
        dLP1=dLP1,
        dLC1=dLC1,
        dLS1=dLS1,
        dLb1=dLb1,
        dLk1=dLk1,
    )


def loss_one(fw: dict[str, np.ndarray], label: int) -> float:
    return float(-np.log(fw["O"][label]))  # (6)
