"""The live board: Server-Sent Events for each class, from one poller per server process.

Where events come from: the drawings table (a saved drawing's id is its event's) and class_events
(state changes, networks, deletions), both read by id, so every process of every replica sees
every event in the database whatever process wrote it. The poller runs only while a stream is
open (nothing at all while idle), every POLL_SECONDS (POLL_SECONDS_LISTENING on PostgreSQL), and at
once when this process saved or changed something (poke); with PostgreSQL each replica also LISTENs on
CHANNEL and NOTIFYs it after its own changes, so another replica's board hears a save within a round
trip, not a poll.

An event's SSE id is "<drawing id>-<class event id>", the stream's two cursors after it: a client
reconnecting with Last-Event-ID is sent what it missed from the database (at most MAX_REPLAY
drawings; past that, a `reset` tells it to reload), then the live events.

On PostgreSQL ids may commit out of order (two replicas' writers): ids skipped by a poll are asked
again for GAP_SECONDS, so a drawing committed late still reaches the board.

Bounds: STREAMS_PER_PROCESS streams per server process, STREAMS_PER_ADDRESS per client address
(503 past either); a stream whose client reads too slowly to keep up (STREAM_BUFFER events behind)
is closed, and its client reconnects and replays.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import re
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from app.drawings.database import Database
from app.drawings.store import to_uint8
from app.transport.errors import Failure

log = logging.getLogger("uvicorn.error")

POLL_SECONDS = 0.25  # while a stream is open; woken sooner by this process's changes
POLL_SECONDS_LISTENING = 2.0  # PostgreSQL: NOTIFY wakes the poller; polling only catches a lost notification
HEARTBEAT_SECONDS = 15.0  # a comment line, so proxies and phones keep the connection
STREAMS_PER_PROCESS = 1_000
STREAMS_PER_ADDRESS = 300  # a whole school's phones may share one address
STREAM_BUFFER = 2_000  # events waiting for one slow client; past it, it is dropped and replays
MAX_REPLAY = 1_000  # drawings sent to a reconnecting board; past it, `reset`
POLL_ROWS = 2_000  # rows read per poll at most (the next poll takes the rest)
GAP_SECONDS = 5.0
CHANNEL = "cnn_classes"
LAST_EVENT_ID = re.compile(r"([0-9]{1,18})-([0-9]{1,18})")
TEACHER_ONLY = ("drawing", "deletion")


class TooManyStreams(Failure):
    """A bound on streams is reached: 503, try again in ten seconds."""

    status, retry_after = 503, 10


class BadLastEventId(Failure):
    """A Last-Event-ID this service never sent."""

    status = 422


def parse_last_event_id(text: str | None) -> tuple[int, int] | None:
    if text is None or text == "":
        return None
    match = LAST_EVENT_ID.fullmatch(text.strip())
    if match is None:
        raise BadLastEventId("Last-Event-ID must be the id of an event this stream sent, like 12-3")
    return int(match[1]), int(match[2])


@dataclass(frozen=True, slots=True)
class Event:
    kind: str  # drawing, deletion, state, network (and hello, reset to one stream)
    code: str
    data: dict[str, Any]
    drawing: int = 0  # the drawing's id (drawing events)
    event: int = 0  # class_events' id (the others)


def drawing_event(row: Any) -> Event:
    drawing_id, code, created_at, label, answer, probability, grid = row
    pixels = to_uint8(np.frombuffer(bytes(grid), "<f4")).tobytes()
    data = {
        "id": int(drawing_id),
        "created_at": created_at,
        "label": int(label),
        "answer": int(answer),
        "probability": float(probability),
        "pixels": base64.b64encode(pixels).decode(),
    }
    return Event("drawing", code, data, drawing=int(drawing_id))


DRAWING_COLUMNS = "id, class, created_at, label, answer, probability, grid"


class Log:
    """The two tables read as events (blocking: called in threads)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def heads(self) -> tuple[int, int]:
        with self.db.transaction(write=False) as conn:
            d = conn.execute("SELECT coalesce(max(id), 0) FROM drawings").fetchone()[0]
            e = conn.execute("SELECT coalesce(max(id), 0) FROM class_events").fetchone()[0]
        return int(d), int(e)

    def since(self, d: int, e: int, gaps: list[int]) -> tuple[list[tuple[int, str | None]], list[Event]]:
        """(id, class) of drawings after d (and of the gaps asked again), and class events after e."""
        with self.db.transaction(write=False) as conn:
            sql = self.db.sql
            ids = conn.execute(sql("SELECT id, class FROM drawings WHERE id > ? ORDER BY id LIMIT ?"), (d, POLL_ROWS))
            found = [(int(i), c) for i, c in ids]
            if gaps:
                marks = ", ".join("?" * len(gaps))
                found += [
                    (int(i), c)
                    for i, c in conn.execute(sql(f"SELECT id, class FROM drawings WHERE id IN ({marks})"), gaps)
                ]
            rows = conn.execute(
                sql("SELECT id, class, kind, data FROM class_events WHERE id > ? ORDER BY id LIMIT ?"), (e, POLL_ROWS)
            ).fetchall()
        return found, [Event(kind, code, json.loads(data), event=int(i)) for i, code, kind, data in rows]

    def drawings(self, ids: list[int]) -> list[Event]:
        if not ids:
            return []
        marks = ", ".join("?" * len(ids))
        with self.db.transaction(write=False) as conn:
            statement = self.db.sql(f"SELECT {DRAWING_COLUMNS} FROM drawings WHERE id IN ({marks}) ORDER BY id")
            return [drawing_event(r) for r in conn.execute(statement, ids)]

    def replay(self, code: str, d: int, e: int, teacher: bool) -> tuple[list[Event], bool]:
        """What a stream of this class missed after its cursors, oldest first; and whether there was
        more than MAX_REPLAY drawings (then the client reloads)."""
        with self.db.transaction(write=False) as conn:
            sql = self.db.sql
            drawings: list[Event] = []
            if teacher:
                statement = f"SELECT {DRAWING_COLUMNS} FROM drawings WHERE class = ? AND id > ? ORDER BY id LIMIT ?"
                drawings = [drawing_event(r) for r in conn.execute(sql(statement), (code, d, MAX_REPLAY + 1))]
            statement = "SELECT id, class, kind, data FROM class_events WHERE class = ? AND id > ? ORDER BY id LIMIT ?"
            rows = conn.execute(sql(statement), (code, e, POLL_ROWS)).fetchall()
        events = [Event(kind, c, json.loads(data), event=int(i)) for i, c, kind, data in rows]
        if not teacher:
            events = [x for x in events if x.kind not in TEACHER_ONLY]
        return drawings[:MAX_REPLAY] + events, len(drawings) > MAX_REPLAY


@dataclass(eq=False)
class Stream:
    code: str
    teacher: bool
    address: str
    d: int  # the cursors: the last drawing id and class event id this client has had
    e: int
    queue: asyncio.Queue[Event | None] = field(default_factory=lambda: asyncio.Queue(STREAM_BUFFER))
    sent: set[tuple[str, int]] = field(default_factory=set)  # what the replay sent, not to send twice

    def offer(self, event: Event) -> None:
        if not self.teacher and event.kind in TEACHER_ONLY:
            return
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:  # too slow a reader: closed; it reconnects with Last-Event-ID and replays
            with contextlib.suppress(asyncio.QueueEmpty):
                self.queue.get_nowait()
            self.queue.put_nowait(None)

    def frame(self, event: Event) -> bytes:
        self.d, self.e = max(self.d, event.drawing), max(self.e, event.event)
        data = json.dumps(event.data, separators=(",", ":"))
        return f"id: {self.d}-{self.e}\nevent: {event.kind}\ndata: {data}\n\n".encode()


class Broker:
    """This process's streams, and the poller that feeds them."""

    def __init__(self, db: Database) -> None:
        self.log, self.db = Log(db), db
        self.streams: dict[str, set[Stream]] = {}
        self.addresses: Counter[str] = Counter()
        self.count = 0
        self.cursors: tuple[int, int] | None = None
        self.gaps: dict[int, float] = {}  # drawing ids skipped by a poll -> when first missed
        self.wake = asyncio.Event()
        self.poller: asyncio.Task[None] | None = None
        self.listener: threading.Thread | None = None
        self.closing = threading.Event()
        self.notify_due = False
        self.notifying = False
        self.notifier: asyncio.Task[None] | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.every = POLL_SECONDS_LISTENING if db.dialect == "postgresql" else POLL_SECONDS

    # -- the streams -------------------------------------------------------------------------------
    def admit(self, code: str, address: str, teacher: bool, cursors: tuple[int, int]) -> Stream:
        if self.count >= STREAMS_PER_PROCESS:
            raise TooManyStreams(f"this server has {STREAMS_PER_PROCESS:,} live streams open; try again in a minute")
        if self.addresses[address] >= STREAMS_PER_ADDRESS:
            raise TooManyStreams(f"{STREAMS_PER_ADDRESS} live streams are open from this address; close some first")
        stream = Stream(code, teacher, address, *cursors)
        self.streams.setdefault(code, set()).add(stream)
        self.addresses[address] += 1
        self.count += 1
        self._start()
        return stream

    def leave(self, stream: Stream) -> None:
        streams = self.streams.get(stream.code, set())
        if stream in streams:
            streams.discard(stream)
            if not streams:
                del self.streams[stream.code]
            self.addresses[stream.address] -= 1
            if self.addresses[stream.address] <= 0:
                del self.addresses[stream.address]
            self.count -= 1

    def poke(self) -> None:
        """This process changed something a board may show: poll now, and tell the other replicas."""
        self.notify_due = self.db.dialect == "postgresql"
        self.wake.set()
        if self.poller is None and self.notify_due and not self.notifying:  # no stream here: still tell the others
            self.notifier = asyncio.create_task(self._notify_while_due())  # kept: a task nobody holds may vanish

    async def _notify_while_due(self) -> None:
        """One NOTIFY at a time, and one more if something changed meanwhile: a burst of saves costs a
        few NOTIFYs, not one each, and none is sent before the change it announces has committed."""
        self.notifying = True
        try:
            while self.notify_due:
                self.notify_due = False
                await asyncio.to_thread(self._notify)
        finally:
            self.notifying = False

    # -- the poller -----------------------------------------------------------------------------
    def _start(self) -> None:
        if self.poller is None or self.poller.done():
            self.poller = asyncio.create_task(self._poll_while_watched())

    async def _poll_while_watched(self) -> None:
        try:
            if self.cursors is None:
                self.cursors = await asyncio.to_thread(self.log.heads)
            while self.count > 0:
                if self.notify_due:
                    self.notify_due = False
                    await asyncio.to_thread(self._notify)
                try:
                    await self._poll()
                except Exception as e:  # noqa: BLE001 -- the database is away: try again, the streams wait
                    log.warning("the live board could not read the database: %s", e)
                    await asyncio.sleep(1)
                self.wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.wake.wait(), self.every)
        finally:
            self.poller = None
            self.cursors = None  # idle: nothing kept; the next stream starts from the database's heads
            self.gaps.clear()

    async def _poll(self) -> None:
        assert self.cursors is not None
        d, e = self.cursors
        now = time.monotonic()
        self.gaps = {i: t for i, t in self.gaps.items() if now - t < GAP_SECONDS}
        found, events = await asyncio.to_thread(self.log.since, d, e, sorted(self.gaps))
        fresh = sorted({(i, c) for i, c in found if i > d or i in self.gaps})
        top = max([d, *(i for i, _ in fresh)])
        if self.db.dialect == "postgresql":  # ids skipped may yet commit (see the module's note)
            have = {i for i, _ in fresh}
            for i in range(d + 1, top):
                if i not in have and len(self.gaps) < POLL_ROWS:
                    self.gaps.setdefault(i, now)
        for i, _ in fresh:
            self.gaps.pop(i, None)
        wanted = [i for i, c in fresh if c is not None and c in self.streams]
        drawings = await asyncio.to_thread(self.log.drawings, wanted)
        self.cursors = (top, max([e, *(x.event for x in events)]))
        for event in sorted([*drawings, *events], key=lambda x: (x.drawing, x.event)):
            for stream in list(self.streams.get(event.code, ())):
                stream.offer(event)

    # -- PostgreSQL: the replicas tell each other ------------------------------------------------------------
    def _notify(self) -> None:
        try:
            with self.db.transaction(write=True) as conn:
                conn.execute(f"NOTIFY {CHANNEL}")
        except Exception as e:  # noqa: BLE001 -- the others' pollers catch up anyway
            log.warning("could not NOTIFY the other replicas: %s", e)

    def listen(self) -> None:
        """PostgreSQL only: a thread LISTENing on CHANNEL wakes this process's poller."""
        if self.db.dialect != "postgresql":
            return
        self.loop = asyncio.get_running_loop()
        self.listener = threading.Thread(target=self._listen_forever, name="classes-listener", daemon=True)
        self.listener.start()

    def _listen_forever(self) -> None:
        assert self.loop is not None
        while not self.closing.is_set():
            try:
                conn = self.db.connect()
                try:
                    conn.execute(f"LISTEN {CHANNEL}")
                    while not self.closing.is_set():
                        for _ in conn.notifies(timeout=1.0, stop_after=1):
                            self.loop.call_soon_threadsafe(self.wake.set)
                finally:
                    conn.close()
            except Exception as e:  # noqa: BLE001 -- PostgreSQL restarting: listen again in a second
                log.warning("LISTEN %s lost: %s", CHANNEL, e)
                self.closing.wait(1.0)

    def close(self) -> None:
        """On the event loop, at shutdown: every stream ends (its client reconnects elsewhere or later)."""
        self.closing.set()
        for streams in self.streams.values():
            for stream in streams:
                with contextlib.suppress(asyncio.QueueEmpty):
                    stream.queue.get_nowait()
                stream.queue.put_nowait(None)
        if self.poller is not None:
            self.poller.cancel()

    def join(self) -> None:
        if self.listener is not None:
            self.listener.join(timeout=3)


async def frames(broker: Broker, stream: Stream, first: list[Event], reset: bool) -> AsyncIterator[bytes]:
    """The stream's bytes: the reconnection delay, what it missed, then the live events and heartbeats."""
    start = (stream.d, stream.e)  # what the client had: live events up to there are not sent again
    try:
        yield b"retry: 1000\n\n"
        if reset:
            yield stream.frame(Event("reset", stream.code, {"reason": f"more than {MAX_REPLAY} drawings were missed"}))
        for missed in first:
            stream.sent.add((missed.kind, missed.drawing or missed.event))
            yield stream.frame(missed)
        while True:
            try:
                event = await asyncio.wait_for(stream.queue.get(), HEARTBEAT_SECONDS)
            except TimeoutError:
                yield b": heartbeat\n\n"
                continue
            if event is None:
                return
            seen = 0 < event.drawing <= start[0] or 0 < event.event <= start[1]
            if seen or (event.kind, event.drawing or event.event) in stream.sent:
                continue
            yield stream.frame(event)
            if event.kind == "state" and event.data.get("state") == "deleted":
                return
    finally:
        broker.leave(stream)
