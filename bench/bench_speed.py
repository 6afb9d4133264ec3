"""Our NumPy network against its PyTorch twin, side by side in one process.

    python bench/bench_speed.py [--data-dir ../shared/mnist] [--rounds 7] [--quick]

Needs PyTorch (`pip install -e ".[bench]"`). Every figure comes from alternating runs (ours,
then PyTorch's, then ours...) so that the load of a shared machine falls on both alike; we
report medians and the median of the rounds' ratios (> 1: ours is faster). Prints Markdown for
BENCHMARKS.md. The service under load is measured by bench/bench_service.py.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

import model  # noqa: E402
from bench.torch_twin import TorchTwin  # noqa: E402
from model.fast import batch_gradients  # noqa: E402
from model.mnist import load_mnist, to_float  # noqa: E402
from model.training.optimizers import momentum_step  # noqa: E402

# Multiply-adds x 2 of one image, as the article's equations count them (ReLU, pooling and softmax
# are a rounding error): forward = conv1 + conv2 + dense; backward = dLk2 + dLP1 + dLk1 + dLw + dLf.
FLOPS_FORWARD = 2 * (6 * 25 * 24 * 24 + 12 * 150 * 8 * 8 + 10 * 192)
FLOPS_BACKWARD = 2 * (12 * 150 * 8 * 8 * 2 + 6 * 25 * 24 * 24 + 10 * 192 * 2)
# What our banded-matrix convolutions actually execute (zeros of the band included): C1 in 3 column
# blocks of 8 output columns, each a (60, 48) band on 24 rows; C2 a (360, 96) band on 8 rows.
FLOPS_EXECUTED_FORWARD = 2 * (24 * 3 * 60 * 48 + 8 * 360 * 96 + 10 * 192)
FLOPS_EXECUTED_BACKWARD = 2 * (24 * 3 * 60 * 48 + 2 * 8 * 360 * 96 + 2 * 10 * 192)


SETTLE_SECONDS = 0.5


def settle() -> None:
    """Wait until the other side's idle threads have stopped spinning.

    After a matrix product, OpenBLAS's worker threads spin on a core for about a tenth of a
    second before they sleep, and PyTorch's OpenMP threads do the same. Timed right after the
    other side's run, a side loses a core to them: measured back to back, that made our training
    step look 1.4-1.6x faster than PyTorch's when, measured alone in separate processes, the
    two were level. A pause before every timed run puts both on an idle machine.
    """
    time.sleep(SETTLE_SECONDS)


class Race(NamedTuple):
    ours: float  # median seconds per call
    theirs: float
    ratio: float  # median over rounds of theirs / ours, each round's runs back to back (> 1: ours faster)


def alternate(ours: Callable[[], object], theirs: Callable[[], object], rounds: int, min_seconds: float = 0.6) -> Race:
    """`rounds` alternating timed runs of each, every run long enough to be timed and started warm.

    This machine's speed drifts by up to 2x over seconds (other tenants), so each round's two runs
    are compared with each other, and the ratio reported is the median of those per-round ratios.
    Before each run: settle(), then a quarter as many untimed calls, so that neither side pays for
    waking its threads and refilling its caches inside the timed part.
    """
    ours(), theirs()  # warm up (allocations, BLAS threads, PyTorch's kernels)
    calls = 1
    while True:
        start = time.perf_counter()
        for _ in range(calls):
            ours()
        if time.perf_counter() - start >= min_seconds / 2:
            break
        calls *= 2
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(rounds):
        for fn, out in ((ours, times[0]), (theirs, times[1])):
            settle()
            for _ in range(calls // 4):
                fn()
            start = time.perf_counter()
            for _ in range(calls):
                fn()
            out.append((time.perf_counter() - start) / calls)
    ratio = statistics.median(t / o for o, t in zip(*times, strict=True))
    return Race(statistics.median(times[0]), statistics.median(times[1]), ratio)


def latencies(ours: Callable[[int], object], theirs: Callable[[int], object], count: int) -> tuple[list, list]:
    """Per-call seconds of each: `count` calls of ours, then `count` of theirs."""
    a, b = [], []
    for fn, out in ((ours, a), (theirs, b)):  # in turn, not call by call: see settle()
        for i in range(count // 10):
            fn(i)  # warm up
        settle()
        for i in range(count):
            start = time.perf_counter()
            fn(i)
            out.append(time.perf_counter() - start)
    return a, b


def gemm_gflops(rounds: int) -> tuple[float, float]:
    """The machine's float32 matrix-multiply speed, NumPy's BLAS and PyTorch's, 1024^3."""
    a = np.random.default_rng(0).random((1024, 1024), dtype=np.float32)
    ta = torch.from_numpy(a)
    race = alternate(lambda: a @ a, lambda: ta @ ta, rounds)
    return 2 * 1024**3 / race.ours / 1e9, 2 * 1024**3 / race.theirs / 1e9


def blas_description() -> str:
    try:
        from threadpoolctl import threadpool_info  # only if it happens to be installed

        libs = [
            f"{i['internal_api']} {i.get('version')} ({i['num_threads']} threads, {i.get('architecture')})"
            for i in threadpool_info()
            if i["user_api"] == "blas"
        ]
        if libs:
            return ", ".join(libs)
    except ImportError:
        pass
    config = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
    return f"{config['name']} {config['version']}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", help="MNIST directory [$MNIST_DIR, else the download cache]")
    parser.add_argument("--rounds", type=int, default=7, help="alternating rounds per figure [%(default)s]")
    parser.add_argument("--quick", action="store_true", help="steps only: no epoch, fewer latencies")
    parser.add_argument(
        "--threads",
        default=",".join(str(t) for t in range(1, min(2, os.cpu_count() or 1) + 1)),
        help="the training steps' races, each side given this many threads: PyTorch's intra-op threads, "
        "our batch cut into as many parts (model/fast/gradients.py) [%(default)s]",
    )
    args = parser.parse_args()
    thread_counts = [int(t) for t in args.threads.split(",")]
    torch_default_threads = torch.get_num_threads()
    model.reuse_freed_memory()

    mnist = load_mnist(args.data_dir)
    train_x, train_y = to_float(mnist.train.images), mnist.train.labels.astype(np.int64)
    test_x = to_float(mnist.test.images)
    net = model.CNN.random(seed=0)
    twin = TorchTwin({k: v.copy() for k, v in net.params.items()})
    t_train_x, t_train_y, t_test_x = map(torch.from_numpy, (train_x, train_y, test_x))

    # The twin really is the same network: same probabilities, same gradients.
    probe = train_x[:32]
    assert np.allclose(net.predict_proba(probe), twin.predict_proba(torch.from_numpy(probe)).numpy(), atol=1e-5)
    _, ours_g = net.loss_and_gradients(probe, train_y[:32])
    theirs_g = twin.gradients(torch.from_numpy(probe), torch.from_numpy(train_y[:32]))
    assert all(np.allclose(ours_g[k], theirs_g[k], rtol=1e-3, atol=1e-5) for k in ours_g)

    velocity = {k: np.zeros_like(v) for k, v in net.params.items()}
    rng = np.random.default_rng(0)

    parts = 1

    def our_step(idx: np.ndarray) -> None:  # what model.train does per batch
        grads = batch_gradients(net.params, train_x[idx], train_y[idx], parts=parts).grads
        momentum_step(net.params, velocity, grads, 0.01, 0.9)

    def their_step(idx: np.ndarray) -> None:
        t_idx = torch.from_numpy(idx)
        twin.train_step(t_train_x[t_idx], t_train_y[t_idx])

    print(
        f"## {time.strftime('%Y-%m-%d %H:%M')}, {platform.machine()}, {os.cpu_count()} cores, "
        f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}\n"
    )
    print(
        f"NumPy {np.__version__} on {blas_description()}; PyTorch {torch.__version__} "
        f"({torch_default_threads} threads by default); our training step's parts on one BLAS thread each; "
        f"Python {platform.python_version()}; "
        f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')}, "
        f"OPENBLAS_L2_SIZE={os.environ.get('OPENBLAS_L2_SIZE', '(unset)')}, "
        f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', '(unset)')}\n"
    )
    ours_gemm, their_gemm = gemm_gflops(args.rounds)
    print(f"float32 matrix product 1024^3: NumPy {ours_gemm:.0f} GFLOP/s, PyTorch {their_gemm:.0f} GFLOP/s\n")

    print(
        "| training step | threads | ours img/s | PyTorch img/s | ratio | ours GFLOP/s (useful / executed) "
        "| share of gemm peak |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for threads in thread_counts:  # each side given the same threads: ours as parts of the batch, PyTorch's own
        parts = threads
        torch.set_num_threads(threads)
        for batch in (32, 64, 128):
            idx = rng.permutation(len(train_x))[:batch]
            ours, theirs, ratio = alternate(lambda i=idx: our_step(i), lambda i=idx: their_step(i), args.rounds)
            useful = batch * (FLOPS_FORWARD + FLOPS_BACKWARD) / ours / 1e9
            executed = batch * (FLOPS_EXECUTED_FORWARD + FLOPS_EXECUTED_BACKWARD) / ours / 1e9
            print(
                f"| batch {batch} | {threads} | {batch / ours:,.0f} | {batch / theirs:,.0f} | **{ratio:.2f}x** | "
                f"{useful:.1f} / {executed:.1f} | {useful / ours_gemm:.0%} |"
            )
    parts = max(thread_counts)  # the epoch and inference with the most threads raced
    torch.set_num_threads(parts)

    if not args.quick:
        order = rng.permutation(len(train_x))
        batches = [order[i : i + 64] for i in range(0, len(order), 64)]

        def epoch(step: Callable[[np.ndarray], None]) -> Callable[[], None]:
            return lambda: [step(b) for b in batches]

        ours, theirs, ratio = alternate(epoch(our_step), epoch(their_step), rounds=3, min_seconds=0)
        print(
            f"| one epoch, 60,000 images, batch 64 | {parts} | {len(order) / ours:,.0f} ({ours:.1f} s) | "
            f"{len(order) / theirs:,.0f} ({theirs:.1f} s) | **{ratio:.2f}x** | | |"
        )

    print("\n| inference | ours | PyTorch | ratio |\n|---|---:|---:|---:|")
    count = 200 if args.quick else 2000
    served = (
        net.frozen()
    )  # as the service holds it: read-only, its derived matrices built once (model/fast/inference.py)
    a, b = latencies(
        lambda i: served.predict_proba(test_x[i]), lambda i: twin.predict_proba(t_test_x[i : i + 1]), count
    )
    for q in (50, 99):
        ours, theirs = np.percentile(a, q), np.percentile(b, q)
        print(f"| one image, p{q} latency | {ours * 1e6:,.0f} µs | {theirs * 1e6:,.0f} µs | **{theirs / ours:.2f}x** |")
    for batch in (100, 1000):
        ours, theirs, ratio = alternate(
            lambda s=batch: [served.predict_proba(test_x[i : i + s]) for i in range(0, len(test_x), s)],
            lambda s=batch: [twin.predict_proba(t_test_x[i : i + s]) for i in range(0, len(test_x), s)],
            rounds=3 if args.quick else args.rounds,
            min_seconds=0,
        )
        print(
            f"| 10,000 test images in batches of {batch} | {len(test_x) / ours:,.0f} img/s | "
            f"{len(test_x) / theirs:,.0f} img/s | **{ratio:.2f}x** |"
        )
    print(
        f"\nFLOPs per image: forward {FLOPS_FORWARD:,}, backward {FLOPS_BACKWARD:,} "
        f"(our banded convolutions execute {FLOPS_EXECUTED_FORWARD:,} and {FLOPS_EXECUTED_BACKWARD:,})."
    )


if __name__ == "__main__":
    main()
