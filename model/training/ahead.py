"""Batches drawn ahead by a process of their own, while the steps before them are taken.

A step's batch is a function of the recipe, the seed and the step alone (steps.batches), never of
the weights, so it can be drawn before the step that takes it. Redrawing a batch at random
(augment.py) costs about as much as the step itself; on threads the two shared one interpreter
lock and overlapped badly (bench/run_threads.py), so the drawing gets a process: forked, it
inherits the images and the recipe without copying or pickling them, and hands each batch back
through a pipe, one batch ahead. The batches come in the same order from the same generators, so
a run draws what it would have drawn in line.
"""

from __future__ import annotations

import multiprocessing
import signal
from collections.abc import Callable, Iterator
from contextlib import suppress
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any, NamedTuple

from ..fast.threads import one_blas_thread


class DrawingFailed(RuntimeError):
    """The process drawing the batches raised, or ended without finishing."""


class _Failed(NamedTuple):
    """What the drawing process sends instead of a batch when drawing raised."""

    error: str


def drawn_ahead(draw: Callable[[], Iterator[Any]]) -> Iterator[Any]:
    """The items of draw(), drawn by a forked process while the caller works on the one before.

    A one-way pipe carries them: the process draws the next item while the caller takes the last,
    then waits in send until it is read. Only the process holds the pipe's writing end, so if it
    dies, even halfway through an item, reading ends at once. Stopping early (an error, ^C, the last
    step taken) ends the process; if it dies or raises, this raises DrawingFailed with what it said."""
    context = multiprocessing.get_context("fork")  # the images and the generators, inherited as they are
    reader, writer = context.Pipe(duplex=False)
    process = context.Process(target=_draw_into, args=(draw, writer, reader), name="drawing batches", daemon=True)
    try:
        process.start()
        writer.close()  # the process's alone now: its end of the pipe closes when it ends
        while (item := _next(reader, process)) is not None:
            yield item
    finally:
        writer.close()
        if process.pid is not None:
            process.kill()  # SIGKILL: nothing it inherited (a handler for SIGTERM) can keep it
            process.join()
        reader.close()


def _draw_into(draw: Callable[[], Iterator[Any]], writer: Connection, reader: Connection) -> None:
    """The drawing process: every item into the pipe, then None (or what went wrong). Its copy of the
    reading end is closed first, so that if the steps' process dies, send fails and this one ends."""
    reader.close()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # ^C is the run's to handle; the run then ends this
    try:
        with one_blas_thread():  # a teacher's scores: the other core is the steps'
            for item in draw():
                writer.send(item)
        writer.send(None)
    except BaseException as e:  # noqa: BLE001 - whatever it was, the steps must hear of it
        with suppress(OSError):  # the reader gone: nobody left to tell
            writer.send(_Failed(f"{type(e).__name__}: {e}"))


def _next(reader: Connection, process: BaseProcess) -> Any:
    """The next item, None at the end."""
    try:
        item = reader.recv()
    except (EOFError, OSError):  # ended between items, or halfway through one
        process.join(1.0)
        raise DrawingFailed(f"the process drawing the batches ended (exit code {process.exitcode})") from None
    if isinstance(item, _Failed):
        raise DrawingFailed(f"drawing a batch failed: {item.error}")
    return item
