"""The plans of the per-row lookups on a young database: each finds its row through the one
index that can, never by filtering the whole session (migration 0009).

PostgreSQL plans a prepared lookup once per connection (a generic plan, forced here). On
tables without statistics every estimate is one row, so any index leading with session_id
looked as good as the right one; when another was chosen, each lookup read every row of the
session, and a 10,000-row import went quadratic. Plans are checked, not timed.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Callable

import asyncpg
import pytest

from bipa import database
from db.engine import make_engine, make_sessionmaker
from db.enums import Role
from db.repositories.packages import _ADDRESSES_BY_KEY, _EXISTING_IDS
from domain import addresses, packages, sessions, users
from domain.deliverers import add_deliverer
from domain.uow import UnitOfWork
from tests.conftest import asyncpg_dsn


def _positional(sql: str) -> tuple[str, list[str]]:
    """`:name` parameters as $1, $2 ... in order of first use (casts `::` left alone)."""
    names: list[str] = []

    def number(m: re.Match[str]) -> str:
        if m.group(1) not in names:
            names.append(m.group(1))
        return f"${names.index(m.group(1)) + 1}"

    return re.sub(r"(?<!:):(\w+)", number, sql), names


async def _young_session(url: str) -> tuple[uuid.UUID, uuid.UUID]:
    """A session with 300 packages at 300 addresses and one deliverer, added as an import
    does (batches through add_packages), with no ANALYZE since: the first day's database."""
    engine = make_engine(url)
    try:
        maker = make_sessionmaker(engine)
        async with UnitOfWork(maker) as uow:
            manager = (await users.create_user(uow, None, "Gerente", Role.MANAGER)).user
            courier = (await users.create_user(uow, None, "Ana", Role.DELIVERER)).user
            await uow.commit()
        async with UnitOfWork(maker) as uow:
            session = await sessions.create_session(uow, manager, "Dia")
            await uow.commit()
        async with UnitOfWork(maker) as uow:
            deliverer, _ = await add_deliverer(
                uow, manager, session.id, courier.id, "100.00", "2.50"
            )
            await uow.commit()
        for batch in range(3):
            items = [
                packages.PackageData(
                    barcode=f"YOUNG{batch:02d}{i:04d}",
                    address=addresses.AddressData(
                        street="Rua das Flores", number=str(batch * 100 + i), city="São Paulo"
                    ),
                    deliverer_id=deliverer.id,
                )
                for i in range(100)
            ]
            async with UnitOfWork(maker) as uow:
                await packages.add_packages(uow, manager, session.id, items)
                await uow.commit()
        return session.id, deliverer.id
    finally:
        await engine.dispose()


async def _generic_plan(conn: asyncpg.Connection, sql: str, types: str, literals: str) -> str:
    name = f"p{uuid.uuid4().hex[:8]}"
    await conn.execute(f"PREPARE {name}({types}) AS {sql}")
    rows = await conn.fetch(f"EXPLAIN EXECUTE {name}({literals})")
    return "\n".join(r[0] for r in rows)


def _indexes(plan: str) -> set[str]:
    return set(re.findall(r"Index (?:Only )?Scan using (\w+)", plan))


@pytest.fixture
async def young(create_database: Callable[[str], object]) -> tuple[str, uuid.UUID, uuid.UUID]:
    url = str(await create_database("bipa_plans"))  # type: ignore[misc]
    await asyncio.to_thread(database.migrate, url)
    sid, did = await _young_session(url)
    return url, sid, did


async def test_lookups_and_fk_checks_probe_the_one_index_that_finds_the_row(
    young: tuple[str, uuid.UUID, uuid.UUID],
) -> None:
    url, sid, did = young
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        await conn.execute("SET plan_cache_mode = force_generic_plan")
        codes = "'{YOUNG000001,NOPE}'"
        sql, names = _positional(str(_EXISTING_IDS.text))
        assert names == ["barcodes", "session_id"]
        by_code = await _generic_plan(conn, sql, "text[], uuid", f"{codes}, '{sid}'")
        assert _indexes(by_code) == {"uq_session_packages_session_id_barcode"}, by_code

        sql, names = _positional(str(_ADDRESSES_BY_KEY.element))  # type: ignore[attr-defined]
        assert names == ["keys", "session_id"]
        by_key = await _generic_plan(conn, sql, "text[], uuid", f"'{{a,b}}', '{sid}'")
        assert _indexes(by_key) == {"uq_session_addresses_normalized_key_session_id"}, by_key

        # What PostgreSQL's FK trigger runs for each package inserted (ri_triggers.c).
        for table, fine in (
            ("session_addresses", {"uq_session_addresses_session_id_id", "pk_session_addresses"}),
            (
                "session_deliverers",
                {"uq_session_deliverers_session_id_id", "pk_session_deliverers"},
            ),
        ):
            check = (
                f"SELECT 1 FROM ONLY {table} x WHERE session_id = $1 AND id = $2 FOR KEY SHARE OF x"
            )
            plan = await _generic_plan(conn, check, "uuid, uuid", f"'{sid}', '{did}'")
            assert _indexes(plan) and _indexes(plan) <= fine, plan
        # The (status, session_id) index still serves a session's packages by status.
        pending = await _generic_plan(
            conn,
            "SELECT id FROM session_packages WHERE session_id = $1 AND status = $2",
            "uuid, delivery_status",
            f"'{sid}', 'PENDING'",
        )
        assert "Seq Scan" not in pending, pending
    finally:
        await conn.close()
