"""Typed models for every table.

Database-level guards (triggers) that protect history live in db/guards.py and are installed
by the migrations; CHECK constraints sit here next to the columns they protect.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Enum,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Identity,
    Index,
    Integer,
    LargeBinary,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    false,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column, relationship

from db.base import Base, CreatedAtMixin, new_id, utcnow
from db.enums import (
    DeliveryStatus,
    JobKind,
    JobStatus,
    Role,
    SessionStatus,
    WebhookDeliveryStatus,
)

Money = Numeric(12, 2)
# A label's 2D payload (Mercado Livre's QR JSON, a tracking URL) is kept whole, within reason.
RAW_TEXT_MAX = 4096


def _enum(cls: type[Any], name: str) -> Enum:
    return Enum(cls, name=name, values_callable=lambda e: [m.value for m in e])


class User(CreatedAtMixin, Base):
    __tablename__ = "users"

    id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), primary_key=True, default=new_id, server_default=func.gen_random_uuid()
    )
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    role: Mapped[Role] = mapped_column(_enum(Role, "user_role"), nullable=False)
    # Unique: a Telegram account acts as exactly one Bipa user (bot identity lookup).
    telegram_id: Mapped[str | None] = mapped_column(String(64), unique=True)

    __table_args__ = (CheckConstraint("length(btrim(name)) > 0", name="name_not_blank"),)


class ApiToken(CreatedAtMixin, Base):
    """Bearer tokens; only the SHA-256 hex digest is stored, never the token."""

    __tablename__ = "api_tokens"

    id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), primary_key=True, default=new_id, server_default=func.gen_random_uuid()
    )
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
    )
    # Unique index: every authenticated request looks the caller up by this hash.
    token_hash: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    revoked_at: Mapped[datetime | None] = mapped_column()

    # Relationships only order the unit of work's INSERTs; lazy="raise" forbids implicit I/O.
    user: Mapped[User] = relationship(lazy="raise")

    __table_args__ = (CheckConstraint("token_hash ~ '^[0-9a-f]{64}$'", name="token_hash_hex"),)


class DeliverySession(CreatedAtMixin, Base):
    __tablename__ = "delivery_sessions"

    id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), primary_key=True, default=new_id, server_default=func.gen_random_uuid()
    )
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    status: Mapped[SessionStatus] = mapped_column(
        _enum(SessionStatus, "session_status"), nullable=False, default=SessionStatus.OPEN
    )
    owner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), nullable=False)
    was_reused: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    reuse_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    started_at: Mapped[datetime | None] = mapped_column()
    completed_at: Mapped[datetime | None] = mapped_column()
    archived_at: Mapped[datetime | None] = mapped_column()
    updated_at: Mapped[datetime] = mapped_column(
        nullable=False, server_default=func.now(), default=utcnow, onupdate=utcnow
    )
    # Sequence number of the newest audit entry; the row lock on this session serializes it.
    last_sequence: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    financial_snapshot: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    route_optimization_data: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    # Proof a deliverer must give to mark a package DELIVERED (domain/proof.py).
    proof_requires_photo: Mapped[bool] = mapped_column(
        Boolean, nullable=False, default=False, server_default=text("false")
    )
    proof_requires_signature: Mapped[bool] = mapped_column(
        Boolean, nullable=False, default=False, server_default=text("false")
    )

    owner: Mapped[User] = relationship(lazy="raise")

    __table_args__ = (
        CheckConstraint("length(btrim(name)) > 0", name="name_not_blank"),
        CheckConstraint("reuse_count >= 0", name="reuse_count_non_negative"),
        CheckConstraint("last_sequence >= 0", name="last_sequence_non_negative"),
        CheckConstraint(
            "(financial_snapshot IS NULL) = (status NOT IN ('COMPLETED', 'ARCHIVED'))",
            name="snapshot_iff_completed",
        ),
        # Listing "my sessions", newest first.
        Index("ix_delivery_sessions_owner_created", "owner_id", "created_at"),
        # Listing sessions by status (the default list hides ARCHIVED), newest first.
        Index("ix_delivery_sessions_status_created", "status", "created_at"),
    )


class SessionAddress(Base):
    __tablename__ = "session_addresses"
    # Set once when what identifies the recipient was removed (LGPD; db/guards.py).
    anonymized_at: Mapped[datetime | None] = mapped_column()

    id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), primary_key=True, default=new_id, server_default=func.gen_random_uuid()
    )
    session_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("delivery_sessions.id", ondelete="CASCADE"), nullable=False
    )
    normalized_key: Mapped[str] = mapped_column(Text, nullable=False)
    # As given, or built from the parts below when only they were given.
    line: Mapped[str] = mapped_column(Text, nullable=False)
    # The structured Brazilian parts; all NULL for an address given as a line only.
    street: Mapped[str | None] = mapped_column(Text)
    number: Mapped[str | None] = mapped_column(String(20))
    complement: Mapped[str | None] = mapped_column(Text)
    neighbourhood: Mapped[str | None] = mapped_column(Text)
    city: Mapped[str | None] = mapped_column(Text)
    state: Mapped[str | None] = mapped_column(String(2))
    # The CEP as 8 digits (rows older than 0007 may hold what was typed, when not a CEP).
    postal_code: Mapped[str | None] = mapped_column(String(32))
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    # How the coordinates were found (geo.Precision) and by whom (a provider, "manual",
    # "input"); NULL while not placed.
    geo_precision: Mapped[str | None] = mapped_column(String(16))
    geo_provider: Mapped[str | None] = mapped_column(String(32))
    # The last geocoding attempt: when, the steps tried and their outcomes (domain/locations.py).
    geocoding_cache: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    package_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)

    session: Mapped[DeliverySession] = relationship(lazy="raise")

    __table_args__ = (
        # Equal addresses share one row: looked up by (key, session) on every addPackages.
        # The key leads: an index that led with session_id tied, in a young table's generic
        # plan, with the FK target below, and the packages' FK check then scanned every
        # address of the session for each package inserted (an import went quadratic; 0009).
        UniqueConstraint("normalized_key", "session_id"),
        # Target of the composite FK from packages (an address belongs to the package's session).
        UniqueConstraint("session_id", "id", name="uq_session_addresses_session_id_id"),
        CheckConstraint("package_count >= 0", name="package_count_non_negative"),
        CheckConstraint("latitude IS NULL OR latitude BETWEEN -90 AND 90", name="latitude_range"),
        CheckConstraint(
            "longitude IS NULL OR longitude BETWEEN -180 AND 180", name="longitude_range"
        ),
        CheckConstraint(
            "geo_precision IS NULL OR geo_precision IN ('ROOFTOP', 'STREET', 'CEP', 'MANUAL')",
            name="geo_precision_known",
        ),
        CheckConstraint("state IS NULL OR state ~ '^[A-Z]{2}$'", name="state_two_letters"),
    )


class GeocodeCache(Base):
    """What a geocoder answered for a normalised address (geo.geocode_key), across sessions:
    an address is looked up once. Holds no recipient and no session. No coordinates: the
    chain answered, definitively, that it found nothing."""

    __tablename__ = "geocode_cache"

    key: Mapped[str] = mapped_column(Text, primary_key=True)
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    precision: Mapped[str | None] = mapped_column(String(16))
    provider: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(
        nullable=False, server_default=func.now(), default=utcnow
    )
    updated_at: Mapped[datetime] = mapped_column(
        nullable=False, server_default=func.now(), default=utcnow, onupdate=utcnow
    )

    __table_args__ = (
        CheckConstraint("(latitude IS NULL) = (longitude IS NULL)", name="place_whole"),
        CheckConstraint("(latitude IS NULL) = (precision IS NULL)", name="precision_iff_place"),
        CheckConstraint("latitude IS NULL OR latitude BETWEEN -90 AND 90", name="latitude_range"),
        CheckConstraint(
            "longitude IS NULL OR longitude BETWEEN -180 AND 180", name="longitude_range"
        ),
    )


class SessionDeliverer(CreatedAtMixin, Base):
    __tablename__ = "session_deliverers"

    id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), primary_key=True, default=new_id, server_default=func.gen_random_uuid()
    )
    session_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("delivery_sessions.id", ondelete="CASCADE"), nullable=False
    )
    # Indexed: a DELIVERER sees the sessions they take part in (visibility filter).
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), nullable=False, index=True)
    base_salary: Mapped[Decimal] = mapped_column(Money, nullable=False)
    commission_per_delivery: Mapped[Decimal] = mapped_column(Money, nullable=False)
    packages_assigned: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    packages_delivered: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    packages_failed: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    total_earned: Mapped[Decimal] = mapped_column(Money, nullable=False)
    route: Mapped[dict[str, Any] | None] = mapped_column(JSONB)

    session: Mapped[DeliverySession] = relationship(lazy="raise")
    user: Mapped[User] = relationship(lazy="raise")

    __table_args__ = (
        # The user leads, for the same reason as the addresses' key (0009).
        UniqueConstraint("user_id", "session_id"),
        UniqueConstraint("session_id", "id", name="uq_session_deliverers_session_id_id"),
        CheckConstraint("base_salary >= 0", name="base_salary_non_negative"),
        CheckConstraint("commission_per_delivery >= 0", name="commission_non_negative"),
        CheckConstraint("total_earned >= 0", name="total_earned_non_negative"),
        CheckConstraint(
            "packages_assigned >= 0 AND packages_delivered >= 0 AND packages_failed >= 0",
            name="counters_non_negative",
        ),
    )


class SessionPackage(CreatedAtMixin, Base):
    __tablename__ = "session_packages"
    # Set once when what identifies the recipient was removed (LGPD; db/guards.py).
    anonymized_at: Mapped[datetime | None] = mapped_column()

    id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), primary_key=True, default=new_id, server_default=func.gen_random_uuid()
    )
    session_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("delivery_sessions.id", ondelete="CASCADE"), nullable=False
    )
    # The canonical code (tracking.identify): what dedup and matching use. A label read
    # through its QR, its Code 128 or typed by hand has one canonical code.
    barcode: Mapped[str] = mapped_column(String(64), nullable=False)
    symbology: Mapped[str | None] = mapped_column(String(32))
    carrier: Mapped[str | None] = mapped_column(String(32))
    # The text as read or typed (a QR's JSON or URL, case kept); NULL on rows older than 0003,
    # whose raw text was their barcode.
    raw_text: Mapped[str | None] = mapped_column(Text)
    status: Mapped[DeliveryStatus] = mapped_column(
        _enum(DeliveryStatus, "delivery_status"), nullable=False, default=DeliveryStatus.PENDING
    )
    recipient_name: Mapped[str | None] = mapped_column(String(200))
    # The recipient and address were read from the label's photo, not given by the request.
    recipient_from_label: Mapped[bool] = mapped_column(
        nullable=False, default=False, server_default=false()
    )
    address_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    deliverer_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    failure_reason: Mapped[str | None] = mapped_column(Text)
    scan_report: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    updated_at: Mapped[datetime] = mapped_column(
        nullable=False, server_default=func.now(), default=utcnow, onupdate=utcnow
    )
    delivered_at: Mapped[datetime | None] = mapped_column()

    session: Mapped[DeliverySession] = relationship(lazy="raise")
    address: Mapped[SessionAddress | None] = relationship(
        primaryjoin="SessionPackage.address_id == SessionAddress.id",
        foreign_keys=[address_id],
        lazy="raise",
    )
    deliverer: Mapped[SessionDeliverer | None] = relationship(
        primaryjoin="SessionPackage.deliverer_id == SessionDeliverer.id",
        foreign_keys=[deliverer_id],
        lazy="raise",
    )

    __table_args__ = (
        # Never the same barcode twice in one session; also serves lookups by barcode.
        UniqueConstraint("session_id", "barcode"),
        # Composite FKs: the address and the deliverer must belong to the package's own session.
        ForeignKeyConstraint(
            ["session_id", "address_id"],
            ["session_addresses.session_id", "session_addresses.id"],
            name="fk_session_packages_address_same_session",
        ),
        ForeignKeyConstraint(
            ["session_id", "deliverer_id"],
            ["session_deliverers.session_id", "session_deliverers.id"],
            name="fk_session_packages_deliverer_same_session",
        ),
        # Package lists filtered by status (progress, "pending" views) within a session. The
        # status leads: only the (session_id, barcode) index may then answer a lookup by code,
        # whatever a young table's generic plan would pick otherwise (0009).
        Index("ix_session_packages_status_session", "status", "session_id"),
        # A deliverer's packages (DataLoaders and the DELIVERER permission check).
        Index("ix_session_packages_deliverer", "deliverer_id"),
        # Packages per address (Address.packageCount checks and address loaders).
        Index("ix_session_packages_address", "address_id"),
        CheckConstraint("length(barcode) BETWEEN 1 AND 64", name="barcode_length"),
        CheckConstraint(f"length(raw_text) <= {RAW_TEXT_MAX}", name="raw_text_length"),
        CheckConstraint(
            "(status = 'DELIVERED') = (delivered_at IS NOT NULL)", name="delivered_at_iff_delivered"
        ),
        CheckConstraint(
            "status <> 'FAILED' OR failure_reason IS NOT NULL", name="failed_needs_reason"
        ),
    )


class PackageProof(CreatedAtMixin, Base):
    """Proof given with a package's final status change (one per package: final is final).

    The place and the recipient's name live here, never in the audit log; the objects are in
    object storage, named by key in `proof_objects`.
    """

    __tablename__ = "package_proofs"
    # Set once when what identifies the recipient was removed (LGPD; db/guards.py).
    anonymized_at: Mapped[datetime | None] = mapped_column()

    id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), primary_key=True, default=new_id, server_default=func.gen_random_uuid()
    )
    session_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("delivery_sessions.id"), nullable=False, index=True
    )
    package_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("session_packages.id"), nullable=False, unique=True
    )
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    received_by: Mapped[str | None] = mapped_column(String(200))
    note: Mapped[str | None] = mapped_column(String(500))
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    accuracy_m: Mapped[float | None] = mapped_column(Float)
    # The phone's clock when the proof was taken (the server's time is created_at).
    captured_at: Mapped[datetime | None] = mapped_column()

    __table_args__ = (
        CheckConstraint("status IN ('DELIVERED', 'FAILED')", name="status_final"),
        CheckConstraint("latitude IS NULL OR latitude BETWEEN -90 AND 90", name="latitude_range"),
        CheckConstraint(
            "longitude IS NULL OR longitude BETWEEN -180 AND 180", name="longitude_range"
        ),
        CheckConstraint("(latitude IS NULL) = (longitude IS NULL)", name="place_whole"),
        CheckConstraint("accuracy_m IS NULL OR accuracy_m >= 0", name="accuracy_non_negative"),
    )


class ProofObject(CreatedAtMixin, Base):
    """A stored file of a proof: its key, hash and size, never a link."""

    __tablename__ = "proof_objects"
    # Set once when what identifies the recipient was removed (LGPD; db/guards.py).
    anonymized_at: Mapped[datetime | None] = mapped_column()

    id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), primary_key=True, default=new_id, server_default=func.gen_random_uuid()
    )
    proof_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("package_proofs.id"), nullable=False, index=True
    )
    # Repeated from the proof, for the read-only guard (db/guards.py).
    session_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("delivery_sessions.id"), nullable=False
    )
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    position: Mapped[int] = mapped_column(Integer, nullable=False)
    # Unique: keys are never reused; the sweeper asks which stored keys are known.
    key: Mapped[str] = mapped_column(String(512), nullable=False, unique=True)
    sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    size: Mapped[int] = mapped_column(Integer, nullable=False)
    width: Mapped[int] = mapped_column(Integer, nullable=False)
    height: Mapped[int] = mapped_column(Integer, nullable=False)
    content_type: Mapped[str] = mapped_column(String(64), nullable=False)

    __table_args__ = (
        CheckConstraint("kind IN ('PHOTO', 'SIGNATURE')", name="kind_known"),
        CheckConstraint("sha256 ~ '^[0-9a-f]{64}$'", name="sha256_hex"),
        CheckConstraint("size > 0 AND width > 0 AND height > 0", name="dimensions_positive"),
        UniqueConstraint("proof_id", "kind", "position"),
    )


class AuditEntry(Base):
    """Append-only history of a session (UPDATE/DELETE refused by trigger, see db/guards.py)."""

    __tablename__ = "session_audit_log"

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    session_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("delivery_sessions.id"), nullable=False
    )
    sequence: Mapped[int] = mapped_column(Integer, nullable=False)
    action: Mapped[str] = mapped_column(String(64), nullable=False)
    actor_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, default=dict)
    created_at: Mapped[datetime] = mapped_column(
        nullable=False, server_default=func.now(), default=utcnow
    )

    session: Mapped[DeliverySession] = relationship(lazy="raise")
    actor: Mapped[User | None] = relationship(lazy="raise")

    __table_args__ = (
        # Gapless per-session order; the unique index also serves replays "after sequence N".
        UniqueConstraint("session_id", "sequence"),
        CheckConstraint("sequence > 0", name="sequence_positive"),
    )


class IdempotencyKey(CreatedAtMixin, Base):
    """A mutation's first result, kept so that a retried request returns it again."""

    __tablename__ = "idempotency_keys"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    operation: Mapped[str] = mapped_column(String(64), nullable=False)
    request_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    response: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    expires_at: Mapped[datetime] = mapped_column(nullable=False)

    __table_args__ = (
        # The purge job deletes expired keys by this column.
        Index("ix_idempotency_keys_expires_at", "expires_at"),
    )


class Webhook(CreatedAtMixin, Base):
    """An integration endpoint. The signing secret is stored encrypted (AES-GCM), never plain."""

    __tablename__ = "webhooks"

    id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), primary_key=True, default=new_id, server_default=func.gen_random_uuid()
    )
    # Indexed: the outbox looks up the webhooks of a session's owner on every commit.
    owner_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
    )
    url: Mapped[str] = mapped_column(String(2048), nullable=False)
    events: Mapped[list[str]] = mapped_column(ARRAY(String(64)), nullable=False)
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    failure_streak: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    secret_ciphertext: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(
        nullable=False, server_default=func.now(), default=utcnow, onupdate=utcnow
    )

    owner: Mapped[User] = relationship(lazy="raise")

    __table_args__ = (
        CheckConstraint("failure_streak >= 0", name="failure_streak_non_negative"),
        CheckConstraint("cardinality(events) > 0", name="events_not_empty"),
    )


class WebhookDelivery(CreatedAtMixin, Base):
    """The outbox: written in the transaction of the change it reports, sent by the workers."""

    __tablename__ = "webhook_deliveries"

    id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), primary_key=True, default=new_id, server_default=func.gen_random_uuid()
    )
    webhook_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("webhooks.id", ondelete="CASCADE"), nullable=False
    )
    event: Mapped[str] = mapped_column(String(64), nullable=False)
    session_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("delivery_sessions.id"))
    sequence: Mapped[int | None] = mapped_column(Integer)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    status: Mapped[WebhookDeliveryStatus] = mapped_column(
        _enum(WebhookDeliveryStatus, "webhook_delivery_status"),
        nullable=False,
        default=WebhookDeliveryStatus.PENDING,
    )
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[datetime | None] = mapped_column()
    delivered_at: Mapped[datetime | None] = mapped_column()
    redelivery_of: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))

    webhook: Mapped[Webhook] = relationship(lazy="raise")

    __table_args__ = (
        # Workers claim due deliveries: only PENDING rows, by due time (partial index).
        Index(
            "ix_webhook_deliveries_due",
            "next_attempt_at",
            postgresql_where=text("status = 'PENDING'"),
        ),
        # A webhook's delivery log, newest first (Webhook.deliveries).
        Index("ix_webhook_deliveries_webhook_created", "webhook_id", "created_at"),
        CheckConstraint("attempts >= 0", name="attempts_non_negative"),
        CheckConstraint(
            "(status = 'DELIVERED') = (delivered_at IS NOT NULL)", name="delivered_at_iff_delivered"
        ),
    )


class Job(CreatedAtMixin, Base):
    """Background work under a session (an import, an export): our row, written in the
    command's transaction; procrastinate's own job only carries its id (see jobs/)."""

    __tablename__ = "jobs"

    id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), primary_key=True, default=new_id, server_default=func.gen_random_uuid()
    )
    kind: Mapped[JobKind] = mapped_column(_enum(JobKind, "job_kind"), nullable=False)
    session_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("delivery_sessions.id", ondelete="CASCADE"), nullable=False
    )
    status: Mapped[JobStatus] = mapped_column(
        _enum(JobStatus, "job_status"), nullable=False, default=JobStatus.QUEUED
    )
    # What the work is (file key and hash, format, flags): never personal data.
    params: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    # SHA-256 of (kind, session, params): the same work asked for again while it is active.
    work_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    progress: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    done: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    failed: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    total: Mapped[int | None] = mapped_column(Integer)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    requested_by: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), nullable=False
    )
    started_at: Mapped[datetime | None] = mapped_column()
    finished_at: Mapped[datetime | None] = mapped_column()
    updated_at: Mapped[datetime] = mapped_column(
        nullable=False, server_default=func.now(), default=utcnow, onupdate=utcnow
    )

    __table_args__ = (
        # One active job per piece of work, enforced by the database too (a race of two
        # requests ends with one row; the loser answers the winner's job).
        Index(
            "uq_jobs_active_work",
            "work_hash",
            unique=True,
            postgresql_where=text("status IN ('QUEUED', 'RUNNING')"),
        ),
        # jobs(sessionId, status), newest first.
        Index("ix_jobs_session_created", "session_id", "created_at"),
        # The re-defer sweep looks at active rows only.
        Index(
            "ix_jobs_active", "updated_at", postgresql_where=text("status IN ('QUEUED', 'RUNNING')")
        ),
        CheckConstraint("progress BETWEEN 0 AND 100", name="progress_percent"),
        CheckConstraint(
            "done >= 0 AND failed >= 0 AND attempts >= 0 AND (total IS NULL OR total >= 0)",
            name="counters_non_negative",
        ),
        CheckConstraint(
            "(status IN ('SUCCEEDED', 'FAILED', 'CANCELLED')) = (finished_at IS NOT NULL)",
            name="finished_at_iff_final",
        ),
    )
