"""The web dashboard and phone scanner: static files of web/ (bipa/assets.py), served at `/`.

`web_routes()` goes last in the app's routes (a catch-all mount), after /graphql and /healthz.
The pages are plain HTML, CSS and ES modules; there is no build step.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bipa.assets import WEB_DIR


# Same-origin only: scripts, styles, the GraphQL endpoint and its websocket ('self' covers
# ws:/wss: to the same host in CSP Level 3). Camera frames are drawn to canvases (blob:).
def content_security_policy(image_origins: tuple[str, ...] = ()) -> str:
    """`image_origins`: where proof photos are served from when it is not this app (an S3
    store's presigned links)."""
    return CONTENT_SECURITY_POLICY.replace(
        "img-src 'self' data: blob:", " ".join(("img-src 'self' data: blob:", *image_origins))
    )


CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "media-src 'self' blob: mediastream:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)

SECURITY_HEADERS: list[tuple[bytes, bytes]] = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"permissions-policy", b"camera=(self), microphone=(), geolocation=(self)"),
    # Revalidate every time (ETag / Last-Modified make that cheap): a deploy shows at once.
    (b"cache-control", b"no-cache"),
]


class _WebHeaders:
    """Adds the security and cache headers to every static response."""

    def __init__(self, app: ASGIApp, headers: list[tuple[bytes, bytes]]) -> None:
        self.app = app
        self.headers = headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            # No websockets here (the GraphQL one is /graphql): refuse the handshake (403).
            await send({"type": "websocket.close", "code": 1000})
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in self.headers if k not in present]
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, send_with_headers)


async def _template(request: Request) -> Response:
    """A manifest to fill in (the Portuguese headers and one example row), made on request."""
    import manifest

    fmt = request.path_params["fmt"]
    if fmt not in ("csv", "xlsx"):
        return Response("not found", status_code=404, media_type="text/plain")
    media = "text/csv; charset=utf-8" if fmt == "csv" else XLSX_TYPE
    return Response(
        manifest.template(fmt),
        media_type=media,
        headers={
            "content-disposition": f'attachment; filename="manifesto-modelo.{fmt}"',
            **{k.decode(): v.decode() for k, v in SECURITY_HEADERS},
        },
    )


XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclass(frozen=True)
class MapConfig:
    """The session page's map (BIPA_MAP_TILES_URL, BIPA_MAP_ATTRIBUTION); no URL: no map."""

    tiles_url: str | None = None
    attribution: str = ""

    def origins(self) -> tuple[str, ...]:
        """Where the browser loads tiles from, for img-src ({s} subdomains as a wildcard)."""
        if not self.tiles_url:
            return ()
        parts = urlsplit(self.tiles_url.replace("{s}", "*"))
        return (f"{parts.scheme}://{parts.netloc}",)


def _web_config(map_config: MapConfig) -> Route:
    """What the pages need to know of the server's settings, read by them at start: one
    small JSON document, nothing written into the static files."""
    body = {
        "map": {"tilesUrl": map_config.tiles_url, "attribution": map_config.attribution}
        if map_config.tiles_url
        else None
    }

    async def config(request: Request) -> JSONResponse:
        return JSONResponse(body, headers={"cache-control": "no-cache"})

    return Route("/web-config.json", config, methods=["GET"])


def web_routes(
    directory: Path = WEB_DIR,
    image_origins: tuple[str, ...] = (),
    map_config: MapConfig | None = None,
) -> list[BaseRoute]:
    """The static site at `/` (index.html for `/`, 404.html for unknown paths), and
    /web-config.json. Place last."""
    maps = map_config or MapConfig()
    static = StaticFiles(directory=directory, html=True, check_dir=False)
    headers = [
        (
            b"content-security-policy",
            content_security_policy((*image_origins, *maps.origins())).encode(),
        ),
        *((k, v) for k, v in SECURITY_HEADERS if k != b"content-security-policy"),
    ]
    return [
        _web_config(maps),
        Route("/modelos/manifesto.{fmt:str}", _template, methods=["GET"], name="template"),
        Mount("/", app=_WebHeaders(static, headers), name="web"),
    ]
