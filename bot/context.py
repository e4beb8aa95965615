"""What the bot needs from its host (services) and what one action answers (a Reply)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.enums import SessionStatus
from db.models import DeliverySession, User
from domain.commands import Deps
from domain.events import EventPublisher
from domain.operations import Runner
from domain.permissions import is_manager
from domain.proof import ProofConfig
from domain.scanning import ScanPool
from domain.uow import UnitOfWork

# Rows per listing: a chat message is no place for long tables.
LIST_LIMIT = 10
WORKING = frozenset({SessionStatus.OPEN, SessionStatus.ACTIVE, SessionStatus.PAUSED})
DELIVERING = frozenset({SessionStatus.ACTIVE, SessionStatus.PAUSED})


@dataclass(frozen=True)
class BotServices:
    """Built by the composition root (bipa/bot_cli.py) exactly like the API's services.

    Every command the bot runs goes through `runner`, the same one way as the API's; the
    bot itself only reads (`runner.uow()`), it never commits.
    """

    sessionmaker: async_sessionmaker[AsyncSession]
    scanner: ScanPool
    publisher: EventPublisher | None = None
    currency: str = "BRL"
    # Proof of delivery (photos and the place): None when the bot runs without a store.
    proof: ProofConfig | None = None
    photos: ScanPool | None = None
    runner: Runner = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Derived, so the composition root keeps building the services from the same fields.
        runner = Runner(
            self.sessionmaker,
            self.publisher,
            currency=self.currency,
            deps=Deps(proof=self.proof),
        )
        object.__setattr__(self, "runner", runner)


Buttons = list[list[tuple[str, str]]]  # rows of (label, callback data)


@dataclass
class Reply:
    """The answer to one update: rendered from a command's outcome or from reads."""

    text: str
    buttons: Buttons = field(default_factory=list)
    # Messages for other chats (e.g. the deliverers when a session starts), sent after commit
    # and never for a replayed update.
    notify: list[tuple[int, str]] = field(default_factory=list)
    # The session this chat works on from now on.
    current: uuid.UUID | None = None


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
