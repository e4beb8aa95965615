"""Engine and session factory."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)


def make_engine(url: str, *, pool_size: int = 10, max_overflow: int = 10) -> AsyncEngine:
    return create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=max_overflow,
        # No pre-ping (a round trip per checkout); stale connections are recycled instead, and
        # a dropped one fails one transaction, which the caller sees as an error and retries.
        pool_recycle=1800,
        # Server-side timeouts so one stuck statement cannot hold a session row lock forever.
        connect_args={
            "server_settings": {
                "application_name": "bipa",
                "timezone": "UTC",
                "statement_timeout": "30000",
                "lock_timeout": "10000",
                "idle_in_transaction_session_timeout": "60000",
            }
        },
    )


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)
