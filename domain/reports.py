"""Session reports: what one holds (read in one transaction) and where its file is stored.

The rendering is reports/ (pure); this module gathers the rows through the repositories,
decides what the caller may see (domain/permissions.py) and stores the file, which never
changes once written: a link to it is minted on every read.
"""

from __future__ import annotations

import asyncio
import uuid
from decimal import Decimal
from typing import Any

import geo
import reports
import storage
from db.base import utcnow
from db.enums import DeliveryStatus, SessionStatus
from db.models import User
from db.repositories.packages import ReportRow
from domain import permissions
from domain.uow import UnitOfWork

# Completed history: ARCHIVED comes after COMPLETED and keeps the same snapshot.
_WITH_PAYROLL = frozenset({SessionStatus.COMPLETED, SessionStatus.ARCHIVED})


def _address(row: ReportRow) -> str | None:
    postal = geo.format_cep(row.address_postal_code) or row.address_postal_code
    parts = [p for p in (row.address_line, row.address_city, postal) if p]
    return ", ".join(parts) or None


def _line(
    row: ReportRow, picked_up: dict[uuid.UUID, Any], proofs: set[uuid.UUID]
) -> reports.PackageLine:
    # DELIVERED and FAILED are final: the row's last change is when it failed.
    failed_at = row.updated_at if row.status is DeliveryStatus.FAILED else None
    return reports.PackageLine(
        code=row.barcode,
        carrier=row.carrier,
        status=row.status.value,
        deliverer=row.deliverer_name,
        recipient=row.recipient_name,
        address=_address(row),
        picked_up_at=picked_up.get(row.id),
        delivered_at=row.delivered_at,
        failed_at=failed_at,
        failure_reason=row.failure_reason,
        has_proof=row.id in proofs,
    )


def _payroll(snapshot: dict[str, Any]) -> tuple[tuple[reports.PayLine, ...], Decimal]:
    """From the financial snapshot only: the figures the session was closed with, never
    recomputed from today's rows."""
    lines = tuple(
        reports.PayLine(
            deliverer=d["name"],
            base_salary=Decimal(d["baseSalary"]),
            commission_per_delivery=Decimal(d["commissionPerDelivery"]),
            deliveries=int(d["delivered"]),
            commission=Decimal(d["commission"]),
            total=Decimal(d["totalEarned"]),
        )
        for d in snapshot.get("deliverers", [])
    )
    return lines, Decimal(snapshot["totalCost"])


async def build_session_report(
    uow: UnitOfWork, session_id: uuid.UUID, caller: User
) -> reports.SessionReport:
    """Read in the caller's one transaction: open it REPEATABLE READ for a consistent report
    of a session that is still moving."""
    session = await permissions.ensure_manages(uow, caller, session_id)
    rows = await uow.packages.report_rows(session.id)
    picked_up = await uow.audit.status_times(session.id, DeliveryStatus.PICKED_UP.value)
    proofs = await uow.proofs.packages_with_proof(session.id)
    payroll: tuple[reports.PayLine, ...] | None = None
    total: Decimal | None = None
    if session.status in _WITH_PAYROLL and session.financial_snapshot is not None:
        payroll, total = _payroll(session.financial_snapshot)
    return reports.SessionReport(
        session_id=str(session.id),
        session_name=session.name,
        status=session.status.value,
        created_at=session.created_at,
        started_at=session.started_at,
        completed_at=session.completed_at,
        generated_at=utcnow(),
        packages=tuple(_line(r, picked_up, proofs) for r in rows),
        payroll=payroll,
        payroll_total=total,
    )


def report_key(session_id: uuid.UUID | str, fmt: str) -> str:
    # A fresh name per export: a stored report is never overwritten.
    return f"reports/{session_id}/{uuid.uuid4()}.{reports.extension(fmt)}"


async def store_report(store: storage.ObjectStore, report: reports.SessionReport, fmt: str) -> str:
    """Renders (in a thread: a PDF of 10,000 packages is seconds of CPU) and stores the file;
    returns its key."""
    data = await asyncio.to_thread(reports.render, report, fmt)
    key = report_key(report.session_id, fmt)
    await store.put(key, data, reports.content_type(fmt))
    return key


async def export_session_report(
    uow: UnitOfWork, store: storage.ObjectStore, session_id: uuid.UUID, caller: User, fmt: str
) -> str:
    """build_session_report, then store_report: the key of the stored file."""
    reports.extension(fmt)  # an unknown format fails before any read
    report = await build_session_report(uow, session_id, caller)
    return await store_report(store, report, fmt)
