"""GraphQL object types of the contract (../shared/api-contract.graphql)."""

from __future__ import annotations

import enum
from datetime import datetime

import strawberry

from db import enums
from db.models import User


@strawberry.enum
class Role(enum.Enum):
    ADMIN = "ADMIN"
    MANAGER = "MANAGER"
    DELIVERER = "DELIVERER"


@strawberry.type(name="User")
class UserType:
    id: strawberry.ID
    name: str
    role: Role
    telegram_id: str | None
    created_at: datetime


def user_type(user: User) -> UserType:
    return UserType(
        id=strawberry.ID(str(user.id)),
        name=user.name,
        role=Role(enums.Role(user.role).value),
        telegram_id=user.telegram_id,
        created_at=user.created_at,
    )
