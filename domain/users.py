"""Users: creation with a one-time token, authentication, Telegram links."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from db.enums import Role
from db.models import ApiToken, User
from domain import permissions
from domain.errors import NotFound, Unauthenticated, ValidationFailed
from domain.tokens import hash_token, new_token
from domain.uow import UnitOfWork

MAX_NAME = 200


@dataclass(frozen=True)
class NewUser:
    user: User
    token: str


def clean_name(name: str, label: str = "name") -> str:
    """Whitespace collapsed; 1 to MAX_NAME characters (`label` names it in the error)."""
    cleaned = " ".join(name.split())
    if not cleaned:
        raise ValidationFailed(f"{label} must not be empty", field="name", code="NAME_EMPTY")
    if len(cleaned) > MAX_NAME:
        raise ValidationFailed(
            f"{label} must be at most {MAX_NAME} characters",
            field="name",
            code="NAME_TOO_LONG",
            params={"max": str(MAX_NAME)},
        )
    return cleaned


def _clean_telegram_id(telegram_id: str | None) -> str | None:
    if telegram_id is None:
        return None
    cleaned = telegram_id.strip()
    if not cleaned.lstrip("-").isdigit() or len(cleaned) > 32:
        raise ValidationFailed(
            "telegramId must be a numeric Telegram user id",
            field="telegramId",
            code="TELEGRAM_ID_INVALID",
        )
    return cleaned


async def create_user(
    uow: UnitOfWork, actor: User | None, name: str, role: Role, telegram_id: str | None = None
) -> NewUser:
    permissions.ensure_can_create_user(actor, role)
    clean_tg = _clean_telegram_id(telegram_id)
    if clean_tg is not None and await uow.users.by_telegram_id(clean_tg) is not None:
        raise ValidationFailed(
            "this Telegram account is already linked",
            field="telegramId",
            code="TELEGRAM_ID_TAKEN",
        )
    user = User(id=uuid.uuid4(), name=clean_name(name), role=role, telegram_id=clean_tg)
    uow.users.add(user)
    token = new_token()
    uow.users.add_token(ApiToken(user_id=user.id, token_hash=hash_token(token)))
    await uow.flush()
    return NewUser(user=user, token=token)


async def authenticate(uow: UnitOfWork, token: str) -> User:
    if not token:
        raise Unauthenticated("missing token")
    user = await uow.users.by_token_hash(hash_token(token))
    if user is None:
        raise Unauthenticated("invalid token")
    return user


async def link_telegram(uow: UnitOfWork, user_id: uuid.UUID, telegram_id: str) -> User:
    user = await uow.users.get(user_id)
    if user is None:
        raise NotFound("user not found", id=str(user_id), code="USER_NOT_FOUND")
    clean_tg = _clean_telegram_id(telegram_id)
    other = await uow.users.by_telegram_id(clean_tg or "")
    if other is not None and other.id != user.id:
        raise ValidationFailed(
            "this Telegram account is linked to another user",
            field="telegramId",
            code="TELEGRAM_ID_TAKEN",
        )
    user.telegram_id = clean_tg
    await uow.flush()
    return user
