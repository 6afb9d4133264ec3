"""The peer a team would deploy instead: KServe's own ModelServer serving our network exported to
ONNX and run by ONNX Runtime, answering the same OIP v2 requests.

    python bench/kserve_peer.py --onnx digits.onnx --http_port 8080 --enable_grpc false

Run by bench/oip_vs_kserve.py with the kserve package (the test extra holds it; or a venv of its
own, --peer-python there). KServe's own flags (--http_port, --workers ...) pass through to it.
"""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np
import onnxruntime as ort
from kserve import InferOutput, InferRequest, InferResponse, Model, ModelServer


class Digits(Model):
    """One ONNX Runtime session; each input of (N, 784) or (N, 28, 28) floats -> the probabilities."""

    def __init__(self, name: str, onnx_path: str) -> None:
        super().__init__(name)
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1  # one core, as our server's one event loop
        self.session = ort.InferenceSession(onnx_path, options, providers=["CPUExecutionProvider"])
        self.ready = True

    def predict(self, payload: InferRequest, headers: dict[str, str] | None = None) -> InferResponse:
        images = payload.inputs[0].as_numpy().reshape(-1, 28, 28).astype(np.float32, copy=False)
        probabilities, _ = self.session.run(None, {"image": images})
        output = InferOutput("probabilities", list(probabilities.shape), "FP32")
        output.set_data_from_numpy(probabilities, binary_data=False)
        return InferResponse(payload.id or "", self.name, [output])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--onnx", required=True)
    args: Any
    args, _ = parser.parse_known_args()  # the rest are KServe's, read by kserve.model_server itself
    ModelServer().start([Digits("digits", args.onnx)])


if __name__ == "__main__":
    main()
