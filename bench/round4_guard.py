"""Issue 33's findings 3, 7 and 8, measured against `python -m app` on loopback (docs/RELIABILITY.md,
"Round 4"). Every part is bounded in count and time and stops by itself; it speaks only HTTP, so the
same script measures an older checkout (run it from that checkout's root).

    python bench/round4_guard.py

1. 200 saves with a new X-Forwarded-For each, default settings (120 a minute per address): accepted.
2. Wrong teacher's tokens on one connection for 2 s: answers a second, and how many were 401.
3. The teacher's fine-tune (20 rounds of 1 step) while 6 visitors loop /train (waiting Retry-After on a
   429 as the page does, or not): how many rounds got 429, and how long a round took.
4. CNN_WORKERS=2, 300 saves from one address on new connections at once: accepted.
"""

from __future__ import annotations

import os
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.servers import free_port, start_app, wait_until_healthy  # noqa: E402

TOKEN = "round-4-bench-token-0123"
TEACHER = {"Authorization": f"Bearer {TOKEN}"}
ONE = [[1.0 if 5 <= i < 23 and 13 <= j < 15 else 0.0 for j in range(28)] for i in range(28)]


@contextmanager
def server(**env: str) -> Iterator[str]:
    with tempfile.TemporaryDirectory() as data:
        port = free_port()
        environment = os.environ | {"CNN_TEACHER_TOKEN": TOKEN, "CNN_DATA_DIR": data} | env
        process = start_app(port, env=environment)
        try:
            wait_until_healthy(port, process, seconds=60)
            yield f"http://127.0.0.1:{port}"
        finally:
            process.terminate()
            process.wait(timeout=30)


def rotating_forwarded_for() -> str:
    with server() as url, httpx.Client(timeout=30) as client:
        codes = Counter(
            client.post(
                f"{url}/drawings",
                json={"image": ONE, "label": 1},
                headers={"X-Forwarded-For": f"10.9.{i // 250}.{i % 250}"},
            ).status_code
            for i in range(200)
        )
    return f"{codes[201]} of 200 accepted ({dict(codes)})"


def guesses() -> str:
    with server() as url, httpx.Client(timeout=30) as client:
        codes: Counter[int] = Counter()
        start = time.monotonic()
        while time.monotonic() - start < 2.0:
            codes[
                client.get(
                    f"{url}/drawings/summary", headers={"Authorization": f"Bearer guess-{sum(codes.values())}"}
                ).status_code
            ] += 1
        seconds = time.monotonic() - start
    total = sum(codes.values())
    compared = codes[401] / seconds
    return f"{total / seconds:.0f} answers/s, {compared:.1f} guesses compared (401) per s ({dict(codes)})"


def tune_under_visitors(patient: bool) -> str:
    """`patient` visitors wait Retry-After on a 429, as the page does; the others ask again at once."""
    with server(CNN_POOL_WORKERS="2") as url:
        with httpx.Client(timeout=30) as client:
            for _ in range(5):
                client.post(f"{url}/drawings", json={"image": ONE, "label": 1})
        stop = threading.Event()
        visitors: Counter[int] = Counter()

        def visitor() -> None:
            with httpx.Client(timeout=30) as c:
                while not stop.is_set():
                    r = c.post(f"{url}/train", json={"recipe": "article", "seed": 0, "steps": 512})
                    visitors[r.status_code] += 1
                    if patient and r.status_code == 429:
                        stop.wait(float(r.headers.get("retry-after", "1")))

        threads = [threading.Thread(target=visitor) for _ in range(6)]
        for t in threads:
            t.start()
        time.sleep(1.0)
        teacher: Counter[int] = Counter()
        waits = []
        with httpx.Client(timeout=60) as client:
            for _ in range(20):
                start = time.monotonic()
                teacher[
                    client.post(f"{url}/drawings/tune", json={"seed": 0, "steps": 1}, headers=TEACHER).status_code
                ] += 1
                waits.append(time.monotonic() - start)
        stop.set()
        for t in threads:
            t.join()
    waits.sort()
    return (
        f"teacher: {teacher[429]} of 20 got 429 ({dict(teacher)}), median {waits[10]:.2f} s a round; "
        f"visitors: {dict(visitors)}"
    )


def across_processes() -> str:
    with server(CNN_WORKERS="2", CNN_POOL_WORKERS="1") as url:

        def some(_: int) -> list[int]:
            with httpx.Client(timeout=30) as c:
                return [
                    c.post(
                        f"{url}/drawings", json={"image": ONE, "label": 1}, headers={"Connection": "close"}
                    ).status_code
                    for _ in range(30)
                ]

        with ThreadPoolExecutor(10) as clients:
            codes = Counter(code for batch in clients.map(some, range(10)) for code in batch)
    return f"{codes[201]} of 300 accepted at 120 a minute per address ({dict(codes)})"


def main() -> None:
    for name, part in [
        ("rotating X-Forwarded-For", rotating_forwarded_for),
        ("wrong tokens, one connection", guesses),
        ("fine-tune under 6 visitors who wait Retry-After", lambda: tune_under_visitors(True)),
        ("fine-tune under 6 visitors who never wait", lambda: tune_under_visitors(False)),
        ("CNN_WORKERS=2", across_processes),
    ]:
        print(f"{name}: {part()}", flush=True)


if __name__ == "__main__":
    main()
