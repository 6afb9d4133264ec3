"""Who may do what: the teacher's token, the savers' rate, and saves from other sites.

Imported by routes.py; imports nothing of the app.
"""

from __future__ import annotations

import hmac
import math
import time
from collections.abc import Callable
from urllib.parse import urlsplit

MAX_TRACKED_ADDRESSES = 10_000  # clients remembered by the rate limit; beyond, the fullest buckets go


class Unauthorized(Exception):
    """No token, or not the teacher's: 401, and nothing else said."""


class TooFast(Exception):
    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many drawings saved from this address; try again in {retry_after} seconds")
        self.retry_after = retry_after


class CrossSite(Exception):
    """A save from a page on another site (403)."""


def check_token(authorization: str | None, token: str) -> None:
    """Authorization: Bearer <token>, compared in constant time (hmac.compare_digest over bytes)."""
    scheme, _, given = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
        raise Unauthorized("send the teacher's token as Authorization: Bearer <token>")


def check_origin(origin: str | None, host: str | None, allowed: tuple[str, ...]) -> None:
    """Browsers send Origin with every cross-site POST: a save must come from this site's own page
    (or an origin listed in CNN_CORS_ORIGINS). Clients that are not browsers send none."""
    if origin is None or origin in allowed:
        return
    if host is not None and urlsplit(origin).netloc.lower() == host.lower():
        return
    raise CrossSite("drawings can be saved only from this site's own page")


class RateLimit:
    """A token bucket per client address: `per_minute` saves, refilled evenly over a minute."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.capacity, self.rate = float(per_minute), per_minute / 60.0
        self.clock = clock
        self.buckets: dict[str, tuple[float, float]] = {}  # address -> (tokens, when counted)

    def take(self, address: str) -> None:
        now = self.clock()
        tokens, then = self.buckets.get(address, (self.capacity, now))
        tokens = min(self.capacity, tokens + (now - then) * self.rate)
        if tokens < 1:
            self.buckets[address] = (tokens, now)
            raise TooFast(max(1, math.ceil((1 - tokens) / self.rate)))
        self.buckets[address] = (tokens - 1, now)
        if len(self.buckets) > MAX_TRACKED_ADDRESSES:
            self._forget(now)

    def _forget(self, now: float) -> None:
        """Drop at least half the buckets, those that have refilled first (they are as good as new),
        then the longest unused: the scan's cost is paid once per MAX_TRACKED_ADDRESSES / 2 new addresses."""
        full = {a for a, (t, then) in self.buckets.items() if t + (now - then) * self.rate >= self.capacity}
        rest = sorted((a for a in self.buckets if a not in full), key=lambda a: self.buckets[a][1])
        for address in [*full, *rest[: max(0, len(self.buckets) // 2 - len(full))]]:
            del self.buckets[address]
