"""scanBarcode over real HTTP multipart uploads with real photos (tests/photos)."""

from __future__ import annotations

import asyncio
import io
import json
import os
import struct
import zlib
from pathlib import Path

import httpx
import pytest

from tests.conftest import LiveServer
from tests.e2e import queries as q

BARCODES = Path(
    os.environ.get("BIPA_BARCODES_DIR") or Path(__file__).resolve().parents[1] / "photos"
)

SCAN = """
mutation($input: ScanBarcodeInput!) {
  scanBarcode(input: $input) {
    __typename
    ... on ScanBarcodeSuccess {
      report { barcode symbology method confidence elapsedMs attempts { method variant result elapsedMs } }
      package { id barcode status symbology scan { barcode method } }
      session { id lastSequence progress { total delivered } }
    }
    ... on Error { message }
  }
}"""


def photo(name: str) -> tuple[bytes, str]:
    path = BARCODES / name
    if not path.exists():
        pytest.fail(f"test photo missing: {path}")
    expected = path.with_suffix(".txt").read_bytes().decode()
    return path.read_bytes(), expected


def scan(
    server: LiveServer,
    token: str,
    sid: str,
    image: bytes,
    intent: str = "IDENTIFY",
    key: str | None = None,
    filename: str = "photo.png",
) -> dict:
    variables = {
        "input": {"sessionId": sid, "image": None, "intent": intent, "idempotencyKey": key}
    }
    operations = json.dumps({"query": SCAN, "variables": variables})
    r = httpx.post(
        server.url + "/graphql",
        data={"operations": operations, "map": json.dumps({"0": ["variables.input.image"]})},
        files={"0": (filename, io.BytesIO(image), "image/png")},
        headers={"authorization": f"Bearer {token}"},
        timeout=60,
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert "errors" not in body, body
    return body["data"]["scanBarcode"]


def _png(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0" * 10))
        + chunk(b"IEND", b"")
    )


async def test_add_identify_deliver_with_real_photos(live_server: LiveServer, make_user) -> None:  # type: ignore[no-untyped-def]
    manager = await make_user("MANAGER")
    sid = manager(q.CREATE_SESSION, name="Bipagem")["createSession"]["session"]["id"]
    image, expected = photo("ean13-2/01.png")

    added = scan(live_server, manager.token, sid, image, "ADD")
    assert added["__typename"] == "ScanBarcodeSuccess", added
    assert added["report"]["barcode"] == expected and added["report"]["attempts"]
    assert added["package"]["barcode"] == expected and added["package"]["symbology"] == "EAN13"
    assert added["package"]["scan"]["barcode"] == expected, "the report is kept on the package"
    assert added["session"]["progress"]["total"] == 1

    again = scan(live_server, manager.token, sid, image, "ADD")
    assert (
        again["package"]["id"] == added["package"]["id"]
        and again["session"]["progress"]["total"] == 1
    )

    other, other_expected = photo("code128-2a/01.png")
    second = scan(live_server, manager.token, sid, other, "ADD")
    assert second["package"]["barcode"] == other_expected.upper().replace(" ", "")

    ident = scan(live_server, manager.token, sid, image, "IDENTIFY")
    assert ident["package"]["id"] == added["package"]["id"]

    manager(q.session_action("startSession"), sid=sid)
    delivered = scan(live_server, manager.token, sid, image, "DELIVER")
    assert delivered["package"]["status"] == "DELIVERED"
    audit = manager(q.SESSION, id=sid)["session"]["audit"]["edges"]
    assert audit[-1]["node"]["action"] == "package.status_changed"


async def test_bad_images_write_nothing(live_server: LiveServer, make_user) -> None:  # type: ignore[no-untyped-def]
    manager = await make_user("MANAGER")
    sid = manager(q.CREATE_SESSION, name="Ruins")["createSession"]["session"]["id"]
    good, _ = photo("ean13-2/01.png")
    cases = {
        "empty": b"",
        "not an image": b"%PDF-1.4 definitely not a picture" * 10,
        "truncated": good[: len(good) // 3],
        "decompression bomb": _png(20000, 20000),
        "too large": b"\x89PNG" + b"\0" * (15 * 1024 * 1024 + 10),
    }
    for name, data in cases.items():
        r = scan(live_server, manager.token, sid, data, "ADD")
        assert r["__typename"] == "ImageError", (name, r)
        assert r["message"], name
    session = manager(q.SESSION, id=sid)["session"]
    assert session["progress"]["total"] == 0 and session["lastSequence"] == 1


async def test_scan_permissions_and_readonly(live_server: LiveServer, make_user) -> None:  # type: ignore[no-untyped-def]
    owner = await make_user("MANAGER")
    stranger = await make_user("MANAGER")
    sid = owner(q.CREATE_SESSION, name="Dono")["createSession"]["session"]["id"]
    image, _ = photo("ean13-2/01.png")
    assert (
        scan(live_server, stranger.token, sid, image, "ADD")["__typename"]
        == "PermissionDeniedError"
    )
    assert scan(live_server, owner.token, "nope", image)["__typename"] == "NotFoundError"


async def test_idempotent_scan(live_server: LiveServer, make_user) -> None:  # type: ignore[no-untyped-def]
    manager = await make_user("MANAGER")
    sid = manager(q.CREATE_SESSION, name="Repetida")["createSession"]["session"]["id"]
    image, expected = photo("ean13-2/01.png")
    first = scan(live_server, manager.token, sid, image, "ADD", key="scan-1")
    replay = scan(live_server, manager.token, sid, image, "ADD", key="scan-1")
    assert first["package"]["barcode"] == expected
    assert replay["package"]["id"] == first["package"]["id"]
    assert replay["session"]["lastSequence"] == first["session"]["lastSequence"]
    other, _ = photo("code128-2a/01.png")
    conflict = scan(live_server, manager.token, sid, other, "ADD", key="scan-1")
    assert conflict["__typename"] == "IdempotencyConflictError"


async def test_burst_does_not_stall_queries_and_overload_says_so(
    database_url: str, make_user
) -> None:  # type: ignore[no-untyped-def]
    server = LiveServer(database_url, {"BIPA_SCAN_WORKERS": "1", "BIPA_SCAN_QUEUE": "2"}).start()
    try:
        manager = await make_user("MANAGER")
        sid = manager(q.CREATE_SESSION, name="Rajada")["createSession"]["session"]["id"]
        image, _ = photo("ean13-2/01.png")
        loop = asyncio.get_running_loop()
        scans = [
            loop.run_in_executor(None, scan, server, manager.token, sid, image) for _ in range(8)
        ]
        await asyncio.sleep(0.05)
        async with httpx.AsyncClient(base_url=server.url) as client:
            r = await client.post(
                "/graphql",
                json={"query": "{ me { id } }"},
                headers={"authorization": f"Bearer {manager.token}"},
            )
        assert r.json()["data"]["me"]["id"] == manager.id
        results = await asyncio.gather(*scans)
        kinds = [res["__typename"] for res in results]
        assert "OverloadedError" in kinds, kinds
        assert set(kinds) <= {"OverloadedError", "ScanBarcodeSuccess"}
    finally:
        server.stop()
