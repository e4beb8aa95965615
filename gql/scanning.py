"""scanBarcode: a photo in (multipart upload), a ScanReport and maybe a package out."""

from __future__ import annotations

import hashlib
from typing import Annotated, Any

import strawberry
from strawberry.types import Info

from domain import commands, proof_uploads, scanning
from domain.errors import DomainError, InvalidImage, Overloaded, ValidationFailed
from gql import inputs as i
from gql.context import Context
from gql.errors import ERRORS, to_error
from gql.proof import config_of, proof_data
from gql.ratelimit import SCAN
from gql.runner import Renderer, parse_uuid, run
from gql.types import DeliverySessionType, PackageType, ScanReport, scan_report_type

MAX_IMAGE_BYTES = 15 * 1024 * 1024


@strawberry.type
class ScanBarcodeSuccess:
    report: ScanReport
    package: PackageType | None
    session: DeliverySessionType


ScanBarcodeResult = Annotated[ScanBarcodeSuccess | ERRORS, strawberry.union("ScanBarcodeResult")]


async def _read(upload: Any) -> bytes:
    # Read one byte past the limit: enough to know it is too large, never the whole of it.
    data = await upload.read(MAX_IMAGE_BYTES + 1)
    if len(data) > MAX_IMAGE_BYTES:
        raise InvalidImage("image exceeds 15 MB")
    return bytes(data)


async def scan_barcode(info: Info[Context, None], input: i.ScanBarcodeInput) -> Any:
    caller = await info.context.caller()
    # Decoding a photo costs CPU: tighter than other operations, per user.
    await info.context.limit(SCAN, str(caller.id))
    services = info.context.services
    intent = input.intent or scanning.ScanIntent.IDENTIFY
    try:
        if services.scanner is None:
            raise Overloaded()
        session_id = parse_uuid(input.session_id, "session")
        image = await _read(input.image)
        # A read before spending CPU: may the caller scan here? Also the session's codes.
        async with info.context.read() as uow:
            expected = await scanning.check_scan_allowed(uow, caller, session_id, intent)
        read_recipient = intent is scanning.ScanIntent.ADD
        report = await services.scanner.scan(image, expected, read_recipient=read_recipient)
    except DomainError as exc:
        return to_error(exc)

    async def render(r: Renderer) -> ScanBarcodeSuccess:
        package = None
        if r.ref["package"]:
            package = PackageType.of(await r.package(r.ref["package"]))
        report_type = scan_report_type(r.ref["report"])
        assert report_type is not None  # a report is always stored with the scan
        return ScanBarcodeSuccess(
            report=report_type, package=package, session=DeliverySessionType(row=await r.session())
        )

    image_hash = hashlib.sha256(image).hexdigest()
    if input.proof is None:
        command = commands.ApplyScan(session_id, intent, report, image_hash)
        return await run(info, lambda: command, input.idempotency_key, render)
    try:
        if intent is not scanning.ScanIntent.DELIVER:
            raise ValidationFailed(
                "proof goes with DELIVER", field="proof", code="PROOF_NOT_ALLOWED"
            )
        config = config_of(info)
        data = await proof_data(input.proof)
        assert data is not None and services.photos is not None
        done = await proof_uploads.run(
            services.runner,
            config,
            services.photos,
            caller,
            session_id,
            data,
            lambda staged: commands.ApplyScan(session_id, intent, report, image_hash, staged),
            input.idempotency_key,
        )
        return await render(Renderer(info, done))
    except DomainError as exc:
        return to_error(exc)
