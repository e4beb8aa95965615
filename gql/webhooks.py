"""The webhook part of the contract: endpoints, their delivery log, and management mutations."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import strawberry
from strawberry.types import Info

from db import enums
from db.models import Webhook as WebhookRow
from db.models import WebhookDelivery as DeliveryRow
from domain import webhooks
from domain.errors import DomainError, PermissionDenied
from gql import pagination
from gql.context import Context
from gql.errors import (
    IdempotencyConflictError,
    NotFoundError,
    PermissionDeniedError,
    ValidationError,
    to_error,
)
from gql.reads import bad_input
from gql.runner import parse_uuid, run
from gql.types import PageInfo

strawberry.enum(
    enums.WebhookDeliveryStatus, name="WebhookDeliveryStatus"
)  # registers the class itself
WebhookDeliveryStatus = enums.WebhookDeliveryStatus


@strawberry.type
class WebhookDelivery:
    row: strawberry.Private[DeliveryRow]

    @strawberry.field(description="Also sent as the Bipa-Delivery header.")
    def id(self) -> strawberry.ID:
        return strawberry.ID(str(self.row.id))

    @strawberry.field
    def event(self) -> str:
        return self.row.event

    @strawberry.field
    def session_id(self) -> strawberry.ID | None:
        return strawberry.ID(str(self.row.session_id)) if self.row.session_id else None

    @strawberry.field
    def sequence(self) -> int | None:
        return self.row.sequence

    @strawberry.field
    def status(self) -> WebhookDeliveryStatus:
        return self.row.status

    @strawberry.field
    def attempts(self) -> int:
        return self.row.attempts

    @strawberry.field
    def last_status_code(self) -> int | None:
        return self.row.last_status_code

    @strawberry.field
    def last_error(self) -> str | None:
        return self.row.last_error

    @strawberry.field
    def next_attempt_at(self) -> datetime | None:
        return (
            self.row.next_attempt_at
            if self.row.status is enums.WebhookDeliveryStatus.PENDING
            else None
        )

    @strawberry.field
    def created_at(self) -> datetime:
        return self.row.created_at

    @strawberry.field
    def delivered_at(self) -> datetime | None:
        return self.row.delivered_at


@strawberry.type
class WebhookDeliveryEdge:
    cursor: str
    node: WebhookDelivery


@strawberry.type
class WebhookDeliveryConnection:
    edges: list[WebhookDeliveryEdge]
    page_info: PageInfo
    total_count: int


@strawberry.type
class Webhook:
    row: strawberry.Private[WebhookRow]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(str(self.row.id))

    @strawberry.field
    def url(self) -> str:
        return self.row.url

    @strawberry.field
    def events(self) -> list[str]:
        return list(self.row.events)

    @strawberry.field
    def active(self) -> bool:
        return self.row.active

    @strawberry.field
    def failure_streak(self) -> int:
        return self.row.failure_streak

    @strawberry.field
    def created_at(self) -> datetime:
        return self.row.created_at

    @strawberry.field
    async def deliveries(
        self,
        info: Info[Context, None],
        first: int | None = 50,
        after: str | None = None,
        status: WebhookDeliveryStatus | None = None,
    ) -> WebhookDeliveryConnection:
        try:
            size = pagination.page_size(first, 50)
            cursor = pagination.decode_time_id(after, "whd")
        except Exception as exc:
            raise bad_input(exc) from None  # type: ignore[arg-type]
        async with info.context.services.uow() as uow:
            rows, total = await uow.webhooks.deliveries(
                self.row.id,
                status=status,
                first=size,
                after=cursor,
            )
        more = len(rows) > size
        edges = [
            WebhookDeliveryEdge(
                cursor=pagination.encode("whd", r.created_at, r.id), node=WebhookDelivery(row=r)
            )
            for r in rows[:size]
        ]
        return WebhookDeliveryConnection(
            edges=edges,
            page_info=PageInfo(has_next_page=more, end_cursor=edges[-1].cursor if edges else None),
            total_count=total,
        )


@strawberry.input
class CreateWebhookInput:
    url: str
    events: list[str]
    idempotency_key: str | None = None


@strawberry.input
class UpdateWebhookInput:
    webhook_id: strawberry.ID
    url: str | None = None
    events: list[str] | None = None
    active: bool | None = None


@strawberry.input
class WebhookActionInput:
    webhook_id: strawberry.ID


@strawberry.input
class WebhookDeliveryActionInput:
    delivery_id: strawberry.ID


@strawberry.type
class WebhookSuccess:
    webhook: Webhook


@strawberry.type
class WebhookSecretSuccess:
    webhook: Webhook
    secret: str = strawberry.field(description="Shown only here; stored encrypted.")


@strawberry.type
class WebhookDeliverySuccess:
    delivery: WebhookDelivery


CreateWebhookResult = Annotated[
    WebhookSecretSuccess
    | ValidationError
    | PermissionDeniedError
    | IdempotencyConflictError
    | NotFoundError,
    strawberry.union("CreateWebhookResult"),
]
UpdateWebhookResult = Annotated[
    WebhookSuccess | NotFoundError | ValidationError | PermissionDeniedError,
    strawberry.union("UpdateWebhookResult"),
]
DeleteWebhookResult = Annotated[
    WebhookSuccess | NotFoundError | PermissionDeniedError, strawberry.union("DeleteWebhookResult")
]
RotateWebhookSecretResult = Annotated[
    WebhookSecretSuccess | NotFoundError | PermissionDeniedError,
    strawberry.union("RotateWebhookSecretResult"),
]
TestWebhookResult = Annotated[
    WebhookDeliverySuccess | NotFoundError | PermissionDeniedError,
    strawberry.union("TestWebhookResult"),
]
RedeliverWebhookDeliveryResult = Annotated[
    WebhookDeliverySuccess | NotFoundError | PermissionDeniedError,
    strawberry.union("RedeliverWebhookDeliveryResult"),
]


def _config(info: Info[Context, None]) -> webhooks.WebhookConfig:
    config = info.context.services.webhooks
    if config is None:
        raise PermissionDenied("webhooks are not configured on this server")
    return config


async def _simple(info: Info[Context, None], work: Any) -> Any:
    """One transaction around `work(uow, caller)`; domain errors become union members."""
    caller = await info.context.caller()
    try:
        async with info.context.services.uow() as uow:
            result = await work(uow, caller)
            await uow.commit()
    except DomainError as exc:
        return to_error(exc)
    return result


@strawberry.type
class WebhookQueries:
    @strawberry.field(description="The caller's webhooks (all of them for an admin).")
    async def webhooks(self, info: Info[Context, None]) -> list[Webhook]:
        caller = await info.context.caller()
        if caller.role is enums.Role.DELIVERER:
            return []
        async with info.context.services.uow() as uow:
            rows = await uow.webhooks.visible(caller.id, caller.role)
        return [Webhook(row=r) for r in rows]


@strawberry.type
class WebhookMutations:
    @strawberry.mutation(description="The signing secret is in the answer, and only there.")
    async def create_webhook(
        self, info: Info[Context, None], input: CreateWebhookInput
    ) -> CreateWebhookResult:
        secrets: dict[str, tuple[WebhookRow, str]] = {}

        async def action(uow: Any, caller: Any) -> dict[str, Any]:
            row, secret = await webhooks.create_webhook(
                uow, caller, _config(info), input.url, input.events
            )
            secrets[str(row.id)] = (row, secret)
            return {"webhook": str(row.id)}

        async def render(ref: dict[str, Any]) -> Any:
            if ref["webhook"] in secrets:
                row, secret = secrets[ref["webhook"]]
                return WebhookSecretSuccess(webhook=Webhook(row=row), secret=secret)
            # A replay by the same caller with the same key: the first answer may never have
            # arrived, so it is given again (secret included), as long as the webhook exists.
            async with info.context.services.uow() as uow:
                stored = await uow.webhooks.get(parse_uuid(ref["webhook"], "webhook"))
            if stored is None:
                return NotFoundError(message="this webhook was deleted", id=ref["webhook"])
            secret = _config(info).box.decrypt(stored.secret_ciphertext)
            return WebhookSecretSuccess(webhook=Webhook(row=stored), secret=secret)

        payload = {"url": input.url, "events": sorted(input.events)}
        return await run(info, "createWebhook", payload, input.idempotency_key, action, render)

    @strawberry.mutation
    async def update_webhook(
        self, info: Info[Context, None], input: UpdateWebhookInput
    ) -> UpdateWebhookResult:
        async def work(uow: Any, caller: Any) -> WebhookSuccess:
            row = await webhooks.update_webhook(
                uow,
                caller,
                _config(info),
                parse_uuid(input.webhook_id, "webhook"),
                url=input.url,
                events=input.events,
                active=input.active,
            )
            return WebhookSuccess(webhook=Webhook(row=row))

        return await _simple(info, work)

    @strawberry.mutation
    async def delete_webhook(
        self, info: Info[Context, None], input: WebhookActionInput
    ) -> DeleteWebhookResult:
        async def work(uow: Any, caller: Any) -> WebhookSuccess:
            row = await webhooks.delete_webhook(
                uow, caller, parse_uuid(input.webhook_id, "webhook")
            )
            return WebhookSuccess(webhook=Webhook(row=row))

        return await _simple(info, work)

    @strawberry.mutation
    async def rotate_webhook_secret(
        self, info: Info[Context, None], input: WebhookActionInput
    ) -> RotateWebhookSecretResult:
        async def work(uow: Any, caller: Any) -> WebhookSecretSuccess:
            row, secret = await webhooks.rotate_secret(
                uow, caller, _config(info), parse_uuid(input.webhook_id, "webhook")
            )
            return WebhookSecretSuccess(webhook=Webhook(row=row), secret=secret)

        return await _simple(info, work)

    @strawberry.mutation(description="Queues a ping delivery.")
    async def test_webhook(
        self, info: Info[Context, None], input: WebhookActionInput
    ) -> TestWebhookResult:
        async def work(uow: Any, caller: Any) -> WebhookDeliverySuccess:
            row = await webhooks.test_webhook(uow, caller, parse_uuid(input.webhook_id, "webhook"))
            return WebhookDeliverySuccess(delivery=WebhookDelivery(row=row))

        return await _simple(info, work)

    @strawberry.mutation(description="Queues a new delivery with the same event and data.")
    async def redeliver_webhook_delivery(
        self, info: Info[Context, None], input: WebhookDeliveryActionInput
    ) -> RedeliverWebhookDeliveryResult:
        async def work(uow: Any, caller: Any) -> WebhookDeliverySuccess:
            row = await webhooks.redeliver(uow, caller, parse_uuid(input.delivery_id, "delivery"))
            return WebhookDeliverySuccess(delivery=WebhookDelivery(row=row))

        return await _simple(info, work)
