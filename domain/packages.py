"""Packages of a session: add (scan), remove, assign, and their delivery status."""

from __future__ import annotations

import dataclasses
import functools
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import geo
from db.base import new_ids, utcnow
from db.enums import FINAL_DELIVERY_STATUSES, DeliveryStatus, SessionStatus
from db.models import DeliverySession, SessionDeliverer, SessionPackage, User
from db.repositories.packages import NewAddress, NewPackage
from domain import addresses, barcodes, completion, permissions, proof
from domain.actions import Action
from domain.deliverers import recompute_earnings
from domain.errors import InvalidTransition, NotFound, PermissionDenied, ValidationFailed
from domain.states import ensure_package_transition
from domain.uow import UnitOfWork

MAX_PACKAGES_PER_CALL = 1000
ADDABLE = frozenset({SessionStatus.OPEN, SessionStatus.ACTIVE, SessionStatus.PAUSED})


@dataclass(frozen=True)
class PackageData:
    barcode: str
    recipient_name: str | None = None
    address: addresses.AddressData | None = None
    deliverer_id: uuid.UUID | None = None
    symbology: str | None = None
    scan_report: dict[str, Any] | None = None
    # The recipient and address were read from the label (a scan), not given by the caller.
    recipient_from_label: bool = False
    # `barcodes.check(barcode, symbology)` when the caller made it already (a manifest's rows
    # are checked whole first, by the same rules): not made twice.
    checked: barcodes.BarcodeCheck | None = None


@dataclass
class AddResult:
    session: DeliverySession
    new: list[NewPackage] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    rejected: list[barcodes.Rejected] = field(default_factory=list)
    at: datetime | None = None

    @functools.cached_property
    def added(self) -> list[SessionPackage]:
        """The added packages as rows, built when asked (an import needs only their ids)."""
        at = self.at or utcnow()
        return [p.row(self.session.id, at) for p in self.new]


def _validate_request(items: Sequence[PackageData]) -> None:
    if len(items) > MAX_PACKAGES_PER_CALL:
        raise ValidationFailed(
            f"at most {MAX_PACKAGES_PER_CALL} packages per call, got {len(items)}",
            field="packages",
            code="TOO_MANY_PACKAGES",
            params={"max": str(MAX_PACKAGES_PER_CALL)},
        )
    for i, item in enumerate(items):
        if item.recipient_name is not None and len(item.recipient_name) > 200:
            raise ValidationFailed(
                "recipient name is too long",
                field=f"packages[{i}].recipientName",
                code="RECIPIENT_TOO_LONG",
            )


def _new_address(
    address_id: uuid.UUID, key: str, a: addresses.AddressData, count: int
) -> NewAddress:
    placed = a.latitude is not None and a.longitude is not None
    return NewAddress(
        id=address_id,
        normalized_key=key,
        line=a.line or "",
        street=a.street,
        number=a.number,
        complement=a.complement,
        neighbourhood=a.neighbourhood,
        city=a.city,
        state=a.state,
        postal_code=a.postal_code,
        latitude=a.latitude,
        longitude=a.longitude,
        # Coordinates sent with the address are the caller's own pin.
        geo_precision=geo.Precision.MANUAL.value if placed else None,
        geo_provider=addresses.INPUT_PROVIDER if placed else None,
        package_count=count,
    )


async def _addresses_for(
    uow: UnitOfWork, session: DeliverySession, items: Sequence[tuple[int, PackageData]]
) -> dict[int, uuid.UUID]:
    """The address of each new package (by its index): a row the session has (its count
    moved), or a new row inserted here with its count."""
    cleaned = {
        i: addresses.clean(item.address, f"packages[{i}].address")
        for i, item in items
        if item.address is not None
    }
    keys = {i: a.key for i, a in cleaned.items()}
    known = await uow.addresses.by_keys(session.id, sorted(set(keys.values())))
    result: dict[int, uuid.UUID] = {}
    fresh: dict[str, tuple[int, int]] = {}  # key -> (first index, packages)
    for i, key in keys.items():
        row = known.get(key)
        if row is not None:
            row.package_count += 1
            continue
        first, count = fresh.get(key, (i, 0))
        fresh[key] = (first, count + 1)
    new = [
        _new_address(address_id, key, cleaned[first], count)
        for address_id, (key, (first, count)) in zip(
            new_ids(len(fresh)), fresh.items(), strict=True
        )
    ]
    await uow.addresses.insert(session.id, new)
    ids = {a.normalized_key: a.id for a in new} | {k: r.id for k, r in known.items()}
    for i, key in keys.items():
        result[i] = ids[key]
    return result


async def _deliverers_for(
    uow: UnitOfWork, session: DeliverySession, items: Sequence[tuple[int, PackageData]]
) -> dict[uuid.UUID, SessionDeliverer]:
    wanted = {item.deliverer_id for _, item in items if item.deliverer_id is not None}
    found = {d.id: d for d in await uow.deliverers.get_many(sorted(wanted))}
    for i, item in items:
        d = found.get(item.deliverer_id) if item.deliverer_id else None
        if item.deliverer_id is not None and (d is None or d.session_id != session.id):
            raise ValidationFailed(
                "deliverer is not part of this session",
                field=f"packages[{i}].delivererId",
                code="DELIVERER_NOT_IN_SESSION",
            )
    return found


def ensure_addable(session: DeliverySession) -> None:
    """Packages join a session until it is completed: open, in distribution or paused."""
    permissions.ensure_writable(session)
    if session.status not in ADDABLE:
        raise InvalidTransition(
            "session", session.status.value, "add packages", code="SESSION_NOT_ADDABLE"
        )


async def add_packages(
    uow: UnitOfWork, actor: User, session_id: uuid.UUID, items: Sequence[PackageData]
) -> AddResult:
    session = await permissions.lock_for_change(uow, actor, session_id)
    ensure_addable(session)
    _validate_request(items)
    result = AddResult(session=session)
    seen: set[str] = set()
    accepted: list[tuple[int, PackageData, str]] = []
    checks: dict[int, barcodes.BarcodeCheck] = {}
    for i, item in enumerate(items):
        checked = item.checked or barcodes.check(item.barcode, item.symbology)
        if checked.rejected is not None:
            # Reported as sent, so the client can match it to its own input.
            result.rejected.append(dataclasses.replace(checked.rejected, barcode=item.barcode))
        elif checked.barcode in seen:
            # Canonical codes: the QR and the Code 128 of one label are one package.
            result.duplicates.append(checked.barcode)
        else:
            seen.add(checked.barcode)
            checks[i] = checked
            accepted.append((i, item, checked.barcode))
    existing = await uow.packages.existing_barcodes(session.id, [code for _, _, code in accepted])
    fresh = [(i, item, code) for i, item, code in accepted if code not in existing]
    result.duplicates.extend(code for _, _, code in accepted if code in existing)
    indexed = [(i, item) for i, item, _ in fresh]
    # Deliverers first: a refused deliverer must refuse before any row is inserted.
    deliverer_rows = await _deliverers_for(uow, session, indexed)
    address_ids = await _addresses_for(uow, session, indexed)
    added: list[dict[str, Any]] = []
    for package_id, (i, item, code) in zip(new_ids(len(fresh)), fresh, strict=True):
        address_id = address_ids.get(i)
        deliverer = deliverer_rows.get(item.deliverer_id) if item.deliverer_id else None
        checked = checks[i]
        package = NewPackage(
            id=package_id,
            barcode=code,
            symbology=item.symbology or _guessed_symbology(checked),
            carrier=checked.carrier,
            raw_text=checked.raw_text,
            recipient_name=(item.recipient_name or "").strip() or None,
            recipient_from_label=item.recipient_from_label,
            address_id=address_id,
            deliverer_id=deliverer.id if deliverer else None,
            scan_report=item.scan_report,
        )
        if deliverer is not None:
            deliverer.packages_assigned += 1
        result.new.append(package)
        added.append(
            {
                "packageId": str(package.id),
                "barcode": code,
                "symbology": package.symbology,
                "carrier": package.carrier,
                "addressId": str(address_id) if address_id else None,
                "delivererId": str(deliverer.id) if deliverer else None,
                "viaScan": item.scan_report is not None,
            }
        )
    uow.record_many(session, Action.PACKAGE_ADDED, actor.id, added)
    result.at = utcnow()
    await uow.packages.insert(session.id, result.new, result.at)
    await uow.flush()
    return result


def _guessed_symbology(checked: barcodes.BarcodeCheck) -> str | None:
    """A typed code's symbology, only where its digits say it: a valid GTIN of no carrier."""
    code = checked.barcode
    if checked.carrier is not None or not barcodes.gtin_check_digit_ok(code):
        return None
    return barcodes.guess_symbology(code)


def package_ref(p: SessionPackage) -> dict[str, Any]:
    """A package whole, as JSON: what a removal answers, now and on replays."""
    return {
        "id": str(p.id),
        "session_id": str(p.session_id),
        "barcode": p.barcode,
        "symbology": p.symbology,
        "carrier": p.carrier,
        "raw_text": p.raw_text,
        "status": p.status.value,
        "recipient_name": p.recipient_name,
        "recipient_from_label": p.recipient_from_label,
        "address_id": str(p.address_id) if p.address_id else None,
        "deliverer_id": str(p.deliverer_id) if p.deliverer_id else None,
        "failure_reason": p.failure_reason,
        "scan_report": p.scan_report,
        "created_at": p.created_at.isoformat(),
        "updated_at": p.updated_at.isoformat(),
        "delivered_at": p.delivered_at.isoformat() if p.delivered_at else None,
    }


def package_from_ref(data: dict[str, Any]) -> SessionPackage:
    """The detached package a `package_ref` describes (a removed package has no row)."""

    def when(v: str | None) -> datetime | None:
        return datetime.fromisoformat(v) if v else None

    return SessionPackage(
        id=uuid.UUID(data["id"]),
        session_id=uuid.UUID(data["session_id"]),
        barcode=data["barcode"],
        symbology=data["symbology"],
        # References stored before 0003 have no carrier, raw text nor label flag.
        carrier=data.get("carrier"),
        raw_text=data.get("raw_text"),
        status=DeliveryStatus(data["status"]),
        recipient_name=data["recipient_name"],
        recipient_from_label=bool(data.get("recipient_from_label", False)),
        address_id=uuid.UUID(data["address_id"]) if data["address_id"] else None,
        deliverer_id=uuid.UUID(data["deliverer_id"]) if data["deliverer_id"] else None,
        failure_reason=data["failure_reason"],
        scan_report=data["scan_report"],
        created_at=when(data["created_at"]),
        updated_at=when(data["updated_at"]),
        delivered_at=when(data["delivered_at"]),
    )


async def _package_in_locked_session(
    uow: UnitOfWork, actor: User, package_id: uuid.UUID, *, manage: bool
) -> tuple[SessionPackage, DeliverySession]:
    package = await uow.packages.get(package_id)
    if package is None:
        raise NotFound("package not found", id=str(package_id), code="PACKAGE_NOT_FOUND")
    if manage:
        session = await permissions.lock_for_change(uow, actor, package.session_id)
    else:
        session = await permissions.lock_visible(uow, actor, package.session_id)
    # Re-read under the session lock: it may have changed, or gone, since the first read.
    fresh = await uow.packages.reload(package_id)
    if fresh is None:
        raise NotFound("package not found", id=str(package_id), code="PACKAGE_NOT_FOUND")
    return fresh, session


async def remove_package(
    uow: UnitOfWork, actor: User, package_id: uuid.UUID
) -> tuple[SessionPackage, DeliverySession]:
    package, session = await _package_in_locked_session(uow, actor, package_id, manage=True)
    permissions.ensure_writable(session)
    if session.status is not SessionStatus.OPEN:
        raise InvalidTransition(
            "session", session.status.value, "remove package", code="SESSION_NOT_OPEN"
        )
    if package.address_id is not None:
        address = (await uow.addresses.get_many([package.address_id]))[0]
        address.package_count -= 1
    if package.deliverer_id is not None:
        deliverer = await uow.deliverers.get(package.deliverer_id)
        if deliverer is not None:
            deliverer.packages_assigned -= 1
    await uow.packages.delete(package)
    uow.record(
        session,
        Action.PACKAGE_REMOVED,
        actor.id,
        {"packageId": str(package.id), "barcode": package.barcode},
    )
    await uow.flush()
    return package, session


async def assign_packages(
    uow: UnitOfWork,
    actor: User,
    session_id: uuid.UUID,
    package_ids: Sequence[uuid.UUID],
    deliverer_id: uuid.UUID,
) -> tuple[list[SessionPackage], DeliverySession]:
    session = await permissions.lock_for_change(uow, actor, session_id)
    permissions.ensure_writable(session)
    if not package_ids:
        raise ValidationFailed(
            "packageIds must not be empty", field="packageIds", code="NOTHING_TO_ASSIGN"
        )
    if len(package_ids) > MAX_PACKAGES_PER_CALL:
        raise ValidationFailed(
            f"at most {MAX_PACKAGES_PER_CALL} packages per call",
            field="packageIds",
            code="TOO_MANY_PACKAGES",
            params={"max": str(MAX_PACKAGES_PER_CALL)},
        )
    target = await uow.deliverers.get(deliverer_id)
    if target is None or target.session_id != session.id:
        raise NotFound(
            "deliverer not found in this session",
            id=str(deliverer_id),
            code="DELIVERER_NOT_IN_SESSION",
        )
    unique_ids = list(dict.fromkeys(package_ids))
    packages = {p.id: p for p in await uow.packages.get_many(unique_ids)}
    for pid in unique_ids:
        p = packages.get(pid)
        if p is None or p.session_id != session.id:
            raise NotFound(
                "package not found in this session", id=str(pid), code="PACKAGE_NOT_FOUND"
            )
        if p.status in FINAL_DELIVERY_STATUSES:
            raise ValidationFailed(
                f"package {p.barcode} is already {p.status.value}",
                field="packageIds",
                code="PACKAGE_ALREADY_FINAL",
                params={"barcode": p.barcode, "status": p.status.value},
            )
    previous_ids = {p.deliverer_id for p in packages.values() if p.deliverer_id is not None}
    previous = {d.id: d for d in await uow.deliverers.get_many(sorted(previous_ids))}
    result: list[SessionPackage] = []
    for pid in unique_ids:
        p = packages[pid]
        result.append(p)
        if p.deliverer_id == target.id:
            continue
        before = p.deliverer_id
        if before is not None:
            previous[before].packages_assigned -= 1
        target.packages_assigned += 1
        p.deliverer_id = target.id
        uow.record(
            session,
            Action.PACKAGE_ASSIGNED,
            actor.id,
            {
                "packageId": str(p.id),
                "barcode": p.barcode,
                "before": {"delivererId": str(before) if before else None},
                "after": {"delivererId": str(target.id)},
            },
        )
    await uow.flush()
    return result, session


async def update_package_status(
    uow: UnitOfWork,
    actor: User,
    package_id: uuid.UUID,
    status: DeliveryStatus,
    reason: str | None,
    scan_report: dict[str, Any] | None = None,
    staged: proof.StagedProof | None = None,
) -> tuple[SessionPackage, DeliverySession]:
    package, session = await _package_in_locked_session(uow, actor, package_id, manage=False)
    permissions.ensure_writable(session)
    deliverer = await uow.deliverers.get(package.deliverer_id) if package.deliverer_id else None
    if not permissions.can_change_package(actor, session, deliverer):
        raise PermissionDenied(
            "deliverers can only change their own packages", code="NOT_YOUR_PACKAGE"
        )
    if session.status is not SessionStatus.ACTIVE:
        raise InvalidTransition(
            "session",
            session.status.value,
            "package status change",
            code="SESSION_NOT_ACTIVE",
        )
    ensure_package_transition(package.status, status)
    clean_reason = " ".join((reason or "").split()) or None
    if status is DeliveryStatus.FAILED and clean_reason is None:
        raise ValidationFailed(
            "a failed delivery needs a reason", field="reason", code="REASON_REQUIRED"
        )
    if clean_reason is not None and len(clean_reason) > 500:
        raise ValidationFailed(
            "reason is longer than 500 characters",
            field="reason",
            code="REASON_TOO_LONG",
            params={"max": "500"},
        )
    proof.ensure_requirement(session, status, staged)
    before = package.status
    package.status = status
    package.updated_at = utcnow()
    if scan_report is not None:
        package.scan_report = scan_report
    if status is DeliveryStatus.DELIVERED:
        package.delivered_at = package.updated_at
        if deliverer is not None:
            deliverer.packages_delivered += 1
            recompute_earnings(deliverer)
    elif status is DeliveryStatus.FAILED:
        package.failure_reason = clean_reason
        if deliverer is not None:
            deliverer.packages_failed += 1
    details: dict[str, Any] = {
        "packageId": str(package.id),
        "barcode": package.barcode,
        "before": {"status": before.value},
        "after": {"status": status.value},
    }
    if clean_reason is not None:
        # Free text may name the recipient ("a vizinha Maria recebeu"): it stays on the
        # package row, which retention anonymises; the audit log, which nothing may change,
        # only knows that a reason was given.
        details["reasonGiven"] = True
    if status in FINAL_DELIVERY_STATUSES:
        details["proofRequired"] = proof.requirement(session)
    if staged is not None:
        details["proof"] = proof.record(uow, session, package, status, staged)
    uow.record(session, Action.PACKAGE_STATUS_CHANGED, actor.id, details)
    await uow.flush()
    if status in FINAL_DELIVERY_STATUSES:
        await completion.complete_if_done(uow, session, actor)
    return package, session
