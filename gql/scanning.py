"""scanBarcode: a photo in (multipart upload), a ScanReport and maybe a package out."""

from __future__ import annotations

import hashlib
from typing import Annotated, Any

import strawberry
from strawberry.types import Info

from db.models import User
from domain import scanning
from domain.errors import DomainError, InvalidImage
from domain.uow import UnitOfWork
from gql import inputs as i
from gql.context import Context
from gql.errors import (
    Error,
    IdempotencyConflictError,
    ImageError,
    InvalidTransitionError,
    NotFoundError,
    PermissionDeniedError,
    ReadOnlySessionError,
    ValidationError,
    to_error,
)
from gql.runner import Ref, parse_uuid, run
from gql.types import DeliverySessionType, PackageType, ScanReport, scan_report_type

MAX_IMAGE_BYTES = 15 * 1024 * 1024


@strawberry.type
class OverloadedError(Error):
    """The scanner queue is full; retry later (the request changed nothing)."""


@strawberry.type
class ScanBarcodeSuccess:
    report: ScanReport
    package: PackageType | None
    session: DeliverySessionType


ScanBarcodeResult = Annotated[
    ScanBarcodeSuccess
    | NotFoundError
    | ImageError
    | ValidationError
    | InvalidTransitionError
    | ReadOnlySessionError
    | PermissionDeniedError
    | IdempotencyConflictError
    | OverloadedError,
    strawberry.union("ScanBarcodeResult"),
]


async def _read(upload: Any) -> bytes:
    # Read one byte past the limit: enough to know it is too large, never the whole of it.
    data = await upload.read(MAX_IMAGE_BYTES + 1)
    if len(data) > MAX_IMAGE_BYTES:
        raise InvalidImage("image exceeds 15 MB")
    return bytes(data)


async def scan_barcode(info: Info[Context, None], input: i.ScanBarcodeInput) -> Any:
    caller = await info.context.caller()
    services = info.context.services
    pool = services.scanner
    intent = input.intent or scanning.ScanIntent.IDENTIFY
    try:
        if pool is None:
            raise scanning.Overloaded()
        session_id = parse_uuid(input.session_id, "session")
        image = await _read(input.image)
        async with services.uow() as uow:
            expected = await scanning.check_scan_allowed(uow, caller, session_id, intent)
        report = await pool.scan(image, expected)
    except scanning.Overloaded as exc:
        return OverloadedError(message=exc.message)
    except DomainError as exc:
        return to_error(exc)

    payload = {
        "sessionId": str(session_id),
        "intent": intent.value,
        "image": hashlib.sha256(image).hexdigest(),
    }

    async def action(uow: UnitOfWork, actor: User) -> Ref:
        outcome = await scanning.apply_scan(uow, actor, session_id, intent, report)
        info.context.loaders.prime_session(outcome.session)
        if outcome.package is not None:
            info.context.loaders.packages.prime(outcome.package.id, outcome.package, force=True)
        return {
            "session": str(outcome.session.id),
            "package": str(outcome.package.id) if outcome.package else None,
            "report": outcome.report,
        }

    async def render(ref: Ref) -> ScanBarcodeSuccess:
        loaders = info.context.loaders
        session = await loaders.sessions.load(parse_uuid(ref["session"], "session"))
        assert session is not None
        package = None
        if ref["package"]:
            row = await loaders.packages.load(parse_uuid(ref["package"], "package"))
            package = PackageType.of(row) if row else None
        report_type = scan_report_type(ref["report"])
        assert report_type is not None
        return ScanBarcodeSuccess(
            report=report_type, package=package, session=DeliverySessionType(row=session)
        )

    return await run(info, "scanBarcode", payload, input.idempotency_key, action, render)
