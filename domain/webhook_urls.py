"""Webhook URL rules, checked when a webhook is saved and again before every delivery.

The delivery connects to the address that was checked (no DNS-rebinding window between the
check and the connection).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from domain.errors import ValidationFailed

Resolver = Callable[[str, int], Awaitable[list[str]]]
PRODUCTION_PORTS = frozenset({443, 8443})
MAX_URL = 2048


@dataclass(frozen=True)
class CheckedUrl:
    url: str
    scheme: str
    host: str
    port: int
    target: str  # path and query
    address: str  # the resolved, checked address to connect to

    def pinned_url(self) -> str:
        host = f"[{self.address}]" if ":" in self.address else self.address
        return f"{self.scheme}://{host}:{self.port}{self.target}"

    @property
    def host_header(self) -> str:
        default = 443 if self.scheme == "https" else 80
        name = f"[{self.host}]" if ":" in self.host else self.host
        return name if self.port == default else f"{name}:{self.port}"


# IPv6 ranges that embed an IPv4 address a packet may end up at: the embedded address decides.
_NAT64 = ipaddress.ip_network("64:ff9b::/96")  # RFC 6052 well-known prefix
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")  # RFC 4291, deprecated
# Special-purpose IPv6 ranges (IANA registry) that Python's is_global still calls global here.
_NOT_GLOBAL_V6 = tuple(
    ipaddress.ip_network(n)
    for n in (
        "64:ff9b:1::/48",  # RFC 8215 local-use IPv4/IPv6 translation
        "3fff::/20",  # RFC 9637 documentation
        "5f00::/16",  # RFC 9602 SRv6 SIDs
        "fec0::/10",  # deprecated site-local
    )
)


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address carries: mapped, 6to4, Teredo, NAT64, compatible."""
    found: list[ipaddress.IPv4Address] = []
    if ip.ipv4_mapped is not None:
        found.append(ip.ipv4_mapped)
    if ip.sixtofour is not None:
        found.append(ip.sixtofour)
    if ip.teredo is not None:
        found.extend(ip.teredo)  # (server, client): both are reached
    if ip in _NAT64 or (ip in _IPV4_COMPATIBLE and int(ip) > 1):
        found.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    return found


def _is_public(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(ip)
        if embedded:
            return all(_is_public(v4) for v4 in embedded)
        if any(ip in network for network in _NOT_GLOBAL_V6):
            return False
    return ip.is_global and not ip.is_multicast and not ip.is_reserved


def _fail(message: str) -> ValidationFailed:
    return ValidationFailed(message, field="url", code="URL_REFUSED")


async def check_url(url: str, *, production: bool, resolve: Resolver) -> CheckedUrl:
    raw = url.strip()
    if not raw or len(raw) > MAX_URL:
        raise _fail(f"url must be 1 to {MAX_URL} characters")
    try:
        parts = urlsplit(raw)
        port = parts.port
    except ValueError:
        raise _fail("url is not a valid URL") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise _fail("url must start with https://")
    if parts.username is not None or parts.password is not None:
        raise _fail("url must not contain a user name or password")
    host = (parts.hostname or "").lower()
    if not host:
        raise _fail("url needs a host name")
    if port is None:
        port = 443 if scheme == "https" else 80
    if production and scheme != "https":
        raise _fail("webhooks must use https in production")
    if production and port not in PRODUCTION_PORTS:
        raise _fail("webhooks may only use ports 443 or 8443 in production")
    try:
        addresses = await resolve(host, port)
    except OSError:
        raise _fail(f"the host {host} could not be resolved") from None
    if not addresses:
        raise _fail(f"the host {host} could not be resolved")
    ips = [ipaddress.ip_address(a.split("%", 1)[0]) for a in addresses]
    if production and not all(_is_public(ip) for ip in ips):
        raise _fail("webhooks may not point to private, loopback, link-local or reserved addresses")
    if not production and scheme == "http" and not all(ip.is_loopback for ip in ips):
        raise _fail("plain http is only allowed to loopback addresses (development)")
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    return CheckedUrl(raw, scheme, host, port, target, str(ips[0]))
