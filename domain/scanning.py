"""Scanning a photo into a package action, with the decoding kept off the event loop.

Decoding is CPU-bound (ZBar, zxing-cpp, OpenCV, Tesseract): it runs in a bounded thread pool
with a bounded queue, so a burst of scans never stalls queries or subscriptions, and a full
queue answers "overloaded" at once instead of waiting without bound.
"""

from __future__ import annotations

import asyncio
import enum
import functools
import uuid
from collections.abc import Callable, Collection
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

import geo
import ocr
from db.enums import DeliveryStatus
from db.models import DeliverySession, SessionPackage, User
from domain import addresses, barcodes, packages, permissions, proof
from domain.errors import InvalidImage, NotFound, Overloaded, PermissionDenied, ValidationFailed
from domain.uow import UnitOfWork

T = TypeVar("T")


class ScanIntent(enum.StrEnum):
    IDENTIFY = "IDENTIFY"
    ADD = "ADD"
    PICK_UP = "PICK_UP"
    DELIVER = "DELIVER"


class ScanPool:
    def __init__(self, workers: int = 2, queue: int = 16, budget_s: float = 1.5) -> None:
        self.capacity = workers + queue
        self.budget_s = budget_s
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="scan")
        self._in_flight = 0

    @property
    def in_flight(self) -> int:
        """Photos being decoded or waiting for a thread (the queue's depth)."""
        return self._in_flight

    async def scan(
        self, image: bytes, expected: Collection[str], *, read_recipient: bool = False
    ) -> ocr.ScanReport:
        if self._in_flight >= self.capacity:
            raise Overloaded()
        self._in_flight += 1
        try:
            job = functools.partial(
                ocr.scan,
                image,
                frozenset(expected),
                budget_s=self.budget_s,
                read_recipient=read_recipient,
            )
            return await asyncio.get_running_loop().run_in_executor(self._executor, job)
        except ocr.ImageError as exc:
            raise InvalidImage(str(exc)) from None
        finally:
            self._in_flight -= 1

    async def call(self, job: Callable[[], T]) -> T:
        """Other image work (proof photos) in the same bounded pool, under the same rules."""
        if self._in_flight >= self.capacity:
            raise Overloaded()
        self._in_flight += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor, job)
        except ocr.ImageError as exc:
            raise InvalidImage(str(exc)) from None
        finally:
            self._in_flight -= 1

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


# Below this, the recipient read from a label is not trusted to fill a package.
MIN_RECIPIENT_CONFIDENCE = 0.45


def _package_from_scan(
    raw: str, report: ocr.ScanReport, data: dict[str, Any]
) -> packages.PackageData:
    """The package a scan adds: with the label's recipient and address when they were read
    well enough (a scan's request carries none of its own, so nothing is overwritten)."""
    found = report.recipient
    if found is None or found.confidence < MIN_RECIPIENT_CONFIDENCE:
        return packages.PackageData(raw, symbology=report.symbology, scan_report=data)
    address = None
    if found.street:
        # What OCR read that is not a CEP or a UF is left out rather than refusing the scan.
        state = (found.state or "").strip().upper()
        address = addresses.AddressData(
            street=found.street[: addresses.PART_MAX],
            number=(found.number or "")[: addresses.NUMBER_MAX] or None,
            complement=(found.complement or "")[: addresses.PART_MAX] or None,
            neighbourhood=(found.neighbourhood or "")[: addresses.PART_MAX] or None,
            city=(found.city or "")[: addresses.PART_MAX] or None,
            state=state if state in geo.UFS else None,
            postal_code=geo.cep_digits(found.postal_code),
        )
    name = (found.name or "")[:200] or None
    return packages.PackageData(
        raw,
        recipient_name=name,
        address=address,
        symbology=report.symbology,
        scan_report=data,
        recipient_from_label=name is not None or address is not None,
    )


@dataclass
class ScanOutcome:
    report: dict[str, Any]
    package: SessionPackage | None
    session: DeliverySession


async def check_scan_allowed(
    uow: UnitOfWork, actor: User, session_id: uuid.UUID, intent: ScanIntent
) -> list[str]:
    """Before spending CPU: may the actor scan here? Returns the session's barcodes."""
    session = await permissions.ensure_can_see(uow, actor, session_id)
    if intent is ScanIntent.ADD and not permissions.can_manage(actor, session):
        raise PermissionDenied(
            "only the session's managers can add packages", code="NOT_SESSION_MANAGER"
        )
    if intent in (ScanIntent.ADD, ScanIntent.PICK_UP, ScanIntent.DELIVER):
        permissions.ensure_writable(session)
    return await uow.packages.barcodes(session_id)


async def apply_scan(
    uow: UnitOfWork,
    actor: User,
    session_id: uuid.UUID,
    intent: ScanIntent,
    report: ocr.ScanReport,
    staged: proof.StagedProof | None = None,
) -> ScanOutcome:
    if staged is not None and intent is not ScanIntent.DELIVER:
        raise ValidationFailed("proof goes with DELIVER", field="proof", code="PROOF_NOT_ALLOWED")
    data = report.to_dict()
    if report.barcode is None:
        session = await permissions.lock_visible(uow, actor, session_id)
        return ScanOutcome(data, None, session)
    # The text as decoded (a QR's JSON, case kept) gives the canonical code packages hold.
    raw = report.raw_text or report.barcode
    code = barcodes.canonical(raw, report.symbology)
    if intent is ScanIntent.ADD:
        item = _package_from_scan(raw, report, data)
        result = await packages.add_packages(uow, actor, session_id, [item])
        if result.rejected:
            rejected = result.rejected[0]
            raise ValidationFailed(
                f"{report.barcode}: {rejected.reason}",
                field="image",
                code=rejected.code,
                params={"barcode": rejected.barcode, **rejected.params},
            )
        package = (
            result.added[0] if result.added else await uow.packages.by_barcode(session_id, code)
        )
        return ScanOutcome(data, package, result.session)
    session = await permissions.lock_visible(uow, actor, session_id)
    package = await uow.packages.by_barcode(session_id, code)
    if intent is ScanIntent.IDENTIFY:
        return ScanOutcome(data, package, session)
    if package is None:
        raise NotFound(
            f"package {report.barcode} is not in this session",
            id=report.barcode,
            code="PACKAGE_NOT_IN_SESSION",
            params={"barcode": report.barcode},
        )
    target = DeliveryStatus.PICKED_UP if intent is ScanIntent.PICK_UP else DeliveryStatus.DELIVERED
    package, session = await packages.update_package_status(
        uow, actor, package.id, target, None, scan_report=data, staged=staged
    )
    return ScanOutcome(data, package, session)
