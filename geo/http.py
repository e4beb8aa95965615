"""HTTP for the providers: one client each, a request interval shared per host in the
process, and every failure turned into `Unavailable` (never an exception of httpx)."""

from __future__ import annotations

import asyncio
import email.utils
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from geo.types import Unavailable

PUBLIC_NOMINATIM = "nominatim.openstreetmap.org"
# The public Nominatim's usage policy: at most one request per second, for the whole app.
PUBLIC_NOMINATIM_INTERVAL_S = 1.0
# Longest Retry-After we honour by waiting; longer ones are "later".
MAX_WAIT_S = 5.0


class Pace:
    """At most one request per `interval` seconds to one host, for every client in this
    process (the lock is held while waiting, so requests go out one by one, in order), and
    nothing before a 429's Retry-After has passed."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._lock = asyncio.Lock()
        self._next = 0.0
        self.blocked_until = 0.0

    async def wait(self, provider: str) -> None:
        async with self._lock:
            now = time.monotonic()
            if self.blocked_until > now + MAX_WAIT_S:
                raise Unavailable(provider, "rate limited", self.blocked_until - now)
            start = max(self._next, self.blocked_until)
            if start > now:
                await asyncio.sleep(start - now)
            self._next = time.monotonic() + self.interval

    def block(self, seconds: float) -> None:
        self.blocked_until = max(self.blocked_until, time.monotonic() + seconds)


_paces: dict[tuple[str, float], Pace] = {}


def pace_for(url: str, interval: float) -> Pace:
    """The server's shared pace (the public Nominatim never faster than once a second)."""
    parts = urlsplit(url)
    if (parts.hostname or "").lower() == PUBLIC_NOMINATIM:
        interval = max(interval, PUBLIC_NOMINATIM_INTERVAL_S)
    server = parts.netloc.lower()
    pace = _paces.get((server, interval))
    if pace is None:
        pace = _paces[(server, interval)] = Pace(interval)
    return pace


def retry_after(value: str | None) -> float | None:
    """Retry-After as seconds: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


@dataclass
class Http:
    provider: str
    base_url: str
    user_agent: str
    timeout_s: float = 10.0
    interval_s: float = 0.0

    def __post_init__(self) -> None:
        self.pace = pace_for(self.base_url, self.interval_s)
        self.client = httpx.AsyncClient(
            timeout=self.timeout_s,
            headers={"User-Agent": self.user_agent, "Accept": "application/json"},
            follow_redirects=False,
        )

    async def get_json(self, url: str, params: dict[str, str] | None = None) -> Any:
        """The JSON body of a 200; None for a 400 or 404; Unavailable for anything that may work
        later."""
        await self.pace.wait(self.provider)
        try:
            response = await self.client.get(url, params=params)
        except httpx.TimeoutException:
            raise Unavailable(self.provider, "timeout") from None
        except httpx.HTTPError as exc:
            raise Unavailable(self.provider, type(exc).__name__) from None
        if response.status_code == 429:
            wait = retry_after(response.headers.get("Retry-After"))
            self.pace.block(wait if wait is not None else 60.0)
            raise Unavailable(self.provider, "429", wait)
        if response.status_code in (400, 404):
            return None  # "no such place" (BrasilAPI: unknown or malformed CEP)
        if response.status_code != 200:
            raise Unavailable(self.provider, str(response.status_code))
        try:
            return response.json()
        except ValueError:
            raise Unavailable(self.provider, "not JSON") from None

    async def aclose(self) -> None:
        await self.client.aclose()
