"""Enumerations stored as PostgreSQL enum types."""

from __future__ import annotations

import enum


class Role(enum.StrEnum):
    ADMIN = "ADMIN"
    MANAGER = "MANAGER"
    DELIVERER = "DELIVERER"


class SessionStatus(enum.StrEnum):
    OPEN = "OPEN"
    ACTIVE = "ACTIVE"
    PAUSED = "PAUSED"
    COMPLETED = "COMPLETED"
    ARCHIVED = "ARCHIVED"


class DeliveryStatus(enum.StrEnum):
    PENDING = "PENDING"
    PICKED_UP = "PICKED_UP"
    DELIVERED = "DELIVERED"
    FAILED = "FAILED"


class WebhookDeliveryStatus(enum.StrEnum):
    PENDING = "PENDING"
    DELIVERED = "DELIVERED"
    FAILED = "FAILED"


class JobStatus(enum.StrEnum):
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


class JobKind(enum.StrEnum):
    IMPORT_MANIFEST = "IMPORT_MANIFEST"
    EXPORT_REPORT = "EXPORT_REPORT"
    GEOCODE_SESSION = "GEOCODE_SESSION"
    OPTIMIZE_ROUTES = "OPTIMIZE_ROUTES"


READONLY_SESSION_STATUSES = frozenset({SessionStatus.COMPLETED, SessionStatus.ARCHIVED})
FINAL_DELIVERY_STATUSES = frozenset({DeliveryStatus.DELIVERED, DeliveryStatus.FAILED})
# A job asked for again while in one of these is the same work: the running one answers.
ACTIVE_JOB_STATUSES = frozenset({JobStatus.QUEUED, JobStatus.RUNNING})
