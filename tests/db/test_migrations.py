"""Migrations: upgrade and downgrade both work, and the models have no drift."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import asyncpg
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.ext.asyncio import create_async_engine

from alembic import command
from bipa import database
from db.base import Base, include_name
from tests.conftest import asyncpg_dsn


async def _tables(url: str) -> set[str]:
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        rows = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        return {r["tablename"] for r in rows}
    finally:
        await conn.close()


async def _triggers(url: str) -> set[str]:
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        rows = await conn.fetch("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal")
        return {r["tgname"] for r in rows}
    finally:
        await conn.close()


async def test_upgrade_downgrade_upgrade(create_database: Callable[[str], object]) -> None:
    url = str(await create_database("bipa_mig"))  # type: ignore[misc]
    cfg = database.alembic_config(url)
    await asyncio.to_thread(command.upgrade, cfg, "head")
    assert {"users", "delivery_sessions", "session_packages", "session_audit_log"} <= await _tables(
        url
    )
    assert "trg_audit_append_only" in await _triggers(url)
    await asyncio.to_thread(command.downgrade, cfg, "base")
    assert await _tables(url) == {"alembic_version"}
    assert await _triggers(url) == set()
    await asyncio.to_thread(command.upgrade, cfg, "head")
    assert "session_deliverers" in await _tables(url)


async def test_models_match_migrations(database_url: str) -> None:
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as conn:
            diff = await conn.run_sync(
                lambda sync: compare_metadata(
                    MigrationContext.configure(sync, opts={"include_name": include_name}),
                    Base.metadata,
                )
            )
    finally:
        await engine.dispose()
    assert diff == [], f"models drifted from migrations: {diff}"


async def test_database_is_postgresql(database_url: str) -> None:
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        version = await conn.fetchval("SHOW server_version_num")
    finally:
        await conn.close()
    assert int(version) >= 130000  # gen_random_uuid() and the triggers need 13+


async def test_0007_rekeys_the_addresses_of_open_sessions(
    create_database: Callable[[str], object],
) -> None:
    url = str(await create_database("bipa_mig7"))  # type: ignore[misc]
    cfg = database.alembic_config(url)
    await asyncio.to_thread(command.upgrade, cfg, "0005")
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        owner = await conn.fetchval(
            "INSERT INTO users (name, role) VALUES ('M', 'MANAGER') RETURNING id"
        )
        sid = await conn.fetchval(
            "INSERT INTO delivery_sessions (name, status, owner_id, was_reused, reuse_count, "
            "last_sequence) VALUES ('S', 'OPEN', $1, false, 0, 0) RETURNING id",
            owner,
        )
        for key, line, postal in (
            ("r das flores 10|sao paulo|01310100", "R. das Flores, 10", "01310-100"),
            ("rua b 1|sao paulo|AB12", "Rua B, 1", "ab-12"),
        ):
            await conn.execute(
                "INSERT INTO session_addresses (session_id, normalized_key, line, city, "
                "postal_code, package_count) VALUES ($1, $2, $3, 'São Paulo', $4, 0)",
                sid,
                key,
                line,
                postal,
            )
    finally:
        await conn.close()
    await asyncio.to_thread(command.upgrade, cfg, "head")
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        rows = await conn.fetch(
            "SELECT line, normalized_key, postal_code FROM session_addresses ORDER BY line"
        )
    finally:
        await conn.close()
    assert [(r["normalized_key"], r["postal_code"]) for r in rows] == [
        ("rua das flores 10|sao paulo|01310100", "01310100"),
        # Not a CEP: kept as typed, and its key keeps it.
        ("rua b 1|sao paulo|ab-12", "ab-12"),
    ]
