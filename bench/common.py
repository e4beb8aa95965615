"""Shared pieces of the HTTP benchmarks (bench/session_query.py, bench/add_packages.py).

* a throw-away database on the server given by ``--database-url`` / ``BENCH_DATABASE_URL``
  (default ``postgresql://postgres@127.0.0.1:5432/postgres``), migrated with
  ``bipa.database.migrate`` and dropped at the end, whatever happens;
* the real app (``bipa.app.create_app``) served by uvicorn over real HTTP on a free loopback
  port, either in this process (a task on the running loop) or as one separate uvicorn
  process (``python bench/common.py serve ...``), with the same uvicorn options as
  ``bipa serve`` and JSON request logs at INFO like the real server (written to /dev/null);
* a SQL statement counter: a ``before_cursor_execute`` listener on the app's own engine
  (``app.state.services.sessionmaker.kw["bind"]``) plus the pool's checkouts, counting only
  what runs while serving an HTTP request (a ContextVar set by an ASGI wrapper; the webhook
  worker that `bipa serve` runs on the same engine is counted apart as background), exposed
  by the separate process at ``GET /__bench/stats``;
* seeding through the domain services, and small statistics helpers.

Run a benchmark with ``.venv/bin/python bench/<name>.py``; this file is not run on its own
except as the server process.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import json
import logging
import math
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import asyncpg  # noqa: E402
import uvicorn  # noqa: E402
from sqlalchemy import event  # noqa: E402
from sqlalchemy.ext.asyncio import AsyncEngine  # noqa: E402

DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
T = TypeVar("T")


# ---------------------------------------------------------------------------------------------
# URLs and throw-away databases


def add_database_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL") or DEFAULT_SERVER,
        help="PostgreSQL server to create the throw-away database on "
        "(env BENCH_DATABASE_URL, default %(default)s)",
    )


def plain_url(url: str) -> str:
    """postgresql://... (asyncpg's DSN form) from any of the accepted spellings."""
    for prefix in ("postgresql+asyncpg://", "postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql://" + url[len(prefix) :]
    raise SystemExit(f"not a postgresql:// URL: {url!r}")


def sqlalchemy_url(url: str) -> str:
    return "postgresql+asyncpg://" + plain_url(url)[len("postgresql://") :]


def with_database(url: str, name: str) -> str:
    head, sep, query = url.partition("?")
    return f"{head.rsplit('/', 1)[0]}/{name}{sep}{query}"


@dataclass(frozen=True)
class Database:
    name: str
    dsn: str  # postgresql://... for asyncpg
    url: str  # postgresql+asyncpg://... for SQLAlchemy and the app


async def _admin(server: str, sql: str) -> None:
    conn = await asyncpg.connect(plain_url(server))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@contextlib.asynccontextmanager
async def throwaway_database(server: str, prefix: str) -> AsyncIterator[Database]:
    """CREATE DATABASE, migrate (alembic runs its own loop: in a thread), DROP at the end."""
    from bipa import database

    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    dsn = with_database(plain_url(server), name)
    await _admin(server, f'CREATE DATABASE "{name}"')
    try:
        db = Database(name=name, dsn=dsn, url=sqlalchemy_url(dsn))
        started = time.perf_counter()
        await asyncio.to_thread(database.migrate, db.url)
        log(f"database {name} created and migrated in {time.perf_counter() - started:.1f} s")
        yield db
    finally:
        await _admin(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        log(f"database {name} dropped")


# ---------------------------------------------------------------------------------------------
# Seeding through the domain services


@dataclass(frozen=True)
class Seeded:
    manager_id: uuid.UUID
    manager_token: str
    session_ids: list[uuid.UUID]


async def seed_manager_and_sessions(url: str, sessions: int = 1) -> Seeded:
    """A MANAGER (with an API token) owning `sessions` OPEN sessions."""
    from db.engine import make_engine, make_sessionmaker
    from db.enums import Role
    from domain import sessions as session_service
    from domain import users as user_service
    from domain.uow import UnitOfWork

    engine = make_engine(url, pool_size=1, max_overflow=0)
    try:
        maker = make_sessionmaker(engine)
        async with UnitOfWork(maker) as uow:
            manager = await user_service.create_user(uow, None, "Bench Manager", Role.MANAGER)
            await uow.commit()
        ids = []
        for n in range(sessions):
            async with UnitOfWork(maker) as uow:
                s = await session_service.create_session(uow, manager.user, f"Bench session {n}")
                await uow.commit()
                ids.append(s.id)
    finally:
        await engine.dispose()
    return Seeded(manager.user.id, manager.token, ids)


# ---------------------------------------------------------------------------------------------
# Counting SQL statements on the app's engine


# Set by RequestScope for the task serving an HTTP request (and inherited by the tasks it
# starts, e.g. DataLoader batches); SQLAlchemy runs listeners in a greenlet sharing the
# task's context, so a listener can tell request statements from background ones (the
# webhook worker that `bipa serve` runs in the same process polls the same engine).
_in_request: ContextVar[bool] = ContextVar("bench_in_request", default=False)


def _for_requests() -> bool:
    """Made while serving a request: in a request's task, or in the group-commit worker
    (domain/group_commit.py), which runs the transactions of waiting requests in a task of
    its own."""
    if _in_request.get():
        return True
    task = asyncio.current_task()
    return task is not None and task.get_coro().__qualname__ == "Batcher._drain"  # type: ignore[union-attr]


class SqlCounter:
    """Statements sent through SQLAlchemy cursors, and connections checked out of the pool,
    split into those made while serving an HTTP request and background ones.

    ``before_cursor_execute`` sees every statement SQLAlchemy runs (SELECT, INSERT, UPDATE;
    an executemany counts once); BEGIN/COMMIT/ROLLBACK and the pre-ping go through asyncpg's
    own calls and are not statements here, but every checkout costs them (see ``checkouts``).
    """

    def __init__(self) -> None:
        self.statements = 0
        self.checkouts = 0
        self.background_statements = 0
        self.background_checkouts = 0
        self.texts: list[str] | None = None  # set to [] to record the requests' SQL

    def attach(self, engine: AsyncEngine) -> None:
        sync_engine = engine.sync_engine

        @event.listens_for(sync_engine, "before_cursor_execute")
        def _on_execute(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            if not _for_requests():
                self.background_statements += 1
                return
            self.statements += 1
            if self.texts is not None:
                self.texts.append(statement)

        @event.listens_for(sync_engine.pool, "checkout")
        def _on_checkout(*args: Any) -> None:
            if _for_requests():
                self.checkouts += 1
            else:
                self.background_checkouts += 1

    def snapshot(self) -> tuple[int, int]:
        return self.statements, self.checkouts

    def as_dict(self) -> dict[str, int]:
        return {
            "statements": self.statements,
            "checkouts": self.checkouts,
            "background_statements": self.background_statements,
            "background_checkouts": self.background_checkouts,
        }


def app_engine(app: Any) -> AsyncEngine:
    """The engine bipa.app.create_app built (its sessionmaker is bound to it)."""
    engine = app.state.services.sessionmaker.kw["bind"]
    assert isinstance(engine, AsyncEngine), type(engine)
    return engine


class RequestScope:
    """ASGI wrapper: marks HTTP requests for the counter; GET /__bench/stats answers it."""

    def __init__(self, app: Any, counter: SqlCounter) -> None:
        self.app = app
        self.counter = counter

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope.get("path") == "/__bench/stats":
            body = json.dumps(self.counter.as_dict()).encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-type", b"application/json")],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        token = _in_request.set(True)
        try:
            await self.app(scope, receive, send)
        finally:
            _in_request.reset(token)


# ---------------------------------------------------------------------------------------------
# Serving the real app


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def configure_server_logs(level: str = "INFO") -> None:
    """Like `bipa serve`: one JSON line per request at INFO (here to /dev/null, so that the
    formatting cost is paid as in production without flooding the benchmark's output);
    warnings and errors also reach stderr."""
    from bipa import logs

    logs.configure(level)
    root = logging.getLogger()
    quiet = logging.StreamHandler(open(os.devnull, "w"))  # noqa: SIM115
    quiet.setFormatter(logs.JsonFormatter())
    loud = logging.StreamHandler(sys.stderr)
    loud.setLevel(logging.WARNING)
    loud.setFormatter(logs.JsonFormatter())
    root.handlers[:] = [quiet, loud]


def build_app(url: str) -> tuple[Any, SqlCounter]:
    from bipa.app import create_app
    from bipa.settings import Settings

    # Benchmarks send thousands of requests from one address: no rate limits.
    settings = Settings.from_env({**os.environ, "DATABASE_URL": url, "BIPA_RATE_LIMITS": "false"})
    app = create_app(settings, url)
    counter = SqlCounter()
    counter.attach(app_engine(app))
    return app, counter


def uvicorn_config(app: Any, port: int) -> uvicorn.Config:
    # The options `bipa serve` passes to uvicorn.run (bipa/commands.py); loop/http "auto"
    # pick uvloop and httptools when installed, as uvicorn.run does.
    return uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_config=None,
        ws_max_size=1_048_576,
        proxy_headers=False,
        lifespan="on",
    )


class InProcessServer:
    """uvicorn.Server(...).serve() as a task on the running loop, on a free loopback port."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.app: Any = None
        self.counter = SqlCounter()
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> InProcessServer:
        self.app, self.counter = build_app(self.url)
        self._server = uvicorn.Server(
            uvicorn_config(RequestScope(self.app, self.counter), self.port)
        )
        self._task = asyncio.create_task(self._server.serve())
        deadline = time.monotonic() + 30
        while not self._server.started:
            if self._task.done():
                self._task.result()
                raise RuntimeError("uvicorn stopped before it started")
            if time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start in 30 s")
            await asyncio.sleep(0.05)
        return self

    def engine(self) -> AsyncEngine:
        return app_engine(self.app)

    async def stop(self) -> None:
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(self._task, 20)


class ServerProcess:
    """One separate uvicorn process serving the real app (`python bench/common.py serve`)."""

    def __init__(self, url: str, env: dict[str, str] | None = None) -> None:
        self.url = url
        self.env = env or {}
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self._log = tempfile.NamedTemporaryFile(  # noqa: SIM115
            prefix="bipa-bench-server-", suffix=".log", delete=False
        )

    async def start(self) -> ServerProcess:
        import httpx

        self.proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "serve", self.url, str(self.port)],
            cwd=ROOT,
            env={**os.environ, **self.env},
            stdout=self._log,
            stderr=self._log,
        )
        deadline = time.monotonic() + 60
        async with httpx.AsyncClient(timeout=2) as client:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"server exited: {self.log_text()[-2000:]}")
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get(self.base_url + "/healthz")).status_code == 200:
                        return self
                await asyncio.sleep(0.2)
        raise RuntimeError("server did not become healthy in 60 s")

    async def stats(self) -> dict[str, int]:
        import httpx

        async with httpx.AsyncClient(timeout=10) as client:
            response = await client.get(self.base_url + "/__bench/stats")
            response.raise_for_status()
            return dict(response.json())

    def log_text(self) -> str:
        return Path(self._log.name).read_text(errors="replace")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        with contextlib.suppress(OSError):
            os.unlink(self._log.name)


def _serve_main(url: str, port: int) -> None:
    configure_server_logs("INFO")
    app, counter = build_app(url)
    server = uvicorn.Server(uvicorn_config(RequestScope(app, counter), port))
    out = os.environ.get("BENCH_PROFILE_OUT")
    if not out:
        server.run()
        return
    # Whole-run CPU profile (warm-up included) for finding where a request's time goes.
    import signal

    from pyinstrument import Profiler

    def _terminated(signum: int, frame: object) -> None:
        raise SystemExit(0)  # uvicorn re-raises SIGTERM after shutdown; keep the finally below

    signal.signal(signal.SIGTERM, _terminated)
    profiler = Profiler(interval=0.0005, async_mode="disabled")
    profiler.start()
    try:
        server.run()
    finally:
        profiler.stop()
        profiler.last_session.save(out + ".pyisession")
        Path(out).write_text(
            profiler.output_text(unicode=True, color=False, flat=True, time="percent_of_total")[
                :15000
            ]
            + "\n\n"
            + profiler.output_text(
                unicode=True,
                color=False,
                show_all=True,
                time="percent_of_total",
                processor_options={"filter_threshold": 0.01},
            )
        )


# ---------------------------------------------------------------------------------------------
# Running and statistics


def run(main: Callable[[], Awaitable[T]]) -> T:
    """asyncio on uvloop when installed (what uvicorn.run gives `bipa serve`)."""
    try:
        import uvloop

        factory: Callable[[], asyncio.AbstractEventLoop] | None = uvloop.new_event_loop
    except ImportError:
        factory = None
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(line_buffering=True)
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(main())  # type: ignore[arg-type]


def median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    n = len(ordered)
    mid = n // 2
    return ordered[mid] if n % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100)."""
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def log(message: str) -> None:
    print(f"  .. {message}", flush=True)


def json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    raise TypeError(type(value).__name__)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "serve":
        _serve_main(sys.argv[2], int(sys.argv[3]))
    else:
        print("usage: python bench/common.py serve POSTGRESQL_ASYNCPG_URL PORT", file=sys.stderr)
        sys.exit(2)
