"""What a process that runs jobs holds open: engine, runner (publishing like the server), the
object store, procrastinate's App. Shared by `bipa worker` and the CLI's import and export."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from bipa.settings import Settings
from db.engine import make_engine, make_sessionmaker
from domain.commands import Deps
from domain.operations import Runner
from domain.proof import ProofConfig
from live.hub import LiveHub


@dataclass
class JobRuntime:
    settings: Settings
    database_url: str
    runner: Runner
    proof: ProofConfig
    jobs_app: Any
    sessionmaker: Any


@contextlib.asynccontextmanager
async def job_runtime(
    settings: Settings, url: str, pool_size: int = 5
) -> AsyncIterator[JobRuntime]:
    from bipa.app import broadcast_url, make_jobs_app, make_store, proof_config
    from bipa.places import route_config

    engine = make_engine(url, pool_size=pool_size, max_overflow=5)
    sessionmaker = make_sessionmaker(engine)
    store = make_store(settings)
    proof = proof_config(settings, store)
    # Jobs publish like the server does: an import's packages reach live dashboards.
    hub = LiveHub(broadcast_url(settings, url), sessionmaker)
    await hub.start()
    jobs_app = make_jobs_app(settings, url)
    try:
        await jobs_app.open_async()
        runner = Runner(
            sessionmaker,
            hub,
            currency=settings.currency,
            deps=Deps(proof=proof, routes=route_config(settings)),
            group_commit=settings.group_commit,
        )
        yield JobRuntime(settings, url, runner, proof, jobs_app, sessionmaker)
    finally:
        await jobs_app.close_async()
        await hub.stop()
        await store.close()
        await engine.dispose()
