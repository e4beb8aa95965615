"""What the CLI sub-commands do (kept apart from argument parsing)."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
import uuid
from typing import Any

from bipa import database, embedded
from bipa.settings import Settings
from db.engine import make_engine, make_sessionmaker
from db.enums import Role
from domain import commands
from domain.errors import DomainError
from domain.operations import Runner

log = logging.getLogger("bipa.cli")


def serve(settings: Settings, *, host: str | None, port: int | None) -> int:
    import uvicorn

    from bipa.app import create_app

    def _terminated(signum: int, frame: object) -> None:
        # uvicorn re-raises SIGTERM after its graceful shutdown; turning it into SystemExit
        # lets the embedded PostgreSQL be stopped below instead of being orphaned.
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, _terminated)
    url = database.resolve_url(settings)
    try:
        database.migrate(url)
        app = create_app(settings, url)
        uvicorn.run(
            app,
            host=host or settings.host,
            port=port or settings.port,
            log_config=None,
            ws_max_size=1_048_576,
            # Messages are a few hundred bytes; per-connection compression state costs ~40 KB
            # of memory per dashboard for little gain.
            ws_per_message_deflate=False,
            ws=settings.ws_impl,
            # Keep-alive: a ping frame every BIPA_WS_PING seconds; no pong within as long closes.
            ws_ping_interval=settings.ws_ping_s,
            ws_ping_timeout=settings.ws_ping_s,
            proxy_headers=False,
        )
    finally:
        embedded.stop_all()
    return 0


async def create_user(
    url: str, name: str, role: str, telegram_id: str | None
) -> dict[str, Any] | None:
    engine = make_engine(url, pool_size=1, max_overflow=0)
    try:
        # No caller: the operator at the console may create any role.
        done = await Runner(make_sessionmaker(engine)).run_once(
            None, commands.CreateUser(name, Role(role), telegram_id)
        )
    except DomainError as exc:
        print(f"bipa: {exc.message}", file=sys.stderr)
        return None
    finally:
        await engine.dispose()
    user = done.rows["user"]
    return {
        "id": str(user.id),
        "name": user.name,
        "role": str(user.role),
        "token": done.private["token"],
    }


async def link_telegram(url: str, user_id: str, telegram_id: str) -> int:
    try:
        uid = uuid.UUID(user_id)
    except ValueError:
        print("bipa: --user-id must be a user id (UUID)", file=sys.stderr)
        return 2
    engine = make_engine(url, pool_size=1, max_overflow=0)
    try:
        done = await Runner(make_sessionmaker(engine)).run_once(
            None, commands.LinkTelegram(uid, telegram_id)
        )
    except DomainError as exc:
        print(f"bipa: {exc.message}", file=sys.stderr)
        return 1
    finally:
        await engine.dispose()
    user = done.rows["user"]
    print(f"linked {user.name} to Telegram {user.telegram_id}")
    return 0


async def demo(url: str, settings: Settings) -> int:
    from bipa.demo import run_demo

    return await run_demo(url, settings)


def worker(settings: Settings, url: str) -> int:
    """procrastinate's worker (jobs and the periodic housekeeping) and the webhook outbox."""
    from bipa.app import make_job_worker, make_worker
    from bipa.runtime import job_runtime
    from bipa.secrets import secret_box

    async def main() -> None:
        async with job_runtime(settings, url) as rt:
            outbox = make_worker(settings, rt.sessionmaker, secret_box(settings))
            job_worker = make_job_worker(settings, rt.jobs_app, rt.runner, rt.proof, url)

            def stop() -> None:
                outbox.stop()
                job_worker.stop()

            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, stop)
            await asyncio.gather(outbox.run(), job_worker.run())

    try:
        asyncio.run(main())
    finally:
        embedded.stop_all()
    return 0
