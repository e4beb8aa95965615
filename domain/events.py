"""Events: what happened, recorded as audit entries and published after commit.

What live subscribers receive (and how they subscribe) is live/'s business (live/events.py).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Protocol, runtime_checkable


@dataclass(frozen=True)
class CommittedEvent:
    """A small pub/sub message: subscribers read the details from the audit table."""

    session_id: uuid.UUID
    sequence: int
    action: str


class EventPublisher(Protocol):
    async def publish(self, events: list[CommittedEvent]) -> None: ...


@runtime_checkable
class JobPublisher(Protocol):
    """A publisher that also carries "job J changed" signals (the live hub does): subscribers
    of a job's progress re-read its row, the source of truth."""

    async def publish_jobs(self, job_ids: list[uuid.UUID]) -> None: ...


class NullPublisher:
    async def publish(self, events: list[CommittedEvent]) -> None:
        return None
