"""Events: what happened, recorded as audit entries and published after commit.

What live subscribers receive (and how they subscribe) is live/'s business (live/events.py).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Protocol


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
