"""Declarative base with a naming convention, so migrations name constraints predictably."""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime

from asyncpg.pgproto.pgproto import UUID as _CUUID
from sqlalchemy import DateTime, MetaData, func
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


# Tables in our database that are not our models: procrastinate's queue (migration 0006).
FOREIGN_TABLE_PREFIXES = ("procrastinate_",)


def include_name(name: str | None, type_: str, parent_names: object) -> bool:
    """Alembic's comparison filter: our models only (alembic/env.py, the drift test)."""
    return not (type_ == "table" and name is not None and name.startswith(FOREIGN_TABLE_PREFIXES))


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> uuid.UUID:
    return uuid.uuid4()


def new_ids(n: int) -> list[uuid.UUID]:
    """`n` random (version 4) UUIDs from one read of the OS's randomness, as asyncpg's C UUID
    type (a uuid.UUID subclass, what the driver reads back too): uuid4() cost ~4 us each in
    os.urandom and UUID's checks here, 6% of a manifest import's CPU."""
    raw = bytearray(os.urandom(16 * n))
    raw[6::16] = bytes((b & 0x0F) | 0x40 for b in raw[6::16])  # version 4
    raw[8::16] = bytes((b & 0x3F) | 0x80 for b in raw[8::16])  # the RFC 4122 variant
    data = bytes(raw)
    return [_CUUID(data[i : i + 16]) for i in range(0, 16 * n, 16)]


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: DateTime(timezone=True)}


class CreatedAtMixin:
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now(), default=utcnow
    )
