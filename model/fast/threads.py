"""One BLAS thread while training steps run.

A training step at batch 64 makes a dozen matrix products of 0.1-0.5 ms each. OpenBLAS splits
each over its threads (2 here) and its workers spin between products; when another process holds
a core (this machine is shared; two trainings at once are common), a split product waits for a
descheduled worker, and a step took many times longer on two threads than on one. On an idle
machine the second thread saves only part of the products' time, a fraction of a step. So a step
runs on one thread, whatever the load (figures: BENCHMARKS.md, issue 37).

OpenBLAS 0.3.27 and later have openblas_set_num_threads_local, but in the pthreads build NumPy
ships its "local" count is one number for the whole process: a step's parts on several threads
(gradients.py) would save and restore it over each other, and a part could run on two BLAS threads
(other sums, other bits). So the count is held by a counter: the first step to start sets 1, the
last to end puts back what was there, and while any step runs, every product in the process takes
one thread. Where the function is missing (another BLAS, an older OpenBLAS) this does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np


def _set_local() -> Callable[[int], int] | None:
    """openblas_set_num_threads_local of the OpenBLAS NumPy uses, or None."""
    wheel_libs = Path(np.__file__).parent.parent / "numpy.libs"  # the wheel's own OpenBLAS
    candidates = [str(path) for path in sorted(wheel_libs.glob("*openblas*"))] + [ctypes.util.find_library("openblas")]
    for name in filter(None, candidates):
        try:
            function = ctypes.CDLL(name).openblas_set_num_threads_local
        except (OSError, AttributeError):
            continue
        function.argtypes, function.restype = [ctypes.c_int], ctypes.c_int
        return function  # type: ignore[no-any-return]
    return None


_SET_LOCAL = _set_local()


_HELD = threading.Lock()
_holders = 0  # steps running under one_blas_thread, across the process's threads
_before = 0  # the count to put back when the last of them ends


@contextmanager
def one_blas_thread() -> Iterator[None]:
    """Within the block, BLAS products run on one thread; the count is put back when no block is left."""
    global _holders, _before
    if _SET_LOCAL is None:
        yield
        return
    with _HELD:
        if _holders == 0:
            _before = _SET_LOCAL(1)
        _holders += 1
    try:
        yield
    finally:
        with _HELD:
            _holders -= 1
            if _holders == 0:
                _SET_LOCAL(_before)
