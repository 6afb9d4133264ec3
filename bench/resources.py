"""What one container's process tree uses: memory at rest and under load, CPU per request.

    python bench/resources.py [--seconds 20] [--clients 8]

Starts `python -m app` as the container does (one uvicorn process, CNN_POOL_WORKERS=2, as
deploy/kubernetes/deployment.yaml sets), measures the resident memory of its whole process
tree at rest, then drives it for --seconds with a mix of the page's traffic from --clients
threads (/predict of a 28x28 grid with feature maps, /explain, a PNG upload, /train at 1,024
steps), sampling the tree's peak memory, and divides the tree's CPU time by the requests
answered. These numbers size the Deployment's requests and limits.
"""

from __future__ import annotations

import argparse
import io
import sys
import threading
import time
from pathlib import Path

import httpx
import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.attacks import Server  # noqa: E402
from bench.servers import resident_bytes  # noqa: E402

GRID = np.zeros((28, 28))
GRID[6:22, 13:15] = 1.0


def png() -> bytes:
    canvas = np.full((600, 600), 255, np.uint8)
    canvas[80:520, 280:320] = 0
    buf = io.BytesIO()
    Image.fromarray(canvas).save(buf, "PNG")
    return buf.getvalue()


def client(url: str, stop: threading.Event, counts: dict[str, int], kind: int) -> None:
    upload = png()
    with httpx.Client(base_url=url, timeout=60) as c:
        while not stop.is_set():
            if kind % 4 == 0:
                r = c.post("/predict", json={"image": GRID.tolist(), "feature_maps": True, "maps_encoding": "float16"})
            elif kind % 4 == 1:
                r = c.post("/explain", json={"image": GRID.tolist(), "label": 7})
            elif kind % 4 == 2:
                r = c.post("/predict/image", files={"file": ("d.png", upload, "image/png")})
            else:
                r = c.post("/train", json={"recipe": "article", "seed": 0, "steps": 1024})
            counts[str(r.status_code)] = counts.get(str(r.status_code), 0) + 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--clients", type=int, default=8)
    args = parser.parse_args()
    server = Server(CNN_POOL_WORKERS="2", CNN_WORKERS="1")
    try:
        time.sleep(2)
        rest = resident_bytes(server.proc.pid)
        cpu_before = server.cpu()
        stop, counts = threading.Event(), {}
        threads = [threading.Thread(target=client, args=(server.url, stop, counts, k)) for k in range(args.clients)]
        for t in threads:
            t.start()
        peak, ends = rest, time.monotonic() + args.seconds
        while time.monotonic() < ends:
            peak = max(peak, resident_bytes(server.proc.pid))
            time.sleep(0.2)
        stop.set()
        for t in threads:
            t.join()
        cpu = server.cpu() - cpu_before
    finally:
        server.stop()
    answered = sum(counts.values())
    print(f"process tree at rest: {rest / 2**20:.0f} MiB; peak under load: {peak / 2**20:.0f} MiB")
    print(f"{answered} requests in {args.seconds:.0f} s ({counts}): {1000 * cpu / answered:.1f} ms of CPU each")


if __name__ == "__main__":
    main()
