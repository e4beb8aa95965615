"""Signed webhooks from the outbox, against a real local HTTP receiver."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator

import asyncpg
import pytest

from domain.crypto import verify
from tests.conftest import LiveServer, asyncpg_dsn
from tests.e2e import queries as q
from tests.e2e.conftest import Caller
from tests.e2e.webhook_receiver import Receiver

FAST = {
    "BIPA_WEBHOOK_BACKOFF": "0.2,0.4,0.8",
    "BIPA_WEBHOOK_POLL": "0.05",
    "BIPA_WEBHOOK_LEASE": "3",
    "BIPA_WEBHOOK_RETRY_FOR": "0",  # FAILED right after the quick retries (a later test: more)
}

CREATE = """mutation($url: String!, $events: [String!]!, $key: String) {
  createWebhook(input: {url: $url, events: $events, idempotencyKey: $key}) {
    __typename ... on WebhookSecretSuccess { secret webhook { id url events active failureStreak } }
    ... on Error { message } ... on ValidationError { field } } }"""
UPDATE = """mutation($id: ID!, $active: Boolean, $url: String) { updateWebhook(input: {webhookId: $id, active: $active, url: $url}) {
  __typename ... on WebhookSuccess { webhook { id active failureStreak url } } ... on Error { message } } }"""
WEBHOOKS = """{ webhooks { id url active failureStreak deliveries(first: 100) { totalCount edges { node {
  id event sessionId sequence status attempts lastStatusCode lastError nextAttemptAt deliveredAt } } } } }"""


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver().start()
    yield r
    r.stop()


@pytest.fixture
def servers() -> Iterator[list[object]]:
    started: list[object] = []
    yield started
    for s in started:
        s.stop()  # type: ignore[attr-defined]


def _as(caller: Caller, server: LiveServer) -> Caller:
    import httpx

    client = httpx.Client(base_url=server.url, timeout=30)
    return Caller(caller.id, caller.name, caller.role, caller.token, lambda: client)


def _deliveries(caller: Caller, webhook_id: str) -> list[dict]:
    hooks = {h["id"]: h for h in caller(WEBHOOKS)["webhooks"]}
    return [e["node"] for e in hooks[webhook_id]["deliveries"]["edges"]]


def _wait_status(
    caller: Caller, webhook_id: str, n: int, status: str, timeout: float = 20
) -> list[dict]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = _deliveries(caller, webhook_id)
        done = [d for d in rows if d["status"] == status]
        if len(done) >= n:
            return rows
        time.sleep(0.1)
    raise AssertionError(f"not {n} {status}: {_deliveries(caller, webhook_id)}")


async def test_signed_deliveries_and_snapshot(
    database_url: str, make_user, receiver: Receiver, servers
) -> None:  # type: ignore[no-untyped-def]
    server = LiveServer(database_url, FAST).start()
    servers.append(server)
    manager = _as(await make_user("MANAGER"), server)
    made = manager(
        CREATE, url=receiver.url, events=["session.completed", "package.status_changed"]
    )["createWebhook"]
    assert made["__typename"] == "WebhookSecretSuccess" and made["secret"].startswith("whsec_")
    secret, hook_id = made["secret"], made["webhook"]["id"]

    sid = manager(q.CREATE_SESSION, name="Webhooks")["createSession"]["session"]["id"]
    pid = manager(q.ADD_PACKAGES, sid=sid, packages=[{"barcode": "WH1"}])["addPackages"]["added"][
        0
    ]["id"]
    manager(q.session_action("startSession"), sid=sid)
    manager(q.UPDATE_STATUS, pid=pid, status="DELIVERED")

    got = receiver.wait_for(2)
    events = sorted(r.headers["Bipa-Event"] for r in got)
    assert events == ["package.status_changed", "session.completed"], "only subscribed actions"
    for r in got:
        assert verify(secret, r.headers["Bipa-Signature"], r.body, int(time.time()))
        assert not verify("whsec_wrong", r.headers["Bipa-Signature"], r.body, int(time.time()))
        assert r.json["id"] == r.headers["Bipa-Delivery"] and r.json["sessionId"] == sid
    completed = next(r for r in got if r.headers["Bipa-Event"] == "session.completed").json
    assert completed["data"]["snapshot"]["currency"] == "BRL"
    assert completed["data"]["snapshot"]["delivered"] == 1
    rows = _wait_status(manager, hook_id, 2, "DELIVERED")
    assert all(d["attempts"] == 1 and d["lastStatusCode"] == 200 for d in rows)

    # The secret is stored encrypted, never in clear.
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        blob = await conn.fetchval(
            "SELECT secret_ciphertext FROM webhooks WHERE id = $1::uuid", hook_id
        )
    finally:
        await conn.close()
    assert secret.encode() not in bytes(blob)
    assert secret not in server.log_text()

    # Replaying the creation with its idempotency key gives the same webhook, not a second one.
    first = manager(CREATE, url=receiver.url, events=["*"], key="wh-1")["createWebhook"]
    again = manager(CREATE, url=receiver.url, events=["*"], key="wh-1")["createWebhook"]
    assert again["webhook"]["id"] == first["webhook"]["id"] and again["secret"] == first["secret"]


async def test_retry_schedule_then_success(database_url: str, make_user, servers) -> None:  # type: ignore[no-untyped-def]
    receiver = Receiver(fail_first=2).start()
    try:
        server = LiveServer(database_url, FAST).start()
        servers.append(server)
        manager = _as(await make_user("MANAGER"), server)
        hook_id = manager(CREATE, url=receiver.url, events=["*"])["createWebhook"]["webhook"]["id"]
        manager(q.CREATE_SESSION, name="Retry")
        got = receiver.wait_for(3)
        assert len({r.headers["Bipa-Delivery"] for r in got}) == 1, "the same delivery, retried"
        gaps = [b.at - a.at for a, b in itertools.pairwise(got)]
        assert gaps[0] >= 0.18 and gaps[1] >= 0.38, gaps  # 0.2 s then 0.4 s
        rows = _wait_status(manager, hook_id, 1, "DELIVERED")
        assert rows[0]["attempts"] == 3 and rows[0]["lastStatusCode"] == 200
    finally:
        receiver.stop()


async def test_after_the_quick_retries_a_delivery_keeps_trying_until_retry_for(  # type: ignore[no-untyped-def]
    database_url: str, make_user, servers
) -> None:
    # Down for 6 attempts: past the quick schedule (2 retries here), still delivered.
    receiver = Receiver(fail_first=6).start()
    try:
        server = LiveServer(
            database_url,
            {**FAST, "BIPA_WEBHOOK_BACKOFF": "0.05,0.05", "BIPA_WEBHOOK_RETRY_FOR": "20"},
        ).start()
        servers.append(server)
        manager = _as(await make_user("MANAGER"), server)
        hook_id = manager(CREATE, url=receiver.url, events=["session.created"])["createWebhook"][
            "webhook"
        ]["id"]
        manager(q.CREATE_SESSION, name="Long retry")
        got = receiver.wait_for(7, timeout=30)
        gaps = [b.at - a.at for a, b in itertools.pairwise(got)]
        # Doubling after the quick ones (0.1, 0.2, 0.4, 0.8 s at most, at least half of each).
        assert all(g >= 0.04 for g in gaps[:2]) and gaps[-1] >= 0.35, gaps
        assert gaps[-1] > gaps[2], gaps
        rows = _wait_status(manager, hook_id, 1, "DELIVERED")
        assert rows[0]["attempts"] == 7
    finally:
        receiver.stop()

    # A receiver that never comes back: FAILED once retry_for has passed, not before.
    down = Receiver(status=503).start()
    try:
        server = LiveServer(
            database_url,
            {**FAST, "BIPA_WEBHOOK_BACKOFF": "0.05", "BIPA_WEBHOOK_RETRY_FOR": "1.5"},
        ).start()
        servers.append(server)
        manager = _as(await make_user("MANAGER"), server)
        hook_id = manager(CREATE, url=down.url, events=["session.created"])["createWebhook"][
            "webhook"
        ]["id"]
        started = time.monotonic()
        manager(q.CREATE_SESSION, name="Never back")
        pending = _deliveries(manager, hook_id)
        assert pending and pending[0]["status"] == "PENDING"
        rows = _wait_status(manager, hook_id, 1, "FAILED")
        assert time.monotonic() - started >= 1.4, "failed before retry_for ended"
        assert rows[0]["attempts"] >= 3 and rows[0]["nextAttemptAt"] is None
    finally:
        down.stop()


async def test_failures_disable_and_update_enables(database_url: str, make_user, servers) -> None:  # type: ignore[no-untyped-def]
    receiver = Receiver(status=503).start()
    try:
        server = LiveServer(
            database_url,
            {**FAST, "BIPA_WEBHOOK_BACKOFF": "0.05", "BIPA_WEBHOOK_DISABLE_AFTER": "2"},
        ).start()
        servers.append(server)
        manager = _as(await make_user("MANAGER"), server)
        hook_id = manager(CREATE, url=receiver.url, events=["session.created"])["createWebhook"][
            "webhook"
        ]["id"]
        manager(q.CREATE_SESSION, name="F1")
        manager(q.CREATE_SESSION, name="F2")
        rows = _wait_status(manager, hook_id, 2, "FAILED")
        assert all(
            d["attempts"] == 2 and d["lastStatusCode"] == 503 and "503" in d["lastError"]
            for d in rows
        )
        hook = next(h for h in manager(WEBHOOKS)["webhooks"] if h["id"] == hook_id)
        assert hook["active"] is False and hook["failureStreak"] == 2
        # Disabled: new events are not queued for it.
        manager(q.CREATE_SESSION, name="F3")
        time.sleep(0.5)
        assert len(_deliveries(manager, hook_id)) == 2
        enabled = manager(UPDATE, id=hook_id, active=True)["updateWebhook"]["webhook"]
        assert enabled["active"] is True and enabled["failureStreak"] == 0
    finally:
        receiver.stop()


def _worker(database_url: str, extra: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    env = {**os.environ, "DATABASE_URL": database_url, **FAST, **(extra or {})}
    return subprocess.Popen(
        [sys.executable, "-m", "bipa.cli", "worker"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def test_worker_killed_mid_delivery_still_delivers(
    database_url: str, make_user, servers
) -> None:  # type: ignore[no-untyped-def]
    receiver = Receiver(delay_first_s=4).start()
    try:
        server = LiveServer(database_url, {**FAST, "BIPA_RUN_WORKER": "false"}).start()
        servers.append(server)
        manager = _as(await make_user("MANAGER"), server)
        hook_id = manager(CREATE, url=receiver.url, events=["session.created"])["createWebhook"][
            "webhook"
        ]["id"]
        manager(q.CREATE_SESSION, name="Crash")
        worker = _worker(database_url)
        receiver.wait_for(1)
        worker.send_signal(signal.SIGKILL)  # dies while the receiver is still answering
        worker.wait(10)
        assert _deliveries(manager, hook_id)[0]["status"] == "PENDING"
        worker = _worker(database_url)
        try:
            rows = _wait_status(manager, hook_id, 1, "DELIVERED", timeout=30)
        finally:
            worker.terminate()
            worker.wait(10)
        ids = [r.headers["Bipa-Delivery"] for r in receiver.requests]
        assert ids[0] == rows[0]["id"] and len(set(ids)) == 1, "at least once, the same delivery id"
    finally:
        receiver.stop()


async def test_two_workers_send_each_delivery_once(
    database_url: str, make_user, receiver: Receiver, servers
) -> None:  # type: ignore[no-untyped-def]
    server = LiveServer(database_url, {**FAST, "BIPA_RUN_WORKER": "false"}).start()
    servers.append(server)
    manager = _as(await make_user("MANAGER"), server)
    hook_id = manager(CREATE, url=receiver.url, events=["package.added"])["createWebhook"][
        "webhook"
    ]["id"]
    workers = [_worker(database_url), _worker(database_url)]
    try:
        sid = manager(q.CREATE_SESSION, name="Dois")["createSession"]["session"]["id"]
        for batch in range(4):
            manager(
                q.ADD_PACKAGES, sid=sid, packages=[{"barcode": f"TW{batch}-{i}"} for i in range(10)]
            )
        _wait_status(manager, hook_id, 40, "DELIVERED", timeout=30)
    finally:
        for w in workers:
            w.terminate()
            w.wait(10)
    counts = Counter(r.headers["Bipa-Delivery"] for r in receiver.requests)
    assert len(counts) == 40 and set(counts.values()) == {1}
    sequences = sorted(r.json["sequence"] for r in receiver.requests)
    assert sequences == list(range(2, 42))


async def test_production_refuses_ssrf(database_url: str, make_user, servers) -> None:  # type: ignore[no-untyped-def]
    server = LiveServer(
        database_url, {"BIPA_ENV": "production", "BIPA_RUN_WORKER": "false"}
    ).start()
    servers.append(server)
    manager = _as(await make_user("MANAGER"), server)
    cases = {
        "http://hooks.example.com/x": "https",
        "https://127.0.0.1/x": "private",
        "https://10.0.0.1/x": "private",
        "https://169.254.169.254/latest/meta-data": "private",
        "https://[::1]/x": "private",
        "https://localhost/x": "private",
        "https://user:pass@hooks.example.com/x": "user name",
        "https://hooks.example.com:8080/x": "ports",
        "ftp://hooks.example.com/x": "https",
    }
    for url, needle in cases.items():
        r = manager(CREATE, url=url, events=["*"])["createWebhook"]
        assert r["__typename"] == "ValidationError" and r["field"] == "url", (url, r)
        assert needle in r["message"], (url, r["message"])
    assert manager(WEBHOOKS)["webhooks"] == []


async def test_delivery_rechecks_the_url(
    database_url: str, make_user, receiver: Receiver, servers
) -> None:  # type: ignore[no-untyped-def]
    # Saved in development (loopback http allowed), delivered by a production worker: refused.
    server = LiveServer(database_url, {**FAST, "BIPA_RUN_WORKER": "false"}).start()
    servers.append(server)
    manager = _as(await make_user("MANAGER"), server)
    hook_id = manager(CREATE, url=receiver.url, events=["session.created"])["createWebhook"][
        "webhook"
    ]["id"]
    manager(q.CREATE_SESSION, name="Rebind")
    worker = _worker(database_url, {"BIPA_ENV": "production", "BIPA_WEBHOOK_BACKOFF": "0.05"})
    try:
        rows = _wait_status(manager, hook_id, 1, "FAILED")
    finally:
        worker.terminate()
        worker.wait(10)
    assert "refused" in rows[0]["lastError"] and receiver.requests == []


async def test_ownership_ping_and_redeliver(
    database_url: str, make_user, receiver: Receiver, servers
) -> None:  # type: ignore[no-untyped-def]
    server = LiveServer(database_url, FAST).start()
    servers.append(server)
    owner = _as(await make_user("MANAGER"), server)
    other = _as(await make_user("MANAGER"), server)
    admin = _as(await make_user("ADMIN"), server)
    courier = _as(await make_user("DELIVERER"), server)
    assert (
        courier(CREATE, url=receiver.url, events=["*"])["createWebhook"]["__typename"]
        == "PermissionDeniedError"
    )
    mine = owner(CREATE, url=receiver.url, events=["session.created"])["createWebhook"]["webhook"][
        "id"
    ]
    admins = admin(CREATE, url=receiver.url, events=["session.created"])["createWebhook"][
        "webhook"
    ]["id"]
    assert other(UPDATE, id=mine, active=False)["updateWebhook"]["__typename"] == "NotFoundError"
    assert mine not in [h["id"] for h in other(WEBHOOKS)["webhooks"]]
    assert {mine, admins} <= {h["id"] for h in admin(WEBHOOKS)["webhooks"]}

    other(
        q.CREATE_SESSION, name="Alheia"
    )  # the owner's webhook must not hear of it; the admin's does
    owner(q.CREATE_SESSION, name="Própria")
    _wait_status(admin, admins, 2, "DELIVERED")
    assert len(_deliveries(owner, mine)) == 1

    ping = owner(
        "mutation($id: ID!) { testWebhook(input: {webhookId: $id}) { __typename ... on WebhookDeliverySuccess { delivery { id event status } } } }",
        id=mine,
    )
    delivery = ping["testWebhook"]["delivery"]
    assert delivery["event"] == "ping"
    _wait_status(owner, mine, 2, "DELIVERED")
    again = owner(
        "mutation($id: ID!) { redeliverWebhookDelivery(input: {deliveryId: $id}) { __typename ... on WebhookDeliverySuccess { delivery { id event } } } }",
        id=delivery["id"],
    )
    assert again["redeliverWebhookDelivery"]["delivery"]["id"] != delivery["id"]
    _wait_status(owner, mine, 3, "DELIVERED")
    pings = [r for r in receiver.requests if r.headers["Bipa-Event"] == "ping"]
    assert len(pings) == 2 and pings[1].json["redeliveryOf"] == delivery["id"]
    deleted = owner(
        "mutation($id: ID!) { deleteWebhook(input: {webhookId: $id}) { __typename } }", id=mine
    )
    assert deleted["deleteWebhook"]["__typename"] == "WebhookSuccess"
    assert mine not in [h["id"] for h in owner(WEBHOOKS)["webhooks"]]
