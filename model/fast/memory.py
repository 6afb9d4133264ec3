"""Keep freed memory for the next batch instead of handing it back to the kernel.

glibc's malloc serves every block over a threshold (128 KiB at first) with a fresh mmap and
returns it with munmap when freed. A training step allocates and frees a few dozen arrays of
0.1-1 MB; each one then costs page faults on first touch, about as much time as the
arithmetic done in it. Raising the mmap and trim thresholds lets malloc reuse the same heap
memory step after step: the process's memory stays bounded by one batch's working set, and
a training step runs markedly faster (BENCHMARKS.md). Elsewhere than glibc this does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_THRESHOLD = 256 * 1024 * 1024  # blocks up to this size come from the reusable heap


def reuse_freed_memory() -> bool:
    """Tune glibc's malloc as the module docstring says; True if it took effect."""
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (musl, macOS, Windows)
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, _THRESHOLD)) and bool(mallopt(_M_TRIM_THRESHOLD, 2 * _THRESHOLD))
