"""Proof of delivery: what a deliverer gives with a final status change, and its rules.

Photos and the signature are processed (ocr/photo.py) and written to object storage *before*
the transaction (`domain/proof_uploads.py`), so no row lock is held during an upload; the
command then carries only keys, hashes and sizes, and the service here records them with the
status change. Objects whose transaction did not commit are deleted right away, and the
sweeper (`sweep`) removes any that a crash left behind.

The audit entry (and so live events and webhooks) carries that proof exists and the SHA-256
of each stored object: never a link, a key, the place or the recipient's name.
"""

from __future__ import annotations

import hashlib
import math
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import ocr
import storage
from db.base import utcnow
from db.enums import DeliveryStatus
from db.models import DeliverySession, PackageProof, ProofObject, SessionPackage, User
from domain import permissions
from domain.actions import Action
from domain.errors import ValidationFailed
from domain.uow import UnitOfWork

PREFIX = "proof/"
# The sweeper lists only the folders of the last days (keys start with the day they were
# stored), so its cost follows the recent uploads, not every proof ever kept.
SWEEP_DAYS = 3
PHOTO = "PHOTO"
SIGNATURE = "SIGNATURE"
MAX_NAME = 200
MAX_NOTE = 500


@dataclass(frozen=True)
class ProofConfig:
    """From the composition root: where proof goes and how photos are kept."""

    store: storage.ObjectStore
    link_ttl_s: int = 900
    longest_edge: int = 1600
    quality: int = 82
    max_photos: int = 4
    # Uncommitted objects younger than this are uploads still in flight: the sweeper waits.
    sweep_after_s: float = 3600.0


@dataclass(frozen=True)
class ProofData:
    """Proof as a front-end received it: raw uploads and what the phone said."""

    photos: tuple[bytes, ...] = ()
    signature: bytes | None = None
    received_by: str | None = None
    note: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    accuracy: float | None = None
    captured_at: datetime | None = None


@dataclass(frozen=True)
class StoredObject:
    key: str
    kind: str
    position: int
    sha256: str
    size: int
    width: int
    height: int
    content_type: str


@dataclass(frozen=True)
class StagedProof:
    """Proof whose objects are stored but not yet committed: what a command carries.

    `fingerprint` covers the uploads' own bytes (their hashes) and the fields, never the
    fresh keys, so a retry of the same proof is recognised as the same request.
    """

    uploads: tuple[str, ...]
    objects: tuple[StoredObject, ...] = ()
    received_by: str | None = None
    note: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    accuracy: float | None = None
    captured_at: datetime | None = None
    # False for a call known to be a replay: its files were not stored again.
    stored: bool = True

    @property
    def keys(self) -> list[str]:
        return [o.key for o in self.objects]

    def has(self, kind: str) -> bool:
        return any(o.kind == kind for o in self.objects) or (
            not self.stored and any(u.startswith(kind + ":") for u in self.uploads)
        )

    def fingerprint(self) -> dict[str, Any]:
        return {
            "uploads": list(self.uploads),
            "receivedBy": self.received_by,
            "note": self.note,
            "place": [self.latitude, self.longitude, self.accuracy],
            "capturedAt": self.captured_at.isoformat() if self.captured_at else None,
        }


def _text(value: str | None, name: str, limit: int) -> str | None:
    cleaned = " ".join((value or "").split()) or None
    if cleaned is not None and len(cleaned) > limit:
        raise ValidationFailed(
            f"{name} is longer than {limit} characters",
            field=f"proof.{name}",
            code="PROOF_TEXT_TOO_LONG",
            params={"field": name, "max": str(limit)},
        )
    return cleaned


def _finite(value: float | None, lo: float, hi: float, name: str) -> float | None:
    if value is None:
        return None
    if not math.isfinite(value) or not lo <= value <= hi:
        raise ValidationFailed(
            f"{name} is out of range", field=f"proof.location.{name}", code="PROOF_BAD_LOCATION"
        )
    return float(value)


def check(data: ProofData, config: ProofConfig) -> ProofData:
    """The fields cleaned and checked, before any image is decoded."""
    if len(data.photos) > config.max_photos:
        raise ValidationFailed(
            f"at most {config.max_photos} photos per proof",
            field="proof.photos",
            code="PROOF_TOO_MANY_PHOTOS",
            params={"max": str(config.max_photos)},
        )
    latitude = _finite(data.latitude, -90, 90, "latitude")
    longitude = _finite(data.longitude, -180, 180, "longitude")
    if (latitude is None) != (longitude is None):
        raise ValidationFailed(
            "a place needs both latitude and longitude",
            field="proof.location",
            code="PROOF_BAD_LOCATION",
        )
    return ProofData(
        photos=data.photos,
        signature=data.signature,
        received_by=_text(data.received_by, "receivedBy", MAX_NAME),
        note=_text(data.note, "note", MAX_NOTE),
        latitude=latitude,
        longitude=longitude,
        accuracy=_finite(data.accuracy, 0, 1e7, "accuracy"),
        captured_at=data.captured_at,
    )


def upload_ids(data: ProofData) -> tuple[str, ...]:
    """What identifies the uploads of a request: kind and SHA-256 of each file as sent."""
    ids = [f"{PHOTO}:{hashlib.sha256(p).hexdigest()}" for p in data.photos]
    if data.signature is not None:
        ids.append(f"{SIGNATURE}:{hashlib.sha256(data.signature).hexdigest()}")
    return tuple(ids)


def day_prefix(day: datetime) -> str:
    return f"{PREFIX}{day:%Y%m%d}/"


def new_key(session_id: uuid.UUID, encoded: ocr.Encoded, now: datetime | None = None) -> str:
    # A fresh random name per object: keys are never reused, even for the same bytes.
    return f"{day_prefix(now or utcnow())}{session_id}/{uuid.uuid4().hex}.{encoded.extension}"


def ensure_requirement(
    session: DeliverySession, status: DeliveryStatus, staged: StagedProof | None
) -> None:
    """A session may require a photo and/or a signature to mark a package DELIVERED."""
    if status is not DeliveryStatus.DELIVERED:
        return
    if session.proof_requires_photo and (staged is None or not staged.has(PHOTO)):
        raise ValidationFailed(
            "this session requires a photo to mark a package delivered",
            field="proof.photos",
            code="PROOF_PHOTO_REQUIRED",
        )
    if session.proof_requires_signature and (staged is None or not staged.has(SIGNATURE)):
        raise ValidationFailed(
            "this session requires the recipient's signature to mark a package delivered",
            field="proof.signature",
            code="PROOF_SIGNATURE_REQUIRED",
        )


def requirement(session: DeliverySession) -> dict[str, bool]:
    return {"photo": session.proof_requires_photo, "signature": session.proof_requires_signature}


def record(
    uow: UnitOfWork,
    session: DeliverySession,
    package: SessionPackage,
    status: DeliveryStatus,
    staged: StagedProof,
) -> dict[str, Any]:
    """Adds the proof rows; returns what the audit entry says of them (no personal data)."""
    if status not in (DeliveryStatus.DELIVERED, DeliveryStatus.FAILED):
        raise ValidationFailed(
            "proof goes with DELIVERED or FAILED", field="proof", code="PROOF_NOT_ALLOWED"
        )
    if not staged.stored:
        # A replay was expected but the stored result is gone (purged): send the files again.
        raise ValidationFailed(
            "the proof files must be sent again", field="proof", code="PROOF_RESEND"
        )
    row = PackageProof(
        id=uuid.uuid4(),
        session_id=session.id,
        package_id=package.id,
        status=status.value,
        received_by=staged.received_by,
        note=staged.note,
        latitude=staged.latitude,
        longitude=staged.longitude,
        accuracy_m=staged.accuracy,
        captured_at=staged.captured_at,
        created_at=utcnow(),
    )
    objects = [
        ProofObject(
            id=uuid.uuid4(),
            proof_id=row.id,
            session_id=session.id,
            kind=o.kind,
            position=o.position,
            key=o.key,
            sha256=o.sha256,
            size=o.size,
            width=o.width,
            height=o.height,
            content_type=o.content_type,
            created_at=row.created_at,
        )
        for o in staged.objects
    ]
    uow.proofs.add(row, objects)
    return summary(staged)


def summary(staged: StagedProof) -> dict[str, Any]:
    """Proof as events tell it: that it exists and the stored objects' hashes."""
    return {
        "photos": [
            {"sha256": o.sha256, "bytes": o.size} for o in staged.objects if o.kind == PHOTO
        ],
        "signature": next(
            ({"sha256": o.sha256, "bytes": o.size} for o in staged.objects if o.kind == SIGNATURE),
            None,
        ),
        "hasPlace": staged.latitude is not None,
        "hasReceiver": staged.received_by is not None,
    }


async def set_requirement(
    uow: UnitOfWork, actor: User, session_id: uuid.UUID, photo: bool, signature: bool
) -> DeliverySession:
    session = await permissions.lock_for_change(uow, actor, session_id)
    permissions.ensure_writable(session)
    before = requirement(session)
    session.proof_requires_photo = photo
    session.proof_requires_signature = signature
    after = requirement(session)
    if before != after:
        uow.record(
            session,
            Action.SESSION_PROOF_REQUIREMENT_CHANGED,
            actor.id,
            {"before": {"proofRequired": before}, "after": {"proofRequired": after}},
        )
    await uow.flush()
    return session


async def unknown(uow: UnitOfWork, keys: list[str]) -> list[str]:
    """The keys no proof row names: the only objects that may ever be deleted."""
    known = await uow.proofs.known_keys(keys)
    return [k for k in keys if k not in known]


async def sweep(uow: UnitOfWork, config: ProofConfig, now: datetime | None = None) -> list[str]:
    """Deletes stored proof objects that no committed row names, once old enough that no
    upload can still be on its way to a commit. Returns the keys deleted.

    Looks at the folders of the last SWEEP_DAYS days only (the worker sweeps every 10
    minutes); orphans of a longer outage stay, harmless, until removed by hand."""
    moment = now or utcnow()
    cutoff = moment - timedelta(seconds=config.sweep_after_s)
    old: list[str] = []
    for back in range(SWEEP_DAYS):
        listed = await config.store.list_prefix(day_prefix(moment - timedelta(days=back)))
        old += [o.key for o in listed if o.modified <= cutoff]
    removed: list[str] = []
    for start in range(0, len(old), 500):
        for key in await unknown(uow, old[start : start + 500]):
            await config.store.delete(key)
            removed.append(key)
    return removed
