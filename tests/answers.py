"""Requests to every endpoint, and what the service answered to each before app/ was reorganised.

`python -m tests.answers` records the answers of the code checked out into tests/answers.json: it
was run at 0c964ac, before the reorganisation of issue 27, and again at d0f323c (main with issues
25 and 26, whose /model and /equation answers changed on purpose) when the reorganisation was merged
with it (and at c32123f, which added OIP v2, ONNX and the drawings: only the list of
endpoints changed), and for issue 35 (every equation of the article: /equation and /model changed on
purpose). Until issue 33 only a large answer's SHA-256 and length were kept; the whole answers were
then recorded again (at fdece45, and after issue 35's merge at d073fb2) with OpenBLAS's SkylakeX
kernels, under which every one of them had the recorded SHA-256 and length, so the bodies kept now
are those answers. Issue 36's merge recorded them again: only the list of endpoints changed (the classes).
Issue 34 (the page's code) added one field to /model's training: tune_steps, a fine-tune's round.
Issue 37's weights (weights/cnn, chosen on the validation split) recorded them again at 24 of 48:
compared with the answers before, no status, header, label or shape changed; what changed is what
the weights make (feature maps, scores, probabilities, gradients and their cells' terms, a nudge's
image and its winners' indices, the confusion matrix, the parameters /teach hands back, the
weights' SHA-256 and /model's record of the run: 45 epochs, the recipe's fields).

tests/test_answers.py asks the same questions of today's code and compares the answers field by
field (`differences`): statuses, headers, labels, shapes and texts exactly, numbers to within what
float32 arithmetic summed in another order gives (another CPU, another BLAS kernel, another thread
count: the last few bits of a float32 sum differ, and training steps carry the difference on).
Bytes are compared only between two answers of the same process (tests/test_answers.py).
"""

from __future__ import annotations

import base64
import io
import json
import math
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
from fastapi.testclient import TestClient
from PIL import Image

from model.training.runs import HEADER
from tests.conftest import WEIGHTS

RECORDED = Path(__file__).with_name("answers.json")
HEADERS = ("content-type", "retry-after", "allow")  # the headers an answer is compared by
# Numbers: |a - b| <= RTOL * max(|a|, |b|, scale), where scale is the largest magnitude of the array
# the number belongs to (a float32 sum is as exact as its largest terms, not as its result), and at
# least FLOOR: the terms of the network's sums (pixels, activations, losses) are of order 1, so a
# result that cancels to near 0 is known to about 1e-7, not to its own last bits. A float32 carries
# 24 bits (6e-8); 1e-4 leaves room for the difference to grow through softmax, forty SGD steps and a
# finite difference (measured: at most 5e-6 between OpenBLAS's SkylakeX, Haswell and Sandybridge
# kernels), and still catches any change of meaning.
RTOL = 1e-4
FLOOR = 1e-3
F16_RTOL = 2**-9  # float16 maps: float32 values on either side of a rounding boundary, one ulp apart
NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")  # numbers written into texts


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
    """What an answer is compared by: its status, some headers and its body (parsed, if JSON)."""
    try:
        body: Any = json.loads(response.content)
    except ValueError:
        body = response.content.decode("utf-8", "replace")
    return {
        "status": response.status_code,
        "headers": {h: response.headers[h] for h in HEADERS if h in response.headers},
        "body": body,
    }


def differences(recorded: Any, answered: Any, where: str = "") -> list[str]:
    """Where `answered` is not `recorded`, field by field: empty when they agree."""
    if isinstance(recorded, dict) and isinstance(answered, dict):
        if recorded.keys() != answered.keys():
            return [f"{where}: keys {sorted(answered)} instead of {sorted(recorded)}"]
        if set(recorded) == {"shape", "float16"}:  # a float16 array (maps_encoding "float16")
            return differences(recorded["shape"], answered["shape"], f"{where}.shape") or arrays(
                unpack(recorded["float16"], "<f2"), unpack(answered["float16"], "<f2"), where, F16_RTOL
            )
        return [d for key in recorded for d in differences(recorded[key], answered[key], f"{where}.{key}")]
    if isinstance(recorded, list) and isinstance(answered, list):
        if len(recorded) != len(answered):
            return [f"{where}: {len(answered)} items instead of {len(recorded)}"]
        if numbers(recorded) and numbers(answered):
            return arrays(np.asarray(recorded, float), np.asarray(answered, float), where, RTOL)
        pairs = enumerate(zip(recorded, answered, strict=True))
        return [d for i, (r, a) in pairs for d in differences(r, a, f"{where}[{i}]")]
    if isinstance(recorded, float) and isinstance(answered, float):
        scale = 1.0 if where.endswith(".relative_error") else FLOOR  # the first: rounding noise itself
        return [] if close(recorded, answered, RTOL, scale) else [f"{where}: {answered!r} instead of {recorded!r}"]
    if isinstance(recorded, str) and isinstance(answered, str) and recorded != answered:
        return strings(recorded, answered, where)
    if type(recorded) is not type(answered) or recorded != answered:  # labels, counts, flags: exactly
        return [f"{where}: {answered!r} instead of {recorded!r}"]
    return []


def numbers(items: list[Any]) -> bool:
    """An array of numbers (a list, or lists of lists of one shape), not all of them integers."""
    kinds = {type(x) for x in leaves(items)}
    if not kinds <= {int, float} or float not in kinds:
        return False
    try:
        np.asarray(items, float)
    except ValueError:  # ragged
        return False
    return True


def leaves(items: list[Any]) -> Iterator[Any]:
    for x in items:
        if isinstance(x, list):
            yield from leaves(x)
        else:
            yield x


def close(a: float, b: float, rtol: float, scale: float = FLOOR) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return abs(a - b) <= rtol * max(abs(a), abs(b), scale)


def arrays(recorded: np.ndarray, answered: np.ndarray, where: str, rtol: float) -> list[str]:
    if recorded.shape != answered.shape:
        return [f"{where}: {answered.size} numbers instead of {recorded.size}"]
    scale = float(np.abs(recorded).max(initial=FLOOR))
    allowed = rtol * np.maximum(np.maximum(np.abs(recorded), np.abs(answered)), scale)
    off = np.flatnonzero(~(np.abs(recorded - answered) <= allowed))  # NaN is never within
    if off.size == 0:
        return []
    i = off[0]
    return [f"{where}: {off.size} of {recorded.size} differ, e.g. [{i}] {answered.flat[i]!r} for {recorded.flat[i]!r}"]


def strings(recorded: str, answered: str, where: str) -> list[str]:
    """Texts: exactly, but for the numbers written into them; base64 float32 (parameters, and a
    run's state after its header) as numbers."""
    key = where.rsplit(".", 1)[-1]
    if key in BINARY:
        header = BINARY[key]
        r, a = base64.b64decode(recorded), base64.b64decode(answered)
        if r[:header] != a[:header]:
            return [f"{where}: the header {a[:header]!r} instead of {r[:header]!r}"]
        return arrays(unpack_bytes(r[header:], "<f4"), unpack_bytes(a[header:], "<f4"), where, RTOL)
    words_r, words_a = NUMBER.split(recorded), NUMBER.split(answered)
    values_r, values_a = NUMBER.findall(recorded), NUMBER.findall(answered)
    if words_r != words_a or len(values_r) != len(values_a):
        return [f"{where}: {answered!r} instead of {recorded!r}"]
    if all(close(float(r), float(a), RTOL) for r, a in zip(values_r, values_a, strict=True)):
        return []
    return [f"{where}: the numbers of {answered!r} instead of {recorded!r}"]


# base64 fields of float32 numbers, by name, with the bytes of header before them (compared exactly)
BINARY = {"params": 0, "resume": HEADER.size}


def unpack(text: str, dtype: str) -> np.ndarray:
    return unpack_bytes(base64.b64decode(text), dtype)


def unpack_bytes(data: bytes, dtype: str) -> np.ndarray:
    return np.frombuffer(data, dtype).astype(np.float64)


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


def write(recorded: dict[str, Any]) -> None:
    """One answer a line: the file diffs by answer, and stays readable."""
    lines = [f"{json.dumps(name)}: {json.dumps(answer, ensure_ascii=False)}" for name, answer in recorded.items()]
    RECORDED.write_text("{\n" + ",\n".join(lines) + "\n}\n")


if __name__ == "__main__":
    write(answers())
    print(f"recorded {len(json.loads(RECORDED.read_text())) - 1} answers in {RECORDED}")
