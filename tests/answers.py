"""Requests to every endpoint, and what the service answered to each before app/ was reorganised.

`python -m tests.answers` records the answers of the code checked out into tests/answers.json: it
was run at 0c964ac, before the reorganisation of issue 27, and again at d0f323c (main with issues
25 and 26, whose /model and /equation answers changed on purpose) when the reorganisation was merged
with it (and at c32123f, which added OIP v2, ONNX and the drawings: only the list of
endpoints changed), for issue 35 (every equation of the article: /equation and /model changed on
purpose), and for issue 36 (the classes: only the list of endpoints).
tests/test_answers.py asks the same questions of today's code and expects the same bytes.
A large answer is kept as its SHA-256 and length, a small one as itself, so that a difference in a
small one reads as text.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
from fastapi.testclient import TestClient
from PIL import Image

from tests.conftest import WEIGHTS

RECORDED = Path(__file__).with_name("answers.json")
KEPT_WHOLE = 1500  # bytes: answers up to this size are recorded as they are
HEADERS = ("content-type", "retry-after", "allow")  # the headers an answer is compared by


def digit() -> list[list[float]]:
    """A "7" with grey edges, fixed: the same bytes on every machine."""
    grid = np.zeros((28, 28))
    grid[6:9, 8:21] = 1.0
    for i in range(14):
        grid[9 + i, 19 - i // 2 : 21 - i // 2] = 0.8
    return grid.round(3).tolist()


def drawing() -> list[list[float]]:
    """A 56x70 canvas holding the same 7, off-centre: for the normalising endpoints."""
    canvas = np.zeros((56, 70))
    canvas[10:38, 30:58] = np.asarray(digit())
    return canvas.tolist()


def half_floats(grid: list[list[float]]) -> dict[str, Any]:
    a = np.asarray(grid, dtype="<f2")
    return {"shape": list(a.shape), "float16": base64.b64encode(a.tobytes()).decode()}


def png() -> bytes:
    ink = np.kron(np.asarray(digit()), np.ones((4, 4)))
    out = io.BytesIO()
    Image.fromarray((255 - 255 * ink).astype(np.uint8)).save(out, "PNG")
    return out.getvalue()


Ask = Callable[[TestClient], Any]


def questions() -> Iterator[tuple[str, Ask]]:
    """(name, how to ask) for every endpoint, its options and its usual mistakes."""
    seven, big = digit(), drawing()
    yield "GET /healthz", lambda c: c.get("/healthz")
    yield "GET /model", lambda c: c.get("/model")
    yield "GET /model/kernels", lambda c: c.get("/model/kernels")
    yield "POST /predict", lambda c: c.post("/predict", json={"image": seven})
    yield "POST /predict maps", lambda c: c.post("/predict", json={"image": seven, "feature_maps": True})
    yield (
        "POST /predict maps float16",
        lambda c: c.post("/predict", json={"image": seven, "feature_maps": True, "maps_encoding": "float16"}),
    )
    yield "POST /predict float16 image", lambda c: c.post("/predict", json={"image": half_floats(seven)})
    yield "POST /predict normalize", lambda c: c.post("/predict", json={"image": big, "normalize": True})
    yield "POST /predict 27 rows", lambda c: c.post("/predict", json={"image": seven[:27]})
    yield "POST /predict unknown field", lambda c: c.post("/predict", json={"image": seven, "colour": 1})
    yield (
        "POST /predict not JSON",
        lambda c: c.post("/predict", content=b"{", headers={"content-type": "application/json"}),
    )
    yield "POST /predict as text", lambda c: c.post("/predict", content=b"{}", headers={"content-type": "text/plain"})
    yield "POST /predict blank", lambda c: c.post("/predict", json={"image": [[0.0] * 40] * 40, "normalize": True})
    yield "POST /predict pixel 2", lambda c: c.post("/predict", json={"image": [[2.0] * 28] * 28})
    yield "POST /predict bad params", lambda c: c.post("/predict", json={"image": seven, "params": "AAAA"})
    yield "GET /predict", lambda c: c.get("/predict")
    yield "POST /predict/batch", lambda c: c.post("/predict/batch", json={"images": [seven, seven]})
    yield (
        "POST /predict/batch normalize",
        lambda c: c.post("/predict/batch", json={"images": [big, seven], "normalize": True}),
    )
    yield "POST /predict/batch too many", lambda c: c.post("/predict/batch", json={"images": [seven] * 300})
    yield "POST /predict/batch empty", lambda c: c.post("/predict/batch", json={"images": []})
    yield "POST /predict/image", lambda c: c.post("/predict/image", files={"file": ("7.png", png(), "image/png")})
    yield (
        "POST /predict/image maps",
        lambda c: c.post("/predict/image?feature_maps=true", files={"file": ("7.png", png(), "image/png")}),
    )
    yield (
        "POST /predict/image not an image",
        lambda c: c.post("/predict/image", files={"file": ("7.png", b"hello", "image/png")}),
    )
    yield "POST /predict/image no file", lambda c: c.post("/predict/image", files={"other": ("7.png", png())})
    yield "POST /predict/image as JSON", lambda c: c.post("/predict/image", json={"image": seven})
    yield "POST /explain", lambda c: c.post("/explain", json={"image": seven, "label": 3})
    yield "POST /explain json", lambda c: c.post("/explain", json={"image": seven, "label": 3, "maps_encoding": "json"})
    yield "POST /explain label 10", lambda c: c.post("/explain", json={"image": seven, "label": 10})
    yield "POST /teach", lambda c: c.post("/teach", json={"image": seven, "label": 3, "lr": 0.5})
    yield "POST /teach taught", lambda c: c.post("/teach", json={"image": seven, "label": 3, "params": taught(c)})
    yield "POST /predict taught", lambda c: c.post("/predict", json={"image": seven, "params": taught(c)})
    yield "POST /nudge", lambda c: c.post("/nudge", json={"image": seven, "target": 3, "max_steps": 5})
    yield (
        "POST /nudge add",
        lambda c: c.post("/nudge", json={"image": seven, "target": 1, "mode": "add", "max_steps": 3}),
    )
    yield (
        "POST /equation S1",
        lambda c: c.post("/equation", json={"image": seven, "label": 7, "kind": "S1", "index": [0, 10, 12]}),
    )
    yield "POST /equation L", lambda c: c.post("/equation", json={"image": seven, "label": 7, "kind": "L"})
    yield (
        "POST /equation dLk1",
        lambda c: c.post("/equation", json={"image": seven, "label": 2, "kind": "dLk1", "index": [1, 2, 3]}),
    )
    yield (
        "POST /equation bad index",
        lambda c: c.post("/equation", json={"image": seven, "label": 7, "kind": "S1", "index": [9]}),
    )
    yield (
        "POST /check",
        lambda c: c.post("/check", json={"image": seven, "label": 7, "gradient": "dLk1", "index": [0, 2, 3]}),
    )
    yield (
        "POST /check dLI",
        lambda c: c.post("/check", json={"image": seven, "label": 1, "gradient": "dLI", "index": [14, 14]}),
    )
    yield (
        "POST /check bad index",
        lambda c: c.post("/check", json={"image": seven, "label": 7, "gradient": "dLb", "index": [10]}),
    )
    yield "POST /train article", lambda c: c.post("/train", json={"recipe": "article", "seed": 3, "steps": 40})
    yield "POST /train ours", lambda c: c.post("/train", json={"recipe": "ours", "seed": 1, "steps": 2})
    yield "POST /train resumed", lambda c: c.post("/train", json={"resume": resume(c), "steps": 30})
    yield "POST /train both", lambda c: c.post("/train", json={"recipe": "ours", "resume": "AAAA", "steps": 2})
    yield "POST /train too many steps", lambda c: c.post("/train", json={"recipe": "ours", "steps": 100})
    yield "POST /train bad resume", lambda c: c.post("/train", json={"resume": "not base64!", "steps": 2})
    yield "GET /nowhere", lambda c: c.get("/nowhere")


def taught(c: TestClient) -> str:
    return c.post("/teach", json={"image": digit(), "label": 3, "lr": 0.5}).json()["params"]


def resume(c: TestClient) -> str:
    return c.post("/train", json={"recipe": "article", "seed": 3, "steps": 40}).json()["resume"]


def record_of(response: Any) -> dict[str, Any]:
    body: bytes = response.content
    out: dict[str, Any] = {
        "status": response.status_code,
        "headers": {h: response.headers[h] for h in HEADERS if h in response.headers},
        "sha256": hashlib.sha256(body).hexdigest(),
        "length": len(body),
    }
    if len(body) <= KEPT_WHOLE:
        out["body"] = body.decode("utf-8", "replace")
    return out


def endpoints(document: dict[str, Any]) -> list[list[str]]:
    """(method, path, operationId, summary) of each operation of the OpenAPI document."""
    return sorted(
        [method.upper(), path, op.get("operationId", ""), op.get("summary", "")]
        for path, ops in document["paths"].items()
        for method, op in ops.items()
    )


def settings() -> Any:
    from app.config import Settings

    return Settings(weights=WEIGHTS, pool_workers=1, max_body_bytes=2_000_000)


def answers() -> dict[str, Any]:
    from app.main import create_app

    with TestClient(create_app(settings())) as c:
        out = {name: record_of(ask(c)) for name, ask in questions()}
        out["endpoints"] = endpoints(c.get("/openapi.json").json())
    return out


if __name__ == "__main__":
    RECORDED.write_text(json.dumps(answers(), indent=1, ensure_ascii=False) + "\n")
    print(f"recorded {len(json.loads(RECORDED.read_text())) - 1} answers in {RECORDED}")
