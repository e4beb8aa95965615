"""What the bot needs from its host (services) and what one action answers (a Reply)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.enums import Role, SessionStatus
from db.models import DeliverySession, User
from domain.events import EventPublisher
from domain.scanning import ScanPool
from domain.uow import UnitOfWork

# Rows per listing: a chat message is no place for long tables.
LIST_LIMIT = 10
WORKING = frozenset({SessionStatus.OPEN, SessionStatus.ACTIVE, SessionStatus.PAUSED})
DELIVERING = frozenset({SessionStatus.ACTIVE, SessionStatus.PAUSED})


@dataclass(frozen=True)
class BotServices:
    """Built by the composition root (bipa/bot_cli.py) exactly like the API's services."""

    sessionmaker: async_sessionmaker[AsyncSession]
    scanner: ScanPool
    publisher: EventPublisher | None = None
    currency: str = "BRL"

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self.sessionmaker, self.publisher, currency=self.currency)


Buttons = list[list[tuple[str, str]]]  # rows of (label, callback data)


@dataclass
class Reply:
    """The answer to one update, JSON-serializable so a replayed update gets it again."""

    text: str
    buttons: Buttons = field(default_factory=list)
    # Messages for other chats (e.g. the deliverers when a session starts), sent after commit.
    notify: list[tuple[int, str]] = field(default_factory=list)
    # The session this chat works on from now on.
    current: uuid.UUID | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "buttons": [[list(b) for b in row] for row in self.buttons],
            "notify": [list(n) for n in self.notify],
            "current": str(self.current) if self.current else None,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Reply:
        return cls(
            text=str(data.get("text", "")),
            buttons=[[(str(b[0]), str(b[1])) for b in row] for row in data.get("buttons", [])],
            notify=[(int(n[0]), str(n[1])) for n in data.get("notify", [])],
            current=uuid.UUID(data["current"]) if data.get("current") else None,
        )


def is_manager(user: User) -> bool:
    return user.role in (Role.ADMIN, Role.MANAGER)


def chat_of(user: User) -> int | None:
    """A user's private chat with the bot has the id of their Telegram account."""
    if user.telegram_id is None:
        return None
    try:
        return int(user.telegram_id)
    except ValueError:
        return None


class CurrentSessions:
    """The session each chat works on.

    Kept in memory (a restart loses it), so every lookup falls back to what the database says:
    a manager's newest session still in progress, a deliverer's ACTIVE session.
    """

    def __init__(self) -> None:
        self._by_chat: dict[int, uuid.UUID] = {}

    def remember(self, chat_id: int, session_id: uuid.UUID) -> None:
        self._by_chat[chat_id] = session_id

    def get(self, chat_id: int) -> uuid.UUID | None:
        return self._by_chat.get(chat_id)

    async def resolve(
        self, uow: UnitOfWork, user: User, chat_id: int, *, working: bool
    ) -> DeliverySession | None:
        """The chat's session; `working`: one to scan into (a deliverer's must be in progress)."""
        remembered = self._by_chat.get(chat_id)
        if remembered is not None:
            session = await uow.sessions.get_visible(remembered, user.id, user.role)
            usable = session is not None and session.status is not SessionStatus.ARCHIVED
            # A deliverer never chose their session: once it is over, look for the next one.
            if usable and working and not is_manager(user):
                usable = session is not None and session.status in DELIVERING
            if usable:
                return session
        return await self._fallback(uow, user)

    async def _fallback(self, uow: UnitOfWork, user: User) -> DeliverySession | None:
        if is_manager(user):
            rows, _ = await uow.sessions.list_visible(
                user.id, user.role, status=None, owner_id=user.id, first=LIST_LIMIT, after=None
            )
            return next((s for s in rows if s.status in WORKING), None)
        # An OPEN session they are part of comes last: the domain then says it has not started.
        for status in (SessionStatus.ACTIVE, SessionStatus.PAUSED, SessionStatus.OPEN):
            rows, _ = await uow.sessions.list_visible(
                user.id, user.role, status=status, owner_id=None, first=1, after=None
            )
            if rows:
                return rows[0]
        return None
