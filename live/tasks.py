"""Background tasks that do not inherit their starter's context."""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def detached_task(coro: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
    """A task with an empty context: shared work (a session's channel, a feed's read) outlives
    the subscription that started it, and a copied context would keep that subscriber's
    connection alive for as long as the task runs."""
    return asyncio.get_running_loop().create_task(coro, context=contextvars.Context())
