"""Query-side resolvers: visibility-checked reads with keyset pagination."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from domain import permissions
from gql import pagination
from gql.context import Context
from gql.enums import Role, SessionStatus
from gql.pagination import parse_id
from gql.types import (
    DeliverySessionType,
    PackageType,
    SessionConnection,
    SessionEdge,
    UserConnection,
    UserEdge,
    UserSummary,
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
    window: pagination.Window,
) -> SessionConnection:
    caller = await info.context.caller()
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
            first=window.size,
            after=window.after,
            before=window.before,
            backward=window.backward,
        )
    rows, more, previous = pagination.settle(rows, window)
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
        page_info=page_info([e.cursor for e in edges], more=more, previous=previous),
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


async def list_users(
    info: Info[Context, None], role: Role | None, search: str | None, window: pagination.Window
) -> UserConnection:
    caller = await info.context.caller()
    if not permissions.can_list_users(caller):
        return UserConnection(
            edges=[], page_info=page_info([], more=False, previous=False), total_count=0
        )
    async with info.context.read() as uow:
        rows, total = await uow.users.page(
            role=role,
            search=" ".join((search or "").split())[:200] or None,
            first=window.size,
            after=window.after,
            before=window.before,
            backward=window.backward,
        )
    rows, more, previous = pagination.settle(rows, window)
    edges = [
        UserEdge(cursor=pagination.encode("usr", r.name, r.id), node=UserSummary.of(r))
        for r in rows
    ]
    return UserConnection(
        edges=edges,
        page_info=page_info([e.cursor for e in edges], more=more, previous=previous),
        total_count=total,
    )
