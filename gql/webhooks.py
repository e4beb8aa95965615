"""The webhook part of the contract: endpoints, their delivery log, and management mutations."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry
from strawberry.types import Info

from db import enums
from db.models import Webhook as WebhookRow
from db.models import WebhookDelivery as DeliveryRow
from domain import commands
from domain.errors import NotFound, PermissionDenied
from gql import pagination
from gql.context import Context
from gql.errors import ERRORS
from gql.runner import Renderer, parse_uuid, run
from gql.types import PageInfo, page_info

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
        size, cursor = pagination.time_page(first, after, "whd", 50)
        async with info.context.read() as uow:
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
            page_info=page_info([e.cursor for e in edges], more=more, previous=after is not None),
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
    WebhookSecretSuccess | ERRORS, strawberry.union("CreateWebhookResult")
]
UpdateWebhookResult = Annotated[WebhookSuccess | ERRORS, strawberry.union("UpdateWebhookResult")]
DeleteWebhookResult = Annotated[WebhookSuccess | ERRORS, strawberry.union("DeleteWebhookResult")]
RotateWebhookSecretResult = Annotated[
    WebhookSecretSuccess | ERRORS, strawberry.union("RotateWebhookSecretResult")
]
TestWebhookResult = Annotated[
    WebhookDeliverySuccess | ERRORS, strawberry.union("TestWebhookResult")
]
RedeliverWebhookDeliveryResult = Annotated[
    WebhookDeliverySuccess | ERRORS, strawberry.union("RedeliverWebhookDeliveryResult")
]


async def _webhook(r: Renderer) -> Webhook:
    row = r.done.rows.get("webhook")
    if row is None:  # a replay: the row as committed now
        async with r.info.context.read() as uow:
            row = await uow.webhooks.get(parse_uuid(r.ref["webhook"], "webhook"))
    if row is None:
        raise NotFound("this webhook was deleted", id=r.ref["webhook"], code="WEBHOOK_NOT_FOUND")
    return Webhook(row=row)


async def _webhook_success(r: Renderer) -> WebhookSuccess:
    return WebhookSuccess(webhook=await _webhook(r))


async def _secret_success(r: Renderer) -> WebhookSecretSuccess:
    webhook = await _webhook(r)
    secret = r.done.private.get("secret")
    if secret is None:
        # A replay by the same caller with the same key: the first answer may never have
        # arrived, so it is given again (secret included), as long as the webhook exists.
        config = r.info.context.services.webhooks
        if config is None:
            raise PermissionDenied(
                "webhooks are not configured on this server", code="WEBHOOKS_DISABLED"
            )
        secret = config.box.decrypt(webhook.row.secret_ciphertext)
    return WebhookSecretSuccess(webhook=webhook, secret=secret)


async def _delivery_success(r: Renderer) -> WebhookDeliverySuccess:
    return WebhookDeliverySuccess(delivery=WebhookDelivery(row=r.done.rows["delivery"]))


@strawberry.type
class WebhookQueries:
    @strawberry.field(description="The caller's webhooks (all of them for an admin).")
    async def webhooks(self, info: Info[Context, None]) -> list[Webhook]:
        caller = await info.context.caller()
        if caller.role is enums.Role.DELIVERER:
            return []
        async with info.context.read() as uow:
            rows = await uow.webhooks.visible(caller.id, caller.role)
        return [Webhook(row=r) for r in rows]


@strawberry.type
class WebhookMutations:
    @strawberry.mutation(description="The signing secret is in the answer, and only there.")
    async def create_webhook(
        self, info: Info[Context, None], input: CreateWebhookInput
    ) -> CreateWebhookResult:
        return await run(
            info,
            lambda: commands.CreateWebhook(input.url, tuple(input.events)),
            input.idempotency_key,
            _secret_success,
        )

    @strawberry.mutation(description="Changes the URL, the events or whether it is active.")
    async def update_webhook(
        self, info: Info[Context, None], input: UpdateWebhookInput
    ) -> UpdateWebhookResult:
        return await run(
            info,
            lambda: commands.UpdateWebhook(
                parse_uuid(input.webhook_id, "webhook"),
                url=input.url,
                events=tuple(input.events) if input.events is not None else None,
                active=input.active,
            ),
            None,
            _webhook_success,
        )

    @strawberry.mutation(description="Deletes the webhook and its pending deliveries.")
    async def delete_webhook(
        self, info: Info[Context, None], input: WebhookActionInput
    ) -> DeleteWebhookResult:
        return await run(
            info,
            lambda: commands.DeleteWebhook(parse_uuid(input.webhook_id, "webhook")),
            None,
            _webhook_success,
        )

    @strawberry.mutation(description="A new signing secret, in this answer only.")
    async def rotate_webhook_secret(
        self, info: Info[Context, None], input: WebhookActionInput
    ) -> RotateWebhookSecretResult:
        return await run(
            info,
            lambda: commands.RotateWebhookSecret(parse_uuid(input.webhook_id, "webhook")),
            None,
            _secret_success,
        )

    @strawberry.mutation(description="Queues a ping delivery.")
    async def test_webhook(
        self, info: Info[Context, None], input: WebhookActionInput
    ) -> TestWebhookResult:
        return await run(
            info,
            lambda: commands.TestWebhook(parse_uuid(input.webhook_id, "webhook")),
            None,
            _delivery_success,
        )

    @strawberry.mutation(description="Queues a new delivery with the same event and data.")
    async def redeliver_webhook_delivery(
        self, info: Info[Context, None], input: WebhookDeliveryActionInput
    ) -> RedeliverWebhookDeliveryResult:
        return await run(
            info,
            lambda: commands.RedeliverWebhookDelivery(parse_uuid(input.delivery_id, "delivery")),
            None,
            _delivery_success,
        )
