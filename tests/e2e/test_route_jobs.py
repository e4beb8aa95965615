"""geocodeSession and optimizeRoutes as jobs, end to end: the real server, a separate
`bipa worker` process, and local stand-ins for Nominatim and BrasilAPI on loopback.

A fresh database of its own: the worker also runs the webhook outbox, which must not deliver
other tests' webhooks.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from bipa import database
from db.engine import make_engine, make_sessionmaker
from db.enums import Role
from domain import users as user_service
from domain.crypto import verify
from domain.uow import UnitOfWork
from geo.address import normalize_street
from tests.conftest import ROOT, LiveServer
from tests.e2e.queries import (
    ADD_DELIVERER,
    ADD_PACKAGES,
    COMPLETE,
    CREATE_SESSION,
    ERR,
    session_action,
)
from tests.e2e.webhook_receiver import Receiver
from tests.geo.fakes import FakeProviders, Place, serve

START = session_action("startSession")
CEP = "01310100"
DEPOT = (-23.5505, -46.6333)

JOB = """id kind status progress done failed total attempts lastError result"""
GEOCODE = f"""
mutation($sid: ID!, $key: String) {{ geocodeSession(sessionId: $sid, idempotencyKey: $key) {{
  __typename ... on JobSuccess {{ created job {{ {JOB} }} }} {ERR}
}} }}"""
OPTIMIZE = f"""
mutation($sid: ID!, $options: RouteOptionsInput, $key: String) {{
  optimizeRoutes(sessionId: $sid, options: $options, idempotencyKey: $key) {{
    __typename ... on JobSuccess {{ created job {{ {JOB} }} }} {ERR}
  }}
}}"""
WEBHOOK = """mutation($url: String!, $events: [String!]!) {
  createWebhook(input: {url: $url, events: $events}) {
    __typename ... on WebhookSecretSuccess { secret } ... on Error { message } } }"""
GET_JOB = f"query($id: ID!) {{ job(id: $id) {{ {JOB} }} }}"
JOBS = "query($sid: ID!) { jobs(sessionId: $sid) { edges { node { id kind } } } }"
ROUTES = """
query($sid: ID!) { session(id: $sid) {
  addresses { id line latitude precision provider }
  packages(first: 100) { edges { node { id barcode deliverer { id } } } }
  deliverers { id user { id } routeStops { sequence done eta etaOffsetSeconds distanceMeters
    parcels packageIds address { line latitude longitude } }
    nextStop { remaining stop { sequence } address { line } packages { barcode } } }
} }"""

STREETS = [f"Rua Teste {k}" for k in range(8)]


def spot(k: int) -> tuple[float, float]:
    return (-23.55 + (k % 4) * 0.006, -46.64 + (k // 4) * 0.008)


@pytest.fixture
def providers() -> Iterator[FakeProviders]:
    fake = FakeProviders(
        places={normalize_street(f"{s} {k + 1}"): Place(*spot(k)) for k, s in enumerate(STREETS)},
        ceps={CEP: (-23.5614, -46.6559)},
    )
    with serve(fake) as running:
        yield running


class Client:
    def __init__(self, http: httpx.Client, token: str) -> None:
        self.http, self.token = http, token

    def __call__(self, query: str, **variables: Any) -> dict[str, Any]:
        r = self.http.post(
            "/graphql",
            json={"query": query, "variables": variables},
            headers={"authorization": f"Bearer {self.token}"},
        )
        assert r.status_code == 200, r.text
        body = r.json()
        assert "errors" not in body, body["errors"]
        return body["data"]  # type: ignore[no-any-return]


async def _users(url: str) -> dict[str, tuple[str, str]]:
    engine = make_engine(url)
    try:
        out = {}
        for name, role in (
            ("gerente", Role.MANAGER),
            ("ana", Role.DELIVERER),
            ("bia", Role.DELIVERER),
        ):
            async with UnitOfWork(make_sessionmaker(engine)) as uow:
                created = await user_service.create_user(uow, None, name, role, None)
                await uow.commit()
            out[name] = (str(created.user.id), created.token)
        return out
    finally:
        await engine.dispose()


def _worker(url: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
    log = open(ROOT / "test-artifacts" / f"worker-{uuid.uuid4().hex[:6]}.log", "wb")  # noqa: SIM115
    return subprocess.Popen(
        [sys.executable, "-m", "bipa.cli", "worker"],
        env={**_environ(), "DATABASE_URL": url, **env},
        stdout=log,
        stderr=log,
    )


def _environ() -> dict[str, str]:
    import os

    return dict(os.environ)


def wait_job(client: Client, job_id: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client(GET_JOB, id=job_id)["job"]
        if job["status"] in ("SUCCEEDED", "FAILED", "CANCELLED"):
            return job  # type: ignore[no-any-return]
        time.sleep(0.3)
    raise AssertionError(f"job {job_id} did not finish: {job}")


def session_with(
    manager: Client, users: dict[str, tuple[str, str]], names: list[str], packages: list[Any]
) -> str:
    sid: str = manager(CREATE_SESSION, name="Rotas do dia")["createSession"]["session"]["id"]
    for name in names:
        added = manager(
            ADD_DELIVERER, sid=sid, uid=users[name][0], base="100.00", commission="2.00"
        )
        assert added["addDeliverer"]["__typename"] == "AddDelivererSuccess", added
    if packages:
        done = manager(ADD_PACKAGES, sid=sid, packages=packages)
        assert done["addPackages"]["__typename"] == "AddPackagesSuccess", done
    return sid


async def test_geocode_then_optimize_through_the_worker(
    create_database: Callable[[str], object], providers: FakeProviders
) -> None:
    url = str(await create_database("bipa_routes"))  # type: ignore[misc]
    await asyncio.to_thread(database.migrate, url)
    users = await _users(url)
    await asyncio.to_thread(scenario, url, users, providers)


def scenario(url: str, users: dict[str, tuple[str, str]], providers: FakeProviders) -> None:
    env = {
        "BIPA_RUN_WORKER": "false",
        "BIPA_GEOCODER": "nominatim",
        "BIPA_GEOCODER_URL": providers.url,
        "BIPA_GEOCODER_USER_AGENT": "Bipa-tests/1.0 (tests@example.com)",
        "BIPA_GEOCODER_TIMEOUT": "2",
        "BIPA_CEP_URL": f"{providers.url}/api/cep/v2/{{cep}}",
        "BIPA_DEPOT_LAT": str(DEPOT[0]),
        "BIPA_DEPOT_LON": str(DEPOT[1]),
        "BIPA_ROUTE_TIMEOUT": "0.5",
        "BROADCAST_URL": "memory://",
        "BIPA_WEBHOOK_POLL": "0.05",
    }
    server = LiveServer(url, env).start()
    receiver = Receiver().start()
    worker = None
    try:
        with httpx.Client(base_url=server.url, timeout=60) as http:
            manager = Client(http, users["gerente"][1])
            ana = Client(http, users["ana"][1])
            packages = [
                {
                    "barcode": f"RT-{k}",
                    "recipientName": f"Cliente {k}",
                    "address": {
                        "street": street,
                        "number": str(k + 1),
                        "city": "São Paulo",
                        "state": "SP",
                    },
                }
                for k, street in enumerate(STREETS)
            ]
            # The same building twice: one stop with two parcels.
            packages.append({**packages[0], "barcode": "RT-0B"})
            # Placed by its CEP's centroid only; and one nothing places.
            packages.append(
                {
                    "barcode": "RT-CEP",
                    "address": {
                        "street": "Rua Nova",
                        "number": "1",
                        "city": "São Paulo",
                        "postalCode": CEP,
                    },
                }
            )
            packages.append({"barcode": "RT-LOST", "address": {"line": "Travessa Perdida, 3"}})
            sid = session_with(manager, users, ["ana", "bia"], packages)

            # Nothing placed yet: refused as data, no job written.
            early = manager(OPTIMIZE, sid=sid)["optimizeRoutes"]
            assert (early["__typename"], early["code"]) == (
                "ValidationError",
                "NO_GEOCODED_PACKAGES",
            )
            assert manager(JOBS, sid=sid)["jobs"]["edges"] == []

            # No worker yet: the same work asked twice is one job; a key's retry replays it.
            first = manager(GEOCODE, sid=sid, key="geo-1")["geocodeSession"]
            again = manager(GEOCODE, sid=sid)["geocodeSession"]
            replay = manager(GEOCODE, sid=sid, key="geo-1")["geocodeSession"]
            assert first["created"] is True and first["job"]["status"] == "QUEUED"
            assert first["job"]["kind"] == "GEOCODE_SESSION"
            assert again["created"] is False and again["job"]["id"] == first["job"]["id"]
            assert replay["job"]["id"] == first["job"]["id"]

            # A deliverer may not ask.
            refused = ana(GEOCODE, sid=sid)["geocodeSession"]
            assert refused["__typename"] == "PermissionDeniedError", refused

            # A job whose session is completed before it runs ends FAILED with the code.
            other = session_with(
                manager,
                users,
                ["ana"],
                [
                    {
                        "barcode": "B-1",
                        "address": {"line": "Rua B, 1", "latitude": -23.56, "longitude": -46.65},
                    }
                ],
            )
            hook = manager(WEBHOOK, url=receiver.url, events=["job.failed"])["createWebhook"]
            assert hook["__typename"] == "WebhookSecretSuccess", hook
            queued = manager(OPTIMIZE, sid=other)["optimizeRoutes"]
            assert queued["__typename"] == "JobSuccess", queued
            assert manager(START, sid=other)["startSession"]["__typename"] == "SessionSuccess"
            closed = manager(COMPLETE, sid=other, force=True)["completeSession"]
            assert closed["__typename"] == "SessionSuccess", closed
            late = manager(GEOCODE, sid=other)["geocodeSession"]
            assert (late["__typename"], late["code"]) == (
                "ReadOnlySessionError",
                "SESSION_READ_ONLY",
            )

            worker = _worker(url, env)
            geocoded = wait_job(manager, first["job"]["id"])
            assert geocoded["status"] == "SUCCEEDED", geocoded
            assert geocoded["progress"] == 100 and geocoded["total"] == 10
            result = geocoded["result"]
            assert result["placed"] == 9 and result["unplaced"] == 1, result
            assert result["providerCalls"] <= 10

            failed = wait_job(manager, queued["job"]["id"])
            assert failed["status"] == "FAILED", failed
            assert failed["result"]["error"]["code"] == "SESSION_READ_ONLY"
            assert failed["lastError"].startswith("SESSION_READ_ONLY")
            # The failure reaches an integration, signed, on the outbox the worker delivers.
            (sent,) = receiver.wait_for(1)
            assert sent.headers["Bipa-Event"] == "job.failed"
            assert verify(
                hook["secret"], sent.headers["Bipa-Signature"], sent.body, int(time.time())
            )
            assert sent.json["sessionId"] == other
            assert sent.json["data"]["jobId"] == queued["job"]["id"]
            assert sent.json["data"]["kind"] == "OPTIMIZE_ROUTES"
            untouched = manager(ROUTES, sid=other)["session"]
            assert untouched["deliverers"][0]["routeStops"] == []
            assert all(e["node"]["deliverer"] is None for e in untouched["packages"]["edges"])

            view = manager(ROUTES, sid=sid)["session"]
            placed = {a["line"]: a for a in view["addresses"]}
            assert placed["Rua Nova, 1"]["precision"] == "CEP"
            assert placed["Travessa Perdida, 3"]["latitude"] is None

            started = manager(OPTIMIZE, sid=sid, options={"balance": 0.5})["optimizeRoutes"]
            assert started["__typename"] == "JobSuccess", started
            assert started["job"]["kind"] == "OPTIMIZE_ROUTES"
            optimized = wait_job(manager, started["job"]["id"])
            assert optimized["status"] == "SUCCEEDED", optimized
            assert optimized["progress"] == 100 and optimized["total"] == 3
            assert optimized["result"]["unplaced"] == 1 and optimized["result"]["stops"] == 9

            view = manager(ROUTES, sid=sid)["session"]
            by_id = {e["node"]["id"]: e["node"] for e in view["packages"]["edges"]}
            routed = 0
            for d in view["deliverers"]:
                stops = d["routeStops"]
                assert [s["sequence"] for s in stops] == list(range(1, len(stops) + 1))
                offsets = [s["etaOffsetSeconds"] for s in stops]
                assert offsets == sorted(offsets)
                for s in stops:
                    routed += s["parcels"]
                    assert all(by_id[p]["deliverer"]["id"] == d["id"] for p in s["packageIds"])
                if stops:
                    nxt = d["nextStop"]
                    assert nxt["stop"]["sequence"] == 1 and nxt["remaining"] == len(stops)
                    assert nxt["address"]["line"] == stops[0]["address"]["line"]
            assert routed == 10, "every placed parcel is on a route"
            lost = next(p for p in by_id.values() if p["barcode"] == "RT-LOST")
            assert lost["deliverer"] is None, "the unplaced parcel is listed, not assigned"
            assert all(d["routeStops"] for d in view["deliverers"]), "both deliverers get work"

            # The deliverer reads their own next stop.
            mine = ana(ROUTES, sid=sid)["session"]["deliverers"]
            own = next(d for d in mine if d["user"]["id"] == users["ana"][0])
            assert own["nextStop"]["packages"], own
    finally:
        receiver.stop()
        if worker is not None:
            worker.terminate()
            try:
                worker.wait(15)
            except subprocess.TimeoutExpired:
                worker.kill()
        server.stop()
