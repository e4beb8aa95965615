"""Proof of delivery in GraphQL: the input (multipart uploads), the types, fresh links."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import strawberry
from strawberry.file_uploads import Upload
from strawberry.types import Info

from db.models import PackageProof, ProofObject
from domain import proof
from domain.errors import InvalidImage, ValidationFailed
from gql.context import Context

MAX_UPLOAD_BYTES = 15 * 1024 * 1024


@strawberry.input(description="Where the phone was when the proof was taken.")
class LocationInput:
    latitude: float = strawberry.field(description="Degrees, -90..90.")
    longitude: float = strawberry.field(description="Degrees, -180..180.")
    accuracy: float | None = strawberry.field(
        default=None, description="Metres, as the phone says."
    )


@strawberry.input(
    description="Proof given with DELIVERED or FAILED: files as multipart uploads in the same "
    "request (GraphQL multipart request spec). Photos are stored re-encoded, without EXIF."
)
class ProofInput:
    photos: list[Upload] | None = strawberry.field(
        default=None, description="Photos of the delivery (JPEG, PNG, HEIC, ...)."
    )
    signature: Upload | None = strawberry.field(
        default=None, description="The recipient's signature drawn on the phone (PNG)."
    )
    received_by: str | None = strawberry.field(
        default=None, description="Who received it (at most 200 characters)."
    )
    note: str | None = strawberry.field(
        default=None, description="Anything the deliverer adds (at most 500 characters)."
    )
    location: LocationInput | None = strawberry.field(
        default=None, description="The phone's place; stored instead of the photo's GPS tag."
    )
    captured_at: datetime | None = strawberry.field(
        default=None, description="The phone's time when the proof was taken."
    )


async def _read(upload: Any) -> bytes:
    # One byte past the limit tells it is too large without reading all of it.
    data = await upload.read(MAX_UPLOAD_BYTES + 1)
    if len(data) > MAX_UPLOAD_BYTES:
        raise InvalidImage("image exceeds 15 MB")
    return bytes(data)


async def proof_data(value: ProofInput | None) -> proof.ProofData | None:
    if value is None:
        return None
    photos = tuple([await _read(p) for p in value.photos or []])
    signature = await _read(value.signature) if value.signature is not None else None
    loc = value.location
    return proof.ProofData(
        photos=photos,
        signature=signature,
        received_by=value.received_by,
        note=value.note,
        latitude=loc.latitude if loc else None,
        longitude=loc.longitude if loc else None,
        accuracy=loc.accuracy if loc else None,
        captured_at=value.captured_at,
    )


def config_of(info: Info[Context, None]) -> proof.ProofConfig:
    config = info.context.services.proof
    if config is None or info.context.services.photos is None:
        raise ValidationFailed(
            "proof storage is not configured on this server", field="proof", code="PROOF_DISABLED"
        )
    return config


@strawberry.type(description="A stored photo; the link expires (ask again for a fresh one).")
class ProofPhoto:
    url: str = strawberry.field(description="Minted for this answer; expires (BIPA_LINK_TTL).")
    width: int = strawberry.field(description="Pixels of the stored (re-encoded) photo.")
    height: int = strawberry.field(description="Pixels of the stored (re-encoded) photo.")
    sha256: str = strawberry.field(description="SHA-256 (hex) of the stored bytes.")


@strawberry.type(description="The signature as drawn; the link expires.")
class ProofSignature:
    url: str = strawberry.field(description="Minted for this answer; expires (BIPA_LINK_TTL).")
    sha256: str = strawberry.field(description="SHA-256 (hex) of the stored PNG.")


@strawberry.type(description="Where the phone was when the proof was taken.")
class ProofLocation:
    latitude: float = strawberry.field(description="Degrees.")
    longitude: float = strawberry.field(description="Degrees.")
    accuracy: float | None = strawberry.field(description="Metres, as the phone said.")


@strawberry.type(name="Proof", description="Proof of delivery (or of a failed attempt).")
class ProofType:
    status: str = strawberry.field(description="DELIVERED or FAILED: the change it came with.")
    photos: list[ProofPhoto] = strawberry.field(description="In the order they were sent.")
    signature: ProofSignature | None = strawberry.field(description="Null when none was given.")
    received_by: str | None = strawberry.field(description="Who received it, as typed.")
    note: str | None = strawberry.field(description="The deliverer's note.")
    location: ProofLocation | None = strawberry.field(description="Where the phone was.")
    captured_at: datetime | None = strawberry.field(description="The phone's time.")
    recorded_at: datetime = strawberry.field(description="When the server stored it.")


async def _link(info: Info[Context, None], config: proof.ProofConfig, key: str) -> str:
    url = await config.store.presign_get(key, config.link_ttl_s)
    if url.startswith("/"):  # the embedded store's links are served by this app
        request = info.context.request
        url = str(request.base_url).rstrip("/") + url
    return url


async def proof_type(
    info: Info[Context, None], row: PackageProof, objects: list[ProofObject]
) -> ProofType:
    config = info.context.services.proof
    photos: list[ProofPhoto] = []
    signature: ProofSignature | None = None
    for obj in objects:
        # Minted on every read: an old answer's link simply expires.
        url = await _link(info, config, obj.key) if config is not None else ""
        if obj.kind == proof.PHOTO:
            photos.append(
                ProofPhoto(url=url, width=obj.width, height=obj.height, sha256=obj.sha256)
            )
        else:
            signature = ProofSignature(url=url, sha256=obj.sha256)
    location = None
    if row.latitude is not None and row.longitude is not None:
        location = ProofLocation(
            latitude=row.latitude, longitude=row.longitude, accuracy=row.accuracy_m
        )
    return ProofType(
        status=row.status,
        photos=photos,
        signature=signature,
        received_by=row.received_by,
        note=row.note,
        location=location,
        captured_at=row.captured_at,
        recorded_at=row.created_at,
    )


async def package_proof(info: Info[Context, None], package_id: uuid.UUID) -> ProofType | None:
    found = await info.context.loaders.proofs.load(package_id)
    if found is None:
        return None
    return await proof_type(info, *found)
