"""Packages, addresses and deliverers of a session."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import String, bindparam, func, or_, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from db.enums import DeliveryStatus
from db.models import SessionAddress, SessionDeliverer, SessionPackage, User
from db.repositories import keyset


def _given(name: str) -> Any:
    """The values of the array parameter `name` as a table (column `value`) to join on.

    Lookups of many codes (or address keys) in one session join this to the unique index on
    (session_id, code): with `code IN (...)`, a prepared statement's generic plan, made while
    the table's statistics are those of a young or small table, may pick the (session_id,
    status) index and filter every package of the session for each call, so a 10,000-row
    import went quadratic (36 ms per lookup of 250 codes at 8,000 packages, against 1 ms).
    """
    return func.unnest(bindparam(name, type_=ARRAY(String))).table_valued("value").render_derived()


_CODES = _given("barcodes")
# Built once: the hot path of every scan then skips SQLAlchemy's statement construction and
# cache-key walk (tens of microseconds per statement).
_EXISTING_BARCODES = (
    select(SessionPackage.barcode)
    .join(_CODES, SessionPackage.barcode == _CODES.c.value)
    .where(SessionPackage.session_id == bindparam("session_id"))
)
_EXISTING_IDS = (
    select(SessionPackage.barcode, SessionPackage.id)
    .join(_CODES, SessionPackage.barcode == _CODES.c.value)
    .where(SessionPackage.session_id == bindparam("session_id"))
)
_KEYS = _given("keys")
_ADDRESSES_BY_KEY = (
    select(SessionAddress)
    .join(_KEYS, SessionAddress.normalized_key == _KEYS.c.value)
    .where(SessionAddress.session_id == bindparam("session_id"))
)


@dataclass(frozen=True)
class ReportRow:
    """A package as a report shows it: its address and its deliverer's name joined."""

    id: uuid.UUID
    barcode: str
    carrier: str | None
    status: DeliveryStatus
    recipient_name: str | None
    failure_reason: str | None
    updated_at: datetime
    delivered_at: datetime | None
    address_line: str | None
    address_city: str | None
    address_postal_code: str | None
    deliverer_name: str | None


class PackageRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def add(self, row: SessionPackage) -> None:
        self.session.add(row)

    async def delete(self, row: SessionPackage) -> None:
        await self.session.delete(row)

    async def get(self, package_id: uuid.UUID) -> SessionPackage | None:
        return await self.session.get(SessionPackage, package_id)

    async def reload(self, package_id: uuid.UUID) -> SessionPackage | None:
        stmt = (
            select(SessionPackage)
            .where(SessionPackage.id == package_id)
            .execution_options(populate_existing=True)
        )
        return (await self.session.scalars(stmt)).one_or_none()

    async def not_anonymized(
        self, session_id: uuid.UUID, *, recipient_name: str | None = None
    ) -> list[SessionPackage]:
        """A session's packages that still hold recipient data (optionally one recipient's,
        by name, case and spacing aside)."""
        stmt = select(SessionPackage).where(
            SessionPackage.session_id == session_id, SessionPackage.anonymized_at.is_(None)
        )
        if recipient_name is not None:
            stmt = stmt.where(
                func.lower(func.regexp_replace(SessionPackage.recipient_name, r"\s+", " ", "g"))
                == recipient_name
            )
        return list((await self.session.scalars(stmt.order_by(SessionPackage.id))).all())

    async def sessions_of_recipient(self, recipient_name: str) -> list[uuid.UUID]:
        """Sessions with a package of this recipient (by name, case and spacing aside)."""
        stmt = (
            select(SessionPackage.session_id)
            .where(
                func.lower(func.regexp_replace(SessionPackage.recipient_name, r"\s+", " ", "g"))
                == recipient_name,
                SessionPackage.anonymized_at.is_(None),
            )
            .distinct()
        )
        return sorted((await self.session.scalars(stmt)).all())

    async def session_of(self, package_id: uuid.UUID) -> uuid.UUID | None:
        found: uuid.UUID | None = await self.session.scalar(
            select(SessionPackage.session_id).where(SessionPackage.id == package_id)
        )
        return found

    async def get_many(self, ids: Sequence[uuid.UUID]) -> list[SessionPackage]:
        if not ids:
            return []
        stmt = select(SessionPackage).where(SessionPackage.id.in_(ids))
        return list(await self.session.scalars(stmt))

    async def by_barcode(self, session_id: uuid.UUID, barcode: str) -> SessionPackage | None:
        stmt = select(SessionPackage).where(
            SessionPackage.session_id == session_id, SessionPackage.barcode == barcode
        )
        return (await self.session.scalars(stmt)).one_or_none()

    async def existing_barcodes(self, session_id: uuid.UUID, barcodes: Sequence[str]) -> set[str]:
        if not barcodes:
            return set()
        params = {"session_id": session_id, "barcodes": list(barcodes)}
        return set(await self.session.scalars(_EXISTING_BARCODES, params))

    async def existing_ids(
        self, session_id: uuid.UUID, barcodes: Sequence[str]
    ) -> dict[str, uuid.UUID]:
        """barcode -> package id, for the given barcodes the session already has."""
        if not barcodes:
            return {}
        params = {"session_id": session_id, "barcodes": list(barcodes)}
        return {code: pid for code, pid in await self.session.execute(_EXISTING_IDS, params)}

    async def barcodes(self, session_id: uuid.UUID) -> list[str]:
        stmt = select(SessionPackage.barcode).where(SessionPackage.session_id == session_id)
        return list(await self.session.scalars(stmt))

    async def not_final(self, session_id: uuid.UUID) -> list[SessionPackage]:
        stmt = (
            select(SessionPackage)
            .where(
                SessionPackage.session_id == session_id,
                SessionPackage.status.in_([DeliveryStatus.PENDING, DeliveryStatus.PICKED_UP]),
            )
            .order_by(SessionPackage.created_at, SessionPackage.id)
        )
        return list(await self.session.scalars(stmt))

    async def report_rows(self, session_id: uuid.UUID) -> list[ReportRow]:
        """Every package of the session in the order it was added (by code within one
        transaction): one statement, columns only (10,000 packages build no ORM objects)."""
        stmt = (
            select(
                SessionPackage.id,
                SessionPackage.barcode,
                SessionPackage.carrier,
                SessionPackage.status,
                SessionPackage.recipient_name,
                SessionPackage.failure_reason,
                SessionPackage.updated_at,
                SessionPackage.delivered_at,
                SessionAddress.line,
                SessionAddress.city,
                SessionAddress.postal_code,
                User.name,
            )
            .outerjoin(SessionAddress, SessionAddress.id == SessionPackage.address_id)
            .outerjoin(SessionDeliverer, SessionDeliverer.id == SessionPackage.deliverer_id)
            .outerjoin(User, User.id == SessionDeliverer.user_id)
            .where(SessionPackage.session_id == session_id)
            .order_by(SessionPackage.created_at, SessionPackage.barcode)
        )
        return [ReportRow(*row) for row in await self.session.execute(stmt)]

    async def last_final_addresses(self, session_id: uuid.UUID) -> dict[uuid.UUID, uuid.UUID]:
        """Each deliverer's most recently finished package's address: where they are now."""
        stmt = (
            select(SessionPackage.deliverer_id, SessionPackage.address_id)
            .where(
                SessionPackage.session_id == session_id,
                SessionPackage.status.in_([DeliveryStatus.DELIVERED, DeliveryStatus.FAILED]),
                SessionPackage.deliverer_id.is_not(None),
                SessionPackage.address_id.is_not(None),
            )
            .order_by(SessionPackage.deliverer_id, SessionPackage.updated_at.desc())
            .distinct(SessionPackage.deliverer_id)
        )
        return {d: a for d, a in (await self.session.execute(stmt)).tuples() if d and a}

    async def count_not_final(self, session_id: uuid.UUID) -> int:
        stmt = select(func.count()).where(
            SessionPackage.session_id == session_id,
            SessionPackage.status.in_([DeliveryStatus.PENDING, DeliveryStatus.PICKED_UP]),
        )
        return int(await self.session.scalar(stmt) or 0)

    async def count(self, session_id: uuid.UUID) -> int:
        stmt = select(func.count()).where(SessionPackage.session_id == session_id)
        return int(await self.session.scalar(stmt) or 0)

    async def progress(self, session_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, dict[str, int]]:
        """Counts per status for each session, in one statement."""
        if not session_ids:
            return {}
        stmt = (
            select(SessionPackage.session_id, SessionPackage.status, func.count())
            .where(SessionPackage.session_id.in_(session_ids))
            .group_by(SessionPackage.session_id, SessionPackage.status)
        )
        result: dict[uuid.UUID, dict[str, int]] = {sid: {} for sid in session_ids}
        for sid, status, count in await self.session.execute(stmt):
            result[sid][DeliveryStatus(status).value] = int(count)
        return result

    async def page(
        self,
        session_id: uuid.UUID,
        *,
        first: int,
        after: tuple[datetime, uuid.UUID] | None,
        status: DeliveryStatus | None,
        deliverer_id: uuid.UUID | None,
        before: tuple[datetime, uuid.UUID] | None = None,
        backward: bool = False,
        search: str | None = None,
        unassigned: bool | None = None,
    ) -> tuple[list[SessionPackage], int]:
        """One statement: the page (first + 1 rows in the order read, keyset.page), the
        total with these filters, and each package's address and deliverer (with its user)
        joined. The list is oldest first.

        `search` matches a part of the code or of the recipient's name, case and accents
        aside. It runs within one session's rows (the (session_id, barcode) index narrows
        them first), so a substring match needs no trigram index.
        """
        conditions: list[Any] = [SessionPackage.session_id == session_id]
        if status is not None:
            conditions.append(SessionPackage.status == status)
        if deliverer_id is not None:
            conditions.append(SessionPackage.deliverer_id == deliverer_id)
        if unassigned is not None:
            unset = SessionPackage.deliverer_id.is_(None)
            conditions.append(unset if unassigned else ~unset)
        if search:
            conditions.append(
                or_(
                    keyset.contains(SessionPackage.barcode, search),
                    keyset.contains(SessionPackage.recipient_name, search),
                )
            )
        seek = keyset.Seek(first, after=after, before=before, backward=backward)
        # The count must not see the cursor's bounds: a subquery, not a window over the page.
        total = (
            select(func.count())
            .select_from(SessionPackage)
            .where(*conditions)
            .scalar_subquery()
            .label("total")
        )
        stmt = keyset.page(
            select(SessionPackage, total).where(*conditions),
            (SessionPackage.created_at, SessionPackage.id),
            seek,
            descending=False,
        ).options(
            joinedload(SessionPackage.address),
            joinedload(SessionPackage.deliverer).joinedload(SessionDeliverer.user),
        )
        rows = (await self.session.execute(stmt)).all()
        if not rows:
            if after is None and before is None:
                return [], 0
            count = select(func.count()).select_from(SessionPackage).where(*conditions)
            return [], int(await self.session.scalar(count) or 0)
        return [r[0] for r in rows], int(rows[0][1])


class AddressRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def by_keys(
        self, session_id: uuid.UUID, keys: Sequence[str]
    ) -> dict[str, SessionAddress]:
        if not keys:
            return {}
        params = {"session_id": session_id, "keys": list(keys)}
        rows = await self.session.scalars(_ADDRESSES_BY_KEY, params)
        return {a.normalized_key: a for a in rows}

    def add(self, row: SessionAddress) -> None:
        self.session.add(row)

    async def get_many(self, ids: Sequence[uuid.UUID]) -> list[SessionAddress]:
        if not ids:
            return []
        return list(
            await self.session.scalars(select(SessionAddress).where(SessionAddress.id.in_(ids)))
        )

    async def for_sessions(self, session_ids: Sequence[uuid.UUID]) -> list[SessionAddress]:
        if not session_ids:
            return []
        stmt = (
            select(SessionAddress)
            .where(SessionAddress.session_id.in_(session_ids))
            .order_by(SessionAddress.line, SessionAddress.id)
        )
        return list(await self.session.scalars(stmt))


class DelivererRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def add(self, row: SessionDeliverer) -> None:
        self.session.add(row)

    async def get(self, deliverer_id: uuid.UUID) -> SessionDeliverer | None:
        return await self.session.get(SessionDeliverer, deliverer_id)

    async def get_many(self, ids: Sequence[uuid.UUID]) -> list[SessionDeliverer]:
        if not ids:
            return []
        stmt = select(SessionDeliverer).where(SessionDeliverer.id.in_(ids))
        return list(await self.session.scalars(stmt))

    async def get_many_with_users(self, ids: Sequence[uuid.UUID]) -> list[SessionDeliverer]:
        """One statement: the deliverers joined with their users (GraphQL asks for both)."""
        if not ids:
            return []
        stmt = (
            select(SessionDeliverer)
            .options(joinedload(SessionDeliverer.user))
            .where(SessionDeliverer.id.in_(ids))
        )
        return list((await self.session.scalars(stmt)).unique())

    async def for_sessions_with_users(
        self, session_ids: Sequence[uuid.UUID]
    ) -> list[SessionDeliverer]:
        if not session_ids:
            return []
        stmt = (
            select(SessionDeliverer)
            .options(joinedload(SessionDeliverer.user))
            .where(SessionDeliverer.session_id.in_(session_ids))
            .order_by(SessionDeliverer.created_at, SessionDeliverer.id)
        )
        return list((await self.session.scalars(stmt)).unique())

    async def for_session(self, session_id: uuid.UUID) -> list[SessionDeliverer]:
        stmt = (
            select(SessionDeliverer)
            .where(SessionDeliverer.session_id == session_id)
            .order_by(SessionDeliverer.created_at, SessionDeliverer.id)
        )
        return list(await self.session.scalars(stmt))

    async def for_sessions(self, session_ids: Sequence[uuid.UUID]) -> list[SessionDeliverer]:
        if not session_ids:
            return []
        stmt = (
            select(SessionDeliverer)
            .where(SessionDeliverer.session_id.in_(session_ids))
            .order_by(SessionDeliverer.created_at, SessionDeliverer.id)
        )
        return list(await self.session.scalars(stmt))

    async def names(self, session_id: uuid.UUID) -> list[tuple[uuid.UUID, str]]:
        """(deliverer id, their user's name) of every deliverer of the session."""
        stmt = (
            select(SessionDeliverer.id, User.name)
            .join(User, User.id == SessionDeliverer.user_id)
            .where(SessionDeliverer.session_id == session_id)
        )
        return [(did, name) for did, name in await self.session.execute(stmt)]

    async def by_user(self, session_id: uuid.UUID, user_id: uuid.UUID) -> SessionDeliverer | None:
        stmt = select(SessionDeliverer).where(
            SessionDeliverer.session_id == session_id, SessionDeliverer.user_id == user_id
        )
        return (await self.session.scalars(stmt)).one_or_none()
