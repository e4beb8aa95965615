"""The CLI against the test database, as separate processes (as an operator runs it)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import asyncpg

from domain.tokens import hash_token
from tests.conftest import asyncpg_dsn


def _bipa(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": database_url}
    return subprocess.run(
        [sys.executable, "-m", "bipa.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def test_users_create_json_prints_token_once_and_stores_only_its_hash(
    database_url: str,
) -> None:
    proc = _bipa(
        database_url,
        "users",
        "create",
        "--name",
        "Carla CLI",
        "--role",
        "MANAGER",
        "--telegram-id",
        "555001",
        "--json",
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1
    data = json.loads(lines[0])
    assert set(data) == {"id", "name", "role", "token"}
    assert data["role"] == "MANAGER" and data["name"] == "Carla CLI"
    assert data["token"] not in proc.stderr  # never logged
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        stored = await conn.fetchval(
            "SELECT token_hash FROM api_tokens WHERE user_id = $1::uuid", data["id"]
        )
        tg = await conn.fetchval("SELECT telegram_id FROM users WHERE id = $1::uuid", data["id"])
    finally:
        await conn.close()
    assert stored == hash_token(data["token"])
    assert stored != data["token"]
    assert tg == "555001"


def test_users_create_rejects_bad_input(database_url: str) -> None:
    proc = _bipa(database_url, "users", "create", "--name", "   ", "--role", "ADMIN")
    assert proc.returncode == 1
    assert "name must not be empty" in proc.stderr
    proc = _bipa(database_url, "users", "create", "--name", "X", "--role", "BOSS")
    assert proc.returncode == 2


def test_link_telegram(database_url: str) -> None:
    created = json.loads(
        _bipa(
            database_url, "users", "create", "--name", "Dani", "--role", "DELIVERER", "--json"
        ).stdout
    )
    proc = _bipa(
        database_url,
        "users",
        "link-telegram",
        "--user-id",
        created["id"],
        "--telegram-id",
        "777123",
    )
    assert proc.returncode == 0, proc.stderr
    assert "777123" in proc.stdout
    proc = _bipa(
        database_url, "users", "link-telegram", "--user-id", created["id"], "--telegram-id", "abc"
    )
    assert proc.returncode == 1 and "numeric" in proc.stderr


def test_demo_creates_a_usable_session(database_url: str, live_server) -> None:  # type: ignore[no-untyped-def]
    import re

    import httpx

    proc = _bipa(database_url, "demo")
    assert proc.returncode == 0, proc.stderr
    token = re.search(r"manager\s+.*?: (bipa_\S+)", proc.stdout).group(1)  # type: ignore[union-attr]
    variables = json.loads(proc.stdout.rsplit("Variables:", 1)[1])
    query = proc.stdout.split("Query:\n", 1)[1].split("\n\nVariables:", 1)[0]
    r = httpx.post(
        live_server.url + "/graphql",
        json={"query": query, "variables": variables},
        headers={"authorization": f"Bearer {token}"},
    )
    session = r.json()["data"]["session"]
    assert session["status"] == "OPEN" and session["progress"]["total"] == 5
    assert {d["user"]["name"] for d in session["deliverers"]} == {
        "Ana Entregadora",
        "Bruno Entregador",
    }
    nodes = [e["node"] for e in session["packages"]["edges"]]
    assert all(n["deliverer"] and n["address"] for n in nodes)
