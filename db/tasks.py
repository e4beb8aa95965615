"""Background tasks that do not inherit their starter's context.

In the bottom layer because both the domain (group commit) and live/ (feeds, pub/sub) start
shared work, and neither may import the other.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def detached_task(coro: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
    """A task with an empty context.

    Shared background work (a session's pub/sub channel, a group-commit worker) outlives the
    request or subscription that happened to start it; a copied context would keep that
    caller's objects, its websocket connection included, alive for as long as the task runs.
    """
    return asyncio.get_running_loop().create_task(coro, context=contextvars.Context())
