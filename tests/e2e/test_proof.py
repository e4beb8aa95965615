"""Proof of delivery over real HTTP: multipart uploads, fresh links, the requirement, replays."""

from __future__ import annotations

import io
import json
import uuid
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from PIL import Image

from tests.conftest import LiveServer
from tests.e2e import queries as q
from tests.e2e.conftest import Caller
from tests.ocr.test_photo import GPS_TAG, phone_jpeg

UPDATE_WITH_PROOF = """
mutation($input: UpdatePackageStatusInput!) {
  updatePackageStatus(input: $input) {
    __typename
    ... on PackageSuccess { package { id status proof { status receivedBy note capturedAt
      photos { url width height sha256 } signature { url sha256 }
      location { latitude longitude accuracy } } } }
    ... on Error { code message }
  }
}"""

PACKAGE_PROOF = """
query($sid: ID!) { session(id: $sid) { proofRequirement { photo signature }
  financialSnapshot { proofRequired { photo signature } }
  packages { edges { node { id proof { photos { url sha256 } signature { url } receivedBy
    location { latitude longitude accuracy } capturedAt } } } } } }"""

SET_REQUIREMENT = """
mutation($sid: ID!, $photo: Boolean!, $signature: Boolean!) {
  setProofRequirement(input: {sessionId: $sid, photo: $photo, signature: $signature}) {
    __typename ... on SessionSuccess { session { proofRequirement { photo signature } } }
    ... on Error { code }
  }
}"""


def _signature() -> bytes:
    out = io.BytesIO()
    img = Image.new("RGBA", (400, 150), (0, 0, 0, 0))
    img.paste((0, 0, 80, 255), (20, 70, 380, 80))
    img.save(out, "PNG")
    return out.getvalue()


def deliver(
    server: LiveServer,
    caller: Caller,
    pid: str,
    photos: list[bytes],
    signature: bytes | None = None,
    key: str | None = None,
    status: str = "DELIVERED",
    reason: str | None = None,
) -> dict[str, Any]:
    proof: dict[str, Any] = {
        "photos": [None] * len(photos),
        "signature": None,
        "receivedBy": "Porteiro João",
        "location": {"latitude": -23.5505, "longitude": -46.6333, "accuracy": 8.0},
        "capturedAt": "2026-12-01T10:00:00+00:00",
    }
    variables = {
        "input": {
            "packageId": pid,
            "status": status,
            "reason": reason,
            "proof": proof,
            "idempotencyKey": key,
        }
    }
    mapping = {str(i): [f"variables.input.proof.photos.{i}"] for i in range(len(photos))}
    files = {str(i): (f"p{i}.jpg", io.BytesIO(p), "image/jpeg") for i, p in enumerate(photos)}
    if signature is not None:
        mapping["sig"] = ["variables.input.proof.signature"]
        files["sig"] = ("signature.png", io.BytesIO(signature), "image/png")
    r = httpx.post(
        server.url + "/graphql",
        data={
            "operations": json.dumps({"query": UPDATE_WITH_PROOF, "variables": variables}),
            "map": json.dumps(mapping),
        },
        files=files,
        headers={"authorization": f"Bearer {caller.token}"},
        timeout=60,
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert "errors" not in body, body
    return body["data"]["updatePackageStatus"]


def _active(manager: Caller, courier: Caller, n: int = 2) -> tuple[str, list[str]]:
    sid = manager(q.CREATE_SESSION, name="Comprovação")["createSession"]["session"]["id"]
    added = manager(
        q.ADD_PACKAGES,
        sid=sid,
        packages=[{"barcode": f"PRF{uuid.uuid4().hex[:8]}"} for _ in range(n)],
    )
    pids = [p["id"] for p in added["addPackages"]["added"]]
    did = manager(q.ADD_DELIVERER, sid=sid, uid=courier.id, base="100.00", commission="2.50")[
        "addDeliverer"
    ]["deliverer"]["id"]
    manager(q.ASSIGN, sid=sid, pids=pids, did=did)
    manager(q.session_action("startSession"), sid=sid)
    return sid, pids


def _objects(sid: str) -> list[str]:
    from bipa.settings import PROJECT_ROOT

    root = PROJECT_ROOT / ".data" / "objects" / "proof"
    return sorted(p.name for p in root.glob(f"*/{sid}/*"))


async def test_proof_is_captured_shown_with_fresh_links_and_fetchable(
    live_server: LiveServer, make_user: Any
) -> None:
    manager, courier = await make_user("MANAGER"), await make_user("DELIVERER")
    sid, (pid, _) = _active(manager, courier)
    result = deliver(
        live_server, courier, pid, [phone_jpeg(3000, 2000)], _signature(), key="proof-" + pid
    )
    assert result["__typename"] == "PackageSuccess", result
    proof = result["package"]["proof"]
    assert proof["status"] == "DELIVERED" and proof["receivedBy"] == "Porteiro João"
    assert proof["location"] == {"latitude": -23.5505, "longitude": -46.6333, "accuracy": 8.0}
    [photo] = proof["photos"]
    assert (photo["width"], photo["height"]) == (1600, 1067)
    fetched = httpx.get(photo["url"], timeout=10)
    assert fetched.status_code == 200
    assert not Image.open(io.BytesIO(fetched.content)).getexif().get_ifd(GPS_TAG)
    import hashlib

    assert hashlib.sha256(fetched.content).hexdigest() == photo["sha256"]
    assert httpx.get(proof["signature"]["url"], timeout=10).status_code == 200
    # A tampered link is refused; each read mints a fresh link.
    assert (
        httpx.get(photo["url"].replace("signature=", "signature=0"), timeout=10).status_code == 403
    )
    import time

    time.sleep(1.1)
    again = manager(PACKAGE_PROOF, sid=sid)["session"]["packages"]["edges"]
    shown = next(e["node"]["proof"] for e in again if e["node"]["id"] == pid)
    assert shown["photos"][0]["sha256"] == photo["sha256"]
    first_exp = parse_qs(urlsplit(photo["url"]).query)["expires"][0]
    assert parse_qs(urlsplit(shown["photos"][0]["url"]).query)["expires"][0] != first_exp
    # The retry with the same key stores no second copy.
    replay = deliver(
        live_server, courier, pid, [phone_jpeg(3000, 2000)], _signature(), key="proof-" + pid
    )
    assert replay["__typename"] == "PackageSuccess"
    assert len(_objects(sid)) == 2


async def test_requirement_refuses_and_bad_images_leave_nothing(
    live_server: LiveServer, make_user: Any
) -> None:
    manager, courier = await make_user("MANAGER"), await make_user("DELIVERER")
    sid, (pid, other) = _active(manager, courier)
    r = manager(SET_REQUIREMENT, sid=sid, photo=True, signature=False)["setProofRequirement"]
    assert r["session"]["proofRequirement"] == {"photo": True, "signature": False}
    plain = courier(q.UPDATE_STATUS, pid=pid, status="DELIVERED")["updatePackageStatus"]
    assert plain["code"] == "PROOF_PHOTO_REQUIRED"
    picked = deliver(live_server, courier, pid, [phone_jpeg(800, 600)], status="PICKED_UP")
    assert picked["code"] == "PROOF_NOT_ALLOWED"
    bad = deliver(live_server, courier, pid, [b"not a photo"])
    assert bad["code"] == "INVALID_IMAGE"
    truncated = deliver(live_server, courier, pid, [phone_jpeg(800, 600)[:-4000]])
    assert truncated["code"] == "INVALID_IMAGE"
    assert _objects(sid) == []
    # A refused change (another deliverer's package) removes what it stored.
    stranger = await make_user("DELIVERER")
    refused = deliver(live_server, stranger, other, [phone_jpeg(800, 600)])
    assert refused["__typename"] != "PackageSuccess"
    assert _objects(sid) == []
    ok = deliver(live_server, courier, pid, [phone_jpeg(800, 600)])
    assert ok["__typename"] == "PackageSuccess"
    failed = deliver(
        live_server,
        courier,
        other,
        [phone_jpeg(800, 600)],
        status="FAILED",
        reason="ninguém em casa",
    )
    assert failed["package"]["proof"]["status"] == "FAILED"
    assert len(_objects(sid)) == 2
    # The session completed: its proof is history now.
    final = manager(PACKAGE_PROOF, sid=sid)["session"]
    assert final["proofRequirement"] == {"photo": True, "signature": False}
    assert final["financialSnapshot"]["proofRequired"] == {"photo": True, "signature": False}
    locked = manager(SET_REQUIREMENT, sid=sid, photo=False, signature=False)["setProofRequirement"]
    assert locked["code"] == "SESSION_READ_ONLY"


async def test_live_event_says_proof_exists_without_links_or_personal_data(
    live_server: LiveServer, make_user: Any
) -> None:
    from tests.e2e.wsclient import EVENTS, WsClient

    manager, courier = await make_user("MANAGER"), await make_user("DELIVERER")
    sid, (pid, _) = _active(manager, courier)
    async with WsClient(live_server.ws_url, manager.token) as ws:
        assert await ws.acked()
        events = await ws.subscribe(EVENTS, sid=sid, after=None)
        import asyncio

        result = await asyncio.to_thread(
            deliver, live_server, courier, pid, [phone_jpeg(800, 600)], _signature()
        )
        assert result["__typename"] == "PackageSuccess"
        [event] = await ws.take(events, 1)
    assert event["action"] == "package.status_changed"
    details = event["details"]
    photo = result["package"]["proof"]["photos"][0]
    assert details["proof"]["photos"][0]["sha256"] == photo["sha256"]
    assert (
        details["proof"]["signature"]["sha256"] == result["package"]["proof"]["signature"]["sha256"]
    )
    assert details["proofRequired"] == {"photo": False, "signature": False}
    text = json.dumps(event)
    for leaked in ("http", "proof/", "Porteiro", "-23.55", "-46.63"):
        assert leaked not in text, leaked
