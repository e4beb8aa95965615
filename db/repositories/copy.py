"""Rows written with PostgreSQL's binary COPY, inside the unit of work's transaction.

New packages, addresses and audit entries go this way: asyncpg encodes the rows in C and the
server takes them as one stream, where one INSERT over arrays cost twice the CPU on both
sides (bench/import_manifest.py: 10,000 packages and addresses, 1.6 s against 1.0 s).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession


async def copy_rows(
    session: AsyncSession, table: str, columns: Sequence[str], records: Iterable[Sequence[Any]]
) -> None:
    """COPY `records` into `table` in the session's current transaction."""
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    driver: Any = raw.driver_connection
    if not driver.is_in_transaction():
        # SQLAlchemy's asyncpg adapter opens the transaction at its first statement; a COPY
        # as the first one would commit on its own.
        await session.execute(text("SELECT 1"))
    await driver.copy_records_to_table(table, records=records, columns=list(columns))
