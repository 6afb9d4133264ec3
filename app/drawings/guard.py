"""Who may do what: who a client is, the teacher's token and its guessers, the savers' rate, and
saves from other sites.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import hmac
import ipaddress
import math
import mmap
import os
import secrets
import struct
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

from app.transport.errors import Failure

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

UNKNOWN = "unknown"  # every client whose address is not an IP (a Unix socket, a test client) shares one bucket
MAX_HOPS = 16  # X-Forwarded-For entries read from the right at most: no proxy chain is longer
GUESSES_PER_MINUTE = 10  # wrong teacher's tokens per address per minute; past them, 429 without a comparison


class Unauthorized(Exception):
    """No token, or not the teacher's: 401, and nothing else said."""


class TooFast(Failure):
    """Too many saves: 429, Retry-After the seconds until the next one is allowed."""

    status = 429

    def __init__(self, retry_after: int, who: str = "this address") -> None:
        super().__init__(f"too many drawings saved from {who}; try again in {retry_after} seconds")
        self.retry_after = retry_after


class TooManyGuesses(Exception):
    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many wrong tokens from this address; try again in {retry_after} seconds")
        self.retry_after = retry_after


class CrossSite(Failure):
    """A save from a page on another site."""

    status = 403


# -- who a client is ------------------------------------------------------------------------------
def parse_address(text: str) -> Address | None:
    """An IP address as proxies write it ("1.2.3.4", "1.2.3.4:5678", "[2001:db8::1]:443"), or None:
    anything else is never anyone's identity."""
    text = text.strip()
    if len(text) > 53:  # "[" + the longest IPv6 + "]:65535"; longer is not an address, and is not parsed
        return None
    if text.startswith("["):
        text = text[1 : text.find("]")]
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def networks(proxies: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(p, strict=False) for p in proxies)


def client_address(peer: str | None, forwarded: list[str], trusted: tuple[Network, ...]) -> Address | None:
    """The client's address: the connection's peer, unless the peer is a proxy the operator trusts
    (CNN_TRUSTED_PROXIES); then X-Forwarded-For is read from the right, past the trusted proxies, to the
    first address they did not vouch for. An entry that is not an IP stops the walk: the last address
    known answers for it."""
    address = parse_address(peer or "")
    if address is None or not forwarded or not trusted:
        return address
    hops = ",".join(forwarded).rsplit(",", MAX_HOPS)[-MAX_HOPS:]
    for hop in reversed(hops):
        if not any(address in n for n in trusted):
            return address
        found = parse_address(hop)
        if found is None:
            return address
        address = found
    return address


def identity(address: Address | None) -> str:
    """The rate limits' key: an IPv4 address, an IPv6 address's /64 (one subscriber's network, where
    each device may take many addresses), or UNKNOWN."""
    if address is None:
        return UNKNOWN
    if isinstance(address, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


# -- the teacher's token --------------------------------------------------------------------------
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


# -- token buckets in a fixed table ---------------------------------------------------------------
SLOT = struct.Struct("<Qdd")  # a key's 64-bit keyed hash (0: empty), its tokens, when they were counted
HEADER = 64  # the hash's 16-byte key, then the whole service's bucket (one SLOT)
SLOTS = 1 << 16  # 65,536 keys: 1.5 MiB, whatever the addresses
PROBES = 8  # slots a key may sit in: its hash's, and the next seven
TABLE_BYTES = HEADER + SLOTS * SLOT.size


class Buckets:
    """Token buckets in a table of fixed size (TABLE_BYTES, 1.5 MiB), so what the addresses cost in
    memory is bounded in bytes, however many there are and however long their text. A key is kept
    as a keyed hash of its text. Where the table is full, a key takes the slot of a bucket that has
    refilled (as good as new), else that of the least recently used of its PROBES slots.

    With several server processes the table is one file, mapped by each and locked for each take
    (flock): the limits hold for the service, not for each process (CLOCK_MONOTONIC is one clock for
    the whole machine). A take costs a few microseconds: a hash, at most PROBES slots read."""

    def __init__(self, path: Path | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock, self.fd = clock, -1
        # The teacher's dependency runs in FastAPI's threads, saves on the event loop; flock excludes
        # other processes, not this one's threads.
        self.lock = threading.Lock()
        if path is None:
            self.table = mmap.mmap(-1, TABLE_BYTES)
            self.table[:16] = secrets.token_bytes(16)
        else:
            self.fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
            with self._locked():
                if os.fstat(self.fd).st_size != TABLE_BYTES:  # the first process to come makes it
                    os.ftruncate(self.fd, TABLE_BYTES)
                    os.pwrite(self.fd, secrets.token_bytes(16), 0)
            self.table = mmap.mmap(self.fd, TABLE_BYTES)
        self.key = bytes(self.table[:16])

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        with self.lock:
            if self.fd < 0:
                yield
                return
            fcntl.flock(self.fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(self.fd, fcntl.LOCK_UN)

    def _slot(self, key: str, now: float, per_minute: float) -> int:
        """Where `key`'s bucket is, or is to be."""
        tag = int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8, key=self.key).digest()) | 1
        start = tag % SLOTS
        spare, oldest, oldest_at = -1, -1, math.inf
        for i in range(PROBES):
            at = HEADER + ((start + i) % SLOTS) * SLOT.size
            found, tokens, then = SLOT.unpack_from(self.table, at)
            if found == tag:
                return at
            if spare < 0 and (found == 0 or tokens + (now - then) * per_minute / 60 >= per_minute):
                spare = at
            if then < oldest_at:
                oldest, oldest_at = at, then
        at = spare if spare >= 0 else oldest
        SLOT.pack_into(self.table, at, tag, float(per_minute), now)
        return at

    def _tokens(self, at: int, now: float, per_minute: float) -> float:
        _, tokens, then = SLOT.unpack_from(self.table, at)
        return min(float(per_minute), tokens + (now - then) * per_minute / 60)

    def _set(self, at: int, tokens: float, now: float) -> None:
        tag = SLOT.unpack_from(self.table, at)[0]
        SLOT.pack_into(self.table, at, tag, tokens, now)

    def take(self, key: str, per_minute: int, everyone_per_minute: int | None = None) -> float:
        """One token from `key`'s bucket (and from everyone's, if given), or TooFast with the seconds
        to wait; nothing is taken from either when one is empty."""
        with self._locked():
            now = self.clock()
            at = self._slot(key, now, per_minute)
            mine = self._tokens(at, now, per_minute)
            if mine < 1:
                self._set(at, mine, now)
                raise TooFast(max(1, math.ceil((1 - mine) * 60 / per_minute)))
            if everyone_per_minute is not None:
                if self.table[16:24] == bytes(8):  # the first save: everyone's bucket starts full
                    SLOT.pack_into(self.table, 16, 1, float(everyone_per_minute), now)
                everyone = self._tokens(16, now, everyone_per_minute)
                if everyone < 1:
                    self._set(16, everyone, now)
                    raise TooFast(max(1, math.ceil((1 - everyone) * 60 / everyone_per_minute)), "everyone together")
                self._set(16, everyone - 1, now)
            self._set(at, mine - 1, now)
            return mine - 1

    def left(self, key: str, per_minute: int) -> float:
        """The tokens in `key`'s bucket now, none taken."""
        with self._locked():
            now = self.clock()
            return self._tokens(self._slot(key, now, per_minute), now, per_minute)

    def close(self) -> None:
        self.table.close()
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


class RateLimit:
    """`per_minute` saves per client, `total_per_minute` from everyone, each refilled evenly over a minute."""

    def __init__(self, per_minute: int, total_per_minute: int, buckets: Buckets | None = None) -> None:
        self.per_minute, self.total_per_minute = per_minute, total_per_minute
        self.buckets = buckets or Buckets()

    def take(self, who: str) -> None:
        self.buckets.take("save " + who, self.per_minute, self.total_per_minute)


class Guesses:
    """Wrong teacher's tokens, counted per client: past GUESSES_PER_MINUTE, the address gets 429 and its
    tokens are not even compared until its bucket refills."""

    def __init__(self, buckets: Buckets, per_minute: int = GUESSES_PER_MINUTE) -> None:
        self.buckets, self.per_minute = buckets, per_minute

    def allow(self, who: str) -> None:
        left = self.buckets.left("token " + who, self.per_minute)
        if left < 1:
            raise TooManyGuesses(max(1, math.ceil((1 - left) * 60 / self.per_minute)))

    def wrong(self, who: str) -> None:
        with contextlib.suppress(TooFast):
            self.buckets.take("token " + who, self.per_minute)
