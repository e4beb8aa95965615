"""The static site itself: routes, headers, and pages that only point at files that exist."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import httpx
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from bipa.web import WEB_DIR, web_routes
from tests.conftest import LiveServer

PAGES = ["index.html", "entrar.html", "sessao.html", "scanner.html", "404.html"]


def _app() -> Starlette:
    async def graphql(request: object) -> PlainTextResponse:
        return PlainTextResponse("graphql")

    return Starlette(routes=[Route("/graphql", graphql, methods=["GET", "POST"]), *web_routes()])


def _client() -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=_app()), base_url="http://bipa")


async def test_pages_assets_and_headers() -> None:
    async with _client() as client:
        await _check_pages(client)


async def _check_pages(client: httpx.AsyncClient) -> None:
    home = await client.get("/")
    assert home.status_code == 200
    assert home.headers["content-type"].startswith("text/html")
    assert 'lang="pt-BR"' in home.text and "Sessões" in home.text
    csp = home.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp
    assert home.headers["x-content-type-options"] == "nosniff"
    assert home.headers["cache-control"] == "no-cache"
    assert "camera=(self)" in home.headers["permissions-policy"]
    for page in PAGES[:-1]:
        assert (await client.get("/" + page)).status_code == 200, page
    script = await client.get("/vendor/graphql-ws/client.js")
    assert script.status_code == 200
    assert "javascript" in script.headers["content-type"]
    css = await client.get("/css/app.css")
    assert css.headers["content-type"].startswith("text/css")
    # Routes before the mount still win.
    assert (await client.get("/graphql")).text == "graphql"


async def test_unknown_paths_get_the_404_page() -> None:
    async with _client() as client:
        r = await client.get("/nada/aqui")
    assert r.status_code == 404
    assert "Página não encontrada" in r.text


async def test_no_websocket_on_the_static_mount() -> None:
    sent: list[dict[str, object]] = []

    async def receive() -> dict[str, object]:
        return {"type": "websocket.connect"}

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    scope = {"type": "websocket", "path": "/qualquer", "headers": [], "query_string": b""}
    await _app()(scope, receive, send)  # type: ignore[arg-type]
    assert sent == [{"type": "websocket.close", "code": 1000}]


def _local_refs(text: str) -> list[str]:
    return re.findall(r'(?:src|href)="(/[^"?#]*)', text)


# Made by the app on request (bipa/web.py), not files: tests/web/test_jobs_browser.py gets them.
APP_PATHS = frozenset({"/modelos/manifesto.csv", "/modelos/manifesto.xlsx"})


def test_every_reference_and_import_exists() -> None:
    for page in PAGES:
        html = (WEB_DIR / page).read_text()
        for ref in _local_refs(html):
            target = WEB_DIR / ref.lstrip("/")
            assert ref in ("/", *APP_PATHS) or target.is_file(), f"{page}: {ref} does not exist"
        # Scripts are modules only: no inline code (the CSP forbids it) and nothing remote.
        assert re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html) is None, page
        assert not re.search(r'(?:src|href)="(?:https?:)?//', html), page
    for module in (WEB_DIR / "js").glob("*.js"):
        code = module.read_text()
        for spec in re.findall(r'^\s*(?:import|export)\b[^;]*?from\s+"([^"]+)"', code, re.M | re.S):
            assert spec.startswith(("./", "../vendor/")), (
                f"{module.name}: {spec} (only local modules)"
            )
            assert (module.parent / spec).is_file(), f"{module.name}: {spec} does not exist"


def test_texts_for_people_are_portuguese() -> None:
    for page in PAGES:
        assert 'lang="pt-BR"' in (WEB_DIR / page).read_text(), page


def test_bipa_serve_serves_the_dashboard(live_server: LiveServer) -> None:
    """The real `bipa serve` mounts web_routes() (last, after /graphql and /healthz)."""
    r = httpx.get(live_server.url + "/", timeout=10)
    assert r.status_code == 200, "bipa/app.py must add *web_routes() at the end of its routes"
    assert "Sessões" in r.text
    assert httpx.get(live_server.url + "/healthz", timeout=10).json()["status"] == "ok"


def test_web_dir_is_the_repository_web_folder() -> None:
    assert Path(__file__).resolve().parents[2] / "web" == WEB_DIR


async def test_graphiql_loads_only_files_the_app_serves(web_server: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=web_server.url, timeout=30) as client:
        page = await client.get("/graphql", headers={"accept": "text/html"})
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        refs = re.findall(r'(?:src|href)="([^"]+)"', page.text)
        assert refs and all(r.startswith("/") and not r.startswith("//") for r in refs), refs
        assert "unpkg" not in page.text and "cdn" not in page.text.lower()
        for ref in refs:
            asset = await client.get(ref)
            assert asset.status_code == 200, ref
            assert len(asset.content) > 100, ref
    vendor = WEB_DIR / "vendor" / "graphiql"
    for licence in ("LICENSE.react", "LICENSE.react-dom", "LICENSE.graphiql"):
        assert "MIT" in (vendor / licence).read_text(encoding="utf-8")


def test_the_live_client_is_the_vendored_graphql_ws() -> None:
    """web/vendor/graphql-ws holds the npm package's ES module files unchanged (hashes in its
    README), with its MIT licence; the hand-written protocol client is gone."""
    vendor = WEB_DIR / "vendor" / "graphql-ws"
    readme = (vendor / "README.md").read_text(encoding="utf-8")
    files = re.findall(r"^\| `([\w.-]+\.js)` \| `([0-9a-f]{64})` \|$", readme, re.M)
    assert {name for name, _ in files} == {p.name for p in vendor.glob("*.js")}
    for name, digest in files:
        assert hashlib.sha256((vendor / name).read_bytes()).hexdigest() == digest, name
    assert "MIT License" in (vendor / "LICENSE.md").read_text(encoding="utf-8")
    for spec in re.findall(r'from\s+"([^"]+)"', (vendor / "client.js").read_text()):
        assert (vendor / spec).is_file(), spec  # self-contained: no bare imports
    assert not (WEB_DIR / "js" / "graphql-ws.js").exists()
    live = (WEB_DIR / "js" / "live.js").read_text()
    assert 'from "../vendor/graphql-ws/client.js"' in live
    assert "new WebSocket" not in "".join(p.read_text() for p in (WEB_DIR / "js").glob("*.js"))


def test_every_domain_error_code_has_a_portuguese_text_on_the_web() -> None:
    from tests.bot.test_errors import domain_codes

    source = (WEB_DIR / "js" / "errors.js").read_text(encoding="utf-8")
    worded = set(re.findall(r"^\s+([A-Z][A-Z0-9_]*):", source, re.M))
    missing = sorted(domain_codes() - worded)
    assert not missing, f"add a Portuguese text to web/js/errors.js for {missing}"


def test_counts_are_worded_by_the_one_plural_helper() -> None:
    """ "1 pacotes" came from ad-hoc ternaries: every count goes through format.js plural()."""
    for module in (WEB_DIR / "js").glob("*.js"):
        code = module.read_text(encoding="utf-8")
        ad_hoc = re.findall(r"[=!]==\s*1\s*\?", code)
        assert not ad_hoc or module.name == "format.js", f"{module.name}: use plural()"


def test_each_error_code_has_one_text() -> None:
    # A JavaScript object literal keeps the last of two equal keys without a word: merges that
    # both add a code would silently drop one text.
    source = (WEB_DIR / "js" / "errors.js").read_text(encoding="utf-8")
    table = source.split("export const ERROR_TEXT", 1)[1].split("\n};", 1)[0]
    keys = re.findall(r"^\s+([A-Z][A-Z0-9_]*):", table, re.M)
    assert len(keys) == len(set(keys)), sorted(k for k in set(keys) if keys.count(k) > 1)
