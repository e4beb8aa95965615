"""Input types of the contract."""

from __future__ import annotations

from decimal import Decimal

import strawberry
from strawberry.file_uploads import Upload

from gql.enums import DeliveryStatus, Role, ScanIntent
from gql.proof import ProofInput

IDEMPOTENCY_KEY = (
    "1 to 200 characters of the client's choosing, one per intended change: a retry with the "
    "same key and input within 24 hours answers the first result and changes nothing again; "
    "the same key with another input answers IdempotencyConflictError. Keys are per caller."
)
SESSION_ID = "The session's id."
# The `input` argument of a mutation: its meaning is on the input type and its fields.
INPUT = strawberry.argument(description="The request; each field is described on its type.")


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
    city: str | None = strawberry.field(default=None, description="City.")
    state: str | None = strawberry.field(default=None, description="UF: SP, RJ, MG, ...")
    postal_code: str | None = strawberry.field(
        default=None, description="CEP, 8 digits, with or without the dash (00000-000)."
    )
    latitude: float | None = strawberry.field(
        default=None, description="With longitude: the caller's own pin (precision MANUAL)."
    )
    longitude: float | None = strawberry.field(
        default=None, description="With latitude: the caller's own pin (precision MANUAL)."
    )


@strawberry.input(description="One package to add to a session.")
class PackageInput:
    barcode: str = strawberry.field(
        description="The code as read or typed; stored in canonical form (a label's QR, "
        "Code 128 or typed code give the same one)."
    )
    recipient_name: str | None = strawberry.field(
        default=None, description="Who it is for (at most 200 characters)."
    )
    address: AddressInput | None = strawberry.field(
        default=None, description="Where it goes; equal addresses share one Address."
    )
    deliverer_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="Assign it at once to this SessionDeliverer (its id, not the user's).",
    )
    symbology: str | None = strawberry.field(
        default=None,
        description="What a decoder read the code as (EAN13, CODE128, QRCODE, ...); null for "
        "a typed code. EAN/UPC (and ITF-14) codes must pass the GTIN check; typed ones need not.",
    )


@strawberry.input(description="A new user.")
class CreateUserInput:
    name: str = strawberry.field(description="Display name (1 to 200 characters).")
    role: Role = strawberry.field(
        description="ADMIN may create any role; a MANAGER only DELIVERER."
    )
    telegram_id: str | None = strawberry.field(
        default=None,
        description="Their numeric Telegram user id, so the bot knows them; the operator can "
        "link it later (bipa users link-telegram). Unique among users.",
    )
    idempotency_key: str | None = strawberry.field(
        default=None,
        description=IDEMPOTENCY_KEY + " A retry answers the same user and the same token "
        "(kept encrypted for the 24 hours, for this caller only).",
    )


@strawberry.input(description="A new delivery session.")
class CreateSessionInput:
    name: str = strawberry.field(description="Its name (1 to 200 characters).")
    idempotency_key: str | None = strawberry.field(default=None, description=IDEMPOTENCY_KEY)


@strawberry.input(description="A change of one session's status.")
class SessionActionInput:
    session_id: strawberry.ID = strawberry.field(description=SESSION_ID)
    idempotency_key: str | None = strawberry.field(default=None, description=IDEMPOTENCY_KEY)


@strawberry.input(description="Packages to add to one session.")
class AddPackagesInput:
    session_id: strawberry.ID = strawberry.field(description=SESSION_ID)
    packages: list[PackageInput] = strawberry.field(
        description="Each one added, reported as a duplicate or rejected on its own."
    )
    idempotency_key: str | None = strawberry.field(default=None, description=IDEMPOTENCY_KEY)


@strawberry.input(description="An action on one package.")
class PackageActionInput:
    package_id: strawberry.ID = strawberry.field(description="The package's id.")
    idempotency_key: str | None = strawberry.field(default=None, description=IDEMPOTENCY_KEY)


@strawberry.input(description="A deliverer joining a session, with their pay there.")
class AddDelivererInput:
    session_id: strawberry.ID = strawberry.field(description=SESSION_ID)
    user_id: strawberry.ID = strawberry.field(description="A user with role DELIVERER.")
    base_salary: Decimal = strawberry.field(
        description='Fixed pay for the session, in BRL, as a string ("150.00"); 0 or more.'
    )
    commission_per_delivery: Decimal = strawberry.field(
        description='Paid per DELIVERED package, in BRL, as a string ("2.50"); 0 or more.'
    )
    idempotency_key: str | None = strawberry.field(default=None, description=IDEMPOTENCY_KEY)


@strawberry.input(description="Packages given to one deliverer.")
class AssignPackagesInput:
    session_id: strawberry.ID = strawberry.field(description=SESSION_ID)
    package_ids: list[strawberry.ID] = strawberry.field(
        description="1 to 1000 packages of that session, none of them final; all are "
        "assigned or none."
    )
    deliverer_id: strawberry.ID = strawberry.field(
        description="The SessionDeliverer's id (not the user's)."
    )
    idempotency_key: str | None = strawberry.field(default=None, description=IDEMPOTENCY_KEY)


@strawberry.input(description="A package's next status.")
class UpdatePackageStatusInput:
    package_id: strawberry.ID = strawberry.field(description="The package's id.")
    status: DeliveryStatus = strawberry.field(
        description="PICKED_UP, DELIVERED or FAILED, as the package's state machine allows."
    )
    reason: str | None = strawberry.field(
        default=None, description="Why it FAILED: required with FAILED (at most 500 characters)."
    )
    proof: ProofInput | None = strawberry.field(
        default=None, description="With DELIVERED or FAILED; required by some sessions."
    )
    idempotency_key: str | None = strawberry.field(default=None, description=IDEMPOTENCY_KEY)


@strawberry.input(description="What proof a session asks for to mark a package DELIVERED.")
class SetProofRequirementInput:
    session_id: strawberry.ID = strawberry.field(description=SESSION_ID)
    photo: bool = strawberry.field(description="A photo is needed to mark DELIVERED.")
    signature: bool = strawberry.field(description="A signature is needed to mark DELIVERED.")
    idempotency_key: str | None = strawberry.field(default=None, description=IDEMPOTENCY_KEY)


@strawberry.input(description="Completing a session.")
class CompleteSessionInput:
    session_id: strawberry.ID = strawberry.field(description=SESSION_ID)
    force: bool | None = strawberry.field(
        default=False,
        description="Complete even with packages not final: those become FAILED. Without it "
        "such a session is refused.",
    )
    idempotency_key: str | None = strawberry.field(default=None, description=IDEMPOTENCY_KEY)


@strawberry.input(description="A photo of a label to read in a session.")
class ScanBarcodeInput:
    session_id: strawberry.ID = strawberry.field(
        description="The session whose packages guide the reading."
    )
    image: Upload = strawberry.field(
        description="The photo as a multipart upload (JPEG, PNG, ...; at most 15 MB and 40 "
        "megapixels)."
    )
    intent: ScanIntent | None = strawberry.field(
        default=ScanIntent.IDENTIFY, description="What the scan is for; IDENTIFY by default."
    )
    proof: ProofInput | None = strawberry.field(default=None, description="With DELIVER only.")
    idempotency_key: str | None = strawberry.field(default=None, description=IDEMPOTENCY_KEY)


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
    idempotency_key: str | None = strawberry.field(default=None, description=IDEMPOTENCY_KEY)


@strawberry.input(description="A manager pins an address on the map.")
class SetAddressLocationInput:
    address_id: strawberry.ID = strawberry.field(description="The Address's id.")
    latitude: float = strawberry.field(description="-90 to 90.")
    longitude: float = strawberry.field(description="-180 to 180.")
    idempotency_key: str | None = strawberry.field(default=None, description=IDEMPOTENCY_KEY)
