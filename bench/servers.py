"""Real servers for tests and benchmarks: a free port on 127.0.0.1, and waiting until /healthz answers."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_app(port: int, *args: str, env: dict[str, str] | None = None, **popen: Any) -> subprocess.Popen:
    """`python -m app` from the project's root on 127.0.0.1:port with these arguments, in this environment
    (this process's by default); what it prints goes nowhere unless `popen` says where."""
    popen = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL} | popen
    command = [sys.executable, "-m", "app", "--port", str(port), *args]
    return subprocess.Popen(command, cwd=ROOT, env=os.environ if env is None else env, **popen)


def wait_until_healthy(port: int, process: subprocess.Popen | None = None, seconds: float = 30) -> None:
    """Poll GET /healthz until it answers; RuntimeError if the process dies or time runs out first."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
            return
        except OSError:
            if (process is not None and process.poll() is not None) or time.monotonic() > deadline:
                raise RuntimeError(f"the server on port {port} did not start") from None
            time.sleep(0.1)


def process_tree(pid: int) -> list[int]:
    """pid and every process below it (a server's worker pool, its fork server and its workers)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    tree, todo = [], [pid]
    while todo:
        p = todo.pop()
        tree.append(p)
        todo.extend(children.get(p, []))
    return tree


def cpu_seconds(pid: int) -> float:
    """CPU time of the process tree under pid, including children it has already reaped."""
    total = 0
    for p in process_tree(pid):
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += sum(int(x) for x in fields[11:15])  # utime stime cutime cstime
    return total / os.sysconf("SC_CLK_TCK")


def resident_bytes(pid: int) -> int:
    """Resident memory of the process tree under pid."""
    total = 0
    for p in process_tree(pid):
        try:
            with open(f"/proc/{p}/statm") as f:
                total += int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except OSError:
            continue
    return total
