"""The GraphQL side of a command: parse ids, call the domain's runner once, render the answer.

Resolvers build one domain command and call `run`; the runner (domain/operations.py) owns
the transaction, idempotency, group commit and publishing. Rendering reads committed state:
the rows the command committed, or (on a replay) the rows its stored reference names,
through the operation's loaders; a row that is gone since answers NotFoundError.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from strawberry.types import Info

from db.models import DeliverySession, SessionAddress, SessionDeliverer, SessionPackage
from domain.commands import Command, Done
from domain.errors import DomainError, NotFound
from gql.context import Context
from gql.errors import to_error


def parse_uuid(value: Any, what: str) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        code = f"{what.upper()}_NOT_FOUND"
        raise NotFound(f"{what} not found", id=str(value), code=code) from None


async def run(
    info: Info[Context, None],
    build: Callable[[], Command],
    key: str | None,
    render: Callable[[Renderer], Awaitable[Any]],
) -> Any:
    """Runs the command `build` makes (parsing its ids may refuse) and renders its answer;
    every refusal becomes its union member."""
    caller = await info.context.caller()
    try:
        done = await info.context.services.runner.run_once(caller, build(), key)
        return await render(Renderer(info, done))
    except DomainError as exc:
        return to_error(exc)


class Renderer:
    """Committed rows of one command's answer, primed into the operation's loaders."""

    def __init__(self, info: Info[Context, None], done: Done) -> None:
        self.info = info
        self.done = done
        self.ref = done.ref
        loaders = info.context.loaders
        session = done.rows.get("session")
        if isinstance(session, DeliverySession):
            loaders.prime_session(session)
        for package in done.rows.get("packages", []):
            loaders.packages.prime(package.id, package, force=True)
        address = done.rows.get("address")
        if isinstance(address, SessionAddress):
            loaders.addresses.prime(address.id, address, force=True)
        deliverer = done.rows.get("deliverer")
        if isinstance(deliverer, SessionDeliverer):
            loaders.deliverers.prime(deliverer.id, deliverer, force=True)

    async def session(self) -> DeliverySession:
        sid = parse_uuid(self.ref["session"], "session")
        row = await self.info.context.loaders.sessions.load(sid)
        if row is None:
            raise NotFound("session not found", id=str(sid), code="SESSION_NOT_FOUND")
        return row

    async def package(self, package_id: str) -> SessionPackage:
        pid = parse_uuid(package_id, "package")
        row = await self.info.context.loaders.packages.load(pid)
        if row is None:  # removed since the call this replays
            raise NotFound("package not found", id=str(pid), code="PACKAGE_NOT_FOUND")
        return row

    async def deliverer(self, deliverer_id: str) -> SessionDeliverer:
        did = parse_uuid(deliverer_id, "deliverer")
        row = await self.info.context.loaders.deliverers.load(did)
        if row is None:
            raise NotFound("deliverer not found", id=str(did), code="DELIVERER_NOT_FOUND")
        return row
