"""Answer bytes that clients have not read yet: bounded in time (the write deadline, kept by the
connection, app/transport/server.py) and in bytes per process (here).

Each connection pauses its writing as soon as one byte of an answer is left unsent (its transport's
write buffer limits are 0 and 0), and resumes when the last one has left. So the connections
holding unsent bytes are exactly the paused ones: they are kept in WAITING while paused, and the
bytes waiting in the process are the sum of their buffers, a handful of calls, not one per
connection. A request that would do work while that sum is past the budget is refused with 503
and Retry-After before its body is read (app/transport/request_path.py, admit_backlog): 150 clients that never
read a 10 MB answer cannot make the process hold 1.5 GB (docs/RELIABILITY.md, round 4).
"""

from __future__ import annotations

import asyncio

WAITING: set[asyncio.WriteTransport] = set()  # this process's connections with answer bytes not yet sent
DRAINED = "cnn.drained"  # the scope extension: awaitable, True once the answer's last byte has left
