"""Updates of different chats run concurrently; updates of one chat run one at a time, in order.

A slow photo scan in one chat must not hold up everybody else, but within a chat the order
matters: three photos and then /start_session must start a session holding the three
packages, and a redelivered update must find its twin already committed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor


class PerChatUpdateProcessor(BaseUpdateProcessor):
    def __init__(self, max_concurrent_updates: int) -> None:
        super().__init__(max_concurrent_updates)
        self._locks: dict[int, asyncio.Lock] = {}
        self._users: dict[int, int] = {}  # tasks holding or waiting for each chat's lock

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        chat = update.effective_chat if isinstance(update, Update) else None
        if chat is None:
            await coroutine
            return
        lock = self._locks.setdefault(chat.id, asyncio.Lock())
        self._users[chat.id] = self._users.get(chat.id, 0) + 1
        try:
            async with lock:
                await coroutine
        finally:
            # Forget idle chats, so the table does not grow with every chat ever seen.
            self._users[chat.id] -= 1
            if self._users[chat.id] == 0:
                del self._users[chat.id]
                del self._locks[chat.id]

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None
