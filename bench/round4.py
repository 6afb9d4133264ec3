"""Round 4's attacks on the connection (issue 33, findings 1 and 2) against a real `python -m app`, measured.

    python bench/round4.py [--root OTHER_CHECKOUT] [--hold 45]

- one connection streaming a 101 MB header, /healthz asked every 20 ms meanwhile;
- four connections with 8 MB headers each;
- one request with 200,000 small headers;
- 150 connections that send a 200 KB /v2 request naming no outputs (256 UINT8 images) and never
  read the answer: the tree's memory, and how long the server holds them (sampled for --hold s).

With --root, the server is that checkout's (to measure an older version beside this one). Prints a
Markdown table for docs/RELIABILITY.md. Loopback only; every loop is bounded in count and time. The
tests (tests/test_hostile_round4_transport.py) use the helpers below.
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.attacks import Server  # noqa: E402
from bench.hostile import measure, summary  # noqa: E402

INFER = "/v2/models/digits/infer"
PIECE = 64 * 1024


def request(path: str, body: bytes = b"", method: str = "POST", headers: bytes = b"") -> bytes:
    """One HTTP/1.1 request, as bytes on the wire."""
    return b"%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: %d\r\n%s\r\n%s" % (
        method.encode(),
        path.encode(),
        len(body),
        headers,
        body,
    )


def v2_images(n: int, **extra: object) -> bytes:
    """A /v2 request of n UINT8 images as JSON (256: the attacker's 200 KB), naming no outputs."""
    return json.dumps(
        {"inputs": [{"name": "image", "shape": [n, 784], "datatype": "UINT8", "data": [7] * (n * 784)}]} | extra
    ).encode()


def connect(port: int, receive_buffer: int | None = None, timeout: float = 30) -> socket.socket:
    """A connection to 127.0.0.1:port; a small receive buffer keeps an unread answer on the server's side."""
    s = socket.socket()
    if receive_buffer is not None:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
    s.settimeout(timeout)
    s.connect(("127.0.0.1", port))
    return s


def read_all(s: socket.socket) -> tuple[bytes, bool]:
    """Everything the server sends until it closes; and whether it ended with a reset."""
    chunks = []
    try:
        while chunk := s.recv(1 << 20):
            chunks.append(chunk)
    except ConnectionResetError:
        return b"".join(chunks), True
    return b"".join(chunks), False


def status_of(answer: bytes) -> int | str:
    return int(answer[9:12]) if answer.startswith(b"HTTP/1.1 ") else "closed"


HEADER = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Long: "
TRAILER = (  # a chunked body of two bytes, then a trailer
    b"POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    b"Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\nX-Long: "
)


def stream_header(port: int, total: int, start: bytes = HEADER) -> tuple[int | str, int]:
    """A GET whose one header's value (or with TRAILER, a trailer's) is `total` bytes, sent in 64 KiB
    pieces while the server takes them: (the answer's status, or "reset"/"closed"; the bytes it took
    before it stopped taking them)."""
    s = connect(port, timeout=60)
    sent = 0
    with s:
        try:
            s.sendall(start)
            piece = b"a" * PIECE
            while sent < total:
                s.sendall(piece)
                sent += len(piece)
            s.sendall(b"\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass
        try:
            answer, _ = read_all(s)
        except TimeoutError:
            return "timeout", sent
        return status_of(answer) if answer else "reset", sent


def many_headers(port: int, count: int) -> int | str:
    """A GET /healthz with `count` headers of six bytes each."""
    with connect(port, timeout=60) as s:
        try:
            s.sendall(
                b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n" + b"a: b\r\n" * count + b"Connection: close\r\n\r\n"
            )
        except (BrokenPipeError, ConnectionResetError):
            pass
        try:
            answer, _ = read_all(s)
        except (TimeoutError, ConnectionResetError):
            return "reset"
        return status_of(answer)


def unread(port: int, body: bytes) -> tuple[socket.socket, int | str]:
    """A /v2 request whose answer is never read (the first 12 bytes aside, for its status)."""
    s = connect(port, receive_buffer=4096)
    s.sendall(request(INFER, body))
    try:
        return s, status_of(s.recv(12))
    except (TimeoutError, ConnectionResetError):
        return s, "closed"


def established(port: int) -> int:
    """Connections the server on `port` holds open (from the kernel's table: the client's side is not
    asked, so nothing is read)."""
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            for line in f.readlines()[1:]:
                local, state = line.split()[1], line.split()[3]
                if state == "01" and int(local.rsplit(":", 1)[1], 16) == port:
                    count += 1
    return count


def hold(server: Server, body: bytes, n: int, hold_seconds: float) -> tuple[str, str]:
    """n connections that never read; (their statuses and the memory, how long the server held them)."""
    before = server.memory()
    held: list[socket.socket] = []

    def one() -> int | str:
        s, status = unread(server.port, body)
        held.append(s)
        return status

    statuses, cpu, peak, healthz = measure(server, lambda: list(ThreadPoolExecutor(8).map(lambda _: one(), range(n))))
    started, open_ = time.monotonic(), [established(server.port)]
    while open_[-1] and time.monotonic() - started < hold_seconds:
        time.sleep(1)
        open_.append(established(server.port))
    after = server.memory()
    for s in held:
        s.close()
    gone = (
        f"all released after {len(open_) - 1} s"
        if not open_[-1]
        else f"{open_[-1]} still held after {hold_seconds:g} s"
    )
    what = f"{summary(statuses)}; tree {before / 2**20:.0f} -> peak {peak:.0f} MiB, {after / 2**20:.0f} MiB at the end"
    return what, f"{open_[0]} held at first; {gone}; CPU {cpu:.1f} s; /healthz {healthz}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--root", type=Path, help="serve this checkout instead")
    parser.add_argument("--hold", type=float, default=45, help="seconds to watch unread connections")
    args = parser.parse_args()
    if args.root:
        Server.root = args.root.resolve()

    def attack(run: Callable[[int], list[int | str]], seconds: float = 5) -> str:
        """run, again and again for `seconds` (once if it takes longer), so that /healthz is asked meanwhile."""

        def again() -> list[int | str]:
            started, statuses = time.monotonic(), run(server.port)
            while time.monotonic() - started < seconds:
                statuses += run(server.port)
            return statuses

        server = Server()
        try:
            statuses, cpu, peak, healthz = measure(server, again)
            return f"{summary(statuses)} | {cpu:.1f} s | {peak:.0f} MiB | {healthz}"
        finally:
            server.stop()

    def stream(total: int, n: int, start: bytes = HEADER) -> Callable[[int], list[int | str]]:
        def run(port: int) -> list[int | str]:
            results = list(ThreadPoolExecutor(n).map(lambda _: stream_header(port, total, start), range(n)))
            return [f"{status} after {sent / 1e6:.0f} MB" for status, sent in results]

        return run

    print("| attack | answers | server tree CPU | peak memory of the tree | /healthz while it ran, median / max |")
    print("|---|---|---:|---:|---:|")
    for name, run in [
        ("one header of 101 MB, streamed (again for 5 s)", stream(101 * 2**20, 1)),
        ("4 connections, a header of 8 MB each (again for 5 s)", stream(8 * 2**20, 4)),
        ("200,000 headers of 6 bytes (again for 5 s)", lambda port: [many_headers(port, 200_000)]),
        ("a chunked body's trailer of 101 MB, streamed (again for 5 s)", stream(101 * 2**20, 1, TRAILER)),
    ]:
        print(f"| {name} | {attack(run)} |", flush=True)
    print()
    print("| 150 connections that never read | answers and memory | held |")
    print("|---|---|---|")
    for name, body, env in [
        ("256 images, no outputs (JSON, 9.9 MB answers before)", v2_images(256), {}),
        (
            "the same, binary outputs (3.4 MB answers)",
            v2_images(256, parameters={"binary_data_output": True}),
            {},
        ),
        (
            "JSON maps allowed for 256 images (CNN_MAX_JSON_MAP_IMAGES=256: 9.9 MB answers)",
            v2_images(256),
            {"CNN_MAX_JSON_MAP_IMAGES": "256"},
        ),
    ]:
        server = Server(**env)
        try:
            what, held = hold(server, body, 150, args.hold)
        finally:
            server.stop()
        print(f"| {name} | {what} | {held} |", flush=True)


if __name__ == "__main__":
    main()
