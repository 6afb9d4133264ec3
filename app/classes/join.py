"""The address phones open to join a class (`join_url`): CNN_PUBLIC_URL when set (behind a proxy or
an ingress, only the operator knows it); otherwise the address the teacher's browser used, which
phones on the same network reach too, unless it is a loopback one (127.0.0.1, localhost, ::1), in
which case this machine's own non-loopback addresses, the first of them in `join_url`.
"""

from __future__ import annotations

import ipaddress
import socket
from functools import lru_cache
from urllib.parse import urlsplit

LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}


def is_loopback(host: str) -> bool:
    host = host.strip("[]").lower()
    if host in LOOPBACK_NAMES or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@lru_cache(maxsize=1)
def machine_addresses() -> tuple[str, ...]:
    """This machine's IPv4 addresses other than loopback, the one with the default route first.
    (A UDP socket "connected" to a documentation address sends nothing: it only picks a route.)"""
    found: list[str] = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.1", 9))
            found.append(s.getsockname()[0])
        except OSError:
            pass
    try:
        infos = socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)
    except OSError:
        infos = []
    found += [str(info[4][0]) for info in infos]
    return tuple(dict.fromkeys(a for a in found if not is_loopback(a) and a != "0.0.0.0"))


def bases(public_url: str, scheme: str, host_header: str | None) -> list[str]:
    """Where phones can reach this service, best first (scheme://host[:port], no trailing slash)."""
    if public_url:
        return [public_url.rstrip("/")]
    netloc = (host_header or "").strip()
    parts = urlsplit(f"//{netloc}")
    if netloc and parts.hostname and not is_loopback(parts.hostname):
        return [f"{scheme}://{netloc}"]
    port = f":{parts.port}" if parts.port else ""
    found = [f"{scheme}://{address}{port}" for address in machine_addresses()]
    return found or [f"{scheme}://{netloc or '127.0.0.1'}"]


def join_urls(code: str, public_url: str, scheme: str, host_header: str | None) -> list[str]:
    return [f"{base}/c/{code}" for base in bases(public_url, scheme, host_header)]
