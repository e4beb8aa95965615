"""The domain's enums as GraphQL enums, with their descriptions.

db/ and domain/ import nothing of GraphQL, so their enums cannot carry `strawberry.enum_value`:
each is registered here with a description for the type and one per value. A value without
one (a member added to the domain later) fails at import, not in production.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import TypeVar

import strawberry
from strawberry.types.enum import StrawberryEnumDefinition

from db import enums
from domain import scanning

E = TypeVar("E", bound=enum.Enum)


def described_enum(cls: type[E], name: str, description: str, values: Mapping[E, str]) -> None:
    """Registers the class itself (no copy to keep in step) with every value described."""
    missing = [m.name for m in cls if not values.get(m)]
    if missing:
        raise TypeError(f"{name}: values without a description: {', '.join(missing)}")
    strawberry.enum(cls, name=name, description=description)
    definition: StrawberryEnumDefinition = cls.__strawberry_definition__  # type: ignore[attr-defined]
    for value in definition.values:
        value.description = values[cls(value.value)]


described_enum(
    enums.Role,
    "Role",
    "What a user may do. Fixed when the user is created.",
    {
        enums.Role.ADMIN: "Creates users of any role and manages every session and webhook.",
        enums.Role.MANAGER: "Creates DELIVERER users, runs the sessions they own and the "
        "webhooks they registered.",
        enums.Role.DELIVERER: "Works in the sessions they were added to: sees those sessions "
        "and changes the status of their own packages.",
    },
)
Role = enums.Role

described_enum(
    enums.SessionStatus,
    "SessionStatus",
    "Where a delivery session is in its life: OPEN -> ACTIVE -> (PAUSED <-> ACTIVE) -> "
    "COMPLETED -> ARCHIVED.",
    {
        enums.SessionStatus.OPEN: "Being prepared: packages and deliverers are added and "
        "assigned; nothing is delivered yet. Packages can still be removed.",
        enums.SessionStatus.ACTIVE: "Started: deliverers pick up and deliver packages.",
        enums.SessionStatus.PAUSED: "Stopped for a while: package statuses cannot change "
        "until resumeSession.",
        enums.SessionStatus.COMPLETED: "Every package is final (or the rest were failed by a "
        "forced completion); the financial snapshot is written. Read-only.",
        enums.SessionStatus.ARCHIVED: "Put away after completion; listed only when asked for "
        "by status. Read-only.",
    },
)
SessionStatus = enums.SessionStatus

described_enum(
    enums.DeliveryStatus,
    "DeliveryStatus",
    "Where a package is: PENDING -> PICKED_UP -> DELIVERED | FAILED, or PENDING straight to "
    "DELIVERED | FAILED. DELIVERED and FAILED are final.",
    {
        enums.DeliveryStatus.PENDING: "Not yet taken by a deliverer.",
        enums.DeliveryStatus.PICKED_UP: "Taken by its deliverer, on the way.",
        enums.DeliveryStatus.DELIVERED: "Handed over (final); counts towards the deliverer's "
        "commission.",
        enums.DeliveryStatus.FAILED: "Could not be delivered (final); the reason is in "
        "Package.failureReason.",
    },
)
DeliveryStatus = enums.DeliveryStatus

described_enum(
    scanning.ScanIntent,
    "ScanIntent",
    "What a scanned photo is for, which decides what the scan may change.",
    {
        scanning.ScanIntent.IDENTIFY: "Read only: the report and the matching package; "
        "nothing is written.",
        scanning.ScanIntent.ADD: "Managers: add the package to the session (the rules of "
        "addPackages); also reads the recipient block on the label.",
        scanning.ScanIntent.PICK_UP: "Mark the matching package PICKED_UP (the rules of "
        "updatePackageStatus).",
        scanning.ScanIntent.DELIVER: "Mark the matching package DELIVERED (the rules of "
        "updatePackageStatus); may carry proof.",
    },
)
ScanIntent = scanning.ScanIntent

described_enum(
    enums.WebhookDeliveryStatus,
    "WebhookDeliveryStatus",
    "Where one POST of an event to a webhook stands.",
    {
        enums.WebhookDeliveryStatus.PENDING: "Not delivered yet: waiting for its first "
        "attempt or for a retry at nextAttemptAt.",
        enums.WebhookDeliveryStatus.DELIVERED: "The receiver answered 2xx.",
        enums.WebhookDeliveryStatus.FAILED: "Retries ran out (BIPA_WEBHOOK_RETRY_FOR, 24 h by "
        "default, after the event); redeliverWebhookDelivery queues a new delivery.",
    },
)
WebhookDeliveryStatus = enums.WebhookDeliveryStatus

described_enum(
    enums.JobStatus,
    "JobStatus",
    "Where a background job stands: QUEUED -> RUNNING -> SUCCEEDED | FAILED; CANCELLED on request.",
    {
        enums.JobStatus.QUEUED: "Waiting for a worker.",
        enums.JobStatus.RUNNING: "A worker is on it; progress changes as it goes.",
        enums.JobStatus.SUCCEEDED: "Done; Job.result (and the file links) are set.",
        enums.JobStatus.FAILED: "Gave up after its attempts; Job.lastError says why.",
        enums.JobStatus.CANCELLED: "Stopped by cancelJob; what was already committed stays.",
    },
)
JobStatus = enums.JobStatus

described_enum(
    enums.JobKind,
    "JobKind",
    "What a background job does.",
    {
        enums.JobKind.IMPORT_MANIFEST: "Adds the packages of an uploaded manifest (CSV or "
        "XLSX) to a session (importManifest).",
        enums.JobKind.EXPORT_REPORT: "Writes a session's report file (exportSessionReport).",
        enums.JobKind.GEOCODE_SESSION: "Places a session's addresses on the map (geocodeSession).",
        enums.JobKind.OPTIMIZE_ROUTES: "Splits the open packages between the deliverers and "
        "orders their routes (optimizeRoutes).",
    },
)
JobKind = enums.JobKind
