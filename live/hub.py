"""The hub: one feed per watched session, listeners that never miss an event.

Pub/sub is at-most-once and its backends do not reconnect by themselves, so it only carries
small signals (live/backend.py). The audit table is the source of truth:

* one `SessionFeed` per session with local listeners reads new entries once and hands the
  same objects to every listener of this process (fan-out without a query per subscriber);
* a listener that sees a gap reads the missing entries itself; `follow(after_sequence)`
  replays stored entries first, and duplicates are dropped by sequence;
* a supervisor reconnects a dead backend and then re-reads every feed; a periodic poll of
  `last_sequence` catches signals that another instance failed to publish;
* listeners with a viewer discover new sessions: on a signal of a session some of them do
  not follow yet, the hub asks once which of them may see it now (never remembering "no":
  a deliverer added to a session later must then start receiving it).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Collection, Coroutine, Iterator, Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.tasks import detached_task
from live.backend import SignalBus
from live.events import Committed, LiveEvent, SlowSubscriber, Viewer
from live.store import FETCH_BATCH, Store

log = logging.getLogger("bipa.live")
MAX_PENDING = 5000  # events buffered for one subscriber before it is closed as too slow
CHECKED_SESSIONS = 10_000  # sessions whose last audience check is remembered (echo dedupe)


class HubListener:
    """One subscription's view: events of the sessions it follows, in order, without gaps.

    Either a task waits in `next_batch`, or, once `park`ed, the listener has no task at all
    and calls its `sink` when events arrive (an idle dashboard then costs a few objects).
    """

    __slots__ = (
        "closed",
        "hub",
        "last",
        "max_pending",
        "overflowed",
        "pending",
        "sink",
        "viewer",
        "wake",
    )

    def __init__(self, hub: LiveHub, viewer: Viewer | None) -> None:
        self.hub = hub
        self.viewer = viewer
        self.last: dict[uuid.UUID, int] = {}
        self.pending: list[LiveEvent] = []
        self.wake: asyncio.Event | None = None  # made when a task first waits
        self.sink: Callable[[], None] | None = None
        self.max_pending = MAX_PENDING
        self.overflowed = False
        self.closed = False

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

    def following(self) -> list[uuid.UUID]:
        return list(self.last)

    async def follow(self, session_id: uuid.UUID, after_sequence: int | None) -> None:
        feed = await self.hub.feed(session_id)
        if self.closed or session_id in self.last:
            # Closed meanwhile (it must not come back into a feed), or already followed:
            # moving `last` back would send events again.
            self.hub.release(feed)
            return
        if after_sequence is None:
            after_sequence = feed.last_fetched
        self.join(feed, after_sequence)
        if after_sequence < feed.last_fetched:
            self.deliver(await self.hub.fetch(session_id, after_sequence, feed.last_fetched))

    def join(self, feed: SessionFeed, after_sequence: int) -> None:
        self.last[feed.session_id] = after_sequence
        feed.listeners.add(self)

    def unfollow(self, session_id: uuid.UUID) -> None:
        """Stops one session (e.g. the viewer may no longer see it); the rest go on."""
        if self.last.pop(session_id, None) is None:
            return
        self.pending = [e for e in self.pending if e.session_id != session_id]
        feed = self.hub.feeds.get(session_id)
        if feed is not None:
            feed.listeners.discard(self)
            self.hub.release(feed)

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
            last = self.last.get(event.session_id)
            if last is None or event.sequence <= last:
                continue  # unfollowed meanwhile, or a duplicate (replay overlapping live)
            if event.sequence > last + 1:
                out.extend(await self.hub.fetch(event.session_id, last, event.sequence - 1))
            out.append(event)
            self.last[event.session_id] = event.sequence
        return out

    def close(self) -> None:
        self.closed = True
        for session_id in list(self.last):
            feed = self.hub.feeds.get(session_id)
            if feed is not None:
                feed.listeners.discard(self)
                self.hub.release(feed)
        self.hub.leave(self)


class SessionFeed:
    def __init__(self, hub: LiveHub, session_id: uuid.UUID, last_fetched: int) -> None:
        self.hub = hub
        self.session_id = session_id
        self.last_fetched = last_fetched
        self.listeners: set[HubListener] = set()
        self._lock = asyncio.Lock()

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
        self.store = Store(sessionmaker)
        self.bus = SignalBus(url, self._on_signal, self._on_job)
        self.poll_s = poll_s
        self.feeds: dict[uuid.UUID, SessionFeed] = {}
        self.discoverers: set[HubListener] = set()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._supervisor: asyncio.Task[None] | None = None
        self._publisher: asyncio.Task[None] | None = None
        self._outgoing: dict[uuid.UUID, int] = {}
        self._outgoing_jobs: set[uuid.UUID] = set()
        self._job_watchers: dict[uuid.UUID, set[asyncio.Event]] = {}
        self._outgoing_ready = asyncio.Event()
        # Discovery: per session, the lowest and highest sequence signalled since its check.
        self._unchecked: dict[uuid.UUID, tuple[int, int]] = {}
        self._checked: OrderedDict[uuid.UUID, int] = OrderedDict()
        self._discovery: asyncio.Task[None] | None = None
        self.reconnects = 0

    @property
    def url(self) -> str:
        return self.bus.url

    # --- lifecycle -------------------------------------------------------------------------
    async def start(self) -> None:
        try:
            await self.bus.connect()
        except Exception as exc:  # the supervisor keeps trying; the audit log covers the gap
            log.warning("pub/sub backend unavailable at start", extra={"error": type(exc).__name__})
        self._supervisor = asyncio.create_task(self._supervise())
        self._publisher = asyncio.create_task(self._publish_loop())

    async def stop(self) -> None:
        for task in (self._supervisor, self._publisher, self._discovery, *self._tasks):
            if task is not None:
                task.cancel()
        await self.bus.disconnect()

    async def _supervise(self) -> None:
        delay = 0.2
        ticks = 0
        while True:
            await asyncio.sleep(1.0)
            ticks += 1
            healthy = self.bus.healthy() and (ticks % 5 != 0 or await self.bus.ping())
            if not healthy:
                log.warning("pub/sub backend lost; reconnecting", extra={"backend": self.bus.kind})
                await self.bus.disconnect()
                try:
                    await self.bus.connect()
                except Exception as exc:
                    log.warning("pub/sub reconnect failed", extra={"error": type(exc).__name__})
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 5.0)
                    continue
                delay = 0.2
                self.reconnects += 1
                log.info("pub/sub backend reconnected", extra={"reconnects": self.reconnects})
                for feed in list(self.feeds.values()):
                    self.spawn(feed.refresh())
            elif ticks % max(1, int(self.poll_s)) == 0:
                await self._poll()

    async def _poll(self) -> None:
        """Catches signals lost between instances: compare each feed with the session row."""
        if not self.feeds:
            return
        try:
            latest = await self.store.last_sequences(list(self.feeds))
        except Exception as exc:
            log.warning("live poll failed", extra={"error": type(exc).__name__})
            return
        for session_id, sequence in latest.items():
            feed = self.feeds.get(session_id)
            if feed is not None:
                feed.signal(sequence)

    def _on_signal(self, session_id: uuid.UUID, sequence: int) -> None:
        feed = self.feeds.get(session_id)
        if feed is not None:
            feed.signal(sequence)
        self._discover(session_id, sequence)

    # --- feeds and listeners -----------------------------------------------------------------
    async def feed(self, session_id: uuid.UUID) -> SessionFeed:
        feed = self.feeds.get(session_id)
        if feed is None:
            latest = await self.store.last_sequences([session_id])
            feed = self.feeds.get(session_id)  # another task may have created it meanwhile
            if feed is None:
                feed = SessionFeed(self, session_id, latest.get(session_id, 0))
                self.feeds[session_id] = feed
                self.bus.watch(session_id)
        return feed

    def release(self, feed: SessionFeed) -> None:
        if not feed.listeners and self.feeds.get(feed.session_id) is feed:
            del self.feeds[feed.session_id]
            self.bus.unwatch(feed.session_id)

    @contextlib.asynccontextmanager
    async def listener(self, viewer: Viewer | None = None) -> AsyncIterator[HubListener]:
        """With a `viewer`, the listener also follows every session the viewer may see as
        soon as it has an event (a front page of sessions)."""
        listener = HubListener(self, viewer)
        if viewer is not None:
            self.discoverers.add(listener)
            self.bus.watch(None)
        try:
            yield listener
        finally:
            if not listener.parked:  # a parked one is closed by its owner (gql/live/)
                listener.close()

    def leave(self, listener: HubListener) -> None:
        if listener in self.discoverers:
            self.discoverers.discard(listener)
            if not self.discoverers:
                self.bus.unwatch(None)

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        task = detached_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            # A failed read is retried by the next signal or poll; never a silent hole.
            log.warning("live refresh failed", exc_info=task.exception())

    # --- discovery ---------------------------------------------------------------------------
    def _discover(self, session_id: uuid.UUID, sequence: int) -> None:
        if not self.discoverers or self._checked.get(session_id, -1) >= sequence:
            return  # nobody discovers, or the echo of a signal already checked
        if all(session_id in listener.last for listener in self.discoverers):
            return
        low, high = self._unchecked.get(session_id, (sequence, sequence))
        self._unchecked[session_id] = (min(low, sequence), max(high, sequence))
        if self._discovery is None:
            self._discovery = detached_task(self._discover_all())

    async def _discover_all(self) -> None:
        """One audience query per session and round, whatever the number of listeners;
        signals arriving meanwhile make the next round."""
        try:
            while self._unchecked:
                batch, self._unchecked = self._unchecked, {}
                for session_id, (low, high) in batch.items():
                    try:
                        await self._discover_session(session_id, low - 1, high)
                    except Exception as exc:  # the session's next event tries again
                        log.warning("live discovery failed", extra={"error": type(exc).__name__})
        finally:
            self._discovery = None

    async def _discover_session(self, session_id: uuid.UUID, after: int, high: int) -> None:
        candidates = [
            lst for lst in self.discoverers if session_id not in lst.last and not lst.closed
        ]
        if not candidates:
            return
        viewers = {lst.viewer for lst in candidates if lst.viewer is not None}
        audience = await self.store.audience(session_id, viewers)
        self._checked[session_id] = high
        self._checked.move_to_end(session_id)
        if len(self._checked) > CHECKED_SESSIONS:
            self._checked.popitem(last=False)
        if not audience:
            return
        feed = await self.feed(session_id)
        joined = []
        for lst in candidates:
            # Closed, or followed by another path, while we read: leave it be.
            if lst.viewer in audience and not lst.closed and session_id not in lst.last:
                lst.join(feed, after)
                joined.append(lst)
        self.release(feed)  # none joined: the feed goes again
        if joined and after < feed.last_fetched:
            backlog = await self.fetch(session_id, after, feed.last_fetched)
            for lst in joined:
                lst.deliver(backlog)

    # --- reads ---------------------------------------------------------------------------------
    async def fetch(self, session_id: uuid.UUID, after: int, up_to: int | None) -> list[LiveEvent]:
        events = await self.store.entries(session_id, after, up_to)
        if (
            up_to is not None
            and events
            and events[-1].sequence < up_to
            and len(events) == FETCH_BATCH
        ):
            events.extend(await self.fetch(session_id, events[-1].sequence, up_to))
        return events

    async def progress(self, session_id: uuid.UUID) -> dict[str, int]:
        return await self.store.progress(session_id)

    async def visible(
        self, pairs: Collection[tuple[Viewer, uuid.UUID]]
    ) -> set[tuple[Viewer, uuid.UUID]]:
        return await self.store.visible(pairs)

    # --- publishing (domain.events.EventPublisher) -----------------------------------------------
    async def publish(self, events: Sequence[Committed]) -> None:
        """Called after each commit; returns at once.

        Signals are coalesced per session (the newest sequence wins) and sent by one
        background task, so a burst of commits costs a few NOTIFYs, not two per commit, and
        no request waits on the backend. Feeds of this process are told directly.
        """
        for event in events:
            sid = event.session_id
            self._outgoing[sid] = max(self._outgoing.get(sid, 0), event.sequence)
            self._on_signal(sid, event.sequence)
        self._outgoing_ready.set()

    async def _publish_loop(self) -> None:
        while True:
            await self._outgoing_ready.wait()
            self._outgoing_ready.clear()
            batch, self._outgoing = self._outgoing, {}
            jobs, self._outgoing_jobs = self._outgoing_jobs, set()
            try:
                if batch:
                    await self.bus.publish(batch)
                if jobs:
                    await self.bus.publish_jobs(sorted(jobs))
            except Exception as exc:  # at-most-once: the audit log and the poll cover it
                log.warning("publishing signals failed", extra={"error": type(exc).__name__})

    # --- jobs (domain.events.JobPublisher) ---------------------------------------------------
    async def publish_jobs(self, job_ids: list[uuid.UUID]) -> None:
        """Called after a commit that changed jobs; coalesced like the sessions' signals."""
        for job_id in job_ids:
            self._on_job(job_id)
        self._outgoing_jobs.update(job_ids)
        self._outgoing_ready.set()

    def _on_job(self, job_id: uuid.UUID) -> None:
        for event in self._job_watchers.get(job_id, ()):
            event.set()

    @contextlib.contextmanager
    def watch_job(self, job_id: uuid.UUID) -> Iterator[asyncio.Event]:
        """An event set whenever the job is signalled; the caller clears it and re-reads the
        row (a lost signal costs the follower's poll, never a wrong state)."""
        event = asyncio.Event()
        if not self._job_watchers:
            self.bus.watch_jobs(True)
        self._job_watchers.setdefault(job_id, set()).add(event)
        try:
            yield event
        finally:
            watchers = self._job_watchers.get(job_id, set())
            watchers.discard(event)
            if not watchers:
                self._job_watchers.pop(job_id, None)
            if not self._job_watchers:
                self.bus.watch_jobs(False)


def _order(event: LiveEvent) -> tuple[uuid.UUID, int]:
    return event.session_id, event.sequence
