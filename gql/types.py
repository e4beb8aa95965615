"""GraphQL object types of the contract (schema.graphql).

Each type wraps a database row (strawberry.Private) and resolves links through the
per-operation DataLoaders, so a query's statement count does not grow with its size.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Awaitable
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

import geo
from db import enums
from db.models import (
    AuditEntry,
    DeliverySession,
    SessionAddress,
    SessionDeliverer,
    SessionPackage,
    User,
)
from domain import permissions, scanning
from gql import pagination
from gql.context import Context
from gql.pagination import parse_id

if TYPE_CHECKING:
    from gql.proof import ProofType


def _id(value: uuid.UUID) -> strawberry.ID:
    return strawberry.ID(str(value))


# The domain's enums are the GraphQL enums: one definition, no value mapping to keep in step.
strawberry.enum(enums.Role, name="Role")  # registers the class itself
Role = enums.Role
strawberry.enum(enums.SessionStatus, name="SessionStatus")  # registers the class itself
SessionStatus = enums.SessionStatus
strawberry.enum(enums.DeliveryStatus, name="DeliveryStatus")  # registers the class itself
DeliveryStatus = enums.DeliveryStatus


@strawberry.enum
class ScanMethod(enum.Enum):
    ZBAR = "ZBAR"
    ZXING = "ZXING"
    OPENCV = "OPENCV"
    OCR = "OCR"
    MANIFEST_MATCH = "MANIFEST_MATCH"


strawberry.enum(scanning.ScanIntent, name="ScanIntent")  # registers the class itself
ScanIntent = scanning.ScanIntent


@strawberry.type(name="User")
class UserType:
    id: strawberry.ID
    name: str
    role: Role
    telegram_id: str | None
    created_at: datetime


def user_type(user: User) -> UserType:
    return UserType(
        id=_id(user.id),
        name=user.name,
        role=user.role,
        telegram_id=user.telegram_id,
        created_at=user.created_at,
    )


@strawberry.type
class SessionProgress:
    total: int
    pending: int
    picked_up: int
    delivered: int
    failed: int
    percent: float


def progress_from_counts(counts: dict[str, int]) -> SessionProgress:
    pending = counts.get("PENDING", 0)
    picked = counts.get("PICKED_UP", 0)
    delivered = counts.get("DELIVERED", 0)
    failed = counts.get("FAILED", 0)
    total = pending + picked + delivered + failed
    percent = round((delivered + failed) / total * 100, 2) if total else 0.0
    return SessionProgress(
        total=total,
        pending=pending,
        picked_up=picked,
        delivered=delivered,
        failed=failed,
        percent=percent,
    )


@strawberry.type(description="Where a page sits in its list (Relay cursor connections).")
class PageInfo:
    has_next_page: bool = strawberry.field(
        description="More items follow the last edge (page on with `first`/`after: endCursor`)."
    )
    has_previous_page: bool = strawberry.field(
        default=False,
        description="Items come before the first edge (page back with `last`/`before: "
        "startCursor` where the list allows it).",
    )
    start_cursor: str | None = strawberry.field(
        default=None, description="The cursor of the first edge; null when the page is empty."
    )
    end_cursor: str | None = strawberry.field(
        default=None, description="The cursor of the last edge; null when the page is empty."
    )


def page_info(cursors: list[str], *, more: bool, previous: bool) -> PageInfo:
    """`more`: items after the page; `previous`: items before it."""
    return PageInfo(
        has_next_page=more,
        has_previous_page=previous,
        start_cursor=cursors[0] if cursors else None,
        end_cursor=cursors[-1] if cursors else None,
    )


@strawberry.type
class ScanAttempt:
    method: ScanMethod
    variant: str
    result: str | None
    elapsed_ms: float


@strawberry.type
class ScanCode:
    code: str = strawberry.field(description="Canonical code (what packages are keyed by).")
    raw: str = strawberry.field(description="The text as decoded (a QR's JSON, case kept).")
    symbology: str
    role: str = strawberry.field(
        description="TRACKING, INVOICE_KEY (NF-e), POSTAL_CODE (CEP), PRODUCT or OTHER."
    )
    carrier: str | None
    confidence: float


@strawberry.type
class LabelRecipient:
    """The recipient block read from the label's photo (Tesseract): check it."""

    name: str | None
    street: str | None
    number: str | None
    complement: str | None
    neighbourhood: str | None
    city: str | None
    state: str | None
    postal_code: str | None
    confidence: float


@strawberry.type
class ScanReport:
    barcode: str | None = strawberry.field(
        description="The package's canonical code; null when nothing trustworthy was read."
    )
    symbology: str | None
    method: ScanMethod | None
    confidence: float
    elapsed_ms: float
    attempts: list[ScanAttempt]
    raw_text: str | None
    carrier: str | None
    codes: list[ScanCode] = strawberry.field(
        description="Every trustworthy code on the picture with its role (CEP, NF-e, ...)."
    )
    recipient: LabelRecipient | None = strawberry.field(
        description="Read from the label on ADD scans only."
    )


def scan_report_type(data: dict[str, Any] | None) -> ScanReport | None:
    if not data:
        return None
    method = data.get("method")
    return ScanReport(
        barcode=data.get("barcode"),
        symbology=data.get("symbology"),
        method=ScanMethod(method) if method else None,
        confidence=float(data.get("confidence", 0.0)),
        elapsed_ms=float(data.get("elapsedMs", 0.0)),
        attempts=[
            ScanAttempt(
                method=ScanMethod(a["method"]),
                variant=str(a.get("variant", "")),
                result=a.get("result"),
                elapsed_ms=float(a.get("elapsedMs", 0.0)),
            )
            for a in data.get("attempts", [])
        ],
        raw_text=data.get("rawText"),
        carrier=data.get("carrier"),
        codes=[
            ScanCode(
                code=str(c["code"]),
                raw=str(c.get("raw", c["code"])),
                symbology=str(c.get("symbology", "")),
                role=str(c.get("role", "OTHER")),
                carrier=c.get("carrier"),
                confidence=float(c.get("confidence", 0.0)),
            )
            for c in data.get("codes", _plain_codes(data))
        ],
        recipient=_label_recipient(data.get("recipient")),
    )


_RETAIL = frozenset({"EAN13", "EAN8", "UPCA", "UPCE"})


def _plain_codes(data: dict[str, Any]) -> list[dict[str, Any]]:
    """A stored report without ``codes`` read one plain code: its barcode (ocr.ScanReport)."""
    barcode = data.get("barcode")
    if not barcode:
        return []
    symbology = data.get("symbology") or ""
    role = "PRODUCT" if symbology in _RETAIL else "OTHER"
    return [
        {
            "code": barcode,
            "raw": barcode,
            "symbology": symbology,
            "role": role,
            "carrier": None,
            "confidence": data.get("confidence", 0.0),
        }
    ]


def _label_recipient(data: dict[str, Any] | None) -> LabelRecipient | None:
    if not data:
        return None
    return LabelRecipient(
        name=data.get("name"),
        street=data.get("street"),
        number=data.get("number"),
        complement=data.get("complement"),
        neighbourhood=data.get("neighbourhood"),
        city=data.get("city"),
        state=data.get("state"),
        postal_code=data.get("postalCode"),
        confidence=float(data.get("confidence", 0.0)),
    )


@strawberry.enum(name="GeoPrecision", description="How exactly coordinates place an address.")
class GeoPrecision(enum.Enum):
    ROOFTOP = strawberry.enum_value("ROOFTOP", description="The house number itself.")
    STREET = strawberry.enum_value("STREET", description="Somewhere on the street.")
    CEP = strawberry.enum_value("CEP", description="The CEP's centroid.")
    MANUAL = strawberry.enum_value(
        "MANUAL", description="Pinned by a person (setAddressLocation, or sent with the address)."
    )


@strawberry.type(name="Address")
class AddressType:
    row: strawberry.Private[SessionAddress]
    id: strawberry.ID
    line: str = strawberry.field(
        description='As given, or built from the parts ("Rua X, 10, Apto 2 - Bairro").'
    )
    street: str | None = strawberry.field(description="Null for an address given as a line.")
    number: str | None = strawberry.field(description='House number; null for "s/n" or a line.')
    complement: str | None = strawberry.field(description="Flat, block, floor.")
    neighbourhood: str | None = strawberry.field(description="Bairro.")
    city: str | None
    state: str | None = strawberry.field(description="UF: two capital letters (SP, RJ, ...).")
    postal_code: str | None = strawberry.field(
        description="The CEP as people write it, 00000-000 (8 digits are stored)."
    )
    latitude: float | None
    longitude: float | None
    precision: GeoPrecision | None = strawberry.field(
        description="How the coordinates were found; null while the address is not placed."
    )
    provider: str | None = strawberry.field(
        description="Who found them: nominatim, photon, brasilapi, manual (a manager's pin), "
        "input (sent with the address)."
    )
    package_count: int

    @classmethod
    def of(cls, row: SessionAddress) -> AddressType:
        # Plain fields, filled once: Strawberry's fast path, no resolver call per field.
        return cls(
            row=row,
            id=_id(row.id),
            line=row.line,
            street=row.street,
            number=row.number,
            complement=row.complement,
            neighbourhood=row.neighbourhood,
            city=row.city,
            state=row.state,
            postal_code=geo.format_cep(row.postal_code),
            latitude=row.latitude,
            longitude=row.longitude,
            precision=GeoPrecision(row.geo_precision) if row.geo_precision else None,
            provider=row.geo_provider,
            package_count=row.package_count,
        )


@strawberry.type(name="RouteStop", description="One stop of a deliverer's optimized route.")
class RouteStopType:
    data: strawberry.Private[dict[str, Any]]
    sequence: int = strawberry.field(description="1 for the first stop of the route.")
    done: bool = strawberry.field(
        description="Every package of the stop was finished before the route was last "
        "optimized: kept as it was."
    )
    eta: datetime = strawberry.field(description="Expected arrival, when it was optimized.")
    eta_offset_seconds: int = strawberry.field(description="Seconds after the route's start.")
    travel_seconds: int = strawberry.field(description="Driving time from the previous stop.")
    distance_meters: int = strawberry.field(description="Distance from the previous stop.")
    parcels: int = strawberry.field(description="Packages delivered at this stop.")
    package_ids: list[strawberry.ID] = strawberry.field(description="Those packages.")

    @classmethod
    def of(cls, data: dict[str, Any], done: bool) -> RouteStopType:
        return cls(
            data=data,
            sequence=int(data["sequence"]),
            done=done,
            eta=datetime.fromisoformat(data["eta"]),
            eta_offset_seconds=int(data["etaOffsetS"]),
            travel_seconds=int(data["travelS"]),
            distance_meters=int(data["distanceM"]),
            parcels=int(data["parcels"]),
            package_ids=[strawberry.ID(p) for p in data["packageIds"]],
        )

    @strawberry.field(description="Where the stop is (null once its recipient was forgotten).")
    def address(self, info: Info[Context, None]) -> AddressType | None:
        return _later(_load_address(info, uuid.UUID(self.data["addressId"])))


def route_stops(route: dict[str, Any] | None) -> list[RouteStopType]:
    """Finished stops first (as they were), then the open ones in the order to drive them."""
    if not route:
        return []
    done = [RouteStopType.of(s, True) for s in route.get("done", [])]
    return done + [RouteStopType.of(s, False) for s in route.get("stops", [])]


@strawberry.type(name="SessionDeliverer")
class SessionDelivererType:
    row: strawberry.Private[SessionDeliverer]
    id: strawberry.ID
    packages_assigned: int
    packages_delivered: int
    packages_failed: int
    base_salary: Decimal | None = strawberry.field(
        description="Null unless the caller manages the session or is this deliverer."
    )
    commission_per_delivery: Decimal | None = strawberry.field(
        description="Null unless the caller manages the session or is this deliverer."
    )
    total_earned: Decimal | None = strawberry.field(
        description="baseSalary + commissionPerDelivery * packagesDelivered; null unless the "
        "caller manages the session or is this deliverer."
    )

    @classmethod
    def of(cls, row: SessionDeliverer, viewer: User) -> SessionDelivererType:
        pay = permissions.can_see_pay(viewer, row.user_id)
        return cls(
            row=row,
            id=_id(row.id),
            packages_assigned=row.packages_assigned,
            packages_delivered=row.packages_delivered,
            packages_failed=row.packages_failed,
            base_salary=row.base_salary if pay else None,
            commission_per_delivery=row.commission_per_delivery if pay else None,
            total_earned=row.total_earned if pay else None,
        )

    @strawberry.field(
        description="The optimized route in order, with ETAs; empty until routes are optimized."
    )
    def route_stops(self) -> list[RouteStopType]:
        return route_stops(self.row.route)

    @strawberry.field
    def user(self, info: Info[Context, None]) -> UserType:
        loaded: User | None = self.row.__dict__.get("user")  # joined by the deliverer reads
        if loaded is not None:
            return user_type(loaded)
        return _later(_load_user(info, self.row.user_id))


@strawberry.type(name="AuditEntry")
class AuditEntryType:
    row: strawberry.Private[AuditEntry]

    @strawberry.field
    def sequence(self) -> int:
        return self.row.sequence

    @strawberry.field
    def action(self) -> str:
        return self.row.action

    @strawberry.field
    async def actor(self, info: Info[Context, None]) -> UserType | None:
        if self.row.actor_id is None:
            return None
        user = await info.context.loaders.users.load(self.row.actor_id)
        return user_type(user) if user else None

    @strawberry.field
    def details(self) -> JSON:
        return JSON(self.row.details)

    @strawberry.field
    def created_at(self) -> datetime:
        return self.row.created_at


@strawberry.type
class DelivererEarnings:
    deliverer_id: strawberry.ID
    user_id: strawberry.ID
    name: str
    delivered: int
    failed: int
    base_salary: Decimal
    commission: Decimal
    total_earned: Decimal


@strawberry.type(description="What a deliverer must give to mark a package DELIVERED.")
class ProofRequirement:
    photo: bool = strawberry.field(description="At least one photo.")
    signature: bool = strawberry.field(description="The recipient's signature.")


@strawberry.type
class FinancialSnapshot:
    currency: str
    total_cost: Decimal | None = strawberry.field(
        description="What the session cost in pay; null for deliverers."
    )
    delivered: int
    failed: int
    computed_at: datetime
    deliverers: list[DelivererEarnings]
    proof_required: ProofRequirement | None = strawberry.field(
        description="The proof a delivery had to carry in this session (null before proof "
        "of delivery existed)."
    )


def snapshot_type(data: dict[str, Any] | None) -> FinancialSnapshot | None:
    if not data:
        return None
    return FinancialSnapshot(
        currency=data["currency"],
        total_cost=Decimal(data["totalCost"]) if data.get("totalCost") is not None else None,
        delivered=int(data["delivered"]),
        failed=int(data["failed"]),
        computed_at=datetime.fromisoformat(data["computedAt"]),
        deliverers=[
            DelivererEarnings(
                deliverer_id=strawberry.ID(d["delivererId"]),
                user_id=strawberry.ID(d["userId"]),
                name=d["name"],
                delivered=int(d["delivered"]),
                failed=int(d["failed"]),
                base_salary=Decimal(d["baseSalary"]),
                commission=Decimal(d["commission"]),
                total_earned=Decimal(d["totalEarned"]),
            )
            for d in data["deliverers"]
        ],
        proof_required=ProofRequirement(
            photo=bool(data["proofRequired"]["photo"]),
            signature=bool(data["proofRequired"]["signature"]),
        )
        if data.get("proofRequired")
        else None,
    )


@strawberry.type
class PackageEdge:
    cursor: str
    node: Annotated[PackageType, strawberry.lazy("gql.types")]


@strawberry.type
class PackageConnection:
    edges: list[PackageEdge]
    page_info: PageInfo
    total_count: int


@strawberry.type
class AuditEdge:
    cursor: str
    node: AuditEntryType


@strawberry.type
class AuditConnection:
    edges: list[AuditEdge]
    page_info: PageInfo
    total_count: int


@strawberry.type(name="DeliverySession")
class DeliverySessionType:
    row: strawberry.Private[DeliverySession]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return _id(self.row.id)

    @strawberry.field
    def name(self) -> str:
        return self.row.name

    @strawberry.field
    def status(self) -> SessionStatus:
        return self.row.status

    @strawberry.field
    async def owner(self, info: Info[Context, None]) -> UserType:
        user = await info.context.loaders.users.load(self.row.owner_id)
        assert user is not None  # owner_id is a foreign key
        return user_type(user)

    @strawberry.field(description="True once COMPLETED or ARCHIVED: read-only history.")
    def is_readonly(self) -> bool:
        return self.row.status in enums.READONLY_SESSION_STATUSES

    @strawberry.field
    def was_reused(self) -> bool:
        return self.row.was_reused

    @strawberry.field
    def reuse_count(self) -> int:
        return self.row.reuse_count

    @strawberry.field
    def created_at(self) -> datetime:
        return self.row.created_at

    @strawberry.field
    def started_at(self) -> datetime | None:
        return self.row.started_at

    @strawberry.field
    def completed_at(self) -> datetime | None:
        return self.row.completed_at

    @strawberry.field
    def archived_at(self) -> datetime | None:
        return self.row.archived_at

    @strawberry.field(description="What a deliverer must give to mark a package DELIVERED.")
    def proof_requirement(self) -> ProofRequirement:
        return ProofRequirement(
            photo=self.row.proof_requires_photo, signature=self.row.proof_requires_signature
        )

    @strawberry.field(description="Sequence number of the newest audit entry of this session.")
    def last_sequence(self) -> int:
        return self.row.last_sequence

    @strawberry.field
    async def progress(self, info: Info[Context, None]) -> SessionProgress:
        return progress_from_counts(await info.context.loaders.progress.load(self.row.id))

    @strawberry.field
    async def packages(
        self,
        info: Info[Context, None],
        first: int | None = 100,
        after: str | None = None,
        status: DeliveryStatus | None = None,
        deliverer_id: strawberry.ID | None = None,
    ) -> PackageConnection:
        return await package_connection(info, self.row.id, first, after, status, deliverer_id)

    @strawberry.field
    async def deliverers(self, info: Info[Context, None]) -> list[SessionDelivererType]:
        rows = await info.context.loaders.session_deliverers.load(self.row.id)
        viewer = info.context.viewer
        return [SessionDelivererType.of(r, viewer) for r in rows]

    @strawberry.field
    async def addresses(self, info: Info[Context, None]) -> list[AddressType]:
        rows = await info.context.loaders.session_addresses.load(self.row.id)
        return [AddressType.of(r) for r in rows]

    @strawberry.field
    async def audit(
        self,
        info: Info[Context, None],
        first: Annotated[
            int | None, strawberry.argument(description="Page size going forward (0-1000).")
        ] = 100,
        after: Annotated[
            str | None, strawberry.argument(description="Entries after this cursor.")
        ] = None,
        last: Annotated[
            int | None,
            strawberry.argument(
                description="Page size going backward from the newest entry or `before` "
                "(0-1000); takes precedence over `first`/`after`."
            ),
        ] = None,
        before: Annotated[
            str | None, strawberry.argument(description="Entries before this cursor.")
        ] = None,
    ) -> AuditConnection:
        return await audit_connection(info, self.row.id, first, after, last, before)

    @strawberry.field(
        description="Null until COMPLETED; never changes afterwards. A deliverer sees only "
        "their own line, and no total."
    )
    def financial_snapshot(self, info: Info[Context, None]) -> FinancialSnapshot | None:
        data = self.row.financial_snapshot
        if not data:
            return None
        return snapshot_type(permissions.visible_pay(info.context.viewer, data))


@strawberry.type(name="Package")
class PackageType:
    row: strawberry.Private[SessionPackage]
    id: strawberry.ID
    barcode: str = strawberry.field(
        description="Canonical code: the same label read via its QR, its Code 128 or typed "
        "gives the same code."
    )
    symbology: str | None
    carrier: str | None = strawberry.field(
        description="CORREIOS, MERCADO_LIVRE, SHOPEE, JADLOG, AMAZON, LOGGI, POSTAL; null "
        "when the code says no carrier."
    )
    raw_text: str = strawberry.field(
        description="The code as read or typed (a QR's JSON or URL, case kept)."
    )
    status: DeliveryStatus
    recipient_name: str | None
    recipient_from_label: bool = strawberry.field(
        description="The recipient and address were read from the label's photo."
    )
    failure_reason: str | None
    created_at: datetime
    updated_at: datetime
    delivered_at: datetime | None
    anonymized_at: datetime | None = strawberry.field(
        default=None,
        description="When what identified the recipient was removed (LGPD); null until then.",
    )

    @classmethod
    def of(cls, row: SessionPackage) -> PackageType:
        return cls(
            row=row,
            id=_id(row.id),
            barcode=row.barcode,
            symbology=row.symbology,
            carrier=row.carrier,
            raw_text=row.raw_text or row.barcode,
            status=row.status,
            recipient_name=row.recipient_name,
            recipient_from_label=bool(row.recipient_from_label),
            failure_reason=row.failure_reason,
            created_at=row.created_at,
            updated_at=row.updated_at,
            delivered_at=row.delivered_at,
            anonymized_at=row.anonymized_at,
        )

    @strawberry.field
    def address(self, info: Info[Context, None]) -> AddressType | None:
        if self.row.address_id is None:
            return None
        loaded: SessionAddress | None = self.row.__dict__.get("address")  # joined by the page
        if loaded is not None:
            return AddressType.of(loaded)
        return _later(_load_address(info, self.row.address_id))

    @strawberry.field
    def deliverer(self, info: Info[Context, None]) -> SessionDelivererType | None:
        if self.row.deliverer_id is None:
            return None
        loaded: SessionDeliverer | None = self.row.__dict__.get("deliverer")
        if loaded is not None:
            return SessionDelivererType.of(loaded, info.context.viewer)
        return _later(_load_deliverer(info, self.row.deliverer_id))

    @strawberry.field
    def scan(self) -> ScanReport | None:
        return scan_report_type(self.row.scan_report)

    @strawberry.field(
        description="Proof given with the final status change, with fresh expiring links."
    )
    async def proof(
        self, info: Info[Context, None]
    ) -> Annotated[ProofType, strawberry.lazy("gql.proof")] | None:
        from gql.proof import package_proof

        return await package_proof(info, self.row.id)

    @strawberry.field
    async def session(self, info: Info[Context, None]) -> DeliverySessionType:
        row = await info.context.loaders.sessions.load(self.row.session_id)
        assert row is not None  # session_id is a foreign key
        return DeliverySessionType(row=row)


def _later(awaitable: Awaitable[Any]) -> Any:
    """Links already loaded resolve synchronously (no task per item); the rest go through
    the DataLoaders, whose awaitable graphql-core awaits for a sync resolver too."""
    return awaitable


async def _load_user(info: Info[Context, None], user_id: uuid.UUID) -> UserType:
    user = await info.context.loaders.users.load(user_id)
    assert user is not None  # user_id is a foreign key
    return user_type(user)


async def _load_address(info: Info[Context, None], address_id: uuid.UUID) -> AddressType | None:
    row = await info.context.loaders.addresses.load(address_id)
    return AddressType.of(row) if row else None


async def _load_deliverer(
    info: Info[Context, None], deliverer_id: uuid.UUID
) -> SessionDelivererType | None:
    row = await info.context.loaders.deliverers.load(deliverer_id)
    return SessionDelivererType.of(row, info.context.viewer) if row else None


@strawberry.type
class SessionEdge:
    cursor: str
    node: DeliverySessionType


@strawberry.type
class SessionConnection:
    edges: list[SessionEdge]
    page_info: PageInfo
    total_count: int


def package_cursor(row: SessionPackage) -> str:
    return pagination.encode("pkg", row.created_at, row.id)


async def package_connection(
    info: Info[Context, None],
    session_id: uuid.UUID,
    first: int | None,
    after: str | None,
    status: DeliveryStatus | None,
    deliverer_id: strawberry.ID | None,
) -> PackageConnection:
    size, cursor = pagination.time_page(first, after, "pkg", 100)
    did = parse_id(deliverer_id)
    if deliverer_id is not None and did is None:
        return PackageConnection(
            edges=[], page_info=page_info([], more=False, previous=False), total_count=0
        )
    async with info.context.read() as uow:
        rows, total = await uow.packages.page(
            session_id,
            first=size,
            after=cursor,
            status=status,
            deliverer_id=did,
        )
    more = len(rows) > size
    rows = rows[:size]
    loaders = info.context.loaders
    for r in rows:
        # Joined by the page query: the nested fields resolve without another statement.
        if r.address is not None:
            loaders.addresses.prime(r.address.id, r.address)
        if r.deliverer is not None:
            loaders.deliverers.prime(r.deliverer.id, r.deliverer)
    edges = [PackageEdge(cursor=package_cursor(r), node=PackageType.of(r)) for r in rows]
    return PackageConnection(
        edges=edges,
        page_info=page_info([e.cursor for e in edges], more=more, previous=after is not None),
        total_count=total,
    )


async def audit_connection(
    info: Info[Context, None],
    session_id: uuid.UUID,
    first: int | None,
    after: str | None,
    last: int | None = None,
    before: str | None = None,
) -> AuditConnection:
    """Forward (`first`/`after`) or, with `last` or `before`, backward from the newest entry
    (or from `before`). Sequences have no gaps, so both directions know exactly what lies
    beyond the page."""
    if last is not None or before is not None:
        size, before_sequence = pagination.sequence_page(last, before, "aud", 100, "before")
        async with info.context.read() as uow:
            rows = await uow.audit.before(session_id, before_sequence or None, size + 1)
            total = await uow.audit.count(session_id)
        earlier = len(rows) > size
        rows = rows[len(rows) - size :] if earlier else rows  # oldest first, as forward
        edges = _audit_edges(rows)
        more = bool(before_sequence) and before_sequence <= total
        previous = earlier
    else:
        size, after_sequence = pagination.sequence_page(first, after, "aud", 100)
        async with info.context.read() as uow:
            rows = await uow.audit.after(session_id, after_sequence, size + 1)
            total = await uow.audit.count(session_id)
        more = len(rows) > size
        edges = _audit_edges(rows[:size])
        previous = after_sequence > 0
    return AuditConnection(
        edges=edges,
        page_info=page_info([e.cursor for e in edges], more=more, previous=previous),
        total_count=total,
    )


def _audit_edges(rows: list[AuditEntry]) -> list[AuditEdge]:
    return [
        AuditEdge(cursor=pagination.encode("aud", r.sequence), node=AuditEntryType(row=r))
        for r in rows
    ]
