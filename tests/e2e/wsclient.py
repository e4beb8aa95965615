"""A minimal graphql-transport-ws client over the `websockets` library (real sockets)."""

from __future__ import annotations

import asyncio
import itertools
import json
from typing import Any

import websockets

PROTOCOL = "graphql-transport-ws"


class WsClient:
    def __init__(self, url: str, token: str | None, *, origin: str | None = None) -> None:
        self.url = url
        self.token = token
        self.origin = origin
        self.ws: Any = None
        self._ids = itertools.count(1)
        self.queues: dict[str, asyncio.Queue[dict[str, Any]]] = {}
        self._reader: asyncio.Task[None] | None = None
        self.closed: asyncio.Future[tuple[int, str]] | None = None
        self.raw: list[str] = []  # every text frame received, as sent

    async def __aenter__(self) -> WsClient:
        headers = {"Origin": self.origin} if self.origin else None
        self.ws = await websockets.connect(
            self.url,
            subprotocols=[PROTOCOL],
            additional_headers=headers,
            max_size=2**22,
            open_timeout=20,
        )
        self.closed = asyncio.get_running_loop().create_future()
        payload = {"authorization": f"Bearer {self.token}"} if self.token else {}
        await self.ws.send(json.dumps({"type": "connection_init", "payload": payload}))
        self._reader = asyncio.create_task(self._read())
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._reader:
            self._reader.cancel()
        await self.ws.close()

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                self.raw.append(raw)
                msg = json.loads(raw)
                kind = msg.get("type")
                if kind == "ping":
                    await self.ws.send(json.dumps({"type": "pong"}))
                elif kind in ("next", "error", "complete") and msg.get("id") in self.queues:
                    await self.queues[msg["id"]].put(msg)
                elif kind == "connection_ack":
                    self.queues.setdefault("ack", asyncio.Queue()).put_nowait(msg)
        except websockets.ConnectionClosed:
            pass
        finally:
            rcvd = getattr(self.ws, "close_code", None)
            if self.closed and not self.closed.done():
                self.closed.set_result((rcvd or 0, getattr(self.ws, "close_reason", "") or ""))

    async def acked(self, timeout: float = 10) -> bool:
        queue = self.queues.setdefault("ack", asyncio.Queue())
        getter = asyncio.ensure_future(queue.get())
        assert self.closed is not None
        done, _ = await asyncio.wait(
            {getter, self.closed}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
        )
        if getter in done:
            return True
        getter.cancel()
        return False

    async def subscribe(self, query: str, **variables: Any) -> str:
        sub_id = str(next(self._ids))
        self.queues[sub_id] = asyncio.Queue()
        await self.ws.send(
            json.dumps(
                {
                    "id": sub_id,
                    "type": "subscribe",
                    "payload": {"query": query, "variables": variables},
                }
            )
        )
        return sub_id

    async def next(self, sub_id: str, timeout: float = 15) -> dict[str, Any]:
        return await asyncio.wait_for(self.queues[sub_id].get(), timeout)

    async def take(self, sub_id: str, n: int, timeout: float = 30) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        async with asyncio.timeout(timeout):
            while len(out) < n:
                msg = await self.queues[sub_id].get()
                assert msg["type"] == "next", msg
                assert "errors" not in msg["payload"], msg["payload"]
                out.append(next(iter(msg["payload"]["data"].values())))
        return out

    async def stop(self, sub_id: str) -> None:
        await self.ws.send(json.dumps({"id": sub_id, "type": "complete"}))


EVENTS = """subscription($sid: ID!, $after: Int) { sessionEvents(sessionId: $sid, afterSequence: $after) {
  sessionId sequence action actor { id name } details createdAt progress { total delivered percent } } }"""
PROGRESS = """subscription($sid: ID!) { sessionProgress(sessionId: $sid) { total pending delivered failed percent } }"""
MINE = """subscription { mySessionEvents { sessionId sequence action } }"""
