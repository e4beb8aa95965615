"""The session page's routes in headless Chromium: each deliverer's stops in order with ETAs
and distances, the map with a marker per stop when tiles load, and the page still whole
without the map when the tile server is down; the scanner page's next stop for a deliverer.

The routes are made through the runner (OptimizeRoutes, as the job does); the page only reads.
"""

from __future__ import annotations

import contextlib
import io
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from PIL import Image

from db.engine import make_sessionmaker
from db.enums import DeliveryStatus, Role
from db.models import User
from domain import commands, routes
from domain import users as user_service
from domain.addresses import AddressData
from domain.operations import Runner
from domain.packages import PackageData
from domain.uow import UnitOfWork
from tests.conftest import free_port
from tests.web.conftest import Browser, WebServer

DEPOT = (-23.5505, -46.6333)


def _tile() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (256, 256), (200, 220, 200)).save(out, "PNG")
    return out.getvalue()


@contextlib.contextmanager
def tile_server(port: int) -> Iterator[list[str]]:
    """A tile server on loopback: every /{z}/{x}/{y}.png is a plain green square."""
    body = _tile()
    asked: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            asked.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield asked
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def tiles_port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def map_server(database_url: str, tiles_port: int) -> Iterator[WebServer]:
    env = {
        "BIPA_RUN_WORKER": "false",
        "BIPA_MAP_TILES_URL": f"http://127.0.0.1:{tiles_port}/{{z}}/{{x}}/{{y}}.png",
        "BIPA_MAP_ATTRIBUTION": "Mapa de teste <b>local</b>",
    }
    server = WebServer(database_url, env).start()
    yield server
    server.stop()


async def _user(engine: Any, role: Role, name: str) -> tuple[User, str]:
    async with UnitOfWork(make_sessionmaker(engine)) as uow:
        created = await user_service.create_user(uow, None, name, role, None)
        await uow.commit()
    return created.user, created.token


async def routed_session(engine: Any) -> dict[str, Any]:
    """A session of two deliverers whose routes are optimized: 6 stops, one of two parcels."""
    runner = Runner(make_sessionmaker(engine))
    manager, token = await _user(engine, Role.MANAGER, "Gestora Rotas")
    couriers = [
        await _user(engine, Role.DELIVERER, f"Entregador {n} {uuid.uuid4().hex[:4]}")
        for n in (1, 2)
    ]
    sid = (
        (await runner.run_once(manager, commands.CreateSession("Rotas no mapa"))).rows["session"].id
    )
    for courier, _ in couriers:
        await runner.run_once(
            manager, commands.AddDeliverer(sid, "100.00", "2.00", user_id=courier.id)
        )
    items = [
        PackageData(
            f"MAP-{k}",
            f"Cliente {k}",
            AddressData(
                street=f"Rua das Flores {k}",
                number=str(10 + k),
                city="São Paulo",
                state="SP",
                latitude=DEPOT[0] + (k % 3) * 0.01,
                longitude=DEPOT[1] + (k // 3) * 0.01,
            ),
        )
        for k in range(6)
    ]
    items.append(PackageData("MAP-0B", "Vizinho", items[0].address))
    await runner.run_once(manager, commands.AddPackages(sid, tuple(items)))
    options = routes.RouteOptions(depot_latitude=DEPOT[0], depot_longitude=DEPOT[1], timeout_s=0.3)
    await runner.run_once(manager, commands.OptimizeRoutes(sid, options))
    async with runner.uow() as uow:
        deliverers = {d.user_id: d for d in await uow.deliverers.for_session(sid)}
    return {
        "runner": runner,
        "sid": str(sid),
        "manager": manager,
        "token": token,
        "couriers": couriers,
        "routes": {
            user.id: (deliverers[user.id].route or {}).get("stops", []) for user, _ in couriers
        },
    }


def _sign_in(browser: Browser, user: User, token: str) -> None:
    browser.get("/entrar.html")
    browser.driver.execute_script(
        "localStorage.setItem('bipa.token', arguments[0]);"
        "localStorage.setItem('bipa.user', JSON.stringify(arguments[1]));",
        token,
        {"id": str(user.id), "name": user.name, "role": user.role.value},
    )


def _on(browser: Browser, server: WebServer) -> Browser:
    browser.base_url = server.url
    return browser


async def test_routes_listed_in_order_with_the_map(  # type: ignore[no-untyped-def]
    browser_factory, engine, map_server, tiles_port
) -> None:
    data = await routed_session(engine)
    with tile_server(tiles_port) as asked:
        browser = _on(browser_factory(), map_server)
        _sign_in(browser, data["manager"], data["token"])
        browser.get(f"/sessao.html?id={data['sid']}")
        browser.wait_text("#session-name", "Rotas no mapa")
        browser.wait_css("#routes .route")
        for user, _ in data["couriers"]:
            planned = data["routes"][user.id]
            assert planned, "both deliverers get stops"
            names = browser.text("#routes-list")
            assert user.name in names
        shown = browser.driver.execute_script(
            "return [...document.querySelectorAll('#routes .route')].map(r => ({"
            " name: r.querySelector('h3').innerText,"
            " seq: [...r.querySelectorAll('.route-stop')].map(li => li.dataset.sequence),"
            " text: [...r.querySelectorAll('.route-stop')].map(li => li.innerText)}))"
        )
        assert sum(len(r["seq"]) for r in shown) == 6, shown
        for r in shown:
            assert r["seq"] == [str(n) for n in range(1, len(r["seq"]) + 1)]
            assert all(" km" in t and ":" in t for t in r["text"]), r  # distance and ETA
        assert any("2 pacotes" in t for r in shown for t in r["text"]), "the shared stop"
        assert "Otimizar rotas" in browser.text("#routes-actions")
        browser.wait_css("#routes-map[data-state='ready'][data-markers='6']")
        browser.wait(lambda: len(asked) > 0, what="a tile asked")
        browser.wait_css("#routes-map .leaflet-tile-loaded")
        assert len(browser.find_all("#routes-map .route-marker")) == 6
        assert len(browser.find_all("#routes-map path.route-line")) == 2
        # The attribution is the setting's text, never its markup.
        assert "<b>local</b>" in browser.text("#routes-map .leaflet-control-attribution")
        assert browser.find("#routes-map-note").get_attribute("hidden") is not None
        browser.screenshot("routes-map")


async def test_the_page_works_without_the_map_when_tiles_are_down(  # type: ignore[no-untyped-def]
    browser_factory, engine, map_server
) -> None:
    data = await routed_session(engine)
    # Nothing listens on the tiles' port in this test.
    browser = _on(browser_factory(), map_server)
    _sign_in(browser, data["manager"], data["token"])
    browser.get(f"/sessao.html?id={data['sid']}")
    browser.wait_text("#session-name", "Rotas no mapa")
    browser.wait_text("#routes-map-note", "Não foi possível carregar o mapa de fundo", timeout=20)
    assert browser.find("#routes-map").get_attribute("hidden") is not None
    assert len(browser.find_all("#routes .route-stop")) == 6
    # The rest of the page is whole.
    browser.wait_text("#packages", "MAP-0B")
    assert "Entregador 1" in browser.text("#deliverers")
    severe = [e for e in browser.console() if e.get("level") == "SEVERE"]
    assert all("127.0.0.1" in e.get("message", "") for e in severe), severe  # only the tiles
    browser.screenshot("routes-no-map")


async def test_the_scanner_gives_a_deliverer_their_next_stop(  # type: ignore[no-untyped-def]
    browser_factory, engine, map_server
) -> None:
    data = await routed_session(engine)
    runner: Runner = data["runner"]
    courier, token = data["couriers"][0]
    stops = data["routes"][courier.id]
    browser = _on(browser_factory(), map_server)
    _sign_in(browser, courier, token)
    browser.get(f"/scanner.html?id={data['sid']}")
    first = stops[0]
    box = browser.wait_text("#next-stop", "Próxima parada")
    assert f"Parada 1 · {len(stops)} em aberto" in box, box
    async with runner.uow() as uow:
        address = (await uow.addresses.get_many([uuid.UUID(first["addressId"])]))[0]
        codes = [
            p.barcode
            for p in await uow.packages.get_many([uuid.UUID(p) for p in first["packageIds"]])
        ]
    assert address.line in box and all(c in box for c in codes)
    # Delivered: the next stop moves on.
    await runner.run_once(data["manager"], commands.StartSession(uuid.UUID(data["sid"])))
    for pid in first["packageIds"]:
        await runner.run_once(
            courier, commands.UpdatePackageStatus(uuid.UUID(pid), DeliveryStatus.DELIVERED)
        )
    browser.click("#next-stop-refresh")
    if len(stops) > 1:
        browser.wait_text("#next-stop", f"Parada 2 · {len(stops) - 1} em aberto")
    else:
        browser.wait_text("#next-stop", "Nenhuma parada em aberto")
