"""model/training/ahead.py: the process that draws a run's batches ahead ends with the run, however
either of them ends, and the run hears of it when the drawing dies."""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import numpy as np

from model.training.ahead import drawn_ahead
from tests.conftest import ROOT


def endless() -> Iterator[np.ndarray]:
    """Batches of a run's size (64 images of 28x28 float32, 200 KB: more than a pipe holds), forever."""
    while True:
        yield np.zeros((64, 28, 28), np.float32)


def gone(pid: int, seconds: float = 10.0) -> bool:
    """Whether the process pid has ended (or is a zombie nobody waits for) within `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat") as f:
                if f.read().split(") ")[1].startswith("Z"):
                    return True
        except FileNotFoundError:
            return True
        time.sleep(0.05)
    return False


def test_a_drawing_process_killed_halfway_is_said_not_waited_for():
    batches = drawn_ahead(endless)
    next(batches)
    (child,) = [p for p in multiprocessing.active_children() if p.name == "drawing batches"]
    os.kill(child.pid, signal.SIGKILL)
    raised: list[BaseException] = []

    def read_on() -> None:
        try:
            for _ in range(10):  # what it sent before it died may still be read
                next(batches)
        except BaseException as e:  # noqa: BLE001 - kept for the assertion
            raised.append(e)

    reading = threading.Thread(target=read_on, daemon=True)  # a reader that waited forever must not hang the suite
    reading.start()
    reading.join(10)
    assert not reading.is_alive(), "the run still waits for a process that is dead"
    assert len(raised) == 1 and isinstance(raised[0], RuntimeError)
    assert "the process drawing the batches ended (exit code -9)" in str(raised[0])


def test_when_the_run_dies_the_drawing_process_ends_too():
    """The steps' process killed outright (SIGKILL: no finally runs): its drawing process's next send
    finds nobody reading and ends it, rather than waiting forever."""
    code = (
        "import sys; sys.path.insert(0, '.'); from tests.test_ahead import endless;"
        "from model.training.ahead import drawn_ahead; import multiprocessing;"
        "b = drawn_ahead(endless); next(b);"
        "print([p.pid for p in multiprocessing.active_children()][0], flush=True);"
        "import time; time.sleep(60)"
    )
    run = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        child = int(run.stdout.readline())
        assert not gone(child, seconds=0.5)  # drawing, or waiting to send
        run.kill()
        run.wait()
        assert gone(child)
    finally:
        run.kill()
