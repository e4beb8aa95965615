"""Scans per second: `addPackages` of one new barcode from 50 concurrent clients.

    .venv/bin/python bench/add_packages.py [--database-url URL] [--clients 50] [--calls 1000]

A throw-away database gets a MANAGER and three OPEN sessions (one per run, so every run
inserts into a session of the same size), created through the domain services.

* bipa: the real app (bipa.app.create_app) served by ONE uvicorn process (a separate process,
  `python bench/common.py serve`, with the options of `bipa serve`: uvloop and httptools when
  installed, JSON request logs at INFO), over real HTTP on a free loopback port. 50 clients,
  each an httpx.AsyncClient with its own keep-alive connection, each call the mutation below
  with one new unique barcode (PKG-<n>) into the same session: every call takes the session's
  row lock, so calls serialize on it, as real scans of one session do. The server runs as
  configured by default: calls that arrive while a transaction of their session runs share
  the next one (group commit, domain/group_commit.py); a second run with BIPA_GROUP_COMMIT=false
  (one transaction per call) is printed for comparison, not judged.
* baseline: raw asyncpg doing the same work per call at the same concurrency (a pool of 50
  connections): in one transaction, SELECT ... FOR UPDATE of the session row, check the
  barcode is not there yet, INSERT the package, UPDATE last_sequence, INSERT the audit row.

Both sides first make 100 warm-up calls (not timed). Prints calls per second of both sides,
the ratio bipa / baseline (target >= 0.3x, PASS/FAIL), per-call latency median/p95, and SQL
statements per bipa call (counted by a before_cursor_execute listener on the server's engine).
Exits 0 either way (a benchmark, not a test).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import asyncpg
import httpx

from bench import common
from bench.common import log

TARGET_RATIO = 0.3
WARMUP_CALLS = 100

MUTATION = """
mutation($input: AddPackagesInput!) {
  addPackages(input: $input) {
    __typename
    ... on AddPackagesSuccess { added { id barcode } duplicates rejected { barcode reason } }
    ... on Error { message }
  }
}
"""


async def drive(
    clients: int, calls: int, one_call: Callable[[int, int], Awaitable[None]]
) -> tuple[float, list[float]]:
    """`calls` calls from `clients` concurrent workers; returns (elapsed s, latencies ms)."""
    counter = itertools.count()
    latencies: list[float] = []

    async def worker(w: int) -> None:
        while (n := next(counter)) < calls:
            t0 = time.perf_counter()
            await one_call(w, n)
            latencies.append((time.perf_counter() - t0) * 1000)

    started = time.perf_counter()
    await asyncio.gather(*(worker(w) for w in range(clients)))
    return time.perf_counter() - started, latencies


# ---------------------------------------------------------------------------------------------
# Baseline: the same work in raw asyncpg

LOCK_SQL = """
SELECT id, status::text AS status, owner_id, last_sequence
FROM delivery_sessions WHERE id = $1 FOR UPDATE
"""
EXISTS_SQL = "SELECT 1 FROM session_packages WHERE session_id = $1 AND barcode = $2"
INSERT_PACKAGE_SQL = """
INSERT INTO session_packages (id, session_id, barcode, symbology, status, created_at, updated_at)
VALUES ($1, $2, $3, NULL, 'PENDING', now(), now())
"""
UPDATE_SESSION_SQL = (
    "UPDATE delivery_sessions SET last_sequence = $2, updated_at = now() WHERE id = $1"
)
INSERT_AUDIT_SQL = """
INSERT INTO session_audit_log (session_id, sequence, action, actor_id, details, created_at)
VALUES ($1, $2, 'package.added', $3, $4::jsonb, now())
"""


def baseline_call(
    pool: asyncpg.Pool, session_id: uuid.UUID, actor_id: uuid.UUID, prefix: str
) -> Callable[[int, int], Awaitable[None]]:
    async def call(worker: int, n: int) -> None:
        code = f"{prefix}{n}".upper()
        async with pool.acquire() as conn, conn.transaction():
            s = await conn.fetchrow(LOCK_SQL, session_id)
            if s is None or s["owner_id"] != actor_id or s["status"] != "OPEN":
                raise RuntimeError("baseline: session missing, not ours or not OPEN")
            if await conn.fetchval(EXISTS_SQL, session_id, code) is not None:
                raise RuntimeError(f"baseline: duplicate {code}")
            package_id = uuid.uuid4()
            await conn.execute(INSERT_PACKAGE_SQL, package_id, session_id, code)
            sequence = s["last_sequence"] + 1
            await conn.execute(UPDATE_SESSION_SQL, session_id, sequence)
            details = {
                "packageId": str(package_id),
                "barcode": code,
                "symbology": None,
                "addressId": None,
                "delivererId": None,
                "viaScan": False,
            }
            await conn.execute(
                INSERT_AUDIT_SQL, session_id, sequence, actor_id, json.dumps(details)
            )

    return call


# ---------------------------------------------------------------------------------------------
# Bipa over HTTP


def bipa_call(
    clients: list[httpx.AsyncClient], session_id: uuid.UUID, prefix: str
) -> Callable[[int, int], Awaitable[None]]:
    async def call(worker: int, n: int) -> None:
        code = f"{prefix}{n}"
        variables = {"input": {"sessionId": str(session_id), "packages": [{"barcode": code}]}}
        response = await clients[worker].post(
            "/graphql", json={"query": MUTATION, "variables": variables}
        )
        response.raise_for_status()
        payload = response.json()
        result = (payload.get("data") or {}).get("addPackages")
        if payload.get("errors") or not result or result["__typename"] != "AddPackagesSuccess":
            raise RuntimeError(f"addPackages failed: {json.dumps(payload)[:1000]}")
        if len(result["added"]) != 1 or result["added"][0]["barcode"] != code.upper():
            raise RuntimeError(f"addPackages did not add {code}: {json.dumps(result)[:500]}")

    return call


async def count_rows(dsn: str, session_id: uuid.UUID) -> tuple[int, int, int]:
    conn = await asyncpg.connect(dsn)
    try:
        packages = await conn.fetchval(
            "SELECT count(*) FROM session_packages WHERE session_id = $1", session_id
        )
        audit = await conn.fetchval(
            "SELECT count(*) FROM session_audit_log WHERE session_id = $1", session_id
        )
        last = await conn.fetchval(
            "SELECT last_sequence FROM delivery_sessions WHERE id = $1", session_id
        )
    finally:
        await conn.close()
    return int(packages), int(audit), int(last)


async def _bipa_side(
    db: common.Database,
    seeded: common.Seeded,
    session_id: uuid.UUID,
    clients_n: int,
    calls: int,
    env: dict[str, str],
) -> tuple[float, list[float], dict[str, int], dict[str, int]]:
    server = await common.ServerProcess(db.url, env).start()
    try:
        http_clients = [
            httpx.AsyncClient(
                base_url=server.base_url,
                headers={"Authorization": f"Bearer {seeded.manager_token}"},
                timeout=120,
                limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
            )
            for _ in range(clients_n)
        ]
        try:
            call = bipa_call(http_clients, session_id, "PKG-")
            await drive(clients_n, WARMUP_CALLS, lambda w, n: call(w, n + 10_000_000))
            before = await server.stats()
            elapsed, latencies = await drive(clients_n, calls, call)
            after = await server.stats()
        finally:
            await asyncio.gather(*(c.aclose() for c in http_clients))
    finally:
        server.stop()
    return elapsed, latencies, before, after


async def main(args: argparse.Namespace) -> None:
    clients_n, calls = args.clients, args.calls
    print(
        f"bench/add_packages.py: addPackages of one new barcode into one session, "
        f"{clients_n} concurrent clients, {calls} timed calls per side"
    )
    print(
        "  server: ONE uvicorn process (a separate process, `bipa serve` options, "
        "uvloop/httptools when installed), the real app over real HTTP on 127.0.0.1"
    )
    async with common.throwaway_database(args.database_url, "bipa_bench_add") as db:
        seeded = await common.seed_manager_and_sessions(db.url, sessions=3)
        base_session, bipa_session, single_session = seeded.session_ids
        # Baseline first; its pool is closed before the server gets the load.
        pool = await asyncpg.create_pool(db.dsn, min_size=clients_n, max_size=clients_n)
        try:
            call = baseline_call(pool, base_session, seeded.manager_id, "BASE-")
            await drive(clients_n, WARMUP_CALLS, lambda w, n: call(w, n + 10_000_000))
            base_elapsed, base_lat = await drive(clients_n, calls, call)
        finally:
            await pool.close()
        log(f"baseline: {calls} calls in {base_elapsed:.2f} s")
        bipa_elapsed, bipa_lat, before, after = await _bipa_side(
            db, seeded, bipa_session, clients_n, calls, {}
        )
        log(f"bipa: {calls} calls in {bipa_elapsed:.2f} s")
        # The same server with group commit off: one transaction per call, like the baseline.
        single_elapsed, single_lat, s_before, s_after = await _bipa_side(
            db, seeded, single_session, clients_n, calls, {"BIPA_GROUP_COMMIT": "false"}
        )
        log(f"bipa without group commit: {calls} calls in {single_elapsed:.2f} s")

        expected = WARMUP_CALLS + calls
        for name, sid in (
            ("baseline", base_session),
            ("bipa", bipa_session),
            ("bipa without group commit", single_session),
        ):
            packages, audit, last = await count_rows(db.dsn, sid)
            # +1 audit entry: session.created
            if packages != expected or audit != expected + 1 or last != expected + 1:
                raise RuntimeError(f"{name}: {packages} packages, {audit} audit rows, seq {last}")

    base_rate = calls / base_elapsed
    bipa_rate = calls / bipa_elapsed
    single_rate = calls / single_elapsed
    ratio = bipa_rate / base_rate

    def per_call(a: dict[str, int], b: dict[str, int], key: str) -> float:
        return (b[key] - a[key]) / calls

    print(f"  {WARMUP_CALLS} warm-up calls per side, then {calls} timed calls per side")
    print(
        f"  bipa     {bipa_rate:8.1f} scans/s   latency median {common.median(bipa_lat):7.1f} ms"
        f"   p95 {common.percentile(bipa_lat, 95):7.1f} ms   (one uvicorn process, group commit)"
    )
    print(
        f"  baseline {base_rate:8.1f} scans/s   latency median {common.median(base_lat):7.1f} ms"
        f"   p95 {common.percentile(base_lat, 95):7.1f} ms   (raw asyncpg, pool of {clients_n},"
        " one transaction per call)"
    )
    print(
        f"  bipa SQL statements per call: {per_call(before, after, 'statements'):.2f}   "
        f"transactions (pool checkouts) per call: {per_call(before, after, 'checkouts'):.3f}   "
        f"(background, e.g. the webhook worker: "
        f"{after['background_statements'] - before['background_statements']} statements "
        f"in the run, not counted)"
    )
    print(
        f"  bipa with BIPA_GROUP_COMMIT=false: {single_rate:.1f} scans/s "
        f"({single_rate / base_rate:.2f}x the baseline), latency median "
        f"{common.median(single_lat):.1f} ms, p95 {common.percentile(single_lat, 95):.1f} ms, "
        f"{per_call(s_before, s_after, 'statements'):.2f} statements and "
        f"{per_call(s_before, s_after, 'checkouts'):.2f} transactions per call"
    )
    print(
        f"  ratio = bipa / baseline = {ratio:.2f}x   target >= {TARGET_RATIO:g}x: "
        f"{common.verdict(ratio >= TARGET_RATIO)}"
    )


def cli() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    common.add_database_argument(parser)
    parser.add_argument("--clients", type=int, default=50, help="concurrent clients (50)")
    parser.add_argument("--calls", type=int, default=1000, help="timed calls per side (1000)")
    args = parser.parse_args()
    common.run(lambda: main(args))
    return 0


if __name__ == "__main__":
    sys.exit(cli())
