"""The collection as files every MNIST reader opens, written as they are sent.

npz: `images` uint8 (N, 28, 28) and `labels` uint8 (N,), as numpy.load reads them.
idx: a zip of MNIST's own IDX files (drawings-images-idx3-ubyte, drawings-labels-idx1-ubyte).

Both are zips written to a stream (zipfile's data descriptors, no seeking back), from one
snapshot of the collection read in chunks: the memory held is a chunk of rows and the labels
(one byte per drawing), whatever the collection's size.

Imported by routes.py; imports store.py.
"""

from __future__ import annotations

import struct
import zipfile
from collections.abc import Iterator
from typing import Literal

import numpy as np

from .store import Store, to_uint8

Format = Literal["npz", "idx"]
FILENAMES = {"npz": "drawings.npz", "idx": "drawings-idx.zip"}
MEDIA_TYPES = {"npz": "application/octet-stream", "idx": "application/zip"}
IDX_IMAGES, IDX_LABELS = 0x00000803, 0x00000801  # MNIST's magic numbers: unsigned bytes, 3 and 1 dimensions


class _Pipe:
    """A write-only file whose bytes are taken away as they come (zipfile sees it cannot seek)."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def write(self, data: bytes) -> int:
        self.parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass

    def take(self) -> bytes:
        out, self.parts = b"".join(self.parts), []
        return out


def npy_header(shape: tuple[int, ...]) -> bytes:
    """The .npy format's header for a C-ordered uint8 array of this shape (numpy.lib.format)."""
    pipe = _Pipe()
    np.lib.format.write_array_header_2_0(pipe, {"descr": "|u1", "fortran_order": False, "shape": shape})  # type: ignore[arg-type]
    return pipe.take()


def stream(store: Store, fmt: Format, class_code: str | None = None) -> Iterator[bytes]:
    rows = store.stream(class_code=class_code)
    count = next(rows)
    assert isinstance(count, int)
    pipe = _Pipe()
    labels = bytearray()
    with zipfile.ZipFile(pipe, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        images_name = "images.npy" if fmt == "npz" else "drawings-images-idx3-ubyte"
        with z.open(images_name, "w", force_zip64=True) as f:
            f.write(npy_header((count, 28, 28)) if fmt == "npz" else struct.pack(">IIII", IDX_IMAGES, count, 28, 28))
            for chunk in rows:
                assert isinstance(chunk, list)
                grids = np.frombuffer(b"".join(bytes(grid) for _, grid in chunk), "<f4")
                f.write(to_uint8(grids).tobytes())
                labels.extend(label for label, _ in chunk)
                yield pipe.take()
        if len(labels) != count:  # one snapshot: cannot happen, but a wrong file must never be sent
            raise RuntimeError(f"the export read {len(labels)} drawings of {count}")
        labels_name = "labels.npy" if fmt == "npz" else "drawings-labels-idx1-ubyte"
        with z.open(labels_name, "w") as f:
            f.write(npy_header((count,)) if fmt == "npz" else struct.pack(">II", IDX_LABELS, count))
            f.write(bytes(labels))
    yield pipe.take()
