"""Events: what happened, recorded as audit entries and published after commit."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol


@dataclass(frozen=True)
class CommittedEvent:
    """A small pub/sub message: subscribers read the details from the audit table."""

    session_id: uuid.UUID
    sequence: int
    action: str


class EventPublisher(Protocol):
    async def publish(self, events: list[CommittedEvent]) -> None: ...


class NullPublisher:
    async def publish(self, events: list[CommittedEvent]) -> None:
        return None


@dataclass(frozen=True, eq=False)  # identity: one object per event, shared by subscribers
class LiveEvent:
    """An audit entry as dashboards receive it, with the session's progress when it was read."""

    session_id: uuid.UUID
    sequence: int
    action: str
    actor_id: uuid.UUID | None
    actor_name: str | None
    actor_role: str | None
    actor_telegram_id: str | None
    actor_created_at: datetime | None
    details: dict[str, Any]
    created_at: datetime
    progress: dict[str, int]


class SlowSubscriber(Exception):
    """A subscriber fell too far behind; it is closed instead of buffering without bound."""


class Listener(Protocol):
    async def follow(self, session_id: uuid.UUID, after_sequence: int | None) -> None: ...

    async def next_batch(self, wait: bool = True) -> list[LiveEvent]: ...

    def park(self, sink: Callable[[], None]) -> None: ...

    def close(self) -> None: ...


class LiveEvents(Protocol):
    def listener(
        self, discover: Callable[[uuid.UUID], Awaitable[bool]] | None = None
    ) -> AbstractAsyncContextManager[Listener]: ...

    async def progress(self, session_id: uuid.UUID) -> dict[str, int]: ...
