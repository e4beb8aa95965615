"""The HTTP side of the embedded store: its signed links, served and verified.

`GET /objects/<key>?method=GET&expires=..&signature=..` answers the object; `PUT` with a PUT
link stores the body under that key once. Anything else answers 403 without touching a file.
"""

from __future__ import annotations

import mimetypes
import time

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from storage.base import LinkRefused, ObjectExists, ObjectNotFound, StorageError
from storage.local import LocalStore

MAX_PUT_BYTES = 16 * 1024 * 1024


def object_routes(store: LocalStore, path: str = "/objects") -> list[Route]:
    async def serve(request: Request) -> Response:
        key = request.path_params["key"]
        q = request.query_params
        method = request.method.upper()
        try:
            if q.get("method", "").upper() != method:
                raise LinkRefused("link is for another method")
            store.verify(method, key, q.get("expires", ""), q.get("signature", ""))
        except LinkRefused:
            return PlainTextResponse("link refused", status_code=403)
        if method == "PUT":
            body = bytearray()
            async for chunk in request.stream():
                body += chunk
                if len(body) > MAX_PUT_BYTES:
                    return PlainTextResponse("too large", status_code=413)
            content_type = request.headers.get("content-type", "application/octet-stream")
            try:
                await store.put(key, bytes(body), content_type)
            except ObjectExists:
                return PlainTextResponse("exists", status_code=409)
            return Response(status_code=200)
        try:
            data = await store.get(key)
        except (ObjectNotFound, StorageError):
            return PlainTextResponse("not found", status_code=404)
        kind = mimetypes.guess_type(key)[0] or "application/octet-stream"
        left = max(0, int(q.get("expires", "0")) - int(time.time()))
        return Response(
            data,
            media_type=kind,
            headers={
                # The link is the permission: caches may keep it no longer than it lives.
                "Cache-Control": f"private, max-age={left}",
                "X-Content-Type-Options": "nosniff",
            },
        )

    return [Route(path + "/{key:path}", serve, methods=["GET", "PUT"])]
