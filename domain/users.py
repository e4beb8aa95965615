"""Users: creation with a one-time token, authentication, Telegram links."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from db.enums import Role
from db.models import ApiToken, User
from domain.errors import NotFound, PermissionDenied, Unauthenticated, ValidationFailed
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
        raise ValidationFailed(f"{label} must not be empty", field="name")
    if len(cleaned) > MAX_NAME:
        raise ValidationFailed(f"{label} must be at most {MAX_NAME} characters", field="name")
    return cleaned


def _clean_telegram_id(telegram_id: str | None) -> str | None:
    if telegram_id is None:
        return None
    cleaned = telegram_id.strip()
    if not cleaned.lstrip("-").isdigit() or len(cleaned) > 32:
        raise ValidationFailed("telegramId must be a numeric Telegram user id", field="telegramId")
    return cleaned


def can_create(actor: User | None, role: Role) -> bool:
    """ADMIN creates any role; MANAGER only DELIVERERs; the CLI (no actor) anything."""
    if actor is None or actor.role is Role.ADMIN:
        return True
    return actor.role is Role.MANAGER and role is Role.DELIVERER


async def create_user(
    uow: UnitOfWork, actor: User | None, name: str, role: Role, telegram_id: str | None = None
) -> NewUser:
    if not can_create(actor, role):
        raise PermissionDenied(f"a {actor.role if actor else '?'} cannot create a {role} user")
    clean_tg = _clean_telegram_id(telegram_id)
    if clean_tg is not None and await uow.users.by_telegram_id(clean_tg) is not None:
        raise ValidationFailed("this Telegram account is already linked", field="telegramId")
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
        raise NotFound("user not found", id=str(user_id))
    clean_tg = _clean_telegram_id(telegram_id)
    other = await uow.users.by_telegram_id(clean_tg or "")
    if other is not None and other.id != user.id:
        raise ValidationFailed(
            "this Telegram account is linked to another user", field="telegramId"
        )
    user.telegram_id = clean_tg
    await uow.flush()
    return user
