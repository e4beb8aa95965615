"""Rate limits (the `limits` package): per client IP and per token on HTTP operations, on
websocket connects, on failed authentications, and tighter on scanBarcode.

Counted in memory by default (each process on its own) or in Redis when
BIPA_RATE_LIMIT_STORAGE is a redis:// URL (every process shares the counts). Moving windows:
a client over a limit waits until its oldest counted hit leaves the window, which is what
Retry-After says. If the storage cannot be reached the request goes through (logged): the
limits protect the service, they must not take it down with Redis.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

from graphql import GraphQLError
from limits import RateLimitItem, parse_many
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter

import metrics

log = logging.getLogger("bipa.ratelimit")

# The names of the limits, as metrics label them.
HTTP_IP = "http_ip"
HTTP_TOKEN = "http_token"  # noqa: S105 (a name, not a secret)
WS_CONNECT = "ws_connect"
AUTH_FAILURE = "auth_failure"
SCAN = "scan"


@dataclass(frozen=True)
class RateLimitConfig:
    """Each limit in the `limits` notation ("600/minute", "20/second;600/minute")."""

    storage: str = "memory://"
    per_ip: str = "3000/minute"
    per_token: str = "600/minute"  # noqa: S105
    ws_connects: str = "60/minute"
    auth_failures: str = "10/minute"
    scans: str = "120/minute"

    def items(self) -> dict[str, list[RateLimitItem]]:
        return {
            HTTP_IP: parse_many(self.per_ip),
            HTTP_TOKEN: parse_many(self.per_token),
            WS_CONNECT: parse_many(self.ws_connects),
            AUTH_FAILURE: parse_many(self.auth_failures),
            SCAN: parse_many(self.scans),
        }


def open_storage(url: str) -> Storage:
    if url.startswith("memory://"):
        return MemoryStorage()
    # redis-py, already a dependency (broadcaster), rather than limits' default coredis.
    return RedisStorage("async+" + url, implementation="redispy")


class RateLimits:
    def __init__(self, config: RateLimitConfig) -> None:
        self.items = config.items()
        self.storage = open_storage(config.storage)
        self.limiter = MovingWindowRateLimiter(self.storage)

    async def hit(self, name: str, key: str, cost: int = 1) -> int | None:
        """Counts one hit; the seconds to wait when that is over the limit, else None."""
        return await self._check(name, key, cost, count=True)

    async def blocked(self, name: str, key: str) -> int | None:
        """The seconds to wait when `key` is already at the limit (counts nothing)."""
        return await self._check(name, key, 1, count=False)

    async def _check(self, name: str, key: str, cost: int, *, count: bool) -> int | None:
        try:
            for item in self.items[name]:
                allowed = (
                    await self.limiter.hit(item, name, key, cost=cost)
                    if count
                    else await self.limiter.test(item, name, key, cost=cost)
                )
                if not allowed:
                    stats = await self.limiter.get_window_stats(item, name, key)
                    metrics.RATE_LIMITED.labels(name).inc()
                    return max(1, math.ceil(stats.reset_time - time.time()))
        except Exception as exc:  # the storage is down: let the request through
            log.warning("rate limit storage unavailable", extra={"error": type(exc).__name__})
        return None


def rate_limited_message(retry_after: int) -> str:
    return f"too many requests: retry in {retry_after} s"


def rate_limited(retry_after: int) -> GraphQLError:
    """The error a limited operation answers (HTTP adds 429 and Retry-After)."""
    return GraphQLError(
        rate_limited_message(retry_after),
        extensions={"code": "RATE_LIMITED", "retryAfter": retry_after},
    )
