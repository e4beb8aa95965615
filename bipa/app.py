"""ASGI application factory: wires settings, database, pub/sub and the GraphQL view."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from starlette.applications import Starlette
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL

import metrics
import storage
from bipa import backup
from bipa.assets import WEB_DIR
from bipa.middleware import RequestMiddleware
from bipa.places import make_geocoder, route_config
from bipa.secrets import link_secret, secret_box
from bipa.settings import Settings
from bipa.web import MapConfig, web_routes
from bipa.worker import WebhookWorker, resolve
from db.engine import make_engine, make_sessionmaker
from domain.crypto import SecretBox
from domain.jobs import ImportLimits
from domain.operations import Runner
from domain.proof import ProofConfig
from domain.scanning import ScanPool
from domain.webhooks import WebhookConfig
from gql.context import Services, TokenCache
from gql.ratelimit import RateLimitConfig, RateLimits
from gql.schema import build_schema
from gql.view import BipaGraphQL, SocketCaps
from jobs import queue
from jobs.deps import JobDeps
from live.hub import LiveHub
from storage.serve import object_routes

log = logging.getLogger("bipa.app")
MAX_UPLOAD_BYTES = 16 * 1024 * 1024


def make_store(settings: Settings) -> storage.ObjectStore:
    return storage.open_store(settings.storage, secret=link_secret(settings), base_url="/objects")


def image_origins(store: storage.ObjectStore) -> tuple[str, ...]:
    """Where the browser loads proof photos from, for the pages' Content-Security-Policy."""
    if isinstance(store, storage.LocalStore):
        return ()  # its links are this app's own
    endpoint = getattr(store, "endpoint_url", None)  # S3Store, without importing aioboto3
    if endpoint:
        parts = urlsplit(endpoint)
        return (f"{parts.scheme}://{parts.netloc}",)
    return ("https://*.amazonaws.com",)


def proof_config(settings: Settings, store: storage.ObjectStore) -> ProofConfig:
    return ProofConfig(
        store,
        link_ttl_s=settings.link_ttl_s,
        longest_edge=settings.proof_max_edge,
        quality=settings.proof_quality,
        max_photos=settings.proof_max_photos,
        sweep_after_s=settings.proof_sweep_after_s,
    )


def make_worker(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession], box: SecretBox
) -> WebhookWorker:
    return WebhookWorker(
        sessionmaker,
        box,
        production=settings.production,
        backoff=settings.webhook_backoff_s,
        disable_after=settings.webhook_disable_after,
        retry_for_s=settings.webhook_retry_for_s,
        lease_s=settings.webhook_lease_s,
        poll_s=settings.webhook_poll_s,
    )


def import_limits(settings: Settings) -> ImportLimits:
    return ImportLimits(
        max_bytes=settings.import_max_bytes,
        max_rows=settings.import_max_rows,
        batch=settings.import_batch,
    )


def make_jobs_app(settings: Settings, database_url: str) -> Any:
    """procrastinate's App: deferring (every process) and the job worker (bipa worker)."""
    return queue.make_app(
        database_url, queue.Schedule.for_stalled_after(settings.jobs_stalled_after_s)
    )


def make_job_worker(
    settings: Settings,
    jobs_app: Any,
    runner: Runner,
    proof: ProofConfig,
    database_url: str,
    queues: list[str] | None = None,
) -> queue.JobWorker:
    do_backup = None
    if settings.backup_every_s > 0:

        async def do_backup() -> None:
            await asyncio.to_thread(backup.backup_if_due, settings, database_url)

    deps = JobDeps(
        runner=runner,
        files=proof,
        imports=import_limits(settings),
        retention_days=settings.retention_days,
        stalled_after_s=settings.jobs_stalled_after_s,
        redefer_after_s=max(5.0, settings.jobs_stalled_after_s),
        backup=do_backup,
        geocoder=lambda: make_geocoder(settings),
    )
    return queue.JobWorker(
        jobs_app,
        deps,
        concurrency=settings.jobs_concurrency,
        heartbeat_s=settings.jobs_heartbeat_s,
        queues=queues,
    )


def start_job_worker(
    settings: Settings, jobs_app: Any, runner: Runner, proof: ProofConfig, database_url: str
) -> tuple[queue.JobWorker | None, asyncio.Task[None] | None]:
    if not settings.run_worker:
        return None, None
    worker = make_job_worker(settings, jobs_app, runner, proof, database_url)
    return worker, asyncio.create_task(worker.run())


def metrics_endpoint(
    engine: AsyncEngine, services: Services, graphql: BipaGraphQL, hub: LiveHub
) -> Callable[[Request], Awaitable[Response]]:
    """The Prometheus scrape: counters as they run, and what can only be read now."""

    async def scrape(request: Request) -> Response:
        pool = engine.pool
        metrics.POOL_IN_USE.set(pool.checkedout())  # type: ignore[attr-defined]
        metrics.POOL_SIZE.set(pool.size() + pool._max_overflow)  # type: ignore[attr-defined]
        metrics.SUBSCRIPTIONS.set(graphql.callers.subscriptions())
        if services.scanner is not None:
            metrics.SCAN_QUEUE.set(services.scanner.in_flight)
        metrics.PUBSUB_RECONNECTS.set(hub.reconnects)
        try:
            async with services.uow() as uow:
                metrics.WEBHOOK_BACKLOG.set(await uow.webhooks.pending_count())
                for status, count in (await uow.jobs.active_counts()).items():
                    metrics.JOB_QUEUE.labels(status=status.value).set(count)
        except Exception as exc:  # a scrape while the database is down still answers
            log.warning("metrics: backlogs unknown", extra={"error": type(exc).__name__})
        body, content_type = metrics.render()
        return Response(body, media_type=content_type)

    return scrape


def rate_limits(settings: Settings) -> RateLimits | None:
    if not settings.rate_limits:
        return None
    return RateLimits(
        RateLimitConfig(
            storage=settings.rate_limit_storage,
            per_ip=settings.rate_limit_ip,
            per_token=settings.rate_limit_token,
            ws_connects=settings.rate_limit_ws,
            auth_failures=settings.rate_limit_auth,
            scans=settings.rate_limit_scan,
        )
    )


def broadcast_url(settings: Settings, database_url: str) -> str:
    """BROADCAST_URL, else LISTEN/NOTIFY on the app's own database (works across processes)."""
    if settings.broadcast_url:
        return settings.broadcast_url
    url = database_url.replace("postgresql+asyncpg://", "postgresql://", 1)
    # Named, so operators (and the tests) can tell the LISTEN connection apart.
    return url + ("&" if "?" in url else "?") + "application_name=bipa-live"


def create_app(settings: Settings, database_url: str) -> Starlette:
    engine = make_engine(database_url)
    sessionmaker = make_sessionmaker(engine)
    hub = LiveHub(broadcast_url(settings, database_url), sessionmaker)
    scanner = ScanPool(settings.scan_workers, settings.scan_queue, settings.scan_budget_s)
    box = secret_box(settings)
    store = make_store(settings)
    proof = proof_config(settings, store)
    # Proof photos get their own bounded pool: a burst of deliveries never queues the scans.
    photos = ScanPool(settings.scan_workers, settings.scan_queue, settings.scan_budget_s)
    jobs_app = make_jobs_app(settings, database_url)
    services = Services(
        sessionmaker=sessionmaker,
        scanner=scanner,
        webhooks=WebhookConfig(production=settings.production, resolve=resolve, box=box),
        publisher=hub,
        live=hub,
        production=settings.production,
        currency=settings.currency,
        tokens=TokenCache(settings.auth_cache_s),
        group_commit=settings.group_commit,
        proof=proof,
        photos=photos,
        jobs=queue.Queue(jobs_app),
        imports=import_limits(settings),
        rate=rate_limits(settings),
        routes=route_config(settings),
    )
    schema = build_schema(
        production=settings.production,
        max_depth=settings.max_depth,
        max_aliases=settings.max_aliases,
        max_tokens=settings.max_tokens,
        max_nodes=settings.max_nodes,
    )
    graphql = BipaGraphQL(
        schema,
        services,
        sockets=SocketCaps(per_token=settings.max_ws_per_token, per_ip=settings.max_ws_per_ip),
        ide_page=WEB_DIR / "graphiql.html",
        graphql_ide=None if settings.production else "graphiql",
        # Queries over GET (cacheable, what urql and others send by default); mutations over
        # GET are refused with 405, as GraphQL over HTTP says.
        allow_queries_via_get=True,
        keep_alive=True,
        keep_alive_interval=15,
        # Only graphql-transport-ws: the legacy graphql-ws protocol had an auth bypass.
        subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
        connection_init_wait_timeout=timedelta(seconds=10),
        multipart_uploads_enabled=True,
        max_subscriptions_per_connection=settings.max_subscriptions_per_connection,
        allowed_origins=settings.allowed_origins,
    )

    async def healthz(request: Request) -> JSONResponse:
        try:
            async with engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except Exception as exc:  # the health check reports any failure as unhealthy
            log.warning("health check failed", extra={"error": type(exc).__name__})
            return JSONResponse({"status": "error", "database": "unreachable"}, status_code=503)
        return JSONResponse({"status": "ok", "database": "ok"})

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await hub.start()
        await jobs_app.open_async()
        # The imported libraries (OpenCV, NumPy, SQLAlchemy, Strawberry) make a large, static
        # heap: keep the collector from walking it on every request.
        gc.collect()
        gc.freeze()
        gc.set_threshold(50_000, 20, 20)
        worker = make_worker(settings, sessionmaker, box) if settings.run_worker else None
        worker_task = asyncio.create_task(worker.run()) if worker else None
        # Development: the job worker runs inside serve too (production runs `bipa worker`).
        job_worker, job_task = start_job_worker(
            settings, jobs_app, services.runner, proof, database_url
        )
        log.info("bipa started", extra={"env": settings.env, "broadcast": hub.url.split(":")[0]})
        try:
            yield
        finally:
            if worker is not None and worker_task is not None:
                worker.stop()
                await asyncio.wait({worker_task}, timeout=5)
            if job_worker is not None and job_task is not None:
                job_worker.stop()
                await asyncio.wait({job_task}, timeout=10)
            await jobs_app.close_async()
            await hub.stop()
            scanner.shutdown()
            photos.shutdown()
            await store.close()
            await engine.dispose()
            log.info("bipa stopped")

    app = Starlette(
        routes=[
            Route("/healthz", healthz, methods=["GET"]),
            Route("/metrics", metrics_endpoint(engine, services, graphql, hub), methods=["GET"]),
            # Every method reaches the view: one it does not take answers a coded 405.
            Route("/graphql", graphql),
            WebSocketRoute("/graphql", graphql),
            # The embedded store's signed links (an S3 store's links go to S3 itself).
            *(object_routes(store) if isinstance(store, storage.LocalStore) else []),
            # Last: the static site is mounted at "/"; an S3 store serves the proof images.
            *web_routes(
                image_origins=image_origins(store),
                map_config=MapConfig(settings.map_tiles_url, settings.map_attribution),
            ),
        ],
        lifespan=lifespan,
    )
    app.state.services = services
    if settings.allowed_origins:
        # Browser front-ends on another origin: CORS on HTTP too (websockets check Origin in
        # the view). Bearer tokens, never cookies: credentials stay off.
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.allowed_origins),
            allow_methods=["GET", "POST", "OPTIONS"],
            allow_headers=["authorization", "content-type", "accept", "x-request-id"],
            expose_headers=["x-request-id"],
            allow_credentials=False,
            max_age=600,
        )
    # A manifest up to BIPA_IMPORT_MAX_BYTES reaches importManifest (a bigger one is refused
    # there as data); a body far past both is cut off here.
    app.add_middleware(
        RequestMiddleware,
        max_body_bytes=settings.max_body_bytes,
        max_upload_bytes=max(MAX_UPLOAD_BYTES, settings.import_max_bytes + 1_000_000),
    )
    return app
