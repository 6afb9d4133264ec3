"""Our /v2/models/digits/infer against what a team would deploy instead: KServe's ModelServer
running the same weights exported to ONNX with ONNX Runtime (bench/kserve_peer.py).

    python bench/oip_vs_kserve.py [--seconds 3] [--connections 8] [--rounds 6] [--peer-python PY]

Both servers run at once, one process each, as they ship (each logs a line a request; KServe also
its latency line unless --peer-quiet; its gRPC server is left off),
and take the same OIP v2 request: one MNIST digit as 784 FP32 numbers in JSON, asking for the
probabilities. wrk (apt-get install wrk) drives each in turn, ABBA, in one sitting; the ratio of
each round is ours over the peer's run beside it, and the table gives medians. On a shared machine
requests/s swing with the neighbours' load, so the CPU time each server's processes spend per
request (which is what a dedicated core's throughput is the inverse of) is reported beside it. Then, in this one
process, one image's latency through our network and through ONNX Runtime, alternating.
Prints Markdown for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import timeit
import urllib.request
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.api.service import Classifier  # noqa: E402
from bench.bench_service import sample_grid, wrk  # noqa: E402
from bench.servers import cpu_seconds, free_port, start_app, wait_until_healthy  # noqa: E402
from model.onnx_export import to_onnx  # noqa: E402

WEIGHTS = ROOT / "weights" / "cnn.npz"
INFER = "/v2/models/digits/infer"


def wait_for(url: str, process: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{url} did not answer") from None
            time.sleep(0.2)


def probabilities(base: str, body: str) -> np.ndarray:
    request = urllib.request.Request(base + INFER, body.encode(), {"Content-Type": "application/json"})
    answer = json.loads(urllib.request.urlopen(request).read())
    return np.array(answer["outputs"][0]["data"])


def in_process_latency(clf: Classifier, onnx: bytes, rounds: int = 7) -> dict[str, float]:
    """Microseconds of CPU for one image, medians of alternating timed runs (ONNX Runtime on one
    thread; CPU time, since a shared machine's neighbours stretch wall time)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(onnx, options, providers=["CPUExecutionProvider"])
    image = np.asarray(sample_grid(), dtype=np.float64)
    batch = image[None].astype(np.float32)
    runs = {
        "our network, the served answer (Classifier.predict: scores, calibrated softmax)": lambda: clf.predict(image),
        "our network, scores only (CNN.scores)": lambda: clf.net.scores(batch),
        "ONNX Runtime, probabilities and scores (InferenceSession.run)": lambda: session.run(None, {"image": batch}),
    }
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(rounds):
        for name, run in runs.items():
            times[name].append(min(timeit.repeat(run, timer=time.process_time, number=2000, repeat=3)) / 2000 * 1e6)
    return {name: statistics.median(t) for name, t in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=3)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--peer-python", default=sys.executable, help="a Python with kserve and onnxruntime")
    parser.add_argument("--peer-quiet", action="store_true", help="turn KServe's latency log line off")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk not found: apt-get install wrk")
    peer_flags = ["--enable_latency_logging", "false"] if args.peer_quiet else []

    clf = Classifier.load(WEIGHTS)
    onnx = to_onnx(clf.net.params, clf.confidence.temperature)
    image = np.asarray(sample_grid(), dtype=np.float32).ravel().tolist()
    body = json.dumps(
        {
            "inputs": [{"name": "image", "shape": [1, 784], "datatype": "FP32", "data": image}],
            "outputs": [{"name": "probabilities"}],
        }
    )
    ours_port, peer_port = free_port(), free_port()
    with tempfile.TemporaryDirectory() as tmp:
        model_file = Path(tmp) / "digits.onnx"
        model_file.write_bytes(onnx)
        env = {**os.environ, "CNN_WORKERS": "1"}
        ours = start_app(ours_port, "--log-level", "warning", env=env)
        peer = subprocess.Popen(
            [args.peer_python, str(ROOT / "bench" / "kserve_peer.py"), "--onnx", str(model_file)]
            + ["--http_port", str(peer_port), "--workers", "1", "--enable_grpc", "false", *peer_flags],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        servers = {"ours": f"http://127.0.0.1:{ours_port}", "KServe + ONNX Runtime": f"http://127.0.0.1:{peer_port}"}
        try:
            wait_until_healthy(ours_port, ours)
            wait_for(servers["KServe + ONNX Runtime"] + "/v2/health/ready", peer)
            answers = [probabilities(base, body) for base in servers.values()]
            agreement = float(np.abs(answers[0] - answers[1]).max())
            results: dict[str, list[dict[str, float]]] = {name: [] for name in servers}
            ratios, cpu_ratios = [], []
            pids = {"ours": ours.pid, "KServe + ONNX Runtime": peer.pid}
            for round_ in range(args.rounds):
                order = list(servers) if round_ % 2 == 0 else list(servers)[::-1]  # ABBA
                run = {}
                for name in order:
                    before = cpu_seconds(pids[name])
                    run[name] = wrk(servers[name] + INFER, body, args.seconds, args.connections)
                    requests = run[name]["rps"] * run[name]["seconds"]
                    run[name]["cpu_us"] = (cpu_seconds(pids[name]) - before) / requests * 1e6
                for name in servers:
                    results[name].append(run[name])
                ratios.append(run["ours"]["rps"] / run["KServe + ONNX Runtime"]["rps"])
                cpu_ratios.append(run["KServe + ONNX Runtime"]["cpu_us"] / run["ours"]["cpu_us"])
        finally:
            for process in (ours, peer):
                process.terminate()
                process.wait(timeout=30)
    latency = in_process_latency(clf, onnx)

    print(
        f"## {time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} cores, load average "
        f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}; one server process each; wrk, {args.connections} "
        f"connections, {args.rounds} rounds of {args.seconds:g} s, ABBA; medians; "
        f"ModelServer flags beyond its defaults: {' '.join(peer_flags) or 'none'}\n"
    )
    print(f"The same request to both ({len(body):,} bytes); their probabilities differ by at most {agreement:.1e}.\n")
    print("| server | requests/s | CPU a request | p50 | p99 | errors |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, runs in results.items():
        m = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        print(
            f"| {name} | {m['rps']:,.0f} | {m['cpu_us']:.0f} µs | {m['p50_ms']:.1f} ms | {m['p99_ms']:.1f} ms "
            f"| {m['errors']:.0f} |"
        )
    print(
        f"\nOurs over the peer, requests/s: **{statistics.median(ratios):.2f}x** "
        f"(rounds: {', '.join(f'{r:.2f}' for r in ratios)}); CPU a request, theirs over ours: "
        f"**{statistics.median(cpu_ratios):.2f}x** (rounds: {', '.join(f'{r:.2f}' for r in cpu_ratios)})\n"
    )
    print("| one image, in this process | µs |")
    print("|---|---:|")
    for name, micros in latency.items():
        print(f"| {name} | {micros:.1f} |")


if __name__ == "__main__":
    main()
