"""The Mutation root: each resolver builds one domain command and renders its answer."""

from __future__ import annotations

from typing import Annotated, Any

import strawberry
from strawberry.types import Info

from db.enums import DeliveryStatus
from domain import addresses, commands, packages, proof_uploads
from domain.errors import DomainError, NotFound, ValidationFailed
from gql import inputs as i
from gql.context import Context
from gql.errors import ERRORS, to_error
from gql.jobs import JobMutations
from gql.proof import config_of, proof_data
from gql.runner import Renderer, parse_uuid, run
from gql.scanning import ScanBarcodeResult, scan_barcode
from gql.types import (
    AddressType,
    DeliverySessionType,
    PackageType,
    SessionDelivererType,
    UserType,
    user_type,
)
from gql.webhooks import WebhookMutations


@strawberry.type
class CreateUserSuccess:
    user: UserType
    token: str = strawberry.field(description="Shown once; only its hash is stored.")


@strawberry.type
class SessionSuccess:
    session: DeliverySessionType


@strawberry.type
class RejectedBarcode:
    barcode: str = strawberry.field(description="As sent.")
    reason: str = strawberry.field(description="Why it was refused, in English.")
    code: str = strawberry.field(description="Stable reason, e.g. BARCODE_CHECK_DIGIT.")


@strawberry.type
class AddPackagesSuccess:
    session: DeliverySessionType
    added: list[PackageType]
    duplicates: list[str]
    rejected: list[RejectedBarcode]


@strawberry.type
class PackageSuccess:
    package: PackageType
    session: DeliverySessionType


@strawberry.type
class AddDelivererSuccess:
    deliverer: SessionDelivererType
    session: DeliverySessionType


@strawberry.type
class AssignPackagesSuccess:
    packages: list[PackageType]
    session: DeliverySessionType


@strawberry.type(description="What identified the recipient of these packages is gone.")
class ForgetRecipientSuccess:
    packages: list[PackageType]
    count: int = strawberry.field(description="Packages anonymised by this call.")


ForgetRecipientResult = Annotated[
    ForgetRecipientSuccess | ERRORS, strawberry.union("ForgetRecipientResult")
]
CreateUserResult = Annotated[CreateUserSuccess | ERRORS, strawberry.union("CreateUserResult")]
CreateSessionResult = Annotated[SessionSuccess | ERRORS, strawberry.union("CreateSessionResult")]
ReuseSessionResult = Annotated[SessionSuccess | ERRORS, strawberry.union("ReuseSessionResult")]
AddPackagesResult = Annotated[AddPackagesSuccess | ERRORS, strawberry.union("AddPackagesResult")]
RemovePackageResult = Annotated[PackageSuccess | ERRORS, strawberry.union("RemovePackageResult")]
AddDelivererResult = Annotated[AddDelivererSuccess | ERRORS, strawberry.union("AddDelivererResult")]
AssignPackagesResult = Annotated[
    AssignPackagesSuccess | ERRORS, strawberry.union("AssignPackagesResult")
]
StartSessionResult = Annotated[SessionSuccess | ERRORS, strawberry.union("StartSessionResult")]
PauseSessionResult = Annotated[SessionSuccess | ERRORS, strawberry.union("PauseSessionResult")]
ResumeSessionResult = Annotated[SessionSuccess | ERRORS, strawberry.union("ResumeSessionResult")]
UpdatePackageStatusResult = Annotated[
    PackageSuccess | ERRORS, strawberry.union("UpdatePackageStatusResult")
]
CompleteSessionResult = Annotated[
    SessionSuccess | ERRORS, strawberry.union("CompleteSessionResult")
]
ArchiveSessionResult = Annotated[SessionSuccess | ERRORS, strawberry.union("ArchiveSessionResult")]


@strawberry.type(description="The address's new place.")
class SetAddressLocationSuccess:
    address: AddressType
    session: DeliverySessionType


SetAddressLocationResult = Annotated[
    SetAddressLocationSuccess | ERRORS, strawberry.union("SetAddressLocationResult")
]
SetProofRequirementResult = Annotated[
    SessionSuccess | ERRORS, strawberry.union("SetProofRequirementResult")
]


def _address(a: i.AddressInput | None) -> addresses.AddressData | None:
    if a is None:
        return None
    return addresses.AddressData(
        line=a.line,
        city=a.city,
        postal_code=a.postal_code,
        latitude=a.latitude,
        longitude=a.longitude,
        street=a.street,
        number=a.number,
        complement=a.complement,
        neighbourhood=a.neighbourhood,
        state=a.state,
    )


def _package_data(p: i.PackageInput) -> packages.PackageData:
    deliverer = None
    if p.deliverer_id is not None:
        deliverer = parse_uuid(p.deliverer_id, "deliverer")
    return packages.PackageData(
        barcode=p.barcode,
        recipient_name=p.recipient_name,
        address=_address(p.address),
        deliverer_id=deliverer,
        symbology=(p.symbology or "").strip().upper()[:32] or None,
    )


async def _session_success(r: Renderer) -> SessionSuccess:
    return SessionSuccess(session=DeliverySessionType(row=await r.session()))


async def _package_success(r: Renderer) -> PackageSuccess:
    package = await r.package(r.ref["package"])
    return PackageSuccess(
        package=PackageType.of(package), session=DeliverySessionType(row=await r.session())
    )


def _session_command(command: type[commands.Command]) -> Any:
    """The resolver of a mutation whose input is a session id and whose success a session."""

    async def resolver(info: Info[Context, None], input: i.SessionActionInput) -> Any:
        return await run(
            info,
            lambda: command(parse_uuid(input.session_id, "session")),  # type: ignore[call-arg]
            input.idempotency_key,
            _session_success,
        )

    return resolver


_reuse = _session_command(commands.ReuseSession)
_start = _session_command(commands.StartSession)
_pause = _session_command(commands.PauseSession)
_resume = _session_command(commands.ResumeSession)
_archive = _session_command(commands.ArchiveSession)


async def _status_with_proof(info: Info[Context, None], input: i.UpdatePackageStatusInput) -> Any:
    """updatePackageStatus with proof: files processed and stored first, then the command; no
    object stays behind unless the change committed (domain/proof_uploads.py)."""
    caller = await info.context.caller()
    services = info.context.services
    try:
        if input.status not in (DeliveryStatus.DELIVERED, DeliveryStatus.FAILED):
            # Refused before any file is read or stored (the service says the same).
            raise ValidationFailed(
                "proof goes with DELIVERED or FAILED", field="proof", code="PROOF_NOT_ALLOWED"
            )
        config = config_of(info)
        package_id = parse_uuid(input.package_id, "package")
        data = await proof_data(input.proof)
        assert data is not None and services.photos is not None
        session_id = await services.runner.session_of(
            commands.UpdatePackageStatus(package_id, input.status)
        )
        if session_id is None:
            raise NotFound("package not found", id=str(package_id), code="PACKAGE_NOT_FOUND")
        done = await proof_uploads.run(
            services.runner,
            config,
            services.photos,
            caller,
            session_id,
            data,
            lambda staged: commands.UpdatePackageStatus(
                package_id, input.status, input.reason, proof=staged
            ),
            input.idempotency_key,
        )
        return await _package_success(Renderer(info, done))
    except DomainError as exc:
        return to_error(exc)


@strawberry.type
class Mutation(WebhookMutations, JobMutations):
    @strawberry.mutation(description="ADMIN: any role; MANAGER: DELIVERER only.")
    async def create_user(
        self, info: Info[Context, None], input: i.CreateUserInput
    ) -> CreateUserResult:
        async def render(r: Renderer) -> CreateUserSuccess:
            return CreateUserSuccess(
                user=user_type(r.done.rows["user"]), token=r.done.private["token"]
            )

        # No idempotency key: the token is shown once and only its hash is kept, so a replay
        # could not answer it again.
        return await run(
            info,
            lambda: commands.CreateUser(input.name, input.role, input.telegram_id),
            None,
            render,
        )

    @strawberry.mutation(description="A new OPEN session owned by the caller.")
    async def create_session(
        self, info: Info[Context, None], input: i.CreateSessionInput
    ) -> CreateSessionResult:
        return await run(
            info,
            lambda: commands.CreateSession(input.name),
            input.idempotency_key,
            _session_success,
        )

    @strawberry.mutation(description="Enter an OPEN (not started) session again.")
    async def reuse_session(
        self, info: Info[Context, None], input: i.SessionActionInput
    ) -> ReuseSessionResult:
        return await _reuse(info, input)

    @strawberry.mutation(description="OPEN, ACTIVE or PAUSED; never the same barcode twice.")
    async def add_packages(
        self, info: Info[Context, None], input: i.AddPackagesInput
    ) -> AddPackagesResult:
        def build() -> commands.AddPackages:
            return commands.AddPackages(
                parse_uuid(input.session_id, "session"),
                tuple(_package_data(p) for p in input.packages),
            )

        async def render(r: Renderer) -> AddPackagesSuccess:
            return AddPackagesSuccess(
                session=DeliverySessionType(row=await r.session()),
                added=[PackageType.of(await r.package(pid)) for pid in r.ref["added"]],
                duplicates=list(r.ref["duplicates"]),
                rejected=[
                    RejectedBarcode(barcode=x["barcode"], reason=x["reason"], code=x["code"])
                    for x in r.ref["rejected"]
                ],
            )

        return await run(info, build, input.idempotency_key, render)

    @strawberry.mutation(description="Only while the session is OPEN.")
    async def remove_package(
        self, info: Info[Context, None], input: i.PackageActionInput
    ) -> RemovePackageResult:
        async def render(r: Renderer) -> PackageSuccess:
            removed = packages.package_from_ref(r.ref["removed"])
            return PackageSuccess(
                package=PackageType.of(removed), session=DeliverySessionType(row=await r.session())
            )

        return await run(
            info,
            lambda: commands.RemovePackage(parse_uuid(input.package_id, "package")),
            input.idempotency_key,
            render,
        )

    @strawberry.mutation(description="Adds a DELIVERER user to the session with their pay.")
    async def add_deliverer(
        self, info: Info[Context, None], input: i.AddDelivererInput
    ) -> AddDelivererResult:
        def build() -> commands.AddDeliverer:
            return commands.AddDeliverer(
                parse_uuid(input.session_id, "session"),
                input.base_salary,
                input.commission_per_delivery,
                user_id=parse_uuid(input.user_id, "user"),
            )

        async def render(r: Renderer) -> AddDelivererSuccess:
            row = await r.deliverer(r.ref["deliverer"])
            return AddDelivererSuccess(
                deliverer=SessionDelivererType.of(row, info.context.viewer),
                session=DeliverySessionType(row=await r.session()),
            )

        return await run(info, build, input.idempotency_key, render)

    @strawberry.mutation(description="Gives packages that are not final to one deliverer.")
    async def assign_packages(
        self, info: Info[Context, None], input: i.AssignPackagesInput
    ) -> AssignPackagesResult:
        def build() -> commands.AssignPackages:
            return commands.AssignPackages(
                parse_uuid(input.session_id, "session"),
                tuple(parse_uuid(pid, "package") for pid in input.package_ids),
                parse_uuid(input.deliverer_id, "deliverer"),
            )

        async def render(r: Renderer) -> AssignPackagesSuccess:
            return AssignPackagesSuccess(
                packages=[PackageType.of(await r.package(pid)) for pid in r.ref["packages"]],
                session=DeliverySessionType(row=await r.session()),
            )

        return await run(info, build, input.idempotency_key, render)

    @strawberry.mutation(description="OPEN -> ACTIVE; needs at least one package.")
    async def start_session(
        self, info: Info[Context, None], input: i.SessionActionInput
    ) -> StartSessionResult:
        return await _start(info, input)

    @strawberry.mutation(description="ACTIVE -> PAUSED.")
    async def pause_session(
        self, info: Info[Context, None], input: i.SessionActionInput
    ) -> PauseSessionResult:
        return await _pause(info, input)

    @strawberry.mutation(description="PAUSED -> ACTIVE.")
    async def resume_session(
        self, info: Info[Context, None], input: i.SessionActionInput
    ) -> ResumeSessionResult:
        return await _resume(info, input)

    @strawberry.mutation(
        description="Only while ACTIVE; the last final package completes the session."
    )
    async def update_package_status(
        self, info: Info[Context, None], input: i.UpdatePackageStatusInput
    ) -> UpdatePackageStatusResult:
        if input.proof is not None:
            return await _status_with_proof(info, input)
        return await run(
            info,
            lambda: commands.UpdatePackageStatus(
                parse_uuid(input.package_id, "package"), input.status, input.reason
            ),
            input.idempotency_key,
            _package_success,
        )

    @strawberry.mutation(description="All packages final, or force: the open ones become FAILED.")
    async def complete_session(
        self, info: Info[Context, None], input: i.CompleteSessionInput
    ) -> CompleteSessionResult:
        return await run(
            info,
            lambda: commands.CompleteSession(
                parse_uuid(input.session_id, "session"), bool(input.force)
            ),
            input.idempotency_key,
            _session_success,
        )

    @strawberry.mutation(
        description="Managers: what proof marking a package DELIVERED needs in this session."
    )
    async def set_proof_requirement(
        self, info: Info[Context, None], input: i.SetProofRequirementInput
    ) -> SetProofRequirementResult:
        return await run(
            info,
            lambda: commands.SetProofRequirement(
                parse_uuid(input.session_id, "session"), input.photo, input.signature
            ),
            input.idempotency_key,
            _session_success,
        )

    @strawberry.mutation(
        description="Managers: pin an address the geocoders could not place (or placed "
        "badly); its precision becomes MANUAL. Audited as address.located, without the "
        "coordinates."
    )
    async def set_address_location(
        self, info: Info[Context, None], input: i.SetAddressLocationInput
    ) -> SetAddressLocationResult:
        async def render(r: Renderer) -> SetAddressLocationSuccess:
            row = await info.context.loaders.addresses.load(parse_uuid(r.ref["address"], "address"))
            if row is None:
                raise NotFound("address not found", id=r.ref["address"], code="ADDRESS_NOT_FOUND")
            return SetAddressLocationSuccess(
                address=AddressType.of(row), session=DeliverySessionType(row=await r.session())
            )

        return await run(
            info,
            lambda: commands.SetAddressLocation(
                parse_uuid(input.address_id, "address"), input.latitude, input.longitude
            ),
            input.idempotency_key,
            render,
        )

    @strawberry.mutation(description="COMPLETED -> ARCHIVED.")
    async def archive_session(
        self, info: Info[Context, None], input: i.SessionActionInput
    ) -> ArchiveSessionResult:
        return await _archive(info, input)

    @strawberry.mutation(
        description="LGPD: removes what identifies a recipient (name, address, label text, "
        "proof photos, signature, place) from one package or from all of one recipient's, "
        "at once and whatever the session's state; the financial snapshot, counts and "
        "audit facts stay. Managers of the sessions only."
    )
    async def forget_recipient(
        self, info: Info[Context, None], input: i.ForgetRecipientInput
    ) -> ForgetRecipientResult:
        def build() -> commands.ForgetRecipient:
            package = parse_uuid(input.package_id, "package") if input.package_id else None
            return commands.ForgetRecipient(package, input.recipient_name)

        async def render(r: Renderer) -> ForgetRecipientSuccess:
            rows = [PackageType.of(await r.package(pid)) for pid in r.ref["packages"]]
            return ForgetRecipientSuccess(packages=rows, count=len(rows))

        return await run(info, build, input.idempotency_key, render)

    @strawberry.mutation(
        description="A photo (multipart upload) scanned with the session's barcodes as a guide."
    )
    async def scan_barcode(
        self, info: Info[Context, None], input: i.ScanBarcodeInput
    ) -> ScanBarcodeResult:
        return await scan_barcode(info, input)
