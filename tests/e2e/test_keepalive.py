"""Websocket keep-alive: ping frames at BIPA_WS_PING; a client that never answers is closed."""

from __future__ import annotations

import asyncio
import base64
import os
import struct

import pytest

from tests.conftest import LiveServer

pytestmark = pytest.mark.e2e


async def _upgrade(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(
        (
            "GET /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            "Sec-WebSocket-Protocol: graphql-transport-ws\r\n\r\n"
        ).encode()
    )
    head = await reader.readuntil(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101"), head
    return reader, writer


async def _frame(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    b0, b1 = await reader.readexactly(2)
    length = b1 & 0x7F
    if length == 126:
        (length,) = struct.unpack("!H", await reader.readexactly(2))
    elif length == 127:
        (length,) = struct.unpack("!Q", await reader.readexactly(8))
    return b0 & 0x0F, await reader.readexactly(length)


async def test_silent_client_is_pinged_then_closed(database_url: str) -> None:
    server = LiveServer(database_url, {"BIPA_RUN_WORKER": "false", "BIPA_WS_PING": "0.5"}).start()
    try:
        # A client that answers every ping with a pong stays connected across many of them.
        reader, writer = await _upgrade(server.port)
        pings = 0
        async with asyncio.timeout(10):
            while pings < 5:
                opcode, payload = await _frame(reader)
                assert opcode == 0x9, opcode
                pings += 1
                mask = os.urandom(4)
                masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
                writer.write(bytes([0x8A, 0x80 | len(payload)]) + mask + masked)
        writer.close()

        # One that never answers is pinged, then closed.
        reader, writer = await _upgrade(server.port)
        opcodes = []
        closed = False
        async with asyncio.timeout(10):
            while not closed:
                try:
                    opcode, _ = await _frame(reader)
                except asyncio.IncompleteReadError:
                    closed = True  # the server dropped the connection
                    break
                opcodes.append(opcode)
                closed = opcode == 0x8
        assert opcodes and opcodes[0] == 0x9, opcodes
        assert closed
        writer.close()
    finally:
        server.stop()
