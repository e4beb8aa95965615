"""Commands: what a front-end asks the domain to do, as data, and the one service each calls.

A command is a frozen dataclass named in the imperative (`StartSession`). Front-ends build
one and hand it to the runner (domain/operations.py); `execute` calls its one service inside
the runner's unit of work and returns a `Result`: a small JSON reference (stored for
idempotent replays), the rows the call committed (so a front-end can render them without
reading them again) and anything private that must never be stored (a new token or secret).
"""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any, ClassVar

import ocr
from db.base import utcnow
from db.enums import DeliveryStatus, JobKind, JobStatus, Role
from db.models import DeliverySession, SessionPackage, User
from domain import (
    deliverers,
    idempotency,
    jobs,
    locations,
    manifests,
    packages,
    proof,
    retention,
    routes,
    scanning,
    sessions,
    users,
    webhooks,
)
from domain.crypto import SecretBox
from domain.errors import PermissionDenied, ValidationFailed
from domain.uow import UnitOfWork
from manifest import ManifestRow

Ref = dict[str, Any]


@dataclass
class Result:
    ref: Ref
    rows: dict[str, Any] = field(default_factory=dict)
    private: dict[str, str] = field(default_factory=dict)


@dataclass
class Done:
    """A command's outcome. `rows` (what it committed) and `private` are empty on a replay:
    render those from committed state, by the reference."""

    ref: Ref
    replayed: bool = False
    rows: dict[str, Any] = field(default_factory=dict)
    private: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, result: Result) -> Done:
        return cls(result.ref, rows=result.rows, private=result.private)


class Command:
    """Base of every command: its operation name and what its idempotency hash covers."""

    operation: ClassVar[str]
    # True: a replay answers the first call's private values again (createUser's token, shown
    # once, lost with a lost answer); the runner keeps them encrypted with the key's record.
    seals_private: ClassVar[bool] = False

    @property
    def session_id_hint(self) -> uuid.UUID | None:
        """The session it changes, when known without reading: the runner queues on it."""
        value = getattr(self, "session_id", None)
        return value if isinstance(value, uuid.UUID) else None

    @property
    def package_id_hint(self) -> uuid.UUID | None:
        value = getattr(self, "package_id", None)
        return value if isinstance(value, uuid.UUID) else None

    def fingerprint(self) -> dict[str, Any]:
        return dataclasses.asdict(self)  # type: ignore[call-overload, no-any-return]


# --- users ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CreateUser(Command):
    operation: ClassVar[str] = "createUser"
    seals_private: ClassVar[bool] = True
    name: str
    role: Role
    telegram_id: str | None = None


@dataclass(frozen=True)
class LinkTelegram(Command):
    operation: ClassVar[str] = "linkTelegram"
    user_id: uuid.UUID
    telegram_id: str


# --- sessions ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CreateSession(Command):
    operation: ClassVar[str] = "createSession"
    name: str


@dataclass(frozen=True)
class ReuseSession(Command):
    operation: ClassVar[str] = "reuseSession"
    session_id: uuid.UUID


@dataclass(frozen=True)
class StartSession(Command):
    operation: ClassVar[str] = "startSession"
    session_id: uuid.UUID


@dataclass(frozen=True)
class PauseSession(Command):
    operation: ClassVar[str] = "pauseSession"
    session_id: uuid.UUID


@dataclass(frozen=True)
class ResumeSession(Command):
    operation: ClassVar[str] = "resumeSession"
    session_id: uuid.UUID


@dataclass(frozen=True)
class CompleteSession(Command):
    operation: ClassVar[str] = "completeSession"
    session_id: uuid.UUID
    force: bool = False


@dataclass(frozen=True)
class ArchiveSession(Command):
    operation: ClassVar[str] = "archiveSession"
    session_id: uuid.UUID


# --- deliverers and packages ---------------------------------------------------------------------


@dataclass(frozen=True)
class AddDeliverer(Command):
    """By user id, or by Telegram id (the bot), creating that DELIVERER when `new_user_name`
    is given and nobody has the Telegram id yet."""

    operation: ClassVar[str] = "addDeliverer"
    session_id: uuid.UUID
    base_salary: str | Decimal
    commission_per_delivery: str | Decimal
    user_id: uuid.UUID | None = None
    telegram_id: str | None = None
    new_user_name: str | None = None


@dataclass(frozen=True)
class AddPackages(Command):
    operation: ClassVar[str] = "addPackages"
    session_id: uuid.UUID
    items: tuple[packages.PackageData, ...]


@dataclass(frozen=True)
class ImportProgress:
    """The import job a batch belongs to, and its counters before the batch."""

    job_id: uuid.UUID
    done: int
    failed: int
    total: int


@dataclass(frozen=True)
class ImportManifestRows(Command):
    """One batch of a manifest's rows (domain/manifests.py): the valid ones added in this
    transaction through add_packages; rows the session already has count as already there,
    so the same batch run again adds nothing.

    With `job`, the job's counters move in the same transaction: the progress shown is what
    has committed, and a batch after the job was cancelled is refused whole (JOB_NOT_RUNNING).
    """

    operation: ClassVar[str] = "importManifestRows"
    session_id: uuid.UUID
    rows: tuple[ManifestRow, ...]
    all_or_nothing: bool = False
    job: ImportProgress | None = None

    def fingerprint(self) -> dict[str, Any]:
        # Rows as plain lists: asdict deep-copies every row, a tenth of a batch's time.
        names = [f.name for f in dataclasses.fields(ManifestRow)]
        return {
            "session_id": str(self.session_id),
            "all_or_nothing": self.all_or_nothing,
            "rows": [[getattr(row, n) for n in names] for row in self.rows],
            "job": dataclasses.asdict(self.job) if self.job else None,
        }


@dataclass(frozen=True)
class RemovePackage(Command):
    operation: ClassVar[str] = "removePackage"
    package_id: uuid.UUID


@dataclass(frozen=True)
class AssignPackages(Command):
    operation: ClassVar[str] = "assignPackages"
    session_id: uuid.UUID
    package_ids: tuple[uuid.UUID, ...]
    deliverer_id: uuid.UUID


@dataclass(frozen=True)
class UpdatePackageStatus(Command):
    operation: ClassVar[str] = "updatePackageStatus"
    package_id: uuid.UUID
    status: DeliveryStatus
    reason: str | None = None
    scan_report: dict[str, Any] | None = None
    proof: proof.StagedProof | None = None

    def fingerprint(self) -> dict[str, Any]:
        # Without proof, the hash of before (keys in flight across a deploy stay valid); with
        # it, the proof by its uploads' hashes, not its fresh keys: a retry is the same request.
        plain = {k: v for k, v in dataclasses.asdict(self).items() if k != "proof"}
        if self.proof is not None:
            plain["proof"] = self.proof.fingerprint()
        return plain


@dataclass(frozen=True)
class SetProofRequirement(Command):
    operation: ClassVar[str] = "setProofRequirement"
    session_id: uuid.UUID
    photo: bool
    signature: bool


@dataclass(frozen=True)
class ApplyScan(Command):
    """A decoded photo applied with an intent; the hash covers the photo, not the decoding."""

    operation: ClassVar[str] = "scanBarcode"
    session_id: uuid.UUID
    intent: scanning.ScanIntent
    report: ocr.ScanReport
    image_sha256: str
    proof: proof.StagedProof | None = None

    def fingerprint(self) -> dict[str, Any]:
        plain: dict[str, Any] = {
            "sessionId": str(self.session_id),
            "intent": self.intent.value,
            "image": self.image_sha256,
        }
        if self.proof is not None:
            plain["proof"] = self.proof.fingerprint()
        return plain


# --- places and routes ---------------------------------------------------------------------------


@dataclass(frozen=True)
class RecordGeocodes(Command):
    """A batch of geocoding answers, asked outside any transaction (domain/geocoding.py)."""

    operation: ClassVar[str] = "recordGeocodes"
    session_id: uuid.UUID
    results: tuple[locations.Located, ...]


@dataclass(frozen=True)
class SetAddressLocation(Command):
    operation: ClassVar[str] = "setAddressLocation"
    address_id: uuid.UUID
    latitude: float
    longitude: float


@dataclass(frozen=True)
class OptimizeRoutes(Command):
    operation: ClassVar[str] = "optimizeRoutes"
    session_id: uuid.UUID
    options: routes.RouteOptions = field(default_factory=routes.RouteOptions)


# --- webhooks ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CreateWebhook(Command):
    operation: ClassVar[str] = "createWebhook"
    url: str
    events: tuple[str, ...]

    def fingerprint(self) -> dict[str, Any]:
        return {"url": self.url, "events": sorted(self.events)}


@dataclass(frozen=True)
class UpdateWebhook(Command):
    operation: ClassVar[str] = "updateWebhook"
    webhook_id: uuid.UUID
    url: str | None = None
    events: tuple[str, ...] | None = None
    active: bool | None = None


@dataclass(frozen=True)
class DeleteWebhook(Command):
    operation: ClassVar[str] = "deleteWebhook"
    webhook_id: uuid.UUID


@dataclass(frozen=True)
class RotateWebhookSecret(Command):
    operation: ClassVar[str] = "rotateWebhookSecret"
    webhook_id: uuid.UUID


@dataclass(frozen=True)
class TestWebhook(Command):
    operation: ClassVar[str] = "testWebhook"
    webhook_id: uuid.UUID


@dataclass(frozen=True)
class RedeliverWebhookDelivery(Command):
    operation: ClassVar[str] = "redeliverWebhookDelivery"
    delivery_id: uuid.UUID


@dataclass(frozen=True)
class ForgetRecipient(Command):
    """Anonymise one package's recipient, or every package of one recipient (by name)."""

    operation: ClassVar[str] = "forgetRecipient"
    package_id: uuid.UUID | None = None
    recipient_name: str | None = None


# --- system work (no caller: the worker, periodic tasks) ----------------------------------------


@dataclass(frozen=True)
class AnonymizeExpired(Command):
    """Recipient data of sessions completed more than `retention_days` ago (LGPD)."""

    operation: ClassVar[str] = "anonymizeExpired"
    retention_days: int
    limit: int = 50


@dataclass(frozen=True)
class PurgeIdempotencyKeys(Command):
    operation: ClassVar[str] = "purgeIdempotencyKeys"


@dataclass(frozen=True)
class SweepProofObjects(Command):
    """Deletes stored proof objects whose upload never committed (older than the grace)."""

    operation: ClassVar[str] = "sweepProofObjects"


@dataclass(frozen=True)
class ClaimWebhookDeliveries(Command):
    """Takes due deliveries for one worker, leased for `lease_s` seconds."""

    operation: ClassVar[str] = "claimWebhookDeliveries"
    lease_s: float
    limit: int


@dataclass(frozen=True)
class RecordWebhookAttempt(Command):
    operation: ClassVar[str] = "recordWebhookAttempt"
    delivery_id: uuid.UUID
    ok: bool
    status_code: int | None
    error: str | None
    backoff: tuple[float, ...]
    disable_after: int
    retry_for_s: float = 0.0


# --- background jobs (domain/jobs.py; driven by jobs/) -------------------------------------------


@dataclass(frozen=True)
class CreateJob(Command):
    """Asks for background work under a session; the same work while active answers that job."""

    operation: ClassVar[str] = "createJob"
    session_id: uuid.UUID
    kind: JobKind
    params: dict[str, Any]

    def fingerprint(self) -> dict[str, Any]:
        # A retried upload is stored under a fresh key: the request is the same by its hash.
        return {
            "sessionId": str(self.session_id),
            "kind": self.kind.value,
            "work": jobs.work_params(self.params),
        }


@dataclass(frozen=True)
class CancelJob(Command):
    operation: ClassVar[str] = "cancelJob"
    job_id: uuid.UUID


@dataclass(frozen=True)
class StartJob(Command):
    """An attempt of the job begins (the worker; no caller)."""

    operation: ClassVar[str] = "startJob"
    job_id: uuid.UUID


@dataclass(frozen=True)
class SetJobProgress(Command):
    operation: ClassVar[str] = "setJobProgress"
    job_id: uuid.UUID
    done: int
    failed: int
    total: int | None


@dataclass(frozen=True)
class FinishJob(Command):
    operation: ClassVar[str] = "finishJob"
    job_id: uuid.UUID
    outcome: JobStatus
    result: dict[str, Any] | None = None
    error: str | None = None


@dataclass(frozen=True)
class RequeueJob(Command):
    """RUNNING -> QUEUED: a transient failure or a lost worker; procrastinate runs it again."""

    operation: ClassVar[str] = "requeueJob"
    job_id: uuid.UUID
    error: str


JobCommand = CreateJob | CancelJob | StartJob | SetJobProgress | FinishJob | RequeueJob


async def _preflight(uow: UnitOfWork, actor: User, command: CreateJob, deps: Deps) -> None:
    """Refusals a job's work would meet that are known now: answered at once, no job written
    (the job checks them again when it runs: things change while it waits)."""
    match command.kind:
        case JobKind.IMPORT_MANIFEST:
            await manifests.lock_for_import(uow, actor, command.session_id)
        case JobKind.GEOCODE_SESSION:
            await locations.lock_for_geocoding(uow, actor, command.session_id)
        case JobKind.OPTIMIZE_ROUTES:
            options = routes.options_from_json(command.params.get("options", {}))
            await routes.prepare(uow, actor, command.session_id, options, deps.routes)


async def _job_command(
    uow: UnitOfWork, actor: User | None, command: JobCommand, deps: Deps
) -> Result:
    match command:
        case CreateJob():
            await _preflight(uow, _actor(actor), command, deps)
            created = await jobs.create_job(
                uow, _actor(actor), command.kind, command.session_id, command.params
            )
            uow.job_changed(created.job.id)
            return Result(
                {"job": str(created.job.id), "created": created.created}, {"job": created.job}
            )
        case CancelJob():
            job = await jobs.cancel_job(uow, _actor(actor), command.job_id)
        case StartJob():
            job = await jobs.start_job(uow, command.job_id)
        case SetJobProgress():
            job = await jobs.set_progress(
                uow, command.job_id, done=command.done, failed=command.failed, total=command.total
            )
        case FinishJob():
            job = await jobs.finish_job(
                uow, command.job_id, command.outcome, result=command.result, error=command.error
            )
        case RequeueJob():
            job = await jobs.requeue_job(uow, command.job_id, command.error)
    uow.job_changed(job.id)
    return Result({"job": str(job.id)}, {"job": job})


# --- execution -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Deps:
    """What some services need besides the unit of work, from the composition root."""

    webhooks: webhooks.WebhookConfig | None = None
    proof: proof.ProofConfig | None = None
    # Seals the private values a replay must answer again (Command.seals_private).
    box: SecretBox | None = None
    routes: routes.RouteConfig = field(default_factory=routes.RouteConfig)


def _session(row: DeliverySession) -> Result:
    return Result({"session": str(row.id)}, {"session": row})


def _package(package: SessionPackage, session: DeliverySession) -> Result:
    return Result(
        {"session": str(session.id), "package": str(package.id)},
        {"session": session, "packages": [package]},
    )


def session_as_now(row: DeliverySession) -> DeliverySession:
    """A detached copy of the row as it is now: calls sharing a transaction (group commit)
    share the row object, and each answer must show the session as its own call left it."""
    columns = DeliverySession.__table__.columns.keys()
    return DeliverySession(**{c: getattr(row, c) for c in columns})


def _actor(actor: User | None) -> User:
    if actor is None:
        raise PermissionDenied("an authenticated user is required", code="UNAUTHENTICATED")
    return actor


def _webhook_config(deps: Deps) -> webhooks.WebhookConfig:
    if deps.webhooks is None:
        raise PermissionDenied(
            "webhooks are not configured on this server", code="WEBHOOKS_DISABLED"
        )
    return deps.webhooks


# One case per command: a dispatch table, long by design.
async def execute(uow: UnitOfWork, actor: User | None, command: Command, deps: Deps) -> Result:  # noqa: PLR0915
    """Calls the one service of `command`. Runs inside the runner's transaction; never commits."""
    match command:
        case CreateJob() | CancelJob() | StartJob() | SetJobProgress() | FinishJob() | RequeueJob():
            return await _job_command(uow, actor, command, deps)
        case CreateUser():
            created = await users.create_user(
                uow, actor, command.name, command.role, command.telegram_id
            )
            return Result(
                {"user": str(created.user.id)}, {"user": created.user}, {"token": created.token}
            )
        case LinkTelegram():
            user = await users.link_telegram(uow, command.user_id, command.telegram_id)
            return Result({"user": str(user.id)}, {"user": user})
        case CreateSession():
            return _session(await sessions.create_session(uow, _actor(actor), command.name))
        case ReuseSession():
            return _session(await sessions.reuse_session(uow, _actor(actor), command.session_id))
        case StartSession():
            return _session(await sessions.start_session(uow, _actor(actor), command.session_id))
        case PauseSession():
            return _session(await sessions.pause_session(uow, _actor(actor), command.session_id))
        case ResumeSession():
            return _session(await sessions.resume_session(uow, _actor(actor), command.session_id))
        case CompleteSession():
            return _session(
                await sessions.complete_session(
                    uow, _actor(actor), command.session_id, command.force
                )
            )
        case ArchiveSession():
            return _session(await sessions.archive_session(uow, _actor(actor), command.session_id))
        case AddDeliverer():
            return await _add_deliverer(uow, _actor(actor), command)
        case AddPackages():
            added = await packages.add_packages(
                uow, _actor(actor), command.session_id, command.items
            )
            return Result(
                {
                    "session": str(added.session.id),
                    "added": [str(p.id) for p in added.added],
                    "duplicates": added.duplicates,
                    "rejected": [dataclasses.asdict(r) for r in added.rejected],
                },
                {"session": session_as_now(added.session), "packages": list(added.added)},
            )
        case ImportManifestRows():
            return await _import_manifest_rows(uow, _actor(actor), command)
        case RemovePackage():
            package, session = await packages.remove_package(uow, _actor(actor), command.package_id)
            # The row is gone after commit: the reference keeps it whole, for replays too.
            return Result(
                {"session": str(session.id), "removed": packages.package_ref(package)},
                {"session": session},
            )
        case AssignPackages():
            rows, session = await packages.assign_packages(
                uow, _actor(actor), command.session_id, command.package_ids, command.deliverer_id
            )
            return Result(
                {"session": str(session.id), "packages": [str(p.id) for p in rows]},
                {"session": session, "packages": rows},
            )
        case UpdatePackageStatus():
            package, session = await packages.update_package_status(
                uow,
                _actor(actor),
                command.package_id,
                command.status,
                command.reason,
                scan_report=command.scan_report,
                staged=command.proof,
            )
            return _package(package, session)
        case SetProofRequirement():
            return _session(
                await proof.set_requirement(
                    uow, _actor(actor), command.session_id, command.photo, command.signature
                )
            )
        case ApplyScan():
            outcome = await scanning.apply_scan(
                uow,
                _actor(actor),
                command.session_id,
                command.intent,
                command.report,
                staged=command.proof,
            )
            return Result(
                {
                    "session": str(outcome.session.id),
                    "package": str(outcome.package.id) if outcome.package else None,
                    "report": outcome.report,
                },
                {
                    "session": outcome.session,
                    "packages": [outcome.package] if outcome.package else [],
                },
            )
        case RecordGeocodes() | SetAddressLocation() | OptimizeRoutes():
            return await _places(uow, _actor(actor), command, deps)
        case CreateWebhook():
            row, secret = await webhooks.create_webhook(
                uow, _actor(actor), _webhook_config(deps), command.url, command.events
            )
            return Result({"webhook": str(row.id)}, {"webhook": row}, {"secret": secret})
        case UpdateWebhook():
            row = await webhooks.update_webhook(
                uow,
                _actor(actor),
                _webhook_config(deps),
                command.webhook_id,
                url=command.url,
                events=command.events,
                active=command.active,
            )
            return Result({"webhook": str(row.id)}, {"webhook": row})
        case DeleteWebhook():
            row = await webhooks.delete_webhook(uow, _actor(actor), command.webhook_id)
            return Result({"webhook": str(row.id)}, {"webhook": row})
        case RotateWebhookSecret():
            row, secret = await webhooks.rotate_secret(
                uow, _actor(actor), _webhook_config(deps), command.webhook_id
            )
            return Result({"webhook": str(row.id)}, {"webhook": row}, {"secret": secret})
        case TestWebhook():
            delivery = await webhooks.test_webhook(uow, _actor(actor), command.webhook_id)
            return Result({"delivery": str(delivery.id)}, {"delivery": delivery})
        case RedeliverWebhookDelivery():
            delivery = await webhooks.redeliver(uow, _actor(actor), command.delivery_id)
            return Result({"delivery": str(delivery.id)}, {"delivery": delivery})
        case ForgetRecipient():
            forgotten = await retention.forget_recipient(
                uow,
                _actor(actor),
                package_id=command.package_id,
                recipient_name=command.recipient_name,
            )
            return Result(
                {"packages": [str(p.id) for p in forgotten.packages]},
                {"packages": forgotten.packages},
            )
        case AnonymizeExpired():
            count = await retention.anonymize_expired(uow, command.retention_days, command.limit)
            return Result({"anonymized": count})
        case PurgeIdempotencyKeys():
            return Result({"removed": await idempotency.purge_expired(uow)})
        case SweepProofObjects():
            if deps.proof is None:
                return Result({"removed": 0})
            return Result({"removed": len(await proof.sweep(uow, deps.proof))})
        case ClaimWebhookDeliveries():
            claimed = await webhooks.claim(
                uow, utcnow(), timedelta(seconds=command.lease_s), command.limit
            )
            targets = {d.webhook_id: await uow.webhooks.get(d.webhook_id) for d in claimed}
            return Result(
                {"claimed": [str(d.id) for d in claimed]},
                {"deliveries": claimed, "webhooks": targets},
            )
        case RecordWebhookAttempt():
            await webhooks.record_attempt(
                uow,
                command.delivery_id,
                ok=command.ok,
                status_code=command.status_code,
                error=command.error,
                backoff=command.backoff,
                disable_after=command.disable_after,
                retry_for_s=command.retry_for_s,
            )
            return Result({"delivery": str(command.delivery_id)})
    raise TypeError(f"no service for {type(command).__name__}")  # a bug, not user input


async def _import_manifest_rows(
    uow: UnitOfWork, actor: User, command: ImportManifestRows
) -> Result:
    imported = await manifests.import_rows(
        uow, actor, command.session_id, command.rows, command.all_or_nothing
    )
    if command.job is not None:
        base = command.job
        done, failed = manifests.counted(imported.outcomes)
        # The session row is locked already: session, then job, the order of every job change.
        await jobs.set_progress(
            uow, base.job_id, done=base.done + done, failed=base.failed + failed, total=base.total
        )
        uow.job_changed(base.job_id)
    return Result(
        {"session": str(imported.session.id), "outcomes": [o.ref() for o in imported.outcomes]},
        {"session": session_as_now(imported.session), "outcomes": imported.outcomes},
    )


async def _add_deliverer(uow: UnitOfWork, actor: User, command: AddDeliverer) -> Result:
    user_id = command.user_id
    created = False
    if user_id is None:
        telegram_id = (command.telegram_id or "").strip()
        person = await uow.users.by_telegram_id(telegram_id)
        if person is None:
            if not command.new_user_name:
                raise ValidationFailed(
                    "no user has this Telegram id", field="telegramId", code="TELEGRAM_ID_UNKNOWN"
                )
            # The same rule as createUser: a MANAGER may create DELIVERER users only.
            person = (
                await users.create_user(
                    uow, actor, command.new_user_name, Role.DELIVERER, telegram_id
                )
            ).user
            created = True
        user_id = person.id
    deliverer, session = await deliverers.add_deliverer(
        uow,
        actor,
        command.session_id,
        user_id,
        command.base_salary,
        command.commission_per_delivery,
    )
    return Result(
        {"session": str(session.id), "deliverer": str(deliverer.id), "createdUser": created},
        {"session": session, "deliverer": deliverer},
    )


async def _places(uow: UnitOfWork, actor: User, command: Command, deps: Deps) -> Result:
    """The commands of addresses' places and routes."""
    match command:
        case RecordGeocodes():
            session, placed = await locations.record_geocodes(
                uow, actor, command.session_id, command.results
            )
            return Result(
                {"session": str(session.id), "placed": [str(a.id) for a in placed]},
                {"session": session, "addresses": placed},
            )
        case SetAddressLocation():
            address, session = await locations.set_address_location(
                uow, actor, command.address_id, command.latitude, command.longitude
            )
            return Result(
                {"session": str(session.id), "address": str(address.id)},
                {"session": session, "address": address},
            )
        case OptimizeRoutes():
            planned = await routes.optimize_routes(
                uow, actor, command.session_id, command.options, deps.routes
            )
            return Result(
                {
                    "session": str(planned.session.id),
                    "deliverers": [str(d.id) for d in planned.deliverers],
                    "unassigned": [str(p) for p in planned.unassigned],
                    "unplaced": [str(p) for p in planned.unplaced],
                },
                {
                    "session": planned.session,
                    "deliverers": planned.deliverers,
                    "packages": planned.assigned,
                },
            )
    raise TypeError(f"no service for {type(command).__name__}")  # a bug, not user input
