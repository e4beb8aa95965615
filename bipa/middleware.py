"""Pure ASGI middleware: request ids, one JSON log line per request, request body limits."""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

import metrics
from bipa.logs import request_context

log = logging.getLogger("bipa.request")


class BodyTooLarge(Exception):
    pass


class RequestMiddleware:
    def __init__(self, app: ASGIApp, *, max_body_bytes: int, max_upload_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_upload_bytes = max_upload_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers", [])}
        request_id = headers.get("x-request-id", "")[:64] or uuid.uuid4().hex
        fields: dict[str, Any] = {"request_id": request_id}
        scope.setdefault("state", {})["log_fields"] = fields
        token = request_context.set(fields)
        started = time.perf_counter()
        status = {"code": 0}
        if scope["type"] == "websocket":
            del headers  # not kept alive for the life of the connection
            try:
                await self.app(scope, receive, send)
            finally:
                request_context.reset(token)
            return

        # Multipart GraphQL uploads, and PUTs through the embedded store's signed upload links.
        is_upload = headers.get("content-type", "").startswith("multipart/form-data") or (
            scope.get("method") == "PUT" and str(scope.get("path", "")).startswith("/objects/")
        )
        limit = self.max_upload_bytes if is_upload else self.max_body_bytes
        declared = headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _reject(send, limit)
            request_context.reset(token)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge
            return message

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, limited_receive, send_wrapper)
        except BodyTooLarge:
            if status["code"] == 0:
                await _reject(send, limit)
                status["code"] = 413
        finally:
            elapsed = time.perf_counter() - started
            _observe(scope, fields, status["code"], elapsed)
            if scope.get("path") != "/healthz":
                log.info(
                    "request",
                    extra={
                        "method": scope.get("method"),
                        "path": scope.get("path"),
                        "status": status["code"],
                        "duration_ms": round(elapsed * 1000, 2),
                    },
                )
            request_context.reset(token)


def _observe(scope: Scope, fields: dict[str, Any], status: int, elapsed: float) -> None:
    """GraphQL requests by operation name; anything else by its path's first part (never the
    whole path: object keys would make a series per file)."""
    path = str(scope.get("path", ""))
    operation = fields.get("operation") or "/" + path.strip("/").split("/", 1)[0]
    metrics.REQUESTS.labels(operation, str(status)).inc()
    metrics.LATENCY.labels(operation).observe(elapsed)


async def _reject(send: Send, limit: int) -> None:
    body = f'{{"errors":[{{"message":"request body exceeds {limit} bytes"}}]}}'.encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
