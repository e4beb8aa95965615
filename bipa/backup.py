"""Backups: a consistent dump of the database, and a restore into an empty one.

`pg_dump` takes its snapshot in one transaction (a consistent copy while the service runs),
in its custom format (compressed, restorable table by table). The binaries are the ones the
embedded PostgreSQL ships (pgserver's wheel), so a machine with no PostgreSQL installed can
back up and restore too; they are new enough for any server up to their own version.

Restoring loads the data before the triggers that guard read-only history are created (the
post-data section), so a completed session comes back exactly as it was.
"""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import warnings
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg

from bipa.settings import Settings

log = logging.getLogger("bipa.backup")
PREFIX = "bipa-"
SUFFIX = ".dump"


class BackupError(Exception):
    """A backup or restore that cannot be done as asked (the operator's to fix)."""


def pg_binary(name: str) -> str:
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI); harmless here.
        warnings.simplefilter("ignore")
        from pgserver import postgres_server  # the embedded server's package ships binaries

    path = Path(postgres_server.__file__).parent / "pginstall" / "bin" / name
    if not path.exists():
        raise BackupError(f"{name} not found beside the embedded PostgreSQL ({path.parent})")
    return str(path)


def libpq_url(url: str) -> str:
    """An SQLAlchemy URL (postgresql+asyncpg://...) as the libpq URI pg_dump understands."""
    for prefix in ("postgresql+asyncpg://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql://" + url[len(prefix) :]
    return url


def _run(args: list[str]) -> None:
    # The URL is an argument, never logged; pg_dump's own message names what went wrong.
    done = subprocess.run(args, capture_output=True, text=True, check=False)  # noqa: S603
    if done.returncode != 0:
        # The first line says what failed ("pg_dump: error: connection to server ... failed").
        lines = [ln.strip() for ln in (done.stderr or done.stdout).splitlines() if ln.strip()]
        first = lines[0] if lines else f"{Path(args[0]).name} failed"
        raise BackupError(first.split(": error: ", 1)[-1])


def backup(url: str, output: Path) -> Path:
    """Writes a dump of the database at `url` to `output` (written whole, then renamed)."""
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(output.name + ".partial")
    try:
        _run(
            [
                pg_binary("pg_dump"),
                "--format=custom",
                "--no-owner",
                "--no-privileges",
                f"--file={partial}",
                f"--dbname={libpq_url(url)}",
            ]
        )
        partial.replace(output)
    finally:
        partial.unlink(missing_ok=True)
    log.info("backup written", extra={"file": output.name, "bytes": output.stat().st_size})
    return output


async def _is_empty(url: str) -> bool:
    conn = await asyncpg.connect(libpq_url(url))
    try:
        tables = await conn.fetchval(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
        )
    finally:
        await conn.close()
    return int(tables) == 0


def restore(url: str, dump: Path) -> None:
    """Loads `dump` into the (empty) database at `url`, all or nothing."""
    if not dump.is_file():
        raise BackupError(f"no such backup file: {dump}")
    if not asyncio.run(_is_empty(url)):
        raise BackupError("the target database is not empty: restore only into an empty one")
    _run(
        [
            pg_binary("pg_restore"),
            "--no-owner",
            "--no-privileges",
            "--single-transaction",
            "--exit-on-error",
            f"--dbname={libpq_url(url)}",
            str(dump),
        ]
    )
    log.info("backup restored", extra={"file": dump.name})


def backup_dir(settings: Settings) -> Path:
    return settings.backup_dir or settings.data_dir / "backups"


def stamped(folder: Path, moment: datetime | None = None) -> Path:
    """A new backup's file name: the UTC time, so names sort by time."""
    stamp = (moment or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    return folder / f"{PREFIX}{stamp}{SUFFIX}"


def backups(folder: Path) -> list[Path]:
    """Scheduled backups, oldest first (the UTC stamp in the name sorts by time)."""
    return sorted(folder.glob(f"{PREFIX}*{SUFFIX}"))


def backup_if_due(settings: Settings, url: str, now: datetime | None = None) -> Path | None:
    """The scheduled backup, when the newest one is older than BIPA_BACKUP_EVERY; keeps the
    newest BIPA_BACKUP_KEEP. Every worker asks; the file's age answers for all of them on one
    machine, and a lock file keeps two from writing at once."""
    folder = backup_dir(settings)
    moment = now or datetime.now(UTC)
    existing = backups(folder)
    if existing:
        age = moment.timestamp() - existing[-1].stat().st_mtime
        if age < settings.backup_every_s:
            return None
    folder.mkdir(parents=True, exist_ok=True)
    lock = folder / ".lock"
    try:
        fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        if moment.timestamp() - lock.stat().st_mtime < 3600:
            return None  # another worker is writing one
        lock.unlink(missing_ok=True)  # left by a worker that died mid-backup
        return None
    try:
        os.close(fd)
        written = backup(url, stamped(folder, moment))
        for old in backups(folder)[: -settings.backup_keep]:
            old.unlink(missing_ok=True)
        return written
    finally:
        lock.unlink(missing_ok=True)


STORE_PREFIX = "backups/"


async def to_store(store: Any, dump: Path) -> str:
    """Copies a written dump into the object store (write once, under its own name)."""
    key = f"{STORE_PREFIX}{dump.name}"
    data = await asyncio.to_thread(dump.read_bytes)
    await store.put(key, data, "application/octet-stream")
    log.info("backup stored", extra={"key": key})
    return key


async def from_store(store: Any, key: str, folder: Path) -> Path:
    """Fetches a stored dump to a local file for pg_restore."""
    if not key.startswith(STORE_PREFIX):
        key = STORE_PREFIX + key
    local = folder / Path(key).name
    try:
        data = await store.get(key)
    except Exception as exc:  # a missing key reads differently on each backend
        raise BackupError(f"no such backup in the object store: {key}") from exc

    def write() -> None:
        folder.mkdir(parents=True, exist_ok=True)
        local.write_bytes(data)

    await asyncio.to_thread(write)
    return local
