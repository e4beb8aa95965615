"""With no DATABASE_URL, `bipa serve` runs its own PostgreSQL in the data dir; data survives."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from tests.conftest import ROOT, free_port


@pytest.fixture
def data_dir() -> Iterator[Path]:
    path = ROOT / ".data" / f"test-embedded-{uuid.uuid4().hex[:8]}"
    path.mkdir(parents=True)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _env(data_dir: Path, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "TEST_DATABASE_URL")}
    return {**env, "BIPA_DATA_DIR": str(data_dir), "BIPA_PORT": str(port)}


def _postgres_running(data_dir: Path) -> bool:
    needle = str((data_dir / "pg").resolve())
    for proc in psutil.process_iter(attrs=["name", "cmdline"]):
        if proc.info["name"] == "postgres" and needle in " ".join(proc.info["cmdline"] or []):
            return True
    return False


def _serve(data_dir: Path, port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "bipa.cli", "serve"],
        env=_env(data_dir, port),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.3)
    proc.kill()
    raise AssertionError("embedded server did not start")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    assert proc.wait(30) == 0


def test_embedded_database_starts_migrates_stops_and_keeps_data(data_dir: Path) -> None:
    port = free_port()
    server = _serve(data_dir, port)
    try:
        assert (data_dir / "pg" / "PG_VERSION").exists()
        created = subprocess.run(
            [
                sys.executable,
                "-m",
                "bipa.cli",
                "users",
                "create",
                "--name",
                "Emb",
                "--role",
                "ADMIN",
                "--json",
            ],
            env=_env(data_dir, port),
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        user = json.loads(created.stdout)
    finally:
        _stop(server)
    assert not _postgres_running(data_dir), "the embedded PostgreSQL outlived its last user"

    server = _serve(data_dir, port)
    try:
        r = httpx.post(
            f"http://127.0.0.1:{port}/graphql",
            json={"query": "{ me { id name } }"},
            headers={"authorization": f"Bearer {user['token']}"},
        )
        assert r.json()["data"]["me"] == {"id": user["id"], "name": "Emb"}
    finally:
        _stop(server)
    assert not _postgres_running(data_dir)


def test_the_embedded_database_is_backed_up_with_the_binaries_it_ships(data_dir: Path) -> None:
    env = _env(data_dir, free_port())

    def bipa(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "bipa.cli", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )

    made = bipa("users", "create", "--name", "Backed Up", "--role", "ADMIN", "--json")
    assert made.returncode == 0, made.stderr
    dump = data_dir / "embedded.dump"
    written = bipa("backup", "--output", str(dump))
    assert written.returncode == 0, written.stderr
    assert dump.stat().st_size > 0
    # A second data dir: a fresh embedded server, empty; the dump loads into it whole.
    env["BIPA_DATA_DIR"] = str(data_dir / "restored")
    restored = bipa("restore", str(dump))
    assert restored.returncode == 0, restored.stderr
    count = subprocess.run(
        [sys.executable, "-c", COUNT_USERS, str(data_dir / "restored")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert count.returncode == 0, count.stderr
    assert count.stdout.strip() == "1"


COUNT_USERS = """
import asyncio, sys
from pathlib import Path
import asyncpg
from bipa import embedded
from bipa.backup import libpq_url

async def main() -> None:
    conn = await asyncpg.connect(libpq_url(embedded.start(Path(sys.argv[1]))))
    print(await conn.fetchval("SELECT count(*) FROM users WHERE name = 'Backed Up'"))
    await conn.close()

try:
    asyncio.run(main())
finally:
    embedded.stop_all()
"""
