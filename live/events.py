"""What live subscribers receive, and the interfaces front-ends subscribe through."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Collection
from contextlib import AbstractAsyncContextManager, AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple, Protocol

from db.enums import Role


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


class Viewer(NamedTuple):
    """Whose sessions a discovering listener follows (who may see what is db's rule)."""

    user_id: uuid.UUID
    role: Role


class Committed(Protocol):
    """What the hub needs of a committed event to signal it (domain.events.CommittedEvent)."""

    @property
    def session_id(self) -> uuid.UUID: ...

    @property
    def sequence(self) -> int: ...


class Listener(Protocol):
    @property
    def viewer(self) -> Viewer | None: ...

    async def follow(self, session_id: uuid.UUID, after_sequence: int | None) -> None: ...

    def unfollow(self, session_id: uuid.UUID) -> None: ...

    def following(self) -> list[uuid.UUID]: ...

    async def next_batch(self, wait: bool = True) -> list[LiveEvent]: ...

    def park(self, sink: Callable[[], None]) -> None: ...

    def close(self) -> None: ...


class LiveEvents(Protocol):
    def listener(self, viewer: Viewer | None = None) -> AbstractAsyncContextManager[Listener]: ...

    def watch_job(self, job_id: uuid.UUID) -> AbstractContextManager[asyncio.Event]: ...

    async def progress(self, session_id: uuid.UUID) -> dict[str, int]: ...

    async def visible(
        self, pairs: Collection[tuple[Viewer, uuid.UUID]]
    ) -> set[tuple[Viewer, uuid.UUID]]: ...
