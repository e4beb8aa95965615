"""GraphQL object types of the contract (schema.graphql).

Each type wraps a database row (strawberry.Private) and resolves links through the
per-operation DataLoaders, so a query's statement count does not grow with its size.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Awaitable
from dataclasses import dataclass
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
from domain import permissions, routes
from gql import pagination
from gql.context import Context
from gql.enums import DeliveryStatus, Role, SessionStatus
from gql.pagination import parse_id

if TYPE_CHECKING:
    from gql.proof import ProofType


def _id(value: uuid.UUID) -> strawberry.ID:
    return strawberry.ID(str(value))


@strawberry.enum(description="What read a code from a photo.")
class ScanMethod(enum.Enum):
    ZBAR = strawberry.enum_value("ZBAR", description="The ZBar bar code decoder (pyzbar).")
    ZXING = strawberry.enum_value("ZXING", description="The ZXing-C++ decoder (zxing-cpp).")
    OPENCV = strawberry.enum_value(
        "OPENCV", description="OpenCV's detector; never trusted alone for EAN/UPC."
    )
    OCR = strawberry.enum_value(
        "OCR", description="Tesseract reading the code printed under the bars."
    )
    MANIFEST_MATCH = strawberry.enum_value(
        "MANIFEST_MATCH",
        description="An uncertain read matched to the clearly closest code expected in the "
        "session (edit distance).",
    )


@strawberry.type(
    name="User", description="A person who uses Bipa: an admin, a manager or a deliverer."
)
class UserType:
    id: strawberry.ID = strawberry.field(description="Stable id (a UUID).")
    name: str = strawberry.field(description="Display name, as given at creation.")
    role: Role = strawberry.field(description="What the user may do; never changes.")
    telegram_id: str | None = strawberry.field(
        description="The Telegram user id the bot knows them by; null until they linked it."
    )
    created_at: datetime = strawberry.field(description="When the user was created (UTC).")


@strawberry.type(
    description="A user as the user list shows them: no token, no Telegram id, nothing "
    "personal beyond the name."
)
class UserSummary:
    id: strawberry.ID = strawberry.field(description="Stable id (a UUID): addDeliverer's userId.")
    name: str = strawberry.field(description="Display name.")
    role: Role = strawberry.field(description="What the user may do.")
    telegram_linked: bool = strawberry.field(
        description="True when the user can use the Telegram bot (an account is linked)."
    )

    @classmethod
    def of(cls, user: User) -> UserSummary:
        return cls(
            id=_id(user.id),
            name=user.name,
            role=user.role,
            telegram_linked=user.telegram_id is not None,
        )


@strawberry.type(description="A user in a page of users.")
class UserEdge:
    cursor: str = strawberry.field(description="Opaque position of this edge, for after/before.")
    node: UserSummary = strawberry.field(description="The user.")


@strawberry.type(description="A page of users, by name.")
class UserConnection:
    edges: list[UserEdge] = strawberry.field(description="The users of this page.")
    page_info: PageInfo = strawberry.field(description="Where this page sits in the list.")
    total_count: int = strawberry.field(
        description="Users with these filters, not only on this page."
    )


def user_type(user: User) -> UserType:
    return UserType(
        id=_id(user.id),
        name=user.name,
        role=user.role,
        telegram_id=user.telegram_id,
        created_at=user.created_at,
    )


@strawberry.type(description="How many packages of a session are in each status.")
class SessionProgress:
    total: int = strawberry.field(description="Packages in the session (the four counts summed).")
    pending: int = strawberry.field(description="Packages PENDING.")
    picked_up: int = strawberry.field(description="Packages PICKED_UP.")
    delivered: int = strawberry.field(description="Packages DELIVERED.")
    failed: int = strawberry.field(description="Packages FAILED.")
    percent: float = strawberry.field(
        description="Final packages (DELIVERED + FAILED) as a percentage of total, 0 to 100 "
        "with two decimals; 0 for an empty session."
    )


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


@strawberry.type(description="One decoder run on one view of the photo, in the order tried.")
class ScanAttempt:
    method: ScanMethod = strawberry.field(description="The decoder that ran.")
    variant: str = strawberry.field(
        description='The view of the photo it ran on (e.g. "clahe", "deblur", "rot15", "label").'
    )
    result: str | None = strawberry.field(
        description="The text it read; null when it read nothing."
    )
    elapsed_ms: float = strawberry.field(description="Milliseconds this attempt took.")


@strawberry.type(description="One code found on the photo.")
class ScanCode:
    code: str = strawberry.field(description="Canonical code (what packages are keyed by).")
    raw: str = strawberry.field(description="The text as decoded (a QR's JSON, case kept).")
    symbology: str = strawberry.field(
        description="The kind of symbol: EAN13, UPCA, CODE128, CODE39, ITF, QRCODE, DATAMATRIX, ..."
    )
    role: str = strawberry.field(
        description="TRACKING, INVOICE_KEY (NF-e), POSTAL_CODE (CEP), PRODUCT or OTHER."
    )
    carrier: str | None = strawberry.field(
        description="The carrier the code's format belongs to (e.g. CORREIOS); null when it "
        "names none."
    )
    confidence: float = strawberry.field(description="0 to 1: how sure the reading is.")


@strawberry.type(
    description="The recipient block read from the label's photo (Tesseract, ADD scans): a "
    "guess for a person to check."
)
class LabelRecipient:
    name: str | None = strawberry.field(description="Recipient's name; null when unread.")
    street: str | None = strawberry.field(description="Street with its type; null when unread.")
    number: str | None = strawberry.field(description="House number; null when unread or s/n.")
    complement: str | None = strawberry.field(description="Flat, block, floor; null when none.")
    neighbourhood: str | None = strawberry.field(description="Bairro; null when unread.")
    city: str | None = strawberry.field(description="City; null when unread.")
    state: str | None = strawberry.field(description="UF, two letters; null when unread.")
    postal_code: str | None = strawberry.field(description="CEP, 8 digits; null when unread.")
    confidence: float = strawberry.field(
        description="0 to 1; above 0.45 the block filled the new package's recipient and address."
    )


@strawberry.type(
    description="What was read from a scanned photo, how and how fast (kept on the package)."
)
class ScanReport:
    barcode: str | None = strawberry.field(
        description="The package's canonical code; null when nothing trustworthy was read."
    )
    symbology: str | None = strawberry.field(
        description="The symbol the barcode was read from; null when nothing was read."
    )
    method: ScanMethod | None = strawberry.field(
        description="What read the barcode; null when nothing was read."
    )
    confidence: float = strawberry.field(description="0 to 1; 0 when nothing was read.")
    elapsed_ms: float = strawberry.field(description="Milliseconds spent decoding in all.")
    attempts: list[ScanAttempt] = strawberry.field(
        description="Every decoder run, in the order tried."
    )
    raw_text: str | None = strawberry.field(
        description="The barcode's text as decoded (a QR's JSON, case kept); null when "
        "nothing was read."
    )
    carrier: str | None = strawberry.field(
        description="The carrier the barcode belongs to; null when unknown."
    )
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


@strawberry.type(
    name="Address",
    description="A delivery address of a session, shared by every package going there.",
)
class AddressType:
    row: strawberry.Private[SessionAddress]
    id: strawberry.ID = strawberry.field(description="Stable id (a UUID).")
    line: str = strawberry.field(
        description='As given, or built from the parts ("Rua X, 10, Apto 2 - Bairro").'
    )
    street: str | None = strawberry.field(description="Null for an address given as a line.")
    number: str | None = strawberry.field(description='House number; null for "s/n" or a line.')
    complement: str | None = strawberry.field(description="Flat, block, floor.")
    neighbourhood: str | None = strawberry.field(description="Bairro.")
    city: str | None = strawberry.field(description="City; null when not given.")
    state: str | None = strawberry.field(description="UF: two capital letters (SP, RJ, ...).")
    postal_code: str | None = strawberry.field(
        description="The CEP as people write it, 00000-000 (8 digits are stored)."
    )
    latitude: float | None = strawberry.field(
        description="WGS 84 degrees; null while the address is not placed."
    )
    longitude: float | None = strawberry.field(
        description="WGS 84 degrees; null while the address is not placed."
    )
    precision: GeoPrecision | None = strawberry.field(
        description="How the coordinates were found; null while the address is not placed."
    )
    provider: str | None = strawberry.field(
        description="Who found them: nominatim, photon, brasilapi, manual (a manager's pin), "
        "input (sent with the address)."
    )
    package_count: int = strawberry.field(description="Packages of the session going here.")

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


@strawberry.type(
    name="NextStop", description="Where a deliverer goes next, and what they hand over."
)
class NextStopType:
    stop: RouteStopType = strawberry.field(description="The stop, as its route planned it.")
    remaining: int = strawberry.field(
        description="Open stops left on the route, this one included."
    )
    address: AddressType | None = strawberry.field(
        description="Where it is (null once its recipient was forgotten)."
    )
    packages: list[PackageType] = strawberry.field(
        description="The deliverer's parcels still open at this stop."
    )


async def next_stop_type(info: Info[Context, None], row: SessionDeliverer) -> NextStopType | None:
    # Through the operation's loaders: every deliverer's next stop of one query is read in
    # one statement per kind (its packages, its address).
    loaders = info.context.loaders
    found = await routes.next_stop(row, loaders.packages.load_many, loaders.addresses.load)
    if found is None:
        return None
    return NextStopType(
        stop=RouteStopType.of(found.stop, False),
        remaining=found.remaining,
        address=AddressType.of(found.address) if found.address is not None else None,
        packages=[PackageType.of(p) for p in found.packages],
    )


@strawberry.type(
    name="SessionDeliverer",
    description="A deliverer taking part in one session, with their pay and counts there.",
)
class SessionDelivererType:
    row: strawberry.Private[SessionDeliverer]
    id: strawberry.ID = strawberry.field(
        description="This participation's id (what assignPackages and packages(delivererId) "
        "take), not the user's id: see user."
    )
    packages_assigned: int = strawberry.field(
        description="Packages given to this deliverer in the session."
    )
    packages_delivered: int = strawberry.field(description="Of those, DELIVERED.")
    packages_failed: int = strawberry.field(description="Of those, FAILED.")
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

    @strawberry.field(
        description="The first stop of the route with a parcel of this deliverer still open "
        "(null when there is no route or it is done)."
    )
    async def next_stop(self, info: Info[Context, None]) -> NextStopType | None:
        return await next_stop_type(info, self.row)

    @strawberry.field(description="The deliverer as a user.")
    def user(self, info: Info[Context, None]) -> UserType:
        loaded: User | None = self.row.__dict__.get("user")  # joined by the deliverer reads
        if loaded is not None:
            return user_type(loaded)
        return _later(_load_user(info, self.row.user_id))


@strawberry.type(
    name="AuditEntry",
    description="One recorded change of a session; the same facts webhooks and "
    "sessionEvents carry.",
)
class AuditEntryType:
    row: strawberry.Private[AuditEntry]

    @strawberry.field(
        description="1, 2, 3, ... per session, in commit order, without gaps: the resume "
        "point of sessionEvents(afterSequence)."
    )
    def sequence(self) -> int:
        return self.row.sequence

    @strawberry.field(
        description="What happened, e.g. session.created, package.added, "
        "package.status_changed, session.completed (the webhook event names)."
    )
    def action(self) -> str:
        return self.row.action

    @strawberry.field(
        description="Who did it; null when the system did (a background job, the operator's CLI)."
    )
    async def actor(self, info: Info[Context, None]) -> UserType | None:
        if self.row.actor_id is None:
            return None
        user = await info.context.loaders.users.load(self.row.actor_id)
        return user_type(user) if user else None

    @strawberry.field(
        description="The change as a JSON object (ids, codes, before/after statuses); never "
        "a recipient's personal data."
    )
    def details(self) -> JSON:
        return JSON(self.row.details)

    @strawberry.field(description="When the change committed (UTC).")
    def created_at(self) -> datetime:
        return self.row.created_at


@strawberry.type(description="One deliverer's line of a completed session's payroll.")
class DelivererEarnings:
    deliverer_id: strawberry.ID = strawberry.field(description="The SessionDeliverer id.")
    user_id: strawberry.ID = strawberry.field(description="The deliverer's User id.")
    name: str = strawberry.field(description="The deliverer's name at completion.")
    delivered: int = strawberry.field(description="Packages they DELIVERED.")
    failed: int = strawberry.field(description="Packages they FAILED.")
    base_salary: Decimal = strawberry.field(description="Fixed pay for the session.")
    commission: Decimal = strawberry.field(
        description="commissionPerDelivery * delivered, rounded half-up to cents."
    )
    total_earned: Decimal = strawberry.field(description="baseSalary + commission.")


@strawberry.type(description="What a deliverer must give to mark a package DELIVERED.")
class ProofRequirement:
    photo: bool = strawberry.field(description="At least one photo.")
    signature: bool = strawberry.field(description="The recipient's signature.")


@strawberry.type(description="The session's figures frozen at completion; amounts are in currency.")
class FinancialSnapshot:
    currency: str = strawberry.field(description="ISO 4217 code of every amount (BRL).")
    total_cost: Decimal | None = strawberry.field(
        description="What the session cost in pay; null for deliverers."
    )
    delivered: int = strawberry.field(description="Packages DELIVERED in the session.")
    failed: int = strawberry.field(description="Packages FAILED in the session.")
    computed_at: datetime = strawberry.field(description="When the session completed (UTC).")
    deliverers: list[DelivererEarnings] = strawberry.field(
        description="One line per deliverer; a deliverer sees only their own."
    )
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


_CURSOR = "Opaque position of this edge, for after/before."
_PAGE_INFO = "Where this page sits in the list."
_TOTAL = "Items in the whole list with these filters, not only on this page."


@strawberry.type(description="A package in a page of packages.")
class PackageEdge:
    cursor: str = strawberry.field(description=_CURSOR)
    node: Annotated[PackageType, strawberry.lazy("gql.types")] = strawberry.field(
        description="The package."
    )


@strawberry.type(description="A page of a session's packages, oldest first.")
class PackageConnection:
    edges: list[PackageEdge] = strawberry.field(description="The packages of this page.")
    page_info: PageInfo = strawberry.field(description=_PAGE_INFO)
    total_count: int = strawberry.field(description=_TOTAL)


@strawberry.type(description="An audit entry in a page of the audit log.")
class AuditEdge:
    cursor: str = strawberry.field(description=_CURSOR)
    node: AuditEntryType = strawberry.field(description="The entry.")


@strawberry.type(description="A page of a session's audit log, in sequence order.")
class AuditConnection:
    edges: list[AuditEdge] = strawberry.field(description="The entries of this page.")
    page_info: PageInfo = strawberry.field(description=_PAGE_INFO)
    total_count: int = strawberry.field(description="Entries in the session's audit log.")


@strawberry.type(
    name="DeliverySession",
    description="A day's (or a round's) deliveries: its packages, deliverers and their pay, "
    "run by its owner. Seen by its managers and by the deliverers added to it.",
)
class DeliverySessionType:
    row: strawberry.Private[DeliverySession]

    @strawberry.field(description="Stable id (a UUID).")
    def id(self) -> strawberry.ID:
        return _id(self.row.id)

    @strawberry.field(description="The name given at creation.")
    def name(self) -> str:
        return self.row.name

    @strawberry.field(description="Where the session is in its life.")
    def status(self) -> SessionStatus:
        return self.row.status

    @strawberry.field(description="The manager (or admin) who created it and runs it.")
    async def owner(self, info: Info[Context, None]) -> UserType:
        user = await info.context.loaders.users.load(self.row.owner_id)
        assert user is not None  # owner_id is a foreign key
        return user_type(user)

    @strawberry.field(description="True once COMPLETED or ARCHIVED: read-only history.")
    def is_readonly(self) -> bool:
        return self.row.status in enums.READONLY_SESSION_STATUSES

    @strawberry.field(description="True once reuseSession entered it again.")
    def was_reused(self) -> bool:
        return self.row.was_reused

    @strawberry.field(description="How many times reuseSession entered it again; 0 at first.")
    def reuse_count(self) -> int:
        return self.row.reuse_count

    @strawberry.field(description="When it was created (UTC).")
    def created_at(self) -> datetime:
        return self.row.created_at

    @strawberry.field(description="When it first became ACTIVE (UTC); null while OPEN.")
    def started_at(self) -> datetime | None:
        return self.row.started_at

    @strawberry.field(description="When it became COMPLETED (UTC); null before.")
    def completed_at(self) -> datetime | None:
        return self.row.completed_at

    @strawberry.field(description="When it became ARCHIVED (UTC); null before.")
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

    @strawberry.field(description="Its packages counted by status, as of this read.")
    async def progress(self, info: Info[Context, None]) -> SessionProgress:
        return progress_from_counts(await info.context.loaders.progress.load(self.row.id))

    @strawberry.field(
        description="Its packages, oldest first, filtered by every argument given: forward "
        "with first/after, backward with last/before. A deliverer sees all of the session's "
        "packages too."
    )
    async def packages(
        self,
        info: Info[Context, None],
        first: Annotated[
            int | None, strawberry.argument(description="Page size going forward (0-1000).")
        ] = 100,
        after: Annotated[
            str | None,
            strawberry.argument(description="Packages after this cursor (an endCursor)."),
        ] = None,
        status: Annotated[
            DeliveryStatus | None,
            strawberry.argument(description="Only packages in this status."),
        ] = None,
        deliverer_id: Annotated[
            strawberry.ID | None,
            strawberry.argument(
                description="Only packages assigned to this SessionDeliverer (its id, not "
                "the user's); an unknown id gives an empty page."
            ),
        ] = None,
        search: Annotated[
            str | None,
            strawberry.argument(
                description="Only packages whose code or recipient's name contains this "
                'text, case and accents aside ("joao" finds "João"); blank means no '
                "filter."
            ),
        ] = None,
        unassigned: Annotated[
            bool | None,
            strawberry.argument(
                description="true: only packages without a deliverer; false: only assigned "
                "ones; null: both."
            ),
        ] = None,
        last: Annotated[
            int | None,
            strawberry.argument(
                description="Page size going backward from the newest package or `before` "
                "(0-1000); takes precedence over `first`/`after`."
            ),
        ] = None,
        before: Annotated[
            str | None,
            strawberry.argument(description="Packages before this cursor (a startCursor)."),
        ] = None,
    ) -> PackageConnection:
        return await package_connection(
            info,
            self.row.id,
            pagination.time_window(first, after, last, before, "pkg", 100),
            PackageFilter(status, deliverer_id, search, unassigned),
        )

    @strawberry.field(description="The deliverers added to it, in the order they were added.")
    async def deliverers(self, info: Info[Context, None]) -> list[SessionDelivererType]:
        rows = await info.context.loaders.session_deliverers.load(self.row.id)
        viewer = info.context.viewer
        return [SessionDelivererType.of(r, viewer) for r in rows]

    @strawberry.field(description="The distinct delivery addresses of its packages, by line.")
    async def addresses(self, info: Info[Context, None]) -> list[AddressType]:
        rows = await info.context.loaders.session_addresses.load(self.row.id)
        return [AddressType.of(r) for r in rows]

    @strawberry.field(
        description="Its audit log, oldest first: forward with first/after, backward with "
        "last/before."
    )
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


@strawberry.type(
    name="Package",
    description="A parcel to deliver in one session, keyed by its canonical code.",
)
class PackageType:
    row: strawberry.Private[SessionPackage]
    id: strawberry.ID = strawberry.field(description="Stable id (a UUID).")
    barcode: str = strawberry.field(
        description="Canonical code: the same label read via its QR, its Code 128 or typed "
        "gives the same code."
    )
    symbology: str | None = strawberry.field(
        description="The symbol it was read from (EAN13, CODE128, QRCODE, ...); null when typed."
    )
    carrier: str | None = strawberry.field(
        description="CORREIOS, MERCADO_LIVRE, SHOPEE, JADLOG, AMAZON, LOGGI, POSTAL; null "
        "when the code says no carrier."
    )
    raw_text: str = strawberry.field(
        description="The code as read or typed (a QR's JSON or URL, case kept)."
    )
    status: DeliveryStatus = strawberry.field(description="Where the package is.")
    recipient_name: str | None = strawberry.field(
        description="Who it is for; null when not given or forgotten (forgetRecipient)."
    )
    recipient_from_label: bool = strawberry.field(
        description="The recipient and address were read from the label's photo."
    )
    failure_reason: str | None = strawberry.field(
        description="Why it FAILED, as the deliverer gave it; null otherwise."
    )
    created_at: datetime = strawberry.field(description="When it was added (UTC).")
    updated_at: datetime = strawberry.field(description="When it last changed (UTC).")
    delivered_at: datetime | None = strawberry.field(
        description="When it became DELIVERED (UTC); null otherwise."
    )
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

    @strawberry.field(description="Where it goes; null when not given or forgotten.")
    def address(self, info: Info[Context, None]) -> AddressType | None:
        if self.row.address_id is None:
            return None
        loaded: SessionAddress | None = self.row.__dict__.get("address")  # joined by the page
        if loaded is not None:
            return AddressType.of(loaded)
        return _later(_load_address(info, self.row.address_id))

    @strawberry.field(description="Who it is assigned to; null while unassigned.")
    def deliverer(self, info: Info[Context, None]) -> SessionDelivererType | None:
        if self.row.deliverer_id is None:
            return None
        loaded: SessionDeliverer | None = self.row.__dict__.get("deliverer")
        if loaded is not None:
            return SessionDelivererType.of(loaded, info.context.viewer)
        return _later(_load_deliverer(info, self.row.deliverer_id))

    @strawberry.field(
        description="The report of the last scan that added or changed it; null when never scanned."
    )
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

    @strawberry.field(description="The session it belongs to.")
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


@strawberry.type(description="A session in a page of sessions.")
class SessionEdge:
    cursor: str = strawberry.field(description=_CURSOR)
    node: DeliverySessionType = strawberry.field(description="The session.")


@strawberry.type(description="A page of the sessions the caller may see, newest first.")
class SessionConnection:
    edges: list[SessionEdge] = strawberry.field(description="The sessions of this page.")
    page_info: PageInfo = strawberry.field(description=_PAGE_INFO)
    total_count: int = strawberry.field(description=_TOTAL)


def package_cursor(row: SessionPackage) -> str:
    return pagination.encode("pkg", row.created_at, row.id)


@dataclass(frozen=True)
class PackageFilter:
    """The filters of DeliverySession.packages."""

    status: DeliveryStatus | None = None
    deliverer_id: strawberry.ID | None = None
    search: str | None = None
    unassigned: bool | None = None


async def package_connection(
    info: Info[Context, None],
    session_id: uuid.UUID,
    window: pagination.Window,
    where: PackageFilter,
) -> PackageConnection:
    did = parse_id(where.deliverer_id)
    if where.deliverer_id is not None and did is None:
        return PackageConnection(
            edges=[], page_info=page_info([], more=False, previous=False), total_count=0
        )
    async with info.context.read() as uow:
        rows, total = await uow.packages.page(
            session_id,
            first=window.size,
            after=window.after,
            before=window.before,
            backward=window.backward,
            status=where.status,
            deliverer_id=did,
            search=" ".join((where.search or "").split())[:200] or None,
            unassigned=where.unassigned,
        )
    rows, more, previous = pagination.settle(rows, window)
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
        page_info=page_info([e.cursor for e in edges], more=more, previous=previous),
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
