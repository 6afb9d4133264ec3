"""The worst /train a resume token can buy, against a normal one of the same steps (issue 25).

    python bench/train_cost.py [--root OTHER_CHECKOUT] [--repeat 3]

A real `python -m app` (default settings) answers POST /train one request at a time; each request's
cost is the CPU seconds of the server's whole process tree (server, fork server, workers) around
it, the median of --repeat. Every token below has a valid header and numbers within the documented
bounds (finite, |x| <= 1000), so each passes every check of the token itself:

    normal          a run of the recipe after its first step
    1e-40           every parameter (and the momentum's memory) subnormal
    1e-22           every parameter 1e-22: normal numbers whose products are subnormal
    velocity 1e-40  normal parameters, a subnormal momentum ("ours" only)
    1000            every parameter at the bound
    step 2^64-steps the step counter near its end (500 before issue 25; now a 422 at once)

The target is worst / normal <= 1.5 for each recipe. Then the stalled trainers: four connections
send /train's headers (Content-Length: 200) and ten bytes of body, then nothing, while a visitor
sends 20 small /train requests; before issue 25 the stalled four held every training slot (429).
With --root, the server is that checkout's (to measure an older version beside this one, in the
same sitting). Talks to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import base64
import socket
import statistics
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.attacks import Server  # noqa: E402
from model.data import small_mnist  # noqa: E402
from model.training.recipes import NAMES  # noqa: E402
from model.training.runs import HEADER, MAGIC, Run  # noqa: E402

STEPS = {"article": 1024, "ours": 16}  # the most one request may take: 1,024 images' worth


def token(run: Run, *, step: int | None = None, fill: float | None = None, velocity: float | None = None) -> str:
    """A run's resume, its step and its numbers replaced as asked, the header otherwise valid."""
    params = {k: np.full_like(v, fill) if fill is not None else v for k, v in run.params.items()}
    memory = run.velocity
    if memory is not None and (fill is not None or velocity is not None):
        value = velocity if velocity is not None else fill
        memory = {k: np.full_like(v, value) for k, v in memory.items()}
    header = HEADER.pack(MAGIC, NAMES.index(run.recipe.name), run.seed, run.step if step is None else step)
    arrays = [params] + ([memory] if memory is not None else [])
    body = b"".join(np.asarray(a[k], "<f4").tobytes() for a in arrays for k in a)
    return base64.b64encode(header + body).decode()


def tokens(recipe: str) -> dict[str, str]:
    run = Run.start(recipe, 0)
    data = small_mnist()
    run.train(data.train_images, data.train_labels, 1)
    found = {
        "normal": token(run),
        "1e-40": token(run, fill=1e-40),
        "1e-22": token(run, fill=1e-22),
        "1000": token(run, fill=1000.0),
        "step 2^64-steps": token(run, step=2**64 - STEPS[recipe]),
    }
    if run.velocity is not None:
        found["velocity 1e-40"] = token(run, velocity=1e-40)
    return found


def cost(server: Server, body: dict, repeat: int) -> tuple[float, str]:
    """(median CPU seconds of the tree per request, the statuses seen)."""
    seconds, statuses = [], []
    for _ in range(repeat):
        before = server.cpu()
        r = httpx.post(server.url + "/train", json=body, timeout=60)
        seconds.append(server.cpu() - before)
        statuses.append(str(r.status_code))
    return statistics.median(seconds), "/".join(sorted(set(statuses)))


def measure(server: Server, repeat: int, say: Callable[[str], None]) -> dict[str, float]:
    ratios = {}
    for recipe, steps in STEPS.items():
        found = tokens(recipe)
        results = {name: cost(server, {"resume": t, "steps": steps}, repeat) for name, t in found.items()}
        normal = results["normal"][0]
        for name, (seconds, statuses) in results.items():
            say(f"| {recipe} | {steps} | {name} | {statuses} | {seconds:.2f} | {seconds / normal:.2f}x |")
        ratios[recipe] = max(s for s, _ in results.values()) / normal
    return ratios


def stalled_trainers(server: Server, stalled: int = 4, requests: int = 20) -> Counter[int]:
    """The statuses of `requests` small /train while `stalled` connections hold half-sent bodies."""
    sockets = []
    for _ in range(stalled):
        c = socket.create_connection(("127.0.0.1", server.port), timeout=10)
        c.sendall(
            b"POST /train HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b'Content-Length: 200\r\n\r\n{"recipe":'
        )
        sockets.append(c)
    try:
        body = {"recipe": "article", "seed": 0, "steps": 8}
        return Counter(httpx.post(server.url + "/train", json=body, timeout=60).status_code for _ in range(requests))
    finally:
        for c in sockets:
            c.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, help="serve this checkout instead of this one")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if args.root is not None:
        Server.root = args.root.resolve()
    server = Server()
    try:
        print("| recipe | steps | token | status | CPU s (tree) | / normal |\n|---|---|---|---|---|---|")
        ratios = measure(server, args.repeat, print)
        print("statuses of 20 /train while 4 stalled uploads wait:", dict(stalled_trainers(server)))
    finally:
        server.stop()
    for what, ratio in ratios.items():
        print(f"worst / normal, {what}: {ratio:.2f}x (target <= 1.5)")


if __name__ == "__main__":
    main()
