"""The whole proof path on the S3 backend (moto's server), scanBarcode DELIVER with proof, and
what webhooks carry of proof."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from tests.conftest import LiveServer
from tests.e2e import queries as q
from tests.e2e.test_proof import PACKAGE_PROOF, _active, _signature, deliver
from tests.ocr.test_photo import GPS_TAG, phone_jpeg
from tests.storage.conftest import ThreadedUvicorn, moto_url  # noqa: F401 - fixtures

PHOTOS = Path(__file__).resolve().parents[1] / "photos"

SCAN_DELIVER = """
mutation($input: ScanBarcodeInput!) { scanBarcode(input: $input) {
  __typename
  ... on ScanBarcodeSuccess { report { barcode } package { id status proof { photos { url sha256 } } } }
  ... on Error { code message } } }"""

CREATE_WEBHOOK = """mutation($url: String!) { createWebhook(input: {url: $url, events: ["package.status_changed"]}) {
  __typename } }"""


@pytest.fixture(scope="module")
def s3_server(database_url: str, moto_url: str) -> Iterator[tuple[LiveServer, str]]:  # noqa: F811
    from storage.s3 import S3Store

    bucket = f"bipa-proof-{uuid.uuid4().hex[:8]}"

    async def make_bucket() -> None:
        store = S3Store(bucket, endpoint_url=moto_url, access_key="testing", secret_key="testing")
        await store.create_bucket()
        await store.close()

    asyncio.run(make_bucket())
    url = f"s3://testing:testing@{bucket}/bipa?endpoint={moto_url}&region=us-east-1"
    server = LiveServer(database_url, {"BIPA_RUN_WORKER": "false", "BIPA_STORAGE_URL": url}).start()
    try:
        yield server, moto_url
    finally:
        server.stop()


def _caller(server: LiveServer, caller: Any) -> Any:
    """The same user, talking to this server."""
    client = httpx.Client(base_url=server.url, timeout=60)
    return type(caller)(caller.id, caller.name, caller.role, caller.token, lambda: client)


async def test_proof_on_s3_with_presigned_links_and_webhook_payload(
    s3_server: tuple[LiveServer, str], make_user: Any, committed_session_uow: Any
) -> None:
    server, s3_url = s3_server
    manager = _caller(server, await make_user("MANAGER"))
    courier = _caller(server, await make_user("DELIVERER"))
    assert (
        manager(CREATE_WEBHOOK, url="http://127.0.0.1:9/hook")["createWebhook"]["__typename"]
        == "WebhookSecretSuccess"
    )
    sid, (pid, _) = _active(manager, courier)
    result = deliver(server, courier, pid, [phone_jpeg(2000, 1500)], _signature(), key="s3-" + pid)
    assert result["__typename"] == "PackageSuccess", result
    proof = result["package"]["proof"]
    url = proof["photos"][0]["url"]
    assert url.startswith(s3_url) and "X-Amz-Signature=" in url
    fetched = httpx.get(url, timeout=10)
    assert fetched.status_code == 200
    assert hashlib.sha256(fetched.content).hexdigest() == proof["photos"][0]["sha256"]
    assert not Image.open(io.BytesIO(fetched.content)).getexif().get_ifd(GPS_TAG)
    assert (
        httpx.get(url.replace("X-Amz-Signature=", "X-Amz-Signature=0"), timeout=10).status_code
        == 403
    )
    # The pages may load images from the store.
    csp = httpx.get(server.url + "/sessao.html", timeout=10).headers["content-security-policy"]
    assert s3_url in csp
    # The webhook's payload: that proof exists and its hashes; no link, key or personal data.
    from sqlalchemy import text

    async with committed_session_uow() as uow:
        rows = (
            (
                await uow.session.execute(
                    text(
                        "SELECT payload FROM webhook_deliveries WHERE session_id = :s AND event = 'package.status_changed'"
                    ),
                    {"s": sid},
                )
            )
            .scalars()
            .all()
        )
    [payload] = rows
    data = payload["data"]
    assert data["proof"]["photos"] == [
        {"sha256": proof["photos"][0]["sha256"], "bytes": len(fetched.content)}
    ]
    assert data["proof"]["signature"]["sha256"] == proof["signature"]["sha256"]
    assert data["proof"]["hasPlace"] is True and data["proof"]["hasReceiver"] is True
    raw = json.dumps(payload)
    for leaked in ("http", "proof/", "Porteiro", "-23.55", "-46.63"):
        assert leaked not in raw, leaked
    shown = manager(PACKAGE_PROOF, sid=sid)["session"]["packages"]["edges"]
    assert any(e["node"]["proof"] for e in shown)


async def test_scan_barcode_deliver_takes_proof(
    s3_server: tuple[LiveServer, str], make_user: Any
) -> None:
    server, _ = s3_server
    manager = _caller(server, await make_user("MANAGER"))
    courier = _caller(server, await make_user("DELIVERER"))
    label = (PHOTOS / "ean13-2" / "01.png").read_bytes()
    code = (PHOTOS / "ean13-2" / "01.txt").read_text().strip()
    sid = manager(q.CREATE_SESSION, name="Scan com prova")["createSession"]["session"]["id"]
    added = manager(q.ADD_PACKAGES, sid=sid, packages=[{"barcode": code}])["addPackages"]["added"]
    did = manager(q.ADD_DELIVERER, sid=sid, uid=courier.id, base="1.00", commission="1.00")[
        "addDeliverer"
    ]["deliverer"]["id"]
    manager(q.ASSIGN, sid=sid, pids=[added[0]["id"]], did=did)
    manager(q.session_action("startSession"), sid=sid)

    def scan(intent: str) -> dict[str, Any]:
        variables = {
            "input": {
                "sessionId": sid,
                "image": None,
                "intent": intent,
                "proof": {"photos": [None], "receivedBy": "Vizinho"},
            }
        }
        r = httpx.post(
            server.url + "/graphql",
            data={
                "operations": json.dumps({"query": SCAN_DELIVER, "variables": variables}),
                "map": json.dumps(
                    {"0": ["variables.input.image"], "1": ["variables.input.proof.photos.0"]}
                ),
            },
            files={
                "0": ("label.png", io.BytesIO(label), "image/png"),
                "1": ("door.jpg", io.BytesIO(phone_jpeg(900, 700)), "image/jpeg"),
            },
            headers={"authorization": f"Bearer {courier.token}"},
            timeout=60,
        )
        return r.json()["data"]["scanBarcode"]

    assert scan("IDENTIFY")["code"] == "PROOF_NOT_ALLOWED"
    done = scan("DELIVER")
    assert done["__typename"] == "ScanBarcodeSuccess", done
    assert done["package"]["status"] == "DELIVERED"
    assert httpx.get(done["package"]["proof"]["photos"][0]["url"], timeout=10).status_code == 200
