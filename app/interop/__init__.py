"""Speaking others' standards: the Open Inference Protocol v2 (KServe's and Triton's) under /v2,
and the network as an ONNX model at /model.onnx. The app includes `protocol_router.router`, once."""
