"""The Mutation root: thin translations between GraphQL and one domain service call each."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

import strawberry
from sqlalchemy import inspect as sa_inspect
from strawberry.types import Info

from db import enums
from db.models import DeliverySession, SessionPackage, User
from domain import addresses, deliverers, packages, sessions
from domain import users as user_service
from domain.errors import DomainError
from domain.uow import UnitOfWork
from gql import inputs as i
from gql.context import Context
from gql.errors import (
    IdempotencyConflictError,
    InvalidTransitionError,
    NotFoundError,
    PermissionDeniedError,
    ReadOnlySessionError,
    ValidationError,
    to_error,
)
from gql.runner import Ref, parse_uuid, run, run_grouped
from gql.scanning import ScanBarcodeResult, scan_barcode
from gql.types import DeliverySessionType, PackageType, SessionDelivererType, UserType, user_type
from gql.webhooks import WebhookMutations

_ERRORS = (
    NotFoundError
    | ValidationError
    | InvalidTransitionError
    | ReadOnlySessionError
    | PermissionDeniedError
    | IdempotencyConflictError
)


@strawberry.type
class CreateUserSuccess:
    user: UserType
    token: str = strawberry.field(description="Shown once; only its hash is stored.")


@strawberry.type
class SessionSuccess:
    session: DeliverySessionType


@strawberry.type
class RejectedBarcode:
    barcode: str
    reason: str


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


CreateUserResult = Annotated[
    CreateUserSuccess | ValidationError | PermissionDeniedError,
    strawberry.union("CreateUserResult"),
]
CreateSessionResult = Annotated[SessionSuccess | _ERRORS, strawberry.union("CreateSessionResult")]
ReuseSessionResult = Annotated[SessionSuccess | _ERRORS, strawberry.union("ReuseSessionResult")]
AddPackagesResult = Annotated[AddPackagesSuccess | _ERRORS, strawberry.union("AddPackagesResult")]
RemovePackageResult = Annotated[PackageSuccess | _ERRORS, strawberry.union("RemovePackageResult")]
AddDelivererResult = Annotated[
    AddDelivererSuccess | _ERRORS, strawberry.union("AddDelivererResult")
]
AssignPackagesResult = Annotated[
    AssignPackagesSuccess | _ERRORS, strawberry.union("AssignPackagesResult")
]
StartSessionResult = Annotated[SessionSuccess | _ERRORS, strawberry.union("StartSessionResult")]
PauseSessionResult = Annotated[SessionSuccess | _ERRORS, strawberry.union("PauseSessionResult")]
ResumeSessionResult = Annotated[SessionSuccess | _ERRORS, strawberry.union("ResumeSessionResult")]
UpdatePackageStatusResult = Annotated[
    PackageSuccess | _ERRORS, strawberry.union("UpdatePackageStatusResult")
]
CompleteSessionResult = Annotated[
    SessionSuccess | _ERRORS, strawberry.union("CompleteSessionResult")
]
ArchiveSessionResult = Annotated[SessionSuccess | _ERRORS, strawberry.union("ArchiveSessionResult")]


class Renderer:
    """Builds success payloads from stored references, through the operation's loaders."""

    def __init__(self, info: Info[Context, None]) -> None:
        self.loaders = info.context.loaders

    async def session(self, ref: Ref) -> DeliverySessionType:
        row = await self.loaders.sessions.load(parse_uuid(ref["session"], "session"))
        assert row is not None
        return DeliverySessionType(row=row)

    async def package(self, data: Any) -> PackageType:
        if isinstance(data, dict):  # a removed package, kept whole in the reference
            return PackageType.of(_detached_package(data))
        row = await self.loaders.packages.load(parse_uuid(data, "package"))
        assert row is not None
        return PackageType.of(row)


def _package_ref(p: SessionPackage) -> dict[str, Any]:
    return {
        "id": str(p.id),
        "session_id": str(p.session_id),
        "barcode": p.barcode,
        "symbology": p.symbology,
        "status": p.status.value,
        "recipient_name": p.recipient_name,
        "address_id": str(p.address_id) if p.address_id else None,
        "deliverer_id": str(p.deliverer_id) if p.deliverer_id else None,
        "failure_reason": p.failure_reason,
        "scan_report": p.scan_report,
        "created_at": p.created_at.isoformat(),
        "updated_at": p.updated_at.isoformat(),
        "delivered_at": p.delivered_at.isoformat() if p.delivered_at else None,
    }


def _session_as_now(row: DeliverySession) -> DeliverySession:
    """A detached copy of the row as it is now: calls sharing a transaction (gql/batching.py)
    share the row object, and each answer must show the session as its own call left it."""
    columns = sa_inspect(DeliverySession).column_attrs
    return DeliverySession(**{c.key: getattr(row, c.key) for c in columns})


def _detached_package(data: dict[str, Any]) -> SessionPackage:
    import uuid
    from datetime import datetime

    def when(v: str | None) -> datetime | None:
        return datetime.fromisoformat(v) if v else None

    return SessionPackage(
        id=uuid.UUID(data["id"]),
        session_id=uuid.UUID(data["session_id"]),
        barcode=data["barcode"],
        symbology=data["symbology"],
        status=enums.DeliveryStatus(data["status"]),
        recipient_name=data["recipient_name"],
        address_id=uuid.UUID(data["address_id"]) if data["address_id"] else None,
        deliverer_id=uuid.UUID(data["deliverer_id"]) if data["deliverer_id"] else None,
        failure_reason=data["failure_reason"],
        scan_report=data["scan_report"],
        created_at=when(data["created_at"]),
        updated_at=when(data["updated_at"]),
        delivered_at=when(data["delivered_at"]),
    )


async def _session_result(
    info: Info[Context, None],
    operation: str,
    input: Any,
    call: Callable[[UnitOfWork, User], Awaitable[DeliverySession]],
) -> Any:
    """The shape shared by every mutation whose success is `SessionSuccess`."""

    async def action(uow: UnitOfWork, caller: User) -> Ref:
        row = await call(uow, caller)
        info.context.loaders.prime_session(row)
        return {"session": str(row.id)}

    async def render(ref: Ref) -> SessionSuccess:
        return SessionSuccess(session=await Renderer(info).session(ref))

    return await run(info, operation, i.payload(input), input.idempotency_key, action, render)


def _session_op(name: str, service: Any) -> Any:
    async def resolver(info: Info[Context, None], input: i.SessionActionInput) -> Any:
        return await _session_result(
            info,
            name,
            input,
            lambda uow, caller: service(uow, caller, parse_uuid(input.session_id, "session")),
        )

    return resolver


def _address(a: i.AddressInput | None) -> addresses.AddressData | None:
    if a is None:
        return None
    return addresses.AddressData(a.line, a.city, a.postal_code, a.latitude, a.longitude)


def _package_data(p: i.PackageInput) -> packages.PackageData:
    deliverer = None
    if p.deliverer_id is not None:
        deliverer = parse_uuid(p.deliverer_id, "deliverer")
    return packages.PackageData(
        barcode=p.barcode,
        recipient_name=p.recipient_name,
        address=_address(p.address),
        deliverer_id=deliverer,
    )


_reuse = _session_op("reuseSession", sessions.reuse_session)
_start = _session_op("startSession", sessions.start_session)
_pause = _session_op("pauseSession", sessions.pause_session)
_resume = _session_op("resumeSession", sessions.resume_session)
_archive = _session_op("archiveSession", sessions.archive_session)


@strawberry.type
class Mutation(WebhookMutations):
    @strawberry.mutation(description="ADMIN: any role; MANAGER: DELIVERER only.")
    async def create_user(
        self, info: Info[Context, None], input: i.CreateUserInput
    ) -> CreateUserResult:
        caller = await info.context.caller()
        try:
            async with info.context.services.uow() as uow:
                created = await user_service.create_user(
                    uow, caller, input.name, input.role, input.telegram_id
                )
                await uow.commit()
        except DomainError as exc:
            return to_error(exc)  # type: ignore[return-value]  # only validation / permission
        return CreateUserSuccess(user=user_type(created.user), token=created.token)

    @strawberry.mutation(description="A new OPEN session owned by the caller.")
    async def create_session(
        self, info: Info[Context, None], input: i.CreateSessionInput
    ) -> CreateSessionResult:
        return await _session_result(
            info,
            "createSession",
            input,
            lambda uow, caller: sessions.create_session(uow, caller, input.name),
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
        async def action(uow: UnitOfWork, caller: User) -> Ref:
            items = [_package_data(p) for p in input.packages]
            result = await packages.add_packages(
                uow, caller, parse_uuid(input.session_id, "session"), items
            )
            info.context.loaders.prime_session(_session_as_now(result.session))
            for p in result.added:
                info.context.loaders.packages.prime(p.id, p, force=True)
            return {
                "session": str(result.session.id),
                "added": [str(p.id) for p in result.added],
                "duplicates": result.duplicates,
                "rejected": [[code, reason] for code, reason in result.rejected],
            }

        async def render(ref: Ref) -> AddPackagesSuccess:
            r = Renderer(info)
            return AddPackagesSuccess(
                session=await r.session(ref),
                added=[await r.package(pid) for pid in ref["added"]],
                duplicates=list(ref["duplicates"]),
                rejected=[RejectedBarcode(barcode=c, reason=why) for c, why in ref["rejected"]],
            )

        return await run_grouped(
            info,
            input.session_id,
            "addPackages",
            i.payload(input),
            input.idempotency_key,
            action,
            render,
        )

    @strawberry.mutation(description="Only while the session is OPEN.")
    async def remove_package(
        self, info: Info[Context, None], input: i.PackageActionInput
    ) -> RemovePackageResult:
        async def action(uow: UnitOfWork, caller: User) -> Ref:
            package, session = await packages.remove_package(
                uow, caller, parse_uuid(input.package_id, "package")
            )
            info.context.loaders.prime_session(session)
            return {"session": str(session.id), "package": _package_ref(package)}

        async def render(ref: Ref) -> PackageSuccess:
            r = Renderer(info)
            return PackageSuccess(
                package=await r.package(ref["package"]), session=await r.session(ref)
            )

        return await run(
            info, "removePackage", i.payload(input), input.idempotency_key, action, render
        )

    @strawberry.mutation
    async def add_deliverer(
        self, info: Info[Context, None], input: i.AddDelivererInput
    ) -> AddDelivererResult:
        async def action(uow: UnitOfWork, caller: User) -> Ref:
            deliverer, session = await deliverers.add_deliverer(
                uow,
                caller,
                parse_uuid(input.session_id, "session"),
                parse_uuid(input.user_id, "user"),
                input.base_salary,
                input.commission_per_delivery,
            )
            info.context.loaders.prime_session(session)
            return {"session": str(session.id), "deliverer": str(deliverer.id)}

        async def render(ref: Ref) -> AddDelivererSuccess:
            r = Renderer(info)
            row = await r.loaders.deliverers.load(parse_uuid(ref["deliverer"], "deliverer"))
            assert row is not None
            return AddDelivererSuccess(
                deliverer=SessionDelivererType.of(row), session=await r.session(ref)
            )

        return await run(
            info, "addDeliverer", i.payload(input), input.idempotency_key, action, render
        )

    @strawberry.mutation
    async def assign_packages(
        self, info: Info[Context, None], input: i.AssignPackagesInput
    ) -> AssignPackagesResult:
        async def action(uow: UnitOfWork, caller: User) -> Ref:
            rows, session = await packages.assign_packages(
                uow,
                caller,
                parse_uuid(input.session_id, "session"),
                [parse_uuid(pid, "package") for pid in input.package_ids],
                parse_uuid(input.deliverer_id, "deliverer"),
            )
            info.context.loaders.prime_session(session)
            return {"session": str(session.id), "packages": [str(p.id) for p in rows]}

        async def render(ref: Ref) -> AssignPackagesSuccess:
            r = Renderer(info)
            return AssignPackagesSuccess(
                packages=[await r.package(pid) for pid in ref["packages"]],
                session=await r.session(ref),
            )

        return await run(
            info, "assignPackages", i.payload(input), input.idempotency_key, action, render
        )

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
        async def action(uow: UnitOfWork, caller: User) -> Ref:
            package, session = await packages.update_package_status(
                uow,
                caller,
                parse_uuid(input.package_id, "package"),
                input.status,
                input.reason,
            )
            info.context.loaders.prime_session(session)
            info.context.loaders.packages.prime(package.id, package, force=True)
            return {"session": str(session.id), "package": str(package.id)}

        async def render(ref: Ref) -> PackageSuccess:
            r = Renderer(info)
            return PackageSuccess(
                package=await r.package(ref["package"]), session=await r.session(ref)
            )

        return await run(
            info, "updatePackageStatus", i.payload(input), input.idempotency_key, action, render
        )

    @strawberry.mutation(description="All packages final, or force: the open ones become FAILED.")
    async def complete_session(
        self, info: Info[Context, None], input: i.CompleteSessionInput
    ) -> CompleteSessionResult:
        return await _session_result(
            info,
            "completeSession",
            input,
            lambda uow, caller: sessions.complete_session(
                uow, caller, parse_uuid(input.session_id, "session"), bool(input.force)
            ),
        )

    @strawberry.mutation(description="COMPLETED -> ARCHIVED.")
    async def archive_session(
        self, info: Info[Context, None], input: i.SessionActionInput
    ) -> ArchiveSessionResult:
        return await _archive(info, input)

    @strawberry.mutation(
        description="A photo (multipart upload) scanned with the session's barcodes as a guide."
    )
    async def scan_barcode(
        self, info: Info[Context, None], input: i.ScanBarcodeInput
    ) -> ScanBarcodeResult:
        return await scan_barcode(info, input)
