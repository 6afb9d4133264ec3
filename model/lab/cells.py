"""A term of an equation as the page writes it: a coefficient times a product of factors, each a
named cell of a quantity with its number (model/lab/equations.py and update.py build them)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

Index = tuple[int, ...]
Answer = dict[str, Any]


def cell(name: str, index: Iterable[int], value: Any) -> dict[str, Any]:
    return {"name": name, "index": [int(i) for i in index], "value": float(value)}


def term(*factors: dict[str, Any], coefficient: float = 1.0) -> dict[str, Any]:
    value = coefficient * float(np.prod([f["value"] for f in factors]))
    return {"value": value, "coefficient": coefficient, "factors": list(factors)}
