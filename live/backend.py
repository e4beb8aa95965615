"""The pub/sub backend adapter: every detail of broadcaster and its backends lives here.

Signals are tiny ("session S reached sequence Q", far below NOTIFY's 8000-byte limit) and
at-most-once: the hub reads the audit table for the events themselves.

broadcaster 0.3.1 quirks handled here: its postgres backend shares one asyncpg connection for
LISTEN and NOTIFY, so every operation on it is serialized by one lock ("another operation is
in progress" otherwise); no backend reconnects by itself, so health is read from its
internals (`healthy`, `ping`) and the hub's supervisor reconnects.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import Callable, Collection, Mapping
from typing import Any

from broadcaster import Broadcast

from db.tasks import detached_task

log = logging.getLogger("bipa.live")
GLOBAL_CHANNEL = "bipa_sessions"  # every session's signals, for listeners that discover
JOBS_CHANNEL = "bipa_jobs"  # "job J changed": its progress followers re-read the row

OnSignal = Callable[[uuid.UUID, int], None]
OnJob = Callable[[uuid.UUID], None]


def session_channel(session_id: uuid.UUID) -> str:
    return f"session:{session_id}"


def encode(session_id: uuid.UUID, sequence: int) -> str:
    return json.dumps({"s": str(session_id), "q": sequence})


def encode_job(job_id: uuid.UUID) -> str:
    return json.dumps({"j": str(job_id)})


def decode_job(message: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(json.loads(message)["j"])
    except (ValueError, KeyError, TypeError):
        return None


def decode(message: str) -> tuple[uuid.UUID, int] | None:
    try:
        data = json.loads(message)
        return uuid.UUID(data["s"]), int(data["q"])
    except (ValueError, KeyError, TypeError):
        return None


class SignalBus:
    """Channels per session plus one global channel; calls `on_signal` for each message.

    The channels wanted are kept across reconnects, and subscribed again on `connect`.
    """

    def __init__(self, url: str, on_signal: OnSignal, on_job: OnJob | None = None) -> None:
        self.url = url
        self.on_signal = on_signal
        self.on_job = on_job
        self._broadcast: Broadcast | None = None
        self._lock = asyncio.Lock()  # one backend operation at a time (shared asyncpg connection)
        self._wanted: set[str] = set()
        self._tasks: dict[str, asyncio.Task[None]] = {}

    @property
    def kind(self) -> str:
        return self.url.split(":")[0]

    async def connect(self) -> None:
        broadcast = Broadcast(self.url)
        await broadcast.connect()
        self._broadcast = broadcast
        for channel in self._wanted:
            self._consume(channel)

    async def disconnect(self) -> None:
        broadcast, self._broadcast = self._broadcast, None
        for task in self._tasks.values():
            task.cancel()
        self._tasks.clear()
        if broadcast is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(broadcast.disconnect(), 2)

    def healthy(self) -> bool:
        """What can be seen without I/O: a dead listener task or a closed connection."""
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

    async def ping(self) -> bool:
        """A round trip on the connection that listens (a killed LISTEN looks healthy)."""
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

    # --- channels ----------------------------------------------------------------------------
    def watch(self, session_id: uuid.UUID | None) -> None:
        """Receive the signals of one session, or with None of all (the global channel)."""
        channel = GLOBAL_CHANNEL if session_id is None else session_channel(session_id)
        self._wanted.add(channel)
        self._consume(channel)

    def unwatch(self, session_id: uuid.UUID | None) -> None:
        channel = GLOBAL_CHANNEL if session_id is None else session_channel(session_id)
        self._wanted.discard(channel)
        task = self._tasks.pop(channel, None)
        if task is not None:
            task.cancel()

    def watch_jobs(self, on: bool) -> None:
        """Receive (or stop receiving) the job signals of every job."""
        if on:
            self._wanted.add(JOBS_CHANNEL)
            self._consume(JOBS_CHANNEL)
            return
        self._wanted.discard(JOBS_CHANNEL)
        task = self._tasks.pop(JOBS_CHANNEL, None)
        if task is not None:
            task.cancel()

    def _consume(self, channel: str) -> None:
        if channel in self._tasks or self._broadcast is None:
            return
        # Detached: the channel outlives the subscriber that happened to open it.
        self._tasks[channel] = detached_task(self._read(self._broadcast, channel))

    async def _read(self, broadcast: Broadcast, channel: str) -> None:
        try:
            async with self._lock:
                subscription = broadcast.subscribe(channel)
                subscriber = await subscription.__aenter__()
            try:
                async for event in subscriber:  # type: ignore[union-attr]
                    if event is None:
                        continue
                    if channel == JOBS_CHANNEL:
                        self._on_job_message(event.message)
                    else:
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
        signal = decode(message)
        if signal is None:
            log.warning("malformed pub/sub message dropped")
            return
        self.on_signal(*signal)

    def _on_job_message(self, message: str) -> None:
        job_id = decode_job(message)
        if job_id is None:
            log.warning("malformed pub/sub message dropped")
        elif self.on_job is not None:
            self.on_job(job_id)

    # --- publishing --------------------------------------------------------------------------
    async def publish(self, signals: Mapping[uuid.UUID, int]) -> bool:
        """Sends each session's newest sequence on its channel and on the global one.

        False when there is no backend right now (reconnecting): at-most-once, other
        instances catch up through their poll of the sessions' last sequence.
        """
        broadcast = self._broadcast
        if broadcast is None:
            return False
        async with self._lock:
            for session_id, sequence in signals.items():
                message = encode(session_id, sequence)
                await broadcast.publish(session_channel(session_id), message)
                await broadcast.publish(GLOBAL_CHANNEL, message)
        return True

    async def publish_jobs(self, job_ids: Collection[uuid.UUID]) -> bool:
        broadcast = self._broadcast
        if broadcast is None:
            return False
        async with self._lock:
            for job_id in job_ids:
                await broadcast.publish(JOBS_CHANNEL, encode_job(job_id))
        return True
