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
from gql.enums import WebhookDeliveryStatus
from gql.errors import ERRORS, result
from gql.inputs import IDEMPOTENCY_KEY, INPUT
from gql.runner import Renderer, parse_uuid, run
from gql.types import PageInfo, page_info


@strawberry.type(
    description="One POST of one event to a webhook, with its retries (the delivery log)."
)
class WebhookDelivery:
    row: strawberry.Private[DeliveryRow]

    @strawberry.field(description="Also sent as the Bipa-Delivery header.")
    def id(self) -> strawberry.ID:
        return strawberry.ID(str(self.row.id))

    @strawberry.field(
        description="The audit action it reports (e.g. session.completed), or ping for "
        "testWebhook; also the Bipa-Event header."
    )
    def event(self) -> str:
        return self.row.event

    @strawberry.field(description="The session of the event; null for a ping.")
    def session_id(self) -> strawberry.ID | None:
        return strawberry.ID(str(self.row.session_id)) if self.row.session_id else None

    @strawberry.field(description="The event's audit sequence in its session; null for a ping.")
    def sequence(self) -> int | None:
        return self.row.sequence

    @strawberry.field(description="Delivered, still being tried, or given up.")
    def status(self) -> WebhookDeliveryStatus:
        return self.row.status

    @strawberry.field(description="POSTs made so far.")
    def attempts(self) -> int:
        return self.row.attempts

    @strawberry.field(
        description="The HTTP status of the last attempt; null before one, or when it got "
        "no answer."
    )
    def last_status_code(self) -> int | None:
        return self.row.last_status_code

    @strawberry.field(
        description="Why the last attempt failed (at most 500 characters); null after a 2xx."
    )
    def last_error(self) -> str | None:
        return self.row.last_error

    @strawberry.field(
        description="When the next attempt is due (UTC), while PENDING; null otherwise."
    )
    def next_attempt_at(self) -> datetime | None:
        return (
            self.row.next_attempt_at
            if self.row.status is enums.WebhookDeliveryStatus.PENDING
            else None
        )

    @strawberry.field(
        description="When it was queued (UTC), in the event's own transaction; retries "
        "stop BIPA_WEBHOOK_RETRY_FOR after it."
    )
    def created_at(self) -> datetime:
        return self.row.created_at

    @strawberry.field(description="When the receiver answered 2xx (UTC); null before.")
    def delivered_at(self) -> datetime | None:
        return self.row.delivered_at


@strawberry.type(description="A delivery in a page of the delivery log.")
class WebhookDeliveryEdge:
    cursor: str = strawberry.field(description="Opaque position of this edge, for after/before.")
    node: WebhookDelivery = strawberry.field(description="The delivery.")


@strawberry.type(description="A page of a webhook's delivery log, newest first.")
class WebhookDeliveryConnection:
    edges: list[WebhookDeliveryEdge] = strawberry.field(description="The deliveries of this page.")
    page_info: PageInfo = strawberry.field(description="Where this page sits in the log.")
    total_count: int = strawberry.field(
        description="Deliveries in the log with this status filter, not only on this page."
    )


@strawberry.type(
    description="An endpoint that receives signed POSTs of the audit events of the owner's "
    "sessions (an admin's: every session)."
)
class Webhook:
    row: strawberry.Private[WebhookRow]

    @strawberry.field(description="Stable id (a UUID).")
    def id(self) -> strawberry.ID:
        return strawberry.ID(str(self.row.id))

    @strawberry.field(description="Where deliveries are POSTed.")
    def url(self) -> str:
        return self.row.url

    @strawberry.field(description='The audit actions it receives, sorted; ["*"] for all.')
    def events(self) -> list[str]:
        return list(self.row.events)

    @strawberry.field(
        description="False once disabled (by updateWebhook, or after BIPA_WEBHOOK_DISABLE_AFTER "
        "failed deliveries in a row): no new deliveries are queued."
    )
    def active(self) -> bool:
        return self.row.active

    @strawberry.field(
        description="Deliveries FAILED in a row since the last success (pings not counted)."
    )
    def failure_streak(self) -> int:
        return self.row.failure_streak

    @strawberry.field(description="When it was registered (UTC).")
    def created_at(self) -> datetime:
        return self.row.created_at

    @strawberry.field(
        description="Its delivery log, newest first: forward with first/after, backward "
        "with last/before."
    )
    async def deliveries(
        self,
        info: Info[Context, None],
        first: Annotated[int | None, strawberry.argument(description="Page size (0-1000).")] = 50,
        after: Annotated[
            str | None, strawberry.argument(description="Deliveries after this cursor.")
        ] = None,
        status: Annotated[
            WebhookDeliveryStatus | None,
            strawberry.argument(description="Only deliveries in this status."),
        ] = None,
        last: Annotated[
            int | None,
            strawberry.argument(
                description="Page size going backward from the oldest delivery or `before` "
                "(0-1000); takes precedence over `first`/`after`."
            ),
        ] = None,
        before: Annotated[
            str | None, strawberry.argument(description="Deliveries before this cursor.")
        ] = None,
    ) -> WebhookDeliveryConnection:
        window = pagination.time_window(first, after, last, before, "whd", 50)
        async with info.context.read() as uow:
            rows, total = await uow.webhooks.deliveries(
                self.row.id,
                status=status,
                first=window.size,
                after=window.after,
                before=window.before,
                backward=window.backward,
            )
        rows, more, previous = pagination.settle(rows, window)
        edges = [
            WebhookDeliveryEdge(
                cursor=pagination.encode("whd", r.created_at, r.id), node=WebhookDelivery(row=r)
            )
            for r in rows
        ]
        return WebhookDeliveryConnection(
            edges=edges,
            page_info=page_info([e.cursor for e in edges], more=more, previous=previous),
            total_count=total,
        )


URL_RULES = (
    "The receiver: https on port 443 or 8443 resolving to public addresses in production "
    "(plain http and private addresses only in development)."
)
EVENT_RULES = (
    'Audit actions to send (e.g. session.completed, package.status_changed), or ["*"] for '
    "all; at most 50."
)


@strawberry.input(description="A new webhook of the caller's (managers and admins).")
class CreateWebhookInput:
    url: str = strawberry.field(description=URL_RULES)
    events: list[str] = strawberry.field(description=EVENT_RULES)
    idempotency_key: str | None = strawberry.field(default=None, description=IDEMPOTENCY_KEY)


@strawberry.input(description="Changes to a webhook; omitted fields stay as they are.")
class UpdateWebhookInput:
    webhook_id: strawberry.ID = strawberry.field(description="The webhook's id.")
    url: str | None = strawberry.field(
        default=None,
        description=URL_RULES,
    )
    events: list[str] | None = strawberry.field(
        default=None,
        description=EVENT_RULES,
    )
    active: bool | None = strawberry.field(
        default=None,
        description="False stops new deliveries; true enables it again (the failure streak "
        "starts over).",
    )


@strawberry.input(description="An action on one webhook.")
class WebhookActionInput:
    webhook_id: strawberry.ID = strawberry.field(description="The webhook's id.")


@strawberry.input(description="An action on one delivery of the log.")
class WebhookDeliveryActionInput:
    delivery_id: strawberry.ID = strawberry.field(description="The delivery's id.")


@strawberry.type(description="The webhook's change was made.")
class WebhookSuccess:
    webhook: Webhook = strawberry.field(
        description="The webhook as committed (as it was, for deleteWebhook)."
    )


@strawberry.type(description="The webhook with its signing secret.")
class WebhookSecretSuccess:
    webhook: Webhook = strawberry.field(description="The webhook as committed.")
    secret: str = strawberry.field(description="Shown only here; stored encrypted.")


@strawberry.type(description="A delivery was queued.")
class WebhookDeliverySuccess:
    delivery: WebhookDelivery = strawberry.field(description="The new PENDING delivery.")


CreateWebhookResult = Annotated[WebhookSecretSuccess | ERRORS, result("CreateWebhookResult")]
UpdateWebhookResult = Annotated[WebhookSuccess | ERRORS, result("UpdateWebhookResult")]
DeleteWebhookResult = Annotated[WebhookSuccess | ERRORS, result("DeleteWebhookResult")]
RotateWebhookSecretResult = Annotated[
    WebhookSecretSuccess | ERRORS, result("RotateWebhookSecretResult")
]
TestWebhookResult = Annotated[WebhookDeliverySuccess | ERRORS, result("TestWebhookResult")]
RedeliverWebhookDeliveryResult = Annotated[
    WebhookDeliverySuccess | ERRORS, result("RedeliverWebhookDeliveryResult")
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
        self, info: Info[Context, None], input: Annotated[CreateWebhookInput, INPUT]
    ) -> CreateWebhookResult:
        return await run(
            info,
            lambda: commands.CreateWebhook(input.url, tuple(input.events)),
            input.idempotency_key,
            _secret_success,
        )

    @strawberry.mutation(description="Changes the URL, the events or whether it is active.")
    async def update_webhook(
        self, info: Info[Context, None], input: Annotated[UpdateWebhookInput, INPUT]
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
        self, info: Info[Context, None], input: Annotated[WebhookActionInput, INPUT]
    ) -> DeleteWebhookResult:
        return await run(
            info,
            lambda: commands.DeleteWebhook(parse_uuid(input.webhook_id, "webhook")),
            None,
            _webhook_success,
        )

    @strawberry.mutation(description="A new signing secret, in this answer only.")
    async def rotate_webhook_secret(
        self, info: Info[Context, None], input: Annotated[WebhookActionInput, INPUT]
    ) -> RotateWebhookSecretResult:
        return await run(
            info,
            lambda: commands.RotateWebhookSecret(parse_uuid(input.webhook_id, "webhook")),
            None,
            _secret_success,
        )

    @strawberry.mutation(description="Queues a ping delivery.")
    async def test_webhook(
        self, info: Info[Context, None], input: Annotated[WebhookActionInput, INPUT]
    ) -> TestWebhookResult:
        return await run(
            info,
            lambda: commands.TestWebhook(parse_uuid(input.webhook_id, "webhook")),
            None,
            _delivery_success,
        )

    @strawberry.mutation(description="Queues a new delivery with the same event and data.")
    async def redeliver_webhook_delivery(
        self, info: Info[Context, None], input: Annotated[WebhookDeliveryActionInput, INPUT]
    ) -> RedeliverWebhookDeliveryResult:
        return await run(
            info,
            lambda: commands.RedeliverWebhookDelivery(parse_uuid(input.delivery_id, "delivery")),
            None,
            _delivery_success,
        )
