"""A private PostgreSQL for machines with no DATABASE_URL (pgserver, from PyPI).

pgserver ships PostgreSQL binaries inside its wheel. Run as root it creates a `pgserver`
system user and makes the parents of its data dir world-readable. The data lives in
``<BIPA_DATA_DIR>/pg`` (``.data/pg`` by default) and survives restarts; the server listens
on a unix socket only and is stopped when the last process using it exits.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

log = logging.getLogger("bipa.embedded")

_servers: dict[Path, Any] = {}


def asyncpg_url(uri: str, database: str) -> str:
    """Turn pgserver's libpq URI into an SQLAlchemy asyncpg URL for `database`."""
    parsed = urlparse(uri)
    host = parse_qs(parsed.query).get("host", [""])[0]
    user = parsed.username or "postgres"
    if host:
        return f"postgresql+asyncpg://{user}@/{database}?host={host}"
    port = f":{parsed.port}" if parsed.port else ""
    return f"postgresql+asyncpg://{user}@{parsed.hostname}{port}/{database}"


def start(data_dir: Path, database: str = "bipa") -> str:
    """Start (or attach to) the embedded server and make sure `database` exists."""
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI); harmless here.
        warnings.simplefilter("ignore")
        from pgserver.postgres_server import get_server  # only the embedded path needs it

    pgdata = (data_dir / "pg").resolve()
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    server = _servers.get(pgdata)
    if server is None:
        log.info("starting embedded PostgreSQL", extra={"data_dir": str(pgdata)})
        server = get_server(pgdata, cleanup_mode="stop")
        _servers[pgdata] = server
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{database}';")
    if "(1 row)" not in exists:
        server.psql(f'CREATE DATABASE "{database}";')
    return asyncpg_url(server.get_uri(), database)


def stop_all() -> None:
    for pgdata, server in list(_servers.items()):
        log.info("stopping embedded PostgreSQL", extra={"data_dir": str(pgdata)})
        server.cleanup()
        _servers.pop(pgdata, None)
