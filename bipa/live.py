"""Live events: pub/sub signals (broadcaster) backed by the audit table, never missing one.

Pub/sub is at-most-once and its backends do not reconnect by themselves, so it only carries
small signals ("session S reached sequence Q"). The audit table is the source of truth:

* one `SessionFeed` per session with local subscribers reads new entries once and hands the
  same objects to every listener of this process (fan-out without a query per subscriber);
* a listener that sees a gap reads the missing entries itself; `follow(after_sequence)`
  replays stored entries first, and duplicates are dropped by sequence;
* a supervisor reconnects a dead backend and then re-reads every feed; a periodic poll of
  `last_sequence` catches signals that another instance failed to publish.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from typing import Any

from broadcaster import Broadcast
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.models import AuditEntry
from domain.events import CommittedEvent, LiveEvent, SlowSubscriber
from domain.tasks import detached_task
from domain.uow import UnitOfWork

log = logging.getLogger("bipa.live")
GLOBAL_CHANNEL = "bipa_sessions"
FETCH_BATCH = 500
MAX_PENDING = 5000  # events buffered for one subscriber before it is closed as too slow


def session_channel(session_id: uuid.UUID) -> str:
    return f"session:{session_id}"


class HubListener:
    """One subscription's view: events of the sessions it follows, in order, without gaps.

    Either a task waits in `next_batch`, or, once `park`ed, the listener has no task at all
    and calls its `sink` when events arrive (an idle dashboard then costs a few objects).
    """

    __slots__ = (
        "closed",
        "discover",
        "discovering",
        "hub",
        "last",
        "max_pending",
        "overflowed",
        "pending",
        "sink",
        "wake",
    )

    def __init__(
        self, hub: LiveHub, discover: Callable[[uuid.UUID], Awaitable[bool]] | None
    ) -> None:
        self.hub = hub
        self.discover = discover
        self.last: dict[uuid.UUID, int] = {}
        self.pending: list[LiveEvent] = []
        self.wake: asyncio.Event | None = None  # made when a task first waits
        self.sink: Callable[[], None] | None = None
        self.max_pending = MAX_PENDING
        self.overflowed = False
        self.closed = False
        self.discovering: set[uuid.UUID] | None = None

    def deliver(self, events: list[LiveEvent]) -> None:
        if self.closed or self.overflowed:
            return
        self.pending.extend(e for e in events if e.session_id in self.last)
        if len(self.pending) > self.max_pending:
            self.overflowed = True
            self.pending.clear()
        if self.sink is not None:
            self.sink()
        elif self.wake is not None:
            self.wake.set()

    def park(self, sink: Callable[[], None]) -> None:
        """No task waits from now on: `sink` is called when events arrive, and the listener
        outlives its `listener()` block until `close()`."""
        self.sink = sink
        if self.pending or self.overflowed:
            sink()

    @property
    def parked(self) -> bool:
        return self.sink is not None

    async def follow(self, session_id: uuid.UUID, after_sequence: int | None) -> None:
        feed = await self.hub.feed(session_id)
        if self.closed or session_id in self.last:
            # Closed meanwhile (it must not come back into a feed), or already followed:
            # moving `last` back would send events again.
            self.hub.release(feed)
            return
        if after_sequence is None:
            after_sequence = feed.last_fetched
        self.last[session_id] = after_sequence
        feed.listeners.add(self)
        if after_sequence < feed.last_fetched:
            self.deliver(await self.hub.fetch(session_id, after_sequence, feed.last_fetched))

    async def next_batch(self, wait: bool = True) -> list[LiveEvent]:
        """The pending events in order, gaps filled from the table; [] if none and not `wait`."""
        while True:
            if self.overflowed:
                raise SlowSubscriber(
                    "subscriber too slow: closed; subscribe again with afterSequence to resume"
                )
            if self.pending:
                batch, self.pending = self.pending, []
                out = await self._in_order(batch)
                if out:
                    return out
                continue
            if not wait:
                return []
            if self.wake is None:
                self.wake = asyncio.Event()
            self.wake.clear()
            await self.wake.wait()

    async def _in_order(self, batch: list[LiveEvent]) -> list[LiveEvent]:
        out: list[LiveEvent] = []
        if len(batch) > 1:
            batch.sort(key=_order)
        for event in batch:
            last = self.last[event.session_id]
            if event.sequence <= last:
                continue  # a duplicate (replay overlapping live, or a re-read)
            if event.sequence > last + 1:
                out.extend(await self.hub.fetch(event.session_id, last, event.sequence - 1))
            out.append(event)
            self.last[event.session_id] = event.sequence
        return out

    async def discovered(self, session_id: uuid.UUID, sequence: int) -> None:
        """A session not followed yet had an event: follow it if the subscriber may see it.

        The same discovery arrives twice (from this process's commit and from pub/sub), so one
        in flight per session is enough."""
        if self.closed or session_id in self.last or self.discover is None:
            return
        if self.discovering is None:
            self.discovering = set()
        if session_id in self.discovering:
            return
        self.discovering.add(session_id)
        try:
            if await self.discover(session_id) and not self.closed:
                await self.follow(session_id, sequence - 1)
        finally:
            self.discovering.discard(session_id)

    def close(self) -> None:
        self.closed = True
        for session_id in list(self.last):
            feed = self.hub.feeds.get(session_id)
            if feed is not None:
                feed.listeners.discard(self)
                self.hub.release(feed)
        hub = self.hub
        if self in hub.discoverers:
            hub.discoverers.discard(self)
            if not hub.discoverers:
                hub._unlisten(GLOBAL_CHANNEL)


class SessionFeed:
    def __init__(self, hub: LiveHub, session_id: uuid.UUID, last_fetched: int) -> None:
        self.hub = hub
        self.session_id = session_id
        self.last_fetched = last_fetched
        self.listeners: set[HubListener] = set()
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None

    async def refresh(self) -> None:
        async with self._lock:
            while True:
                events = await self.hub.fetch(self.session_id, self.last_fetched, None)
                if not events:
                    return
                self.last_fetched = events[-1].sequence
                for listener in list(self.listeners):
                    listener.deliver(events)
                if len(events) < FETCH_BATCH:
                    return

    def signal(self, sequence: int) -> None:
        if sequence > self.last_fetched:
            self.hub.spawn(self.refresh())


class LiveHub:
    def __init__(
        self, url: str, sessionmaker: async_sessionmaker[AsyncSession], *, poll_s: float = 5.0
    ) -> None:
        self.url = url
        self.sessionmaker = sessionmaker
        self.poll_s = poll_s
        self.feeds: dict[uuid.UUID, SessionFeed] = {}
        self.discoverers: set[HubListener] = set()
        self._broadcast: Broadcast | None = None
        self._lock = asyncio.Lock()  # one backend operation at a time (shared asyncpg connection)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._channel_tasks: dict[str, asyncio.Task[None]] = {}
        self._supervisor: asyncio.Task[None] | None = None
        self._publisher: asyncio.Task[None] | None = None
        self._outgoing: dict[uuid.UUID, int] = {}
        self._outgoing_ready = asyncio.Event()
        self.reconnects = 0

    # --- lifecycle -------------------------------------------------------------------------
    async def start(self) -> None:
        try:
            await self._connect()
        except Exception as exc:  # the supervisor keeps trying; the audit log covers the gap
            log.warning("pub/sub backend unavailable at start", extra={"error": type(exc).__name__})
        self._supervisor = asyncio.create_task(self._supervise())
        self._publisher = asyncio.create_task(self._publish_loop())

    async def stop(self) -> None:
        if self._supervisor is not None:
            self._supervisor.cancel()
        if self._publisher is not None:
            self._publisher.cancel()
        for task in [*self._channel_tasks.values(), *self._tasks]:
            task.cancel()
        await self._disconnect()

    async def _connect(self) -> None:
        broadcast = Broadcast(self.url)
        await broadcast.connect()
        self._broadcast = broadcast
        for channel in self._wanted_channels():
            self._listen(channel)

    async def _disconnect(self) -> None:
        broadcast, self._broadcast = self._broadcast, None
        for task in self._channel_tasks.values():
            task.cancel()
        self._channel_tasks.clear()
        if broadcast is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(broadcast.disconnect(), 2)

    def _healthy(self) -> bool:
        broadcast = self._broadcast
        if broadcast is None:
            return False
        listener = getattr(broadcast, "_listener_task", None)
        if listener is not None and listener.done():
            return False
        backend: Any = broadcast._backend
        conn = getattr(backend, "_conn", None)
        if conn is not None and hasattr(conn, "is_closed") and conn.is_closed():
            return False
        redis_listener = getattr(backend, "_listener", None)
        return not (isinstance(redis_listener, asyncio.Task) and redis_listener.done())

    async def _ping(self) -> bool:
        broadcast = self._broadcast
        if broadcast is None:
            return False
        backend: Any = broadcast._backend
        try:
            async with self._lock:
                if hasattr(backend, "_pubsub"):  # redis: the pubsub connection itself
                    await asyncio.wait_for(backend._pubsub.ping(), 2)
                elif hasattr(backend, "_conn") and hasattr(backend._conn, "fetchval"):
                    await asyncio.wait_for(backend._conn.fetchval("SELECT 1"), 2)
        except Exception:
            return False
        return True

    async def _supervise(self) -> None:
        delay = 0.2
        ticks = 0
        while True:
            await asyncio.sleep(1.0)
            ticks += 1
            healthy = self._healthy() and (ticks % 5 != 0 or await self._ping())
            if not healthy:
                log.warning(
                    "pub/sub backend lost; reconnecting", extra={"backend": self.url.split(":")[0]}
                )
                await self._disconnect()
                try:
                    await self._connect()
                except Exception as exc:
                    log.warning("pub/sub reconnect failed", extra={"error": type(exc).__name__})
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 5.0)
                    continue
                delay = 0.2
                self.reconnects += 1
                log.info("pub/sub backend reconnected", extra={"reconnects": self.reconnects})
                await self._refresh_all()
            elif ticks % max(1, int(self.poll_s)) == 0:
                await self._poll()

    async def _refresh_all(self) -> None:
        for feed in list(self.feeds.values()):
            self.spawn(feed.refresh())

    async def _poll(self) -> None:
        """Catches signals lost between instances: compare each feed with the session row."""
        if not self.feeds:
            return
        try:
            async with UnitOfWork(self.sessionmaker) as uow:
                latest = await uow.sessions.last_sequences(list(self.feeds))
        except Exception as exc:
            log.warning("live poll failed", extra={"error": type(exc).__name__})
            return
        for session_id, sequence in latest.items():
            feed = self.feeds.get(session_id)
            if feed is not None:
                feed.signal(sequence)

    # --- channels ----------------------------------------------------------------------------
    def _wanted_channels(self) -> list[str]:
        channels = [session_channel(s) for s in self.feeds]
        if self.discoverers:
            channels.append(GLOBAL_CHANNEL)
        return channels

    def _listen(self, channel: str) -> None:
        if channel in self._channel_tasks or self._broadcast is None:
            return
        self._channel_tasks[channel] = detached_task(self._consume(self._broadcast, channel))

    async def _consume(self, broadcast: Broadcast, channel: str) -> None:
        try:
            async with self._lock:
                subscription = broadcast.subscribe(channel)
                subscriber = await subscription.__aenter__()
            try:
                async for event in subscriber:  # type: ignore[union-attr]
                    if event is not None:
                        self._on_message(event.message)
            finally:
                async with self._lock:
                    with contextlib.suppress(Exception):
                        await subscription.__aexit__(None, None, None)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning(
                "pub/sub channel failed", extra={"channel": channel, "error": type(exc).__name__}
            )

    def _on_message(self, message: str) -> None:
        try:
            data = json.loads(message)
            session_id, sequence = uuid.UUID(data["s"]), int(data["q"])
        except (ValueError, KeyError, TypeError):
            log.warning("malformed pub/sub message dropped")
            return
        feed = self.feeds.get(session_id)
        if feed is not None:
            feed.signal(sequence)
        for listener in list(self.discoverers):
            self.spawn(listener.discovered(session_id, sequence))

    def _unlisten(self, channel: str) -> None:
        task = self._channel_tasks.pop(channel, None)
        if task is not None:
            task.cancel()

    # --- feeds and listeners -----------------------------------------------------------------
    async def feed(self, session_id: uuid.UUID) -> SessionFeed:
        feed = self.feeds.get(session_id)
        if feed is None:
            async with UnitOfWork(self.sessionmaker) as uow:
                latest = await uow.sessions.last_sequences([session_id])
            feed = self.feeds.get(session_id)  # another task may have created it meanwhile
            if feed is None:
                feed = SessionFeed(self, session_id, latest.get(session_id, 0))
                self.feeds[session_id] = feed
                self._listen(session_channel(session_id))
        return feed

    def release(self, feed: SessionFeed) -> None:
        if not feed.listeners and self.feeds.get(feed.session_id) is feed:
            del self.feeds[feed.session_id]
            self._unlisten(session_channel(feed.session_id))

    @contextlib.asynccontextmanager
    async def listener(
        self, discover: Callable[[uuid.UUID], Awaitable[bool]] | None = None
    ) -> AsyncIterator[HubListener]:
        listener = HubListener(self, discover)
        if discover is not None:
            self.discoverers.add(listener)
            self._listen(GLOBAL_CHANNEL)
        try:
            yield listener
        finally:
            if not listener.parked:  # a parked one is closed by its owner (gql/direct.py)
                listener.close()

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        task = detached_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            # A failed read is retried by the next signal or poll; never a silent hole.
            log.warning("live refresh failed", exc_info=task.exception())

    # --- reads ---------------------------------------------------------------------------------
    async def fetch(self, session_id: uuid.UUID, after: int, up_to: int | None) -> list[LiveEvent]:
        async with UnitOfWork(self.sessionmaker) as uow:
            entries = await uow.audit.after_with_actors(session_id, after, up_to, FETCH_BATCH)
            progress = (await uow.packages.progress([session_id]))[session_id] if entries else {}
        events = [_live(e, progress) for e in entries]
        if (
            up_to is not None
            and events
            and events[-1].sequence < up_to
            and len(events) == FETCH_BATCH
        ):
            events.extend(await self.fetch(session_id, events[-1].sequence, up_to))
        return events

    async def progress(self, session_id: uuid.UUID) -> dict[str, int]:
        async with UnitOfWork(self.sessionmaker) as uow:
            return (await uow.packages.progress([session_id]))[session_id]

    # --- publishing (EventPublisher) -------------------------------------------------------------
    async def publish(self, events: list[CommittedEvent]) -> None:
        """Called after each commit; returns at once.

        Signals are coalesced per session (the newest sequence wins) and sent by one
        background task, so a burst of commits costs a few NOTIFYs, not two per commit, and
        no request waits on the backend. Feeds of this process are told directly.
        """
        for event in events:
            sid = event.session_id
            self._outgoing[sid] = max(self._outgoing.get(sid, 0), event.sequence)
            feed = self.feeds.get(sid)
            if feed is not None:
                feed.signal(event.sequence)
            for listener in list(self.discoverers):
                self.spawn(listener.discovered(sid, event.sequence))
        self._outgoing_ready.set()

    async def _publish_loop(self) -> None:
        while True:
            await self._outgoing_ready.wait()
            self._outgoing_ready.clear()
            batch, self._outgoing = self._outgoing, {}
            broadcast = self._broadcast
            if broadcast is None or not batch:
                continue  # reconnecting: other instances catch up through their poll
            try:
                async with self._lock:
                    for session_id, sequence in batch.items():
                        message = json.dumps({"s": str(session_id), "q": sequence})
                        await broadcast.publish(session_channel(session_id), message)
                        await broadcast.publish(GLOBAL_CHANNEL, message)
            except Exception as exc:  # at-most-once: the audit log and the poll cover it
                log.warning("publishing signals failed", extra={"error": type(exc).__name__})


def _order(event: LiveEvent) -> tuple[uuid.UUID, int]:
    return event.session_id, event.sequence


def _live(entry: AuditEntry, progress: dict[str, int]) -> LiveEvent:
    actor = entry.actor
    return LiveEvent(
        session_id=entry.session_id,
        sequence=entry.sequence,
        action=entry.action,
        actor_id=entry.actor_id,
        actor_name=actor.name if actor else None,
        actor_role=actor.role.value if actor else None,
        actor_telegram_id=actor.telegram_id if actor else None,
        actor_created_at=actor.created_at if actor else None,
        details=entry.details,
        created_at=entry.created_at,
        progress=progress,
    )
