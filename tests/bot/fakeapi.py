"""A fake Telegram Bot API server on loopback: real HTTP, just enough of the API for the bot.

It serves `/bot<token>/<method>` and `/file/bot<token>/<path>` like api.telegram.org, queues
updates that the tests feed (messages, photos, button presses) for `getUpdates` long polling,
and records what the bot sends (sendMessage, sendPhoto, editMessageText, ...).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.conftest import free_port

BARCODES = Path(
    os.environ.get("BIPA_BARCODES_DIR") or Path(__file__).resolve().parents[1] / "photos"
)
TOKEN = "424242:FAKE-token-for-tests"
BOT_USER = {"id": 424242, "is_bot": True, "first_name": "Bipa", "username": "bipa_test_bot"}
OUTGOING = ("sendMessage", "editMessageText", "sendPhoto")


@dataclass
class Call:
    method: str
    params: dict[str, Any]

    @property
    def chat_id(self) -> int | None:
        raw = self.params.get("chat_id")
        return int(raw) if raw is not None else None

    @property
    def text(self) -> str:
        return str(self.params.get("text") or self.params.get("caption") or "")

    @property
    def buttons(self) -> list[tuple[str, str]]:
        markup = self.params.get("reply_markup") or {}
        return [
            (b["text"], b.get("callback_data", ""))
            for row in markup.get("inline_keyboard", [])
            for b in row
        ]


def _parse(value: str) -> Any:
    # PTB sends every non-string parameter JSON-encoded in a form field.
    try:
        return json.loads(value)
    except ValueError:
        return value


class FakeBotAPI:
    def __init__(self, token: str = TOKEN) -> None:
        self.token = token
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.calls: list[Call] = []
        self.files: dict[str, bytes] = {}
        self._queue: list[dict[str, Any]] = []
        self._cond = asyncio.Condition()
        self._closing = False
        self._ids = itertools.count(1000)
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None

    # --- lifecycle -------------------------------------------------------------------------------
    async def start(self) -> FakeBotAPI:
        app = Starlette(
            routes=[
                Route("/bot{token}/{method}", self._method, methods=["GET", "POST"]),
                Route("/file/bot{token}/{path:path}", self._file, methods=["GET"]),
            ]
        )
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off"
        )
        self._server = uvicorn.Server(config)
        self._task = asyncio.create_task(self._server.serve())
        deadline = time.monotonic() + 10
        while not self._server.started:
            if self._task.done() or time.monotonic() > deadline:
                raise RuntimeError("fake Bot API did not start")
            await asyncio.sleep(0.01)
        return self

    async def stop(self) -> None:
        async with self._cond:
            self._closing = True
            self._cond.notify_all()
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._task, 10)

    # --- the API ---------------------------------------------------------------------------------
    async def _method(self, request: Request) -> Response:
        if request.path_params["token"] != self.token:
            return JSONResponse(
                {"ok": False, "error_code": 401, "description": "Unauthorized"}, status_code=401
            )
        method = request.path_params["method"]
        form = await request.form()
        params = {k: _parse(v) for k, v in form.items() if isinstance(v, str)}
        params.update({k: _parse(v) for k, v in request.query_params.items()})
        if method == "getUpdates":
            return _ok(await self._updates(params))
        self.calls.append(Call(method, params))
        if method == "getMe":
            return _ok(BOT_USER)
        if method in ("deleteWebhook", "setMyCommands", "answerCallbackQuery", "sendChatAction"):
            return _ok(True)
        if method in ("sendMessage", "sendPhoto", "editMessageText"):
            return _ok(self._message(params))
        if method == "getFile":
            file_id = str(params.get("file_id"))
            if file_id not in self.files:
                return JSONResponse(
                    {"ok": False, "error_code": 400, "description": "Bad Request: wrong file_id"},
                    status_code=400,
                )
            return _ok(
                {
                    "file_id": file_id,
                    "file_unique_id": "u" + file_id,
                    "file_size": len(self.files[file_id]),
                    "file_path": f"photos/{file_id}.png",
                }
            )
        return JSONResponse(
            {"ok": False, "error_code": 404, "description": "Not Found"}, status_code=404
        )

    async def _file(self, request: Request) -> Response:
        if request.path_params["token"] != self.token:
            return Response(status_code=401)
        name = Path(request.path_params["path"]).stem
        data = self.files.get(name)
        if data is None:
            return Response(status_code=404)
        return Response(data, media_type="image/png")

    def _message(self, params: dict[str, Any]) -> dict[str, Any]:
        chat_id = int(params.get("chat_id") or 0)
        message: dict[str, Any] = {
            "message_id": int(params.get("message_id") or next(self._ids)),
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private"},
            "from": BOT_USER,
        }
        if "text" in params:
            message["text"] = str(params["text"])
        if "photo" in params:
            message["photo"] = [
                {"file_id": "sent", "file_unique_id": "sent", "width": 1, "height": 1}
            ]
        return message

    async def _updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        offset = int(params.get("offset") or 0)
        timeout = float(params.get("timeout") or 0)
        limit = int(params.get("limit") or 100)
        deadline = time.monotonic() + timeout
        async with self._cond:
            # Telegram forgets updates below the offset when the call arrives: confirmed.
            self._queue = [u for u in self._queue if u["update_id"] >= offset]
            while True:
                # Only look while waiting: a call abandoned by a stopped bot confirms nothing more.
                pending = [u for u in self._queue if u["update_id"] >= offset]
                if pending or self._closing:
                    return pending[:limit]
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return []
                try:
                    await asyncio.wait_for(self._cond.wait(), remaining)
                except TimeoutError:
                    return []

    # --- what the tests use ------------------------------------------------------------------------
    async def feed(self, *updates: dict[str, Any]) -> None:
        """Queues updates at once (so that twins arrive in the same getUpdates batch)."""
        async with self._cond:
            self._queue.extend(updates)
            self._cond.notify_all()

    def sent(self, chat_id: int | None = None) -> list[Call]:
        return [
            c
            for c in self.calls
            if c.method in OUTGOING and (chat_id is None or c.chat_id == chat_id)
        ]

    def texts(self, chat_id: int) -> list[str]:
        return [c.text for c in self.sent(chat_id)]

    async def wait_sent(self, chat_id: int, count: int, timeout: float = 20) -> list[Call]:
        deadline = time.monotonic() + timeout
        while len(self.sent(chat_id)) < count:
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"chat {chat_id}: expected {count} messages, got {self.texts(chat_id)}"
                )
            await asyncio.sleep(0.01)
        return self.sent(chat_id)

    async def wait_method(self, method: str, timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while not any(c.method == method for c in self.calls):
            if time.monotonic() > deadline:
                raise AssertionError(f"the bot never called {method}")
            await asyncio.sleep(0.01)


def _ok(result: Any) -> JSONResponse:
    return JSONResponse({"ok": True, "result": result})


class Person:
    """A Telegram account writing to the bot in its private chat (chat id == user id)."""

    _update_ids = itertools.count(1)
    _message_ids = itertools.count(1)
    _file_ids = itertools.count(1)

    def __init__(self, api: FakeBotAPI, telegram_id: int, name: str) -> None:
        self.api = api
        self.id = telegram_id
        self.name = name

    @property
    def user(self) -> dict[str, Any]:
        return {"id": self.id, "is_bot": False, "first_name": self.name, "language_code": "pt-br"}

    def _message(self, **content: Any) -> dict[str, Any]:
        return {
            "update_id": next(self._update_ids),
            "message": {
                "message_id": next(self._message_ids),
                "date": int(time.time()),
                "chat": {"id": self.id, "type": "private", "first_name": self.name},
                "from": self.user,
                **content,
            },
        }

    def text(self, text: str) -> dict[str, Any]:
        content: dict[str, Any] = {"text": text}
        if text.startswith("/"):
            command = text.split(maxsplit=1)[0]
            content["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
        return self._message(**content)

    def photo(self, image: str | bytes) -> dict[str, Any]:
        """`image`: a path under tests/photos (e.g. "ean13-2/01.png") or bytes."""
        data = image if isinstance(image, bytes) else (BARCODES / image).read_bytes()
        n = next(self._file_ids)
        big, small = f"photo{n}", f"photo{n}s"
        self.api.files[big] = self.api.files[small] = data
        sizes = [
            {"file_id": small, "file_unique_id": f"u{small}", "width": 90, "height": 68},
            {
                "file_id": big,
                "file_unique_id": f"u{big}",
                "width": 640,
                "height": 480,
                "file_size": len(data),
            },
        ]
        return self._message(photo=sizes)

    def location(
        self, latitude: float, longitude: float, accuracy: float | None = None
    ) -> dict[str, Any]:
        place: dict[str, Any] = {"latitude": latitude, "longitude": longitude}
        if accuracy is not None:
            place["horizontal_accuracy"] = accuracy
        return self._message(location=place)

    def press(self, data: str, message_id: int) -> dict[str, Any]:
        return {
            "update_id": next(self._update_ids),
            "callback_query": {
                "id": str(next(self._update_ids)),
                "from": self.user,
                "chat_instance": f"ci{self.id}",
                "data": data,
                "message": {
                    "message_id": message_id,
                    "date": int(time.time()),
                    "chat": {"id": self.id, "type": "private"},
                    "from": BOT_USER,
                    "text": "menu",
                },
            },
        }

    async def send(self, update: dict[str, Any], replies: int = 1) -> list[str]:
        """Feeds one update and waits for the bot's `replies` new messages in this chat."""
        before = len(self.api.sent(self.id))
        await self.api.feed(update)
        calls = await self.api.wait_sent(self.id, before + replies)
        return [c.text for c in calls[before:]]

    async def say(self, text: str) -> str:
        return (await self.send(self.text(text)))[-1]

    async def snap(self, image: str | bytes) -> str:
        return (await self.send(self.photo(image)))[-1]
