"""Recipient data with a lifetime (LGPD): anonymisation on request and after retention.

What identifies a recipient is removed: their name, the address lines and place, the label
text kept with a scan, the free-text failure reason, who received the parcel, the proof's
place and note, and the proof photos and signature (their files are deleted by the proof
sweeper once their rows say so). What another law or the business needs stays: the financial
snapshot, the counts, statuses, times, tracking codes and the audit facts. The database
guards let exactly this through on read-only sessions (db/guards.py) and nothing else.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from db.base import utcnow
from db.guards import ANONYMIZED_KEY
from db.models import DeliverySession, SessionPackage, User
from domain import permissions
from domain.actions import Action
from domain.errors import NotFound, ValidationFailed
from domain.uow import UnitOfWork

RETENTION = "retention"
REQUEST = "request"


@dataclass
class Anonymized:
    packages: list[SessionPackage]
    sessions: list[uuid.UUID]


def recipient_key(name: str) -> str:
    """A recipient's name as matched: case and spacing aside."""
    return " ".join(name.split()).lower()


async def _anonymize(
    uow: UnitOfWork,
    session: DeliverySession,
    packages: Sequence[SessionPackage],
    actor: User | None,
    why: str,
) -> int:
    """Anonymises `packages` of the locked `session`, one audit entry each."""
    now = utcnow()
    fresh = [p for p in packages if p.anonymized_at is None]
    if not fresh:
        return 0
    address_ids = sorted({p.address_id for p in fresh if p.address_id is not None})
    for address in await uow.addresses.get_many(address_ids):
        if address.anonymized_at is None:
            address.line = ""
            address.city = None
            address.postal_code = None
            address.latitude = None
            address.longitude = None
            address.street = address.number = address.complement = None
            address.neighbourhood = address.state = None
            address.geo_precision = address.geo_provider = None
            address.geocoding_cache = None
            address.normalized_key = f"{ANONYMIZED_KEY}{address.id}"
            address.anonymized_at = now
    proofs, objects = await uow.proofs.for_anonymizing([p.id for p in fresh])
    for proof_row in proofs:
        if proof_row.anonymized_at is None:
            proof_row.received_by = None
            proof_row.note = None
            proof_row.latitude = None
            proof_row.longitude = None
            proof_row.accuracy_m = None
            proof_row.anonymized_at = now
    for obj in objects:
        obj.anonymized_at = now
    removed = {p.id: 0 for p in fresh}
    by_proof = {r.id: r.package_id for r in proofs}
    for obj in objects:
        removed[by_proof[obj.proof_id]] += 1
    for package in fresh:
        package.recipient_name = None
        # A FAILED package keeps that it had a reason (a CHECK), not the words.
        package.failure_reason = "" if package.failure_reason is not None else None
        package.raw_text = None
        package.scan_report = None
        package.anonymized_at = now
        # Facts only: which package, why, how many files go. Never what was removed.
        uow.record(
            session,
            Action.PACKAGE_ANONYMIZED,
            actor.id if actor else None,
            {"packageId": str(package.id), "why": why, "proofFiles": removed[package.id]},
        )
    await uow.flush()
    return len(fresh)


async def forget_recipient(
    uow: UnitOfWork,
    actor: User,
    *,
    package_id: uuid.UUID | None = None,
    recipient_name: str | None = None,
) -> Anonymized:
    """A manager's request: one package's recipient, or every package of one recipient (by
    name) in the sessions the manager runs, anonymised at once, whatever the session's state."""
    permissions.ensure_manager(actor)
    if (package_id is None) == (recipient_name is None):
        raise ValidationFailed(
            "give either packageId or recipientName", field="packageId", code="FORGET_WHICH"
        )
    if package_id is not None:
        package = await uow.packages.get(package_id)
        if package is None:
            raise NotFound("package not found", id=str(package_id), code="PACKAGE_NOT_FOUND")
        session = await permissions.lock_for_change(uow, actor, package.session_id)
        fresh = await uow.packages.reload(package_id)
        assert fresh is not None  # the session row lock keeps it
        await _anonymize(uow, session, [fresh], actor, REQUEST)
        return Anonymized([fresh], [session.id])
    key = recipient_key(recipient_name or "")
    if not key:
        raise ValidationFailed(
            "recipientName must not be empty", field="recipientName", code="NAME_EMPTY"
        )
    done: list[SessionPackage] = []
    sessions: list[uuid.UUID] = []
    # In id order: two requests locking the same sessions wait for each other, never deadlock.
    for session_id in await uow.packages.sessions_of_recipient(key):
        locked = await uow.lock_session(session_id)
        if locked is None or not permissions.can_manage(actor, locked):
            continue
        packages = await uow.packages.not_anonymized(session_id, recipient_name=key)
        if await _anonymize(uow, locked, packages, actor, REQUEST):
            done.extend(packages)
            sessions.append(session_id)
    if not done:
        raise NotFound("no package of this recipient in your sessions", code="RECIPIENT_NOT_FOUND")
    return Anonymized(done, sessions)


async def anonymize_expired(
    uow: UnitOfWork, retention_days: int, limit: int, now: datetime | None = None
) -> int:
    """The periodic task: sessions completed more than `retention_days` ago lose what
    identifies their recipients. At most `limit` sessions per run, oldest first."""
    if retention_days <= 0:
        return 0
    cutoff = (now or utcnow()) - timedelta(days=retention_days)
    count = 0
    for session_id in await uow.sessions.completed_before(cutoff, limit):
        locked = await uow.lock_session(session_id)
        if locked is None:
            continue
        count += await _anonymize(
            uow, locked, await uow.packages.not_anonymized(session_id), None, RETENTION
        )
    return count
