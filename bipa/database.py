"""Choosing the database (DATABASE_URL or the embedded one) and migrating it."""

from __future__ import annotations

import asyncpg
from alembic.config import Config
from sqlalchemy.engine import make_url

from alembic import command
from bipa import embedded
from bipa.assets import MIGRATIONS_DIR
from bipa.settings import Settings


def resolve_url(settings: Settings) -> str:
    if settings.database_url:
        return settings.database_url
    return embedded.start(settings.data_dir)


def alembic_config(url: str) -> Config:
    # No alembic.ini: an installed package has none (the repo's is for the `alembic` CLI).
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("path_separator", "os")
    # ConfigParser interpolation: a literal % in a URL must be doubled.
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    config.attributes["configure_logging"] = False
    return config


class DatabaseUnavailable(Exception):
    """The database cannot be reached, refuses us, or does not exist: the operator's to fix."""


# Refusals that a retry or a code change will not fix; the server's message says what to do.
_REFUSALS = (
    asyncpg.InvalidCatalogNameError,
    asyncpg.InvalidAuthorizationSpecificationError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
)


def connection_problem(exc: BaseException) -> str | None:
    """The reason in one line when `exc` (or what it wraps) is a failed connection, else None."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        current = todo.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        # A socket error has no file name; a missing alembic.ini, say, is not the database's.
        socket_error = isinstance(current, OSError) and current.filename is None
        if socket_error or isinstance(current, _REFUSALS):
            return str(current).splitlines()[0] if str(current) else type(current).__name__
        # SQLAlchemy keeps the driver's exception in `.orig`; Python chains the rest.
        todo += [getattr(current, "orig", None), current.__cause__, current.__context__]
    return None


def display_url(url: str) -> str:
    """The URL without its password, for messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<unparsable DATABASE_URL>"


def migrate(url: str, revision: str = "head") -> None:
    """Bring the schema to `revision`; DatabaseUnavailable when the database cannot be used."""
    try:
        command.upgrade(alembic_config(url), revision)
    except Exception as exc:
        reason = connection_problem(exc)
        if reason is None:
            raise
        raise DatabaseUnavailable(f"cannot use the database {display_url(url)}: {reason}") from exc
