"""Audit actions, which are also the webhook event names: one list, used by both."""

from __future__ import annotations

import enum


class Action(enum.StrEnum):
    SESSION_CREATED = "session.created"
    SESSION_REUSED = "session.reused"
    SESSION_STARTED = "session.started"
    SESSION_PAUSED = "session.paused"
    SESSION_RESUMED = "session.resumed"
    SESSION_COMPLETED = "session.completed"
    SESSION_ARCHIVED = "session.archived"
    SESSION_PROOF_REQUIREMENT_CHANGED = "session.proof_requirement_changed"
    DELIVERER_ADDED = "deliverer.added"
    PACKAGE_ADDED = "package.added"
    PACKAGE_REMOVED = "package.removed"
    PACKAGE_ASSIGNED = "package.assigned"
    PACKAGE_STATUS_CHANGED = "package.status_changed"
    # What identified a package's recipient was removed (LGPD), on request or after retention.
    PACKAGE_ANONYMIZED = "package.anonymized"
    # Background jobs under the session (domain/jobs.py): asked for, cancelled, finished.
    JOB_CREATED = "job.created"
    JOB_CANCELLED = "job.cancelled"
    JOB_SUCCEEDED = "job.succeeded"
    JOB_FAILED = "job.failed"
    # A batch of a session's addresses was geocoded (counts only, never a place).
    ADDRESSES_GEOCODED = "session.addresses_geocoded"
    # A manager pinned an address on the map (its precision, never the coordinates).
    ADDRESS_LOCATED = "address.located"
    # Routes were optimized: deliverers, stops, cost (each package moved is package.assigned).
    ROUTES_OPTIMIZED = "session.routes_optimized"


# Not an audit action: the event of testWebhook's deliveries.
PING = "ping"
# A webhook subscribed to every action.
ALL = "*"
