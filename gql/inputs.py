"""Input types of the contract."""

from __future__ import annotations

from decimal import Decimal

import strawberry
from strawberry.file_uploads import Upload

from gql.proof import ProofInput
from gql.types import DeliveryStatus, Role, ScanIntent


@strawberry.input(
    description="A Brazilian address: a `line`, or its parts (at least `street`), or both. "
    'Equal addresses of a session (case, accents, "R."/"Rua", "nº", the CEP\'s dash '
    "aside) share one Address."
)
class AddressInput:
    line: str | None = strawberry.field(
        default=None, description="The whole address; built from the parts when omitted."
    )
    street: str | None = strawberry.field(
        default=None, description='Street with its type: "Rua das Flores", "Av. Paulista".'
    )
    number: str | None = strawberry.field(
        default=None, description='House number; null or "s/n" when there is none.'
    )
    complement: str | None = strawberry.field(default=None, description="Flat, block, floor.")
    neighbourhood: str | None = strawberry.field(default=None, description="Bairro.")
    city: str | None = None
    state: str | None = strawberry.field(default=None, description="UF: SP, RJ, MG, ...")
    postal_code: str | None = strawberry.field(
        default=None, description="CEP, 8 digits, with or without the dash (00000-000)."
    )
    latitude: float | None = strawberry.field(
        default=None, description="With longitude: the caller's own pin (precision MANUAL)."
    )
    longitude: float | None = None


@strawberry.input
class PackageInput:
    barcode: str
    recipient_name: str | None = None
    address: AddressInput | None = None
    deliverer_id: strawberry.ID | None = None
    symbology: str | None = strawberry.field(
        default=None,
        description="What a decoder read the code as (EAN13, CODE128, QRCODE, ...); null for "
        "a typed code. EAN/UPC (and ITF-14) codes must pass the GTIN check; typed ones need not.",
    )


@strawberry.input
class CreateUserInput:
    name: str
    role: Role
    telegram_id: str | None = None


@strawberry.input
class CreateSessionInput:
    name: str
    idempotency_key: str | None = None


@strawberry.input
class SessionActionInput:
    session_id: strawberry.ID
    idempotency_key: str | None = None


@strawberry.input
class AddPackagesInput:
    session_id: strawberry.ID
    packages: list[PackageInput]
    idempotency_key: str | None = None


@strawberry.input
class PackageActionInput:
    package_id: strawberry.ID
    idempotency_key: str | None = None


@strawberry.input
class AddDelivererInput:
    session_id: strawberry.ID
    user_id: strawberry.ID
    base_salary: Decimal
    commission_per_delivery: Decimal
    idempotency_key: str | None = None


@strawberry.input
class AssignPackagesInput:
    session_id: strawberry.ID
    package_ids: list[strawberry.ID]
    deliverer_id: strawberry.ID
    idempotency_key: str | None = None


@strawberry.input
class UpdatePackageStatusInput:
    package_id: strawberry.ID
    status: DeliveryStatus
    reason: str | None = None
    proof: ProofInput | None = strawberry.field(
        default=None, description="With DELIVERED or FAILED; required by some sessions."
    )
    idempotency_key: str | None = None


@strawberry.input
class SetProofRequirementInput:
    session_id: strawberry.ID
    photo: bool = strawberry.field(description="A photo is needed to mark DELIVERED.")
    signature: bool = strawberry.field(description="A signature is needed to mark DELIVERED.")
    idempotency_key: str | None = None


@strawberry.input
class CompleteSessionInput:
    session_id: strawberry.ID
    force: bool | None = False
    idempotency_key: str | None = None


@strawberry.input
class ScanBarcodeInput:
    session_id: strawberry.ID
    image: Upload
    intent: ScanIntent | None = ScanIntent.IDENTIFY
    proof: ProofInput | None = strawberry.field(default=None, description="With DELIVER only.")
    idempotency_key: str | None = None


@strawberry.input(description="Whose recipient data to remove: one package, or one recipient.")
class ForgetRecipientInput:
    package_id: strawberry.ID | None = strawberry.field(
        default=None, description="This package's recipient only."
    )
    recipient_name: str | None = strawberry.field(
        default=None,
        description="Every package of this recipient (by name, case and spacing aside) in "
        "the sessions the caller manages.",
    )
    idempotency_key: str | None = None


@strawberry.input(description="A manager pins an address on the map.")
class SetAddressLocationInput:
    address_id: strawberry.ID
    latitude: float = strawberry.field(description="-90 to 90.")
    longitude: float = strawberry.field(description="-180 to 180.")
    idempotency_key: str | None = None
