"""Subscriptions: live audit events and progress, gapless across reconnects (afterSequence)."""

from __future__ import annotations

import uuid
import weakref
from collections.abc import AsyncGenerator
from datetime import datetime
from typing import Annotated, Any

import strawberry
from graphql import GraphQLError
from strawberry.scalars import JSON
from strawberry.types import Info

from gql.context import Context
from gql.enums import Role
from gql.jobs import JobSubscriptions
from gql.live.direct import DirectStream, Pick
from gql.types import SessionProgress, UserType, progress_from_counts
from live.events import Listener, LiveEvent, LiveEvents, SlowSubscriber, Viewer


@strawberry.type(description="An audit entry of a session as it is committed, live.")
class SessionEvent:
    session_id: strawberry.ID = strawberry.field(description="The session it happened in.")
    sequence: int = strawberry.field(
        description="1, 2, 3, ... per session without gaps: keep the last one seen and "
        "resubscribe with afterSequence to miss nothing."
    )
    action: str = strawberry.field(
        description="e.g. session.created, package.added, session.completed"
    )
    actor: UserType | None = strawberry.field(
        description="Who did it; null when the system did (a job, the operator's CLI)."
    )
    details: JSON = strawberry.field(
        description="The change as a JSON object (ids, codes, before/after statuses); never "
        "a recipient's personal data."
    )
    created_at: datetime = strawberry.field(description="When the change committed (UTC).")
    progress: SessionProgress = strawberry.field(
        description="The session's progress right after this change."
    )


_payloads: weakref.WeakKeyDictionary[LiveEvent, SessionEvent] = weakref.WeakKeyDictionary()


def event_type(e: LiveEvent) -> SessionEvent:
    """One payload object per live event, shared by all its subscribers (gql/live/encoding.py)."""
    shared = _payloads.get(e)
    if shared is None:
        shared = _payloads[e] = _event_type(e)
    return shared


def _event_type(e: LiveEvent) -> SessionEvent:
    actor = None
    if e.actor_id and e.actor_name and e.actor_role and e.actor_created_at:
        actor = UserType(
            id=strawberry.ID(str(e.actor_id)),
            name=e.actor_name,
            role=Role(e.actor_role),
            telegram_id=e.actor_telegram_id,
            created_at=e.actor_created_at,
        )
    return SessionEvent(
        session_id=strawberry.ID(str(e.session_id)),
        sequence=e.sequence,
        action=e.action,
        actor=actor,
        details=JSON(e.details),
        created_at=e.created_at,
        progress=progress_from_counts(e.progress),
    )


def _each_event(events: list[LiveEvent]) -> list[tuple[LiveEvent, SessionEvent]]:
    return [(e, event_type(e)) for e in events]


def _progress_changes(current: SessionProgress) -> Pick:
    """The newest progress of each batch, when it differs from the last one sent."""
    last = [current]

    def changed(events: list[LiveEvent]) -> list[tuple[LiveEvent, SessionProgress]]:
        # Texts are shared per event, and this payload is indeed the event's own progress.
        latest = progress_from_counts(events[-1].progress)
        if latest == last[0]:
            return []
        last[0] = latest
        return [(events[-1], latest)]

    return changed


async def _deliver(
    listener: Listener, direct: DirectStream | None, pick: Pick
) -> AsyncGenerator[Any, None]:
    """Parks the subscription (gql/live/direct.py), or else yields what `pick` makes of it."""
    if direct is not None and direct.park(listener, pick):
        return
    while True:
        try:
            batch = await listener.next_batch()
        except SlowSubscriber as exc:
            raise GraphQLError(str(exc), extensions={"code": "SLOW_SUBSCRIBER"}) from None
        for _, payload in pick(batch):
            yield payload


def _live(info: Info[Context, None]) -> LiveEvents:
    live = info.context.services.live
    if live is None:
        raise GraphQLError("live events are not available on this server")
    return live


async def _visible_session(info: Info[Context, None], session_id: strawberry.ID) -> uuid.UUID:
    caller = await info.context.caller()
    try:
        sid = uuid.UUID(str(session_id))
    except ValueError:
        sid = None
    if sid is not None:
        async with info.context.services.uow() as uow:
            if await uow.sessions.is_visible(sid, caller.id, caller.role):
                return sid
    raise GraphQLError("session not found", extensions={"code": "NOT_FOUND"})


@strawberry.type(
    description="Live updates over websockets (the graphql-transport-ws protocol). They are "
    "read from the audit log, so a client that resumes with afterSequence misses nothing."
)
class Subscription(JobSubscriptions):
    @strawberry.subscription(
        description="Every audit entry of the session in sequence order, none skipped; with "
        "afterSequence, the stored entries after it first, then live without a gap."
    )
    async def session_events(
        self,
        info: Info[Context, None],
        session_id: Annotated[
            strawberry.ID,
            strawberry.argument(description="A session the caller may see."),
        ],
        after_sequence: Annotated[
            int | None,
            strawberry.argument(
                description="The last sequence the client has (0 for everything); omitted: "
                "only what happens from now on."
            ),
        ] = None,
    ) -> AsyncGenerator[SessionEvent, None]:
        sid = await _visible_session(info, session_id)
        if after_sequence is not None and after_sequence < 0:
            raise GraphQLError("afterSequence must be >= 0", extensions={"code": "BAD_USER_INPUT"})
        direct = DirectStream.current()
        async with _live(info).listener() as listener:
            await listener.follow(sid, after_sequence)
            async for payload in _deliver(listener, direct, _each_event):
                yield payload

    @strawberry.subscription(description="The current progress at once, then after every change.")
    async def session_progress(
        self,
        info: Info[Context, None],
        session_id: Annotated[
            strawberry.ID,
            strawberry.argument(description="A session the caller may see."),
        ],
    ) -> AsyncGenerator[SessionProgress, None]:
        sid = await _visible_session(info, session_id)
        live = _live(info)
        direct = DirectStream.current()
        async with live.listener() as listener:
            await listener.follow(sid, None)
            current = progress_from_counts(await live.progress(sid))
            yield current
            async for payload in _deliver(listener, direct, _progress_changes(current)):
                yield payload

    @strawberry.subscription(description="The events of every session the caller may see.")
    async def my_session_events(
        self, info: Info[Context, None]
    ) -> AsyncGenerator[SessionEvent, None]:
        caller = await info.context.caller()
        direct = DirectStream.current()
        # The hub decides what the caller may see at each new session's events, not once:
        # a deliverer added to a session later sees it from then on.
        async with _live(info).listener(Viewer(caller.id, caller.role)) as listener:
            async for payload in _deliver(listener, direct, _each_event):
                yield payload
