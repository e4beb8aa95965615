"""Packages, addresses and deliverers of a session."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from db.enums import DeliveryStatus
from db.models import SessionAddress, SessionDeliverer, SessionPackage, User
from db.repositories import keyset
from db.repositories.copy import copy_rows


def _probe(columns: str, table: str, match: str, values: str) -> Any:
    """For each value of the array parameter `values`, the one row of the session matching
    it, found by its own unique-index probe (a LATERAL subquery with LIMIT 1: never merged
    into a join the planner may choose).

    A join of the values to the table (or `IN (...)`) is planned once per connection as a
    generic plan; while the table is young (no statistics yet) that plan may hash the whole
    session's rows, or filter them through another index that leads with session_id, for
    every call: a 10,000-row import went quadratic (36 ms per lookup of 250 codes at 8,000
    packages). Probes cost the same at any size.
    """
    return text(
        f"""
        SELECT {columns} FROM unnest(CAST(:{values} AS text[])) AS given(value)
        CROSS JOIN LATERAL (
            SELECT * FROM {table} AS t
            WHERE t.{match} = given.value AND t.session_id = :session_id LIMIT 1
        ) AS found
        """
    )


# Built once: the hot path of every scan then skips SQLAlchemy's statement construction and
# cache-key walk (tens of microseconds per statement).
_EXISTING_IDS = _probe("found.barcode, found.id", "session_packages", "barcode", "barcodes")
_ADDRESSES_BY_KEY = select(SessionAddress).from_statement(
    _probe("found.*", "session_addresses", "normalized_key", "keys")
)


_PACKAGE_COLUMNS = (
    "id", "session_id", "barcode", "symbology", "carrier", "raw_text", "status",
    "recipient_name", "recipient_from_label", "address_id", "deliverer_id", "scan_report",
    "created_at", "updated_at",
)  # fmt: skip
_ADDRESS_COLUMNS = (
    "id", "session_id", "normalized_key", "line", "street", "number", "complement",
    "neighbourhood", "city", "state", "postal_code", "latitude", "longitude", "geo_precision",
    "geo_provider", "package_count",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class NewPackage:
    """A package to insert: PENDING, created now, in the session it is inserted into."""

    id: uuid.UUID
    barcode: str
    symbology: str | None
    carrier: str | None
    raw_text: str | None
    recipient_name: str | None
    recipient_from_label: bool
    address_id: uuid.UUID | None
    deliverer_id: uuid.UUID | None
    scan_report: dict[str, Any] | None

    def row(self, session_id: uuid.UUID, now: datetime) -> SessionPackage:
        """The inserted row as an object (not in any ORM session: it reads, never writes)."""
        return SessionPackage(
            id=self.id,
            session_id=session_id,
            barcode=self.barcode,
            symbology=self.symbology,
            carrier=self.carrier,
            raw_text=self.raw_text,
            status=DeliveryStatus.PENDING,
            recipient_name=self.recipient_name,
            recipient_from_label=self.recipient_from_label,
            address_id=self.address_id,
            deliverer_id=self.deliverer_id,
            failure_reason=None,
            scan_report=self.scan_report,
            created_at=now,
            updated_at=now,
            delivered_at=None,
            anonymized_at=None,
        )


@dataclass(frozen=True, slots=True)
class NewAddress:
    """An address to insert, with the packages that point at it from the same statement."""

    id: uuid.UUID
    normalized_key: str
    line: str
    street: str | None
    number: str | None
    complement: str | None
    neighbourhood: str | None
    city: str | None
    state: str | None
    postal_code: str | None
    latitude: float | None
    longitude: float | None
    geo_precision: str | None
    geo_provider: str | None
    package_count: int


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

    async def insert(
        self, session_id: uuid.UUID, rows: Sequence[NewPackage], now: datetime
    ) -> None:
        """Any number of new packages in one COPY (db/repositories/copy.py), in the caller's
        transaction: PENDING, created `now`."""
        if not rows:
            return
        await copy_rows(
            self.session,
            "session_packages",
            _PACKAGE_COLUMNS,
            [
                (
                    r.id,
                    session_id,
                    r.barcode,
                    r.symbology,
                    r.carrier,
                    r.raw_text,
                    DeliveryStatus.PENDING.value,
                    r.recipient_name,
                    r.recipient_from_label,
                    r.address_id,
                    r.deliverer_id,
                    None if r.scan_report is None else json.dumps(r.scan_report),
                    now,
                    now,
                )
                for r in rows
            ],
        )

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
        return set(await self.existing_ids(session_id, barcodes))

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

    async def insert(self, session_id: uuid.UUID, rows: Sequence[NewAddress]) -> None:
        """Any number of new addresses in one COPY, in the caller's transaction."""
        if not rows:
            return
        await copy_rows(
            self.session,
            "session_addresses",
            _ADDRESS_COLUMNS,
            [
                (
                    r.id,
                    session_id,
                    r.normalized_key,
                    r.line,
                    r.street,
                    r.number,
                    r.complement,
                    r.neighbourhood,
                    r.city,
                    r.state,
                    r.postal_code,
                    r.latitude,
                    r.longitude,
                    r.geo_precision,
                    r.geo_provider,
                    r.package_count,
                )
                for r in rows
            ],
        )

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
