"""Query-side resolvers: visibility-checked reads with keyset pagination."""

from __future__ import annotations

import uuid

import strawberry
from strawberry.types import Info

from domain.errors import ValidationFailed
from gql import pagination
from gql.context import Context
from gql.types import (
    AuditConnection,
    AuditEdge,
    AuditEntryType,
    DeliverySessionType,
    DeliveryStatus,
    PackageConnection,
    PackageEdge,
    PackageType,
    PageInfo,
    SessionConnection,
    SessionEdge,
    SessionStatus,
    package_cursor,
)


def parse_id(value: str | None) -> uuid.UUID | None:
    if value is None:
        return None
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def bad_input(exc: ValidationFailed) -> Exception:
    from graphql import GraphQLError

    return GraphQLError(exc.message, extensions={"code": "BAD_USER_INPUT", "field": exc.field})


async def session_by_id(info: Info[Context, None], id: strawberry.ID) -> DeliverySessionType | None:
    caller = await info.context.caller()
    sid = parse_id(id)
    if sid is None:
        return None
    async with info.context.services.uow() as uow:
        row = await uow.sessions.get_visible(sid, caller.id, caller.role)
    if row is None:
        return None
    info.context.loaders.prime_session(row)
    info.context.loaders.prime_user(row.owner)
    return DeliverySessionType(row=row)


async def list_sessions(
    info: Info[Context, None],
    status: SessionStatus | None,
    owner_id: strawberry.ID | None,
    first: int | None,
    after: str | None,
) -> SessionConnection:
    caller = await info.context.caller()
    try:
        size = pagination.page_size(first, 50)
        cursor = pagination.decode_time_id(after, "ses")
    except ValidationFailed as exc:
        raise bad_input(exc) from None
    owner = parse_id(owner_id)
    if owner_id is not None and owner is None:
        return SessionConnection(
            edges=[], page_info=PageInfo(has_next_page=False, end_cursor=None), total_count=0
        )
    async with info.context.services.uow() as uow:
        rows, total = await uow.sessions.list_visible(
            caller.id,
            caller.role,
            status=status,
            owner_id=owner,
            first=size,
            after=cursor,
        )
    more = len(rows) > size
    rows = rows[:size]
    edges = [
        SessionEdge(
            cursor=pagination.encode("ses", r.created_at, r.id), node=DeliverySessionType(row=r)
        )
        for r in rows
    ]
    for r in rows:
        info.context.loaders.prime_session(r)
    return SessionConnection(
        edges=edges,
        page_info=PageInfo(has_next_page=more, end_cursor=edges[-1].cursor if edges else None),
        total_count=total,
    )


async def package_connection(
    info: Info[Context, None],
    session_id: uuid.UUID,
    first: int | None,
    after: str | None,
    status: DeliveryStatus | None,
    deliverer_id: strawberry.ID | None,
) -> PackageConnection:
    try:
        size = pagination.page_size(first, 100)
        cursor = pagination.decode_time_id(after, "pkg")
    except ValidationFailed as exc:
        raise bad_input(exc) from None
    did = parse_id(deliverer_id)
    if deliverer_id is not None and did is None:
        return PackageConnection(
            edges=[], page_info=PageInfo(has_next_page=False, end_cursor=None), total_count=0
        )
    async with info.context.services.uow() as uow:
        rows, total = await uow.packages.page(
            session_id,
            first=size,
            after=cursor,
            status=status,
            deliverer_id=did,
        )
    more = len(rows) > size
    rows = rows[:size]
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
        page_info=PageInfo(has_next_page=more, end_cursor=edges[-1].cursor if edges else None),
        total_count=total,
    )


async def audit_connection(
    info: Info[Context, None], session_id: uuid.UUID, first: int | None, after: str | None
) -> AuditConnection:
    try:
        size = pagination.page_size(first, 100)
        after_sequence = pagination.decode_int(after, "aud")
    except ValidationFailed as exc:
        raise bad_input(exc) from None
    async with info.context.services.uow() as uow:
        rows = await uow.audit.after(session_id, after_sequence, size + 1)
        total = await uow.audit.count(session_id)
    more = len(rows) > size
    rows = rows[:size]
    edges = [
        AuditEdge(cursor=pagination.encode("aud", r.sequence), node=AuditEntryType(row=r))
        for r in rows
    ]
    return AuditConnection(
        edges=edges,
        page_info=PageInfo(has_next_page=more, end_cursor=edges[-1].cursor if edges else None),
        total_count=total,
    )


async def package_by_barcode(
    info: Info[Context, None], session_id: strawberry.ID, barcode: str
) -> PackageType | None:
    from domain.barcodes import normalize

    caller = await info.context.caller()
    sid = parse_id(session_id)
    if sid is None:
        return None
    async with info.context.services.uow() as uow:
        if not await uow.sessions.is_visible(sid, caller.id, caller.role):
            return None
        row = await uow.packages.by_barcode(sid, normalize(barcode))
    return PackageType.of(row) if row else None
