"""Query-side resolvers: visibility-checked reads with keyset pagination."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from gql import pagination
from gql.context import Context
from gql.pagination import parse_id
from gql.types import (
    DeliverySessionType,
    PackageType,
    SessionConnection,
    SessionEdge,
    SessionStatus,
    page_info,
)


async def session_by_id(info: Info[Context, None], id: strawberry.ID) -> DeliverySessionType | None:
    caller = await info.context.caller()
    sid = parse_id(id)
    if sid is None:
        return None
    async with info.context.read() as uow:
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
    size, cursor = pagination.time_page(first, after, "ses", 50)
    owner = parse_id(owner_id)
    if owner_id is not None and owner is None:
        return SessionConnection(
            edges=[], page_info=page_info([], more=False, previous=False), total_count=0
        )
    async with info.context.read() as uow:
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
        page_info=page_info([e.cursor for e in edges], more=more, previous=after is not None),
        total_count=total,
    )


async def package_by_barcode(
    info: Info[Context, None], session_id: strawberry.ID, barcode: str
) -> PackageType | None:
    from domain.barcodes import canonical

    caller = await info.context.caller()
    sid = parse_id(session_id)
    if sid is None:
        return None
    async with info.context.read() as uow:
        if not await uow.sessions.is_visible(sid, caller.id, caller.role):
            return None
        row = await uow.packages.by_barcode(sid, canonical(barcode))
    return PackageType.of(row) if row else None
