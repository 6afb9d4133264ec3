"""What a request may cost the event loop: the worst bodies of at most INLINE_BYTES, timed.

    python bench/loop_cost.py [--repeat 200]

A /predict body of at most app.transport.endpoints.INLINE_BYTES is answered on the event loop; everything
else goes to a worker process. This times app.transport.request_path.answer_job(on_loop=True), which is all the loop
does with such a body beyond reading it, for the costliest bodies we could build within that size:
long decimals, feature maps as JSON numbers with a visitor's own parameters, unknown keys, deep
nesting, strings where numbers belong. Prints a Markdown table for docs/RELIABILITY.md.
"""

from __future__ import annotations

import argparse
import base64
import gc
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import model  # noqa: E402
from app.api.service import Classifier  # noqa: E402
from app.config import Settings  # noqa: E402
from app.registry import BY_NAME  # noqa: E402
from app.transport.endpoints import INLINE_BYTES  # noqa: E402
from app.transport.jobs import Job, NeedsWorker  # noqa: E402
from app.transport.request_path import answer_job  # noqa: E402
from model.codec import encode_params  # noqa: E402


def fill(prefix: bytes, item: bytes, suffix: bytes, sep: bytes = b",") -> bytes:
    """prefix item,item,...,item suffix, as long as it stays within INLINE_BYTES."""
    n = (INLINE_BYTES - len(prefix) - len(suffix)) // (len(item) + len(sep))
    return prefix + sep.join([item] * n) + suffix


def bodies() -> dict[str, bytes]:
    rng = np.random.default_rng(0)
    grid = rng.random((28, 28)).tolist()  # 17-digit decimals, as a page's JSON.stringify writes them
    image = json.dumps(grid).encode()
    params = encode_params({k: rng.normal(0, 1, s).astype(np.float32) for k, s in model.PARAM_SHAPES.items()})
    half = {"shape": [28, 28], "float16": base64.b64encode(rng.random((28, 28)).astype("<f2").tobytes()).decode()}
    keys = [b'"%05d":0' % i for i in range(5000)]
    return {
        "28x28 of 17-digit decimals": b'{"image": ' + image + b"}",
        "the same, with feature maps as JSON numbers": b'{"image": ' + image + b', "feature_maps": true}',
        "a visitor's parameters, feature maps as JSON numbers": json.dumps(
            {"image": np.round(grid, 6).tolist(), "params": params, "feature_maps": True}
        ).encode(),
        "float16 image and maps": json.dumps(
            {"image": half, "feature_maps": True, "maps_encoding": "float16"}
        ).encode(),
        "unknown keys beside a good image": b'{"image": '
        + image
        + b","
        + b",".join(keys)[: INLINE_BYTES - len(image) - 16].rsplit(b",", 1)[0]
        + b"}",
        "only unknown keys": b"{" + b",".join(keys)[: INLINE_BYTES - 2].rsplit(b",", 1)[0] + b"}",
        "nested brackets": b'{"image": ' + b"[" * 16000 + b"]" * 16000 + b"}",
        "a drawing of strings": fill(b'{"image": [[', b'"x"', b"]]}"),
        "a shape of strings": fill(b'{"image": {"float16": "", "shape": [', b'"x"', b"]}}"),
        "a drawing to normalise (parsed, then sent to a worker)": fill(
            b'{"normalize": true, "image": [', b"[" + b",".join([b"0"] * 60) + b",1]", b"]}"
        ),
        "rows of 1 number": fill(b'{"image": [', b"[1]", b"]}"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()
    settings = Settings()
    clf = Classifier.load(settings.weights)
    gc.freeze()  # as the server does once it has started
    print(f"| body (at most {INLINE_BYTES:,} bytes) | bytes | answer | median | max of {args.repeat} |")
    print("|---|---:|---|---:|---:|")
    for name, body in bodies().items():
        assert len(body) <= INLINE_BYTES, (name, len(body))
        job, times, status = Job("predict", body), [], "to a worker"
        for _ in range(args.repeat):
            started = time.perf_counter()
            try:
                status = str(answer_job(BY_NAME["predict"], job, clf, settings, on_loop=True).status)
            except NeedsWorker:
                pass
            times.append(time.perf_counter() - started)
        print(
            f"| {name} | {len(body):,} | {status} | {statistics.median(times) * 1e3:.2f} ms | "
            f"{max(times) * 1e3:.2f} ms |"
        )


if __name__ == "__main__":
    main()
