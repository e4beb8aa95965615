"""`bipa backup` and `bipa restore`: a session's whole history comes back identical."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from bipa import backup, database
from bipa.settings import Settings
from db.engine import make_engine, make_sessionmaker
from db.enums import DeliveryStatus, Role
from domain import commands
from domain.operations import Runner
from domain.packages import PackageData
from tests.conftest import ROOT, asyncpg_dsn


async def _history(url: str) -> str:
    """A session's whole history through the runner, completed with its snapshot."""
    engine = make_engine(url, pool_size=2, max_overflow=0)
    runner = Runner(make_sessionmaker(engine))
    try:
        manager = (await runner.run_once(None, commands.CreateUser("Gerente", Role.MANAGER))).rows[
            "user"
        ]
        courier = (
            await runner.run_once(None, commands.CreateUser("Entregador", Role.DELIVERER))
        ).rows["user"]
        sid = (await runner.run_once(manager, commands.CreateSession("Backup"))).rows["session"].id
        deliverer = (
            await runner.run_once(
                manager, commands.AddDeliverer(sid, "100.00", "2.50", user_id=courier.id)
            )
        ).rows["deliverer"]
        added = await runner.run_once(
            manager,
            commands.AddPackages(sid, (PackageData("BK-1", deliverer_id=deliverer.id),)),
            "key-1",
        )
        await runner.run_once(manager, commands.StartSession(sid))
        package = added.rows["packages"][0]
        await runner.run_once(
            courier, commands.UpdatePackageStatus(package.id, DeliveryStatus.DELIVERED)
        )
        return str(sid)
    finally:
        await engine.dispose()


async def _tables(url: str) -> dict[str, list[str]]:
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        names = [
            r["table_name"]
            for r in await conn.fetch(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema = 'public' ORDER BY table_name"
            )
        ]
        return {
            name: sorted(
                r[0] for r in await conn.fetch(f'SELECT row_to_json(t)::text FROM "{name}" t')
            )
            for name in names
        }
    finally:
        await conn.close()


def _bipa(
    *args: str, url: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": url, "BIPA_LOG_LEVEL": "INFO", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "bipa.cli", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


async def test_backup_and_restore_bring_back_everything(
    create_database: Callable[[str], Any], tmp_path: Path
) -> None:
    source = await create_database("bipa_backup_src")
    await asyncio.to_thread(database.migrate, str(source))
    sid = await _history(str(source))
    dump = tmp_path / "day.dump"
    written = _bipa("backup", "--output", str(dump), url=str(source))
    assert written.returncode == 0, written.stderr
    assert dump.stat().st_size > 0 and not (tmp_path / "day.dump.partial").exists()

    target = await create_database("bipa_backup_dst")
    restored = _bipa("restore", str(dump), "--into", str(target), url=str(source))
    assert restored.returncode == 0, restored.stderr
    before, after = await _tables(str(source)), await _tables(str(target))
    assert before.keys() == after.keys()
    for table in before:
        assert before[table] == after[table], f"{table} differs after restore"
    sessions = [json.loads(r) for r in after["delivery_sessions"]]
    (session,) = [s for s in sessions if s["id"] == sid]
    assert session["status"] == "COMPLETED" and session["financial_snapshot"]["totalCost"]
    assert session["last_sequence"] == len(after["session_audit_log"])

    conn = await asyncpg.connect(asyncpg_dsn(str(target)))
    try:
        # The read-only guards came back too: history still cannot be rewritten.
        with pytest.raises(asyncpg.PostgresError, match="read-only"):
            await conn.execute("UPDATE session_packages SET barcode = 'X'")
        with pytest.raises(asyncpg.PostgresError, match=r"append-only|not allowed|refused"):
            await conn.execute("DELETE FROM session_audit_log")
    finally:
        await conn.close()

    again = _bipa("restore", str(dump), "--into", str(target), url=str(source))
    assert again.returncode == 2
    (line,) = again.stderr.strip().splitlines()
    assert "not empty" in json.loads(line)["msg"]
    assert (await _tables(str(target))) == after, "a refused restore changed nothing"


async def test_scheduled_backups_keep_the_newest_ones(
    create_database: Callable[[str], Any], tmp_path: Path
) -> None:
    url = str(await create_database("bipa_backup_sched"))
    await asyncio.to_thread(database.migrate, url)
    settings = Settings.from_env(
        {"BIPA_BACKUP_DIR": str(tmp_path), "BIPA_BACKUP_EVERY": "1", "BIPA_BACKUP_KEEP": "2"}
    )
    start = datetime(2026, 12, 1, 8, tzinfo=UTC)
    first = backup.backup_if_due(settings, url, start)
    assert first is not None and first.exists()
    assert backup.backup_if_due(settings, url, start + timedelta(minutes=1)) is None, "not due"
    made = [first]
    for hours in (2, 4, 6):
        moment = start + timedelta(hours=hours)
        os.utime(made[-1], (moment.timestamp() - 7200, moment.timestamp() - 7200))
        written = backup.backup_if_due(settings, url, moment)
        assert written is not None
        made.append(written)
    assert backup.backups(tmp_path) == made[-2:]


async def test_a_backup_goes_to_the_object_store_and_comes_back_from_it(
    create_database: Callable[[str], Any], tmp_path: Path
) -> None:
    source = str(await create_database("bipa_backup_store"))
    await asyncio.to_thread(database.migrate, source)
    await _history(source)
    env = {
        "BIPA_DATA_DIR": str(tmp_path / "data"),
        "BIPA_STORAGE_URL": f"file://{tmp_path / 'objects'}",
    }
    written = _bipa("backup", "--to-store", url=source, env=env)
    assert written.returncode == 0, written.stderr
    file_line, key_line = written.stdout.strip().splitlines()
    assert key_line.startswith("backups/") and Path(file_line).name in key_line
    Path(file_line).unlink()  # the store's copy is all that is left
    target = str(await create_database("bipa_backup_store_dst"))
    restored = _bipa("restore", key_line, "--from-store", "--into", target, url=source, env=env)
    assert restored.returncode == 0, restored.stderr
    assert (await _tables(source)) == (await _tables(target))


def test_a_backup_of_an_unreachable_database_is_one_line_and_exit_2(tmp_path: Path) -> None:
    url = f"postgresql+asyncpg://postgres@127.0.0.1:1/{uuid.uuid4().hex}"
    done = _bipa("backup", "--output", str(tmp_path / "x.dump"), url=url)
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert not (tmp_path / "x.dump").exists()
