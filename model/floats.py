"""Subnormal floats, kept out of the network: a request's cost must not depend on its values.

A float32 below 1.2e-38 in magnitude (subnormal) is handled by the CPU's microcode, 10 to 100 times
slower than any other number: a network whose parameters are all 1e-40, or 1e-22 (whose products
are subnormal), trains 5-10 times slower than a normal one (docs/RELIABILITY.md). Two defences:

- `flush` sets subnormals to 0 wherever numbers enter (parameters, run states, images, step
  sizes), so that what is computed does not depend on whether the CPU flushes them too;
- `flush_to_zero` runs a computation with the CPU's flush-to-zero and denormals-are-zero modes
  (x86-64 MXCSR FTZ and DAZ, AArch64 FPCR FZ), so that subnormals made along the way, by products
  of small normal numbers or a momentum decaying towards 0, cost no more than any other number.

Neither changes what a network can tell: a subnormal (below 1.2e-38) vanishes in the rounding of
any sum it joins with a number above 1e-31, and the training's tests pass unchanged with both.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import platform
import threading
from typing import TypeVar

import numpy as np

TINY = float(np.finfo(np.float32).tiny)  # the smallest normal float32; the network computes in float32
Number = TypeVar("Number", float, np.ndarray)


def flush(x: Number) -> Number:
    """x with every value of magnitude below float32's smallest normal number set to 0 (a float, or
    a float array: a new one if anything changed, else x itself)."""
    if isinstance(x, np.ndarray):
        if x.dtype.kind != "f" or x.size == 0:
            return x
        size = np.abs(x)
        tiny = (size < TINY) & (size > 0)  # zeros are not subnormal: an image's background costs no copy
        if not tiny.any():
            return x
        return np.where(tiny, np.zeros((), x.dtype), x)
    return 0.0 if abs(x) < TINY else x


# Where each architecture keeps its flush-to-zero bits in glibc's fenv_t: (byte offset of the
# 32-bit control register, the bits to set).
FENV_BITS = {
    "x86_64": (28, 0x8040),  # MXCSR after the 28 bytes of x87 state: FTZ (bit 15) and DAZ (bit 6)
    "aarch64": (0, 1 << 24),  # FPCR, first: FZ (bit 24), which also treats subnormal inputs as 0
}
FENV_BYTES = 64  # larger than fenv_t on either


MACHINE = platform.machine()


def _libm() -> ctypes.CDLL | None:
    if MACHINE not in FENV_BITS or platform.libc_ver()[0] != "glibc":
        return None
    name = ctypes.util.find_library("m")
    return ctypes.CDLL(name) if name else None


LIBM = _libm()


def _environments() -> tuple[ctypes.Array[ctypes.c_char], ctypes.Array[ctypes.c_char]] | None:
    """This thread's floating-point environment as it is, and the same with flush-to-zero set."""
    if LIBM is None:
        return None
    saved = ctypes.create_string_buffer(FENV_BYTES)
    if LIBM.fegetenv(saved) != 0:
        return None
    offset, bits = FENV_BITS[MACHINE]
    raw = bytearray(saved.raw)
    control = int.from_bytes(raw[offset : offset + 4], "little")
    raw[offset : offset + 4] = (control | bits).to_bytes(4, "little")
    return saved, ctypes.create_string_buffer(bytes(raw), FENV_BYTES)


class FlushToZero:
    """The context of `flush_to_zero`. Each thread's two environments are made once and kept (the
    mode is set around every request: building them each time cost 5 µs of a /predict), and only
    the outermost of nested blocks sets and restores the mode."""

    def __init__(self) -> None:
        self.threads = threading.local()

    def __enter__(self) -> bool:
        here = self.threads
        depth = getattr(here, "depth", 0)
        if depth == 0:
            if not hasattr(here, "environments"):
                here.environments = _environments()
            if here.environments is None:
                return False
            LIBM.fesetenv(here.environments[1])  # type: ignore[union-attr]
        here.depth = depth + 1
        return True

    def __exit__(self, *_: object) -> None:
        here = self.threads
        depth = getattr(here, "depth", 0)
        if depth == 0:  # the mode could not be set
            return
        here.depth = depth - 1
        if depth == 1:
            LIBM.fesetenv(here.environments[0])  # type: ignore[union-attr]


FLUSH_TO_ZERO = FlushToZero()


def flush_to_zero() -> FlushToZero:
    """Run the block with the CPU flushing subnormal results and inputs to zero on this thread, and
    restore the previous mode after. `with` gives whether the mode could be set (x86-64 and AArch64
    with glibc; elsewhere the block runs unchanged and only `flush` protects it)."""
    return FLUSH_TO_ZERO
