"""Batches drawn ahead by a process of their own, while the steps before them are taken.

A step's batch is a function of the recipe, the seed and the step alone (steps.batches), never of
the weights, so it can be drawn before the step that takes it. Redrawing a batch at random
(augment.py) costs about as much as the step itself; on threads the two shared one interpreter
lock and overlapped badly (bench/run_threads.py), so the drawing gets a process: forked, it
inherits the images and the recipe without copying or pickling them, and hands each batch back
through a queue a few deep. The batches come in the same order from the same generators, so a run
draws what it would have drawn in line.
"""

from __future__ import annotations

import multiprocessing
import queue
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

from ..fast.threads import one_blas_thread

DEPTH = 4  # batches drawn ahead at most: about 1 MB of images


class _Failed(NamedTuple):
    """What the drawing process sends instead of a batch when drawing raised."""

    error: str


def drawn_ahead(draw: Callable[[], Iterator[Any]], depth: int = DEPTH) -> Iterator[Any]:
    """The items of draw(), drawn by a forked process while the caller works on the ones before.

    Stopping early (an error, ^C, the last step taken) ends the process. If it dies or raises, this
    raises RuntimeError with what it said."""
    context = multiprocessing.get_context("fork")  # the images and the generators, inherited as they are
    channel = context.Queue(depth)
    process = context.Process(target=_draw_into, args=(draw, channel), name="drawing batches", daemon=True)
    process.start()
    try:
        while (item := _next(channel, process)) is not None:
            yield item
    finally:
        process.terminate()
        process.join()
        channel.close()


def _draw_into(draw: Callable[[], Iterator[Any]], channel: multiprocessing.Queue) -> None:
    """The drawing process: every item into the channel, then None (or what went wrong)."""
    try:
        with one_blas_thread():  # a teacher's scores: the other core is the steps'
            for item in draw():
                channel.put(item)
        channel.put(None)
    except BaseException as e:  # noqa: BLE001 - whatever it was, the steps must hear of it
        channel.put(_Failed(f"{type(e).__name__}: {e}"))


def _next(channel: multiprocessing.Queue, process: multiprocessing.process.BaseProcess) -> Any:
    """The next item, None at the end; waits as long as the process lives."""
    while True:
        try:
            item = channel.get(timeout=1.0)
        except queue.Empty:
            if not process.is_alive():
                raise RuntimeError(f"the process drawing the batches ended (exit code {process.exitcode})") from None
            continue
        if isinstance(item, _Failed):
            raise RuntimeError(f"drawing a batch failed: {item.error}")
        return item
