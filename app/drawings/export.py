"""The collection as files every MNIST reader opens, written as they are sent.

npz: `images` uint8 (N, 28, 28) and `labels` uint8 (N,), as numpy.load reads them.
idx: a zip of MNIST's own IDX files (drawings-images-idx3-ubyte, drawings-labels-idx1-ubyte).

Both are zips written to a stream (zipfile's data descriptors, no seeking back), read from the
database a page at a time, each page in a short transaction of its own: the memory held is a page
of rows and the labels (one byte per drawing), and while the export waits for its client it holds
nothing in the database. The export is the oldest N drawings, N counted when it starts; a drawing
deleted meanwhile is replaced by the next newer one. Before the first byte, the count and the first
page are read: a database that is down or damaged is a 503 with a sentence, not a 200 then nothing.

A zip ends with its central directory: an export cut short (the database failed after the first
byte, or the client stopped reading for WRITE_SECONDS) has none, and the chunked answer lacks its
last chunk, so every zip reader and HTTP client sees that the file is incomplete.
"""

from __future__ import annotations

import asyncio
import logging
import struct
import zipfile
from collections.abc import Generator, Iterator
from typing import Literal

import numpy as np
from fastapi.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from .store import Store, to_uint8

log = logging.getLogger("uvicorn.error")

Format = Literal["npz", "idx"]
FILENAMES = {"npz": "drawings.npz", "idx": "drawings-idx.zip"}
MEDIA_TYPES = {"npz": "application/octet-stream", "idx": "application/zip"}
IDX_IMAGES, IDX_LABELS = 0x00000803, 0x00000801  # MNIST's magic numbers: unsigned bytes, 3 and 1 dimensions
PAGE = 2048  # drawings read in one transaction (6 MB of grids)
WRITE_SECONDS = 30.0  # a piece of the export not taken by the client in this time ends the export


class ExportCut(RuntimeError):
    """The collection shrank below the count promised in the file's header while it was sent."""


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


Rows = list[tuple[int, int, bytes]]  # (id, label, grid), as Store.rows_after gives them


def first_page(store: Store, class_code: str | None = None) -> tuple[int, Rows]:
    """The number of drawings to send and the first page of them: read before the answer starts,
    so that a database down or damaged is told as a 503 (DatabaseUnavailable). Every drawing, or one class's."""
    count = store.count(class_code)
    return count, store.rows_after(0, min(PAGE, count), class_code) if count else []


def pages(store: Store, count: int, first: Rows, class_code: str | None = None) -> Iterator[Rows]:
    """`count` drawings, oldest first, a page (and a short transaction) at a time; one page held at once."""
    rows, sent = first, 0
    del first
    while sent < count:
        if not rows:
            raise ExportCut(f"the collection shrank while it was exported: {sent} drawings of {count}")
        rows = rows[: count - sent]
        sent, last = sent + len(rows), rows[-1][0]
        yield rows
        rows = []  # let the page sent go before the next is read
        if sent < count:
            rows = store.rows_after(last, min(PAGE, count - sent), class_code)


def pixels(rows: Rows) -> bytes:
    """The page's grids as MNIST's uint8 pixels, row after row."""
    return to_uint8(np.frombuffer(b"".join(grid for _, _, grid in rows), "<f4")).tobytes()


def stream(store: Store, fmt: Format, count: int, first: Rows, class_code: str | None = None) -> Generator[bytes]:
    pipe = _Pipe()
    labels = bytearray()
    with zipfile.ZipFile(pipe, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        images_name = "images.npy" if fmt == "npz" else "drawings-images-idx3-ubyte"
        with z.open(images_name, "w", force_zip64=True) as f:
            f.write(npy_header((count, 28, 28)) if fmt == "npz" else struct.pack(">IIII", IDX_IMAGES, count, 28, 28))
            rows_of = pages(store, count, first, class_code)
            del first  # only the page being sent is held
            for rows in rows_of:
                f.write(pixels(rows))
                labels.extend(label for _, label, _ in rows)
                del rows  # not kept while the next page is read
                yield pipe.take()
        labels_name = "labels.npy" if fmt == "npz" else "drawings-labels-idx1-ubyte"
        with z.open(labels_name, "w") as f:
            f.write(npy_header((count,)) if fmt == "npz" else struct.pack(">II", IDX_LABELS, count))
            f.write(bytes(labels))
    yield pipe.take()


class ExportResponse(StreamingResponse):
    """The export's bytes, each piece made in a thread and sent under a write deadline: a client that
    stops reading for WRITE_SECONDS, or goes, ends the export (its generator closed at once, which
    holds nothing in the database); a failure after the first byte ends the answer unfinished."""

    def __init__(self, pieces: Generator[bytes], fmt: Format) -> None:
        disposition = {"Content-Disposition": f'attachment; filename="{FILENAMES[fmt]}"'}
        super().__init__(pieces, media_type=MEDIA_TYPES[fmt], headers=disposition)
        self.pieces = pieces

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        gone = asyncio.Event()

        async def watch() -> None:  # uvicorn's send() is silent once the client has gone: ask receive()
            while (await receive())["type"] != "http.disconnect":
                pass
            gone.set()

        watcher = asyncio.create_task(watch())
        try:
            await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
            while not gone.is_set() and (piece := await asyncio.to_thread(next, self.pieces, None)) is not None:
                message = {"type": "http.response.body", "body": piece, "more_body": True}
                await asyncio.wait_for(send(message), WRITE_SECONDS)
            if not gone.is_set():
                await send({"type": "http.response.body", "body": b"", "more_body": False})
        except TimeoutError:
            log.warning("drawings: an export not read for %g s was cut", WRITE_SECONDS)
        except Exception as e:  # noqa: BLE001 -- the answer has started: it can only be left unfinished
            log.error("drawings: an export failed after its first byte and was cut: %s", e)
        finally:
            watcher.cancel()
            try:
                self.pieces.close()
            except ValueError:  # still running in its thread (this task was cancelled): it ends with it
                pass
