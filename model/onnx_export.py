"""The network as an ONNX model, built from standard operators, for other runtimes and for Netron.

    image (N, 28, 28) in [0, 1] -> Unsqueeze -> Conv k1 + b1 -> Relu -> MaxPool 2x2   eqs. (1)-(2)
    -> Conv k2 + b2 -> Relu -> MaxPool 2x2 -> Flatten (f[16m + 4x + y])                eqs. (3)-(4)
    -> Gemm w, b: scores S -> Div T -> Softmax: probabilities                         eq. (5)

ONNX's Conv is a cross-correlation, as the article's convolution is, so the kernels go in as they
are. T is the temperature the weights' calibration chose (1 for an uncalibrated network), so the
probabilities are those the service answers.

    python -m model.onnx_export [weights/cnn.npz] [-o digits.onnx]

Imports the network's parameters' layout and the onnx package; app/interop/ imports it.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from .architecture import IMAGE_SHAPE, NUM_CLASSES
from .network import Params

OPSET = 17
INPUT, PROBABILITIES, SCORES = "image", "probabilities", "scores"


def to_onnx(params: Params, temperature: float = 1.0) -> bytes:
    """The serialised ONNX model of the network with these parameters, checked by onnx.checker."""
    model = build(params, temperature)
    onnx.checker.check_model(model, full_check=True)
    return model.SerializeToString()


def build(params: Params, temperature: float = 1.0) -> onnx.ModelProto:
    def constant(name: str, value: np.ndarray) -> TensorProto:
        return numpy_helper.from_array(np.ascontiguousarray(value, dtype=np.float32), name)

    k1 = np.asarray(params["k1"])[:, None]  # (6, 1, 5, 5): one input channel
    initializers = [
        constant("k1", k1),
        constant("b1", params["b1"]),
        constant("k2", params["k2"]),
        constant("b2", params["b2"]),
        constant("w", params["w"]),
        constant("b", params["b"]),
        constant("T", np.array(temperature)),
        numpy_helper.from_array(np.array([1], dtype=np.int64), "channel_axis"),
    ]
    pool: dict[str, Any] = {"kernel_shape": [2, 2], "strides": [2, 2]}
    nodes = [
        helper.make_node("Unsqueeze", [INPUT, "channel_axis"], ["I"]),  # (N, 1, 28, 28)
        helper.make_node("Conv", ["I", "k1", "b1"], ["S1"], kernel_shape=[5, 5]),  # (N, 6, 24, 24), eq. (1)
        helper.make_node("Relu", ["S1"], ["C1"]),
        helper.make_node("MaxPool", ["C1"], ["P1"], **pool),  # (N, 6, 12, 12), eq. (2)
        helper.make_node("Conv", ["P1", "k2", "b2"], ["S2"], kernel_shape=[5, 5]),  # (N, 12, 8, 8), eq. (3)
        helper.make_node("Relu", ["S2"], ["C2"]),
        helper.make_node("MaxPool", ["C2"], ["P2"], **pool),  # (N, 12, 4, 4), eq. (4)
        helper.make_node("Flatten", ["P2"], ["f"], axis=1),  # (N, 192)
        helper.make_node("Gemm", ["f", "w", "b"], [SCORES], transB=1),  # (N, 10), eq. (5)
        helper.make_node("Div", [SCORES, "T"], ["S_over_T"]),
        helper.make_node("Softmax", ["S_over_T"], [PROBABILITIES], axis=1),
    ]
    graph = helper.make_graph(
        nodes,
        "digits",
        [helper.make_tensor_value_info(INPUT, TensorProto.FLOAT, ["N", *IMAGE_SHAPE])],
        [
            helper.make_tensor_value_info(PROBABILITIES, TensorProto.FLOAT, ["N", NUM_CLASSES]),
            helper.make_tensor_value_info(SCORES, TensorProto.FLOAT, ["N", NUM_CLASSES]),
        ],
        initializers,
    )
    graph.doc_string = "The CNN of 'A gentle explanation of Backpropagation in Convolutional Neural Network'"
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="numpy-cnn", producer_version="0.1.0"
    )
    model.ir_version = 8  # what opset 17 came with: runtimes from 2022 on read it
    return model


def main(argv: list[str] | None = None) -> None:
    from .weights import load_params, read_metadata

    parser = argparse.ArgumentParser(description="Write a saved network (.npz) as an ONNX model.")
    parser.add_argument("weights", nargs="?", type=Path, default=Path("weights/cnn.npz"))
    parser.add_argument("-o", "--output", type=Path, default=Path("digits.onnx"))
    args = parser.parse_args(argv)
    calibration = read_metadata(args.weights).get("calibration") or {}
    params = load_params(args.weights)
    args.output.write_bytes(to_onnx(params, float(calibration.get("temperature", 1.0))))
    print(f"wrote {args.output} ({args.output.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
