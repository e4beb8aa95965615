"""Latency and SQL statements of one big `session` query, against raw asyncpg + json.dumps.

    .venv/bin/python bench/session_query.py [--database-url URL] [--runs 30] [--warmup 5]

A throw-away database gets a MANAGER, 10 DELIVERER users and one OPEN session with those 10
deliverers and 1,000 packages, each with its own address and a deliverer (round robin), all
created through the domain services. The real app (bipa.app.create_app) is served by uvicorn
in this process over real HTTP on a free loopback port; a `before_cursor_execute` listener
on the app's engine counts the SQL statements of each request.

Measured, interleaved run by run (so that both sides see the same machine noise):

* bipa: POST /graphql of QUERY below with httpx (one keep-alive connection), timed from
  sending the request to having read the whole response body (parsing it is not timed);
* baseline: raw asyncpg on a pooled connection fetching the equivalent rows (the session with
  its owner's name, the progress counts, the 1,000 packages joined with their addresses,
  deliverers and deliverers' users, the total count) and json.dumps of the equivalent response
  structure (cursors included).

Targets: median ratio bipa / baseline <= 8x, and <= 5 SQL statements per request.
Prints PASS/FAIL per target and exits 0 either way (this is a benchmark, not a test).
"""

from __future__ import annotations

import argparse
import base64
import json
import re
import sys
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import asyncpg
import httpx

from bench import common
from bench.common import log

PACKAGES = 1000
DELIVERERS = 10
TARGET_RATIO = 8.0
TARGET_STATEMENTS = 5

QUERY = """
query($id: ID!) {
  session(id: $id) {
    id name status
    progress { total delivered }
    owner { name }
    packages(first: 1000) {
      totalCount
      edges {
        cursor
        node {
          id barcode status recipientName
          address { line city }
          deliverer { id totalEarned user { name } }
        }
      }
    }
  }
}
"""


# ---------------------------------------------------------------------------------------------
# Data


async def seed(url: str) -> tuple[str, uuid.UUID]:
    """Returns the manager's token and the session id."""
    from db.engine import make_engine, make_sessionmaker
    from db.enums import Role
    from domain import deliverers as deliverer_service
    from domain import packages as package_service
    from domain import sessions as session_service
    from domain import users as user_service
    from domain.addresses import AddressData
    from domain.packages import PackageData
    from domain.uow import UnitOfWork

    engine = make_engine(url, pool_size=1, max_overflow=0)
    try:
        maker = make_sessionmaker(engine)
        async with UnitOfWork(maker) as uow:
            manager = await user_service.create_user(uow, None, "Bench Manager", Role.MANAGER)
            users = [
                await user_service.create_user(uow, None, f"Entregador {n:02d}", Role.DELIVERER)
                for n in range(DELIVERERS)
            ]
            await uow.commit()
        async with UnitOfWork(maker) as uow:
            session = await session_service.create_session(uow, manager.user, "Bench session")
            await uow.commit()
        deliverer_ids = []
        for n, u in enumerate(users):
            async with UnitOfWork(maker) as uow:
                d, _ = await deliverer_service.add_deliverer(
                    uow, manager.user, session.id, u.user.id, "1500.00", f"{2 + n % 3}.50"
                )
                await uow.commit()
                deliverer_ids.append(d.id)
        items = [
            PackageData(
                barcode=f"BR{n:08d}",
                recipient_name=f"Destinatario {n}",
                address=AddressData(
                    line=f"Rua das Flores {n + 1}, apto {n % 40 + 1}",
                    city=("Sao Paulo", "Campinas", "Santos", "Osasco")[n % 4],
                    postal_code=f"{1000000 + n:08d}",
                ),
                deliverer_id=deliverer_ids[n % DELIVERERS],
            )
            for n in range(PACKAGES)
        ]
        # At most 1,000 packages per add_packages call.
        for start in range(0, len(items), package_service.MAX_PACKAGES_PER_CALL):
            async with UnitOfWork(maker) as uow:
                chunk = items[start : start + package_service.MAX_PACKAGES_PER_CALL]
                result = await package_service.add_packages(uow, manager.user, session.id, chunk)
                await uow.commit()
                assert len(result.added) == len(chunk), (result.duplicates, result.rejected)
    finally:
        await engine.dispose()
    return manager.token, session.id


# ---------------------------------------------------------------------------------------------
# Baseline: raw asyncpg + json.dumps of the equivalent structure

SESSION_SQL = """
SELECT s.id, s.name, s.status::text AS status, u.name AS owner_name
FROM delivery_sessions s JOIN users u ON u.id = s.owner_id
WHERE s.id = $1
"""
PROGRESS_SQL = """
SELECT status::text AS status, count(*) AS n FROM session_packages
WHERE session_id = $1 GROUP BY status
"""
PACKAGES_SQL = """
SELECT p.id, p.barcode, p.status::text AS status, p.recipient_name, p.created_at,
       a.line, a.city, d.id AS deliverer_id, d.total_earned, du.name AS deliverer_name,
       count(*) OVER () AS total
FROM session_packages p
LEFT JOIN session_addresses a ON a.id = p.address_id
LEFT JOIN session_deliverers d ON d.id = p.deliverer_id
LEFT JOIN users du ON du.id = d.user_id
WHERE p.session_id = $1
ORDER BY p.created_at, p.id
LIMIT $2
"""


def _cursor(created_at: Any, pid: uuid.UUID) -> str:
    raw = json.dumps(["pkg", created_at.isoformat(), str(pid)])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


async def baseline_once(pool: asyncpg.Pool, session_id: uuid.UUID) -> bytes:
    async with pool.acquire() as conn:
        s = await conn.fetchrow(SESSION_SQL, session_id)
        progress = {r["status"]: r["n"] for r in await conn.fetch(PROGRESS_SQL, session_id)}
        rows = await conn.fetch(PACKAGES_SQL, session_id, PACKAGES + 1)
    rows = rows[:PACKAGES]
    edges = [
        {
            "cursor": _cursor(r["created_at"], r["id"]),
            "node": {
                "id": str(r["id"]),
                "barcode": r["barcode"],
                "status": r["status"],
                "recipientName": r["recipient_name"],
                "address": None if r["line"] is None else {"line": r["line"], "city": r["city"]},
                "deliverer": None
                if r["deliverer_id"] is None
                else {
                    "id": str(r["deliverer_id"]),
                    "totalEarned": str(r["total_earned"]),
                    "user": {"name": r["deliverer_name"]},
                },
            },
        }
        for r in rows
    ]
    body = {
        "data": {
            "session": {
                "id": str(s["id"]),
                "name": s["name"],
                "status": s["status"],
                "progress": {
                    "total": sum(progress.values()),
                    "delivered": progress.get("DELIVERED", 0),
                },
                "owner": {"name": s["owner_name"]},
                "packages": {"totalCount": rows[0]["total"] if rows else 0, "edges": edges},
            }
        }
    }
    return json.dumps(body).encode()


# ---------------------------------------------------------------------------------------------
# Bipa over HTTP


def check_response(payload: dict[str, Any]) -> None:
    if payload.get("errors"):
        raise RuntimeError(f"GraphQL errors: {json.dumps(payload['errors'])[:1000]}")
    s = payload["data"]["session"]
    assert s is not None, "session not visible"
    edges = s["packages"]["edges"]
    assert s["packages"]["totalCount"] == PACKAGES, s["packages"]["totalCount"]
    assert len(edges) == PACKAGES, len(edges)
    assert s["progress"]["total"] == PACKAGES
    for e in edges:
        node = e["node"]
        assert node["address"] and node["deliverer"] and node["deliverer"]["user"]["name"], node


def short_sql(statement: str) -> str:
    flat = re.sub(r"\s+", " ", statement).strip()
    return flat if len(flat) <= 110 else flat[:107] + "..."


async def main(args: argparse.Namespace) -> None:
    print("bench/session_query.py: session query of 1,000 packages (address + deliverer each)")
    print(
        "  server: the real app (bipa.app.create_app), one uvicorn server in this process "
        "(uvloop/httptools when installed), over real HTTP on 127.0.0.1"
    )
    async with common.throwaway_database(args.database_url, "bipa_bench_query") as db:
        started = time.perf_counter()
        token, session_id = await seed(db.url)
        log(f"seeded {PACKAGES} packages in {time.perf_counter() - started:.1f} s")

        common.configure_server_logs("INFO")
        server = await common.InProcessServer(db.url).start()
        pool = await asyncpg.create_pool(db.dsn, min_size=1, max_size=2)
        try:
            async with httpx.AsyncClient(
                base_url=server.base_url,
                headers={"Authorization": f"Bearer {token}"},
                timeout=60,
                limits=httpx.Limits(max_connections=1),
            ) as client:
                request = {"query": QUERY, "variables": {"id": str(session_id)}}

                async def bipa_once() -> tuple[float, int, int, int]:
                    before = server.counter.snapshot()
                    t0 = time.perf_counter()
                    response = await client.post("/graphql", json=request)
                    elapsed = time.perf_counter() - t0
                    after = server.counter.snapshot()
                    response.raise_for_status()
                    check_response(response.json())
                    return (
                        elapsed,
                        after[0] - before[0],
                        after[1] - before[1],
                        len(response.content),
                    )

                async def baseline_timed() -> tuple[float, int]:
                    t0 = time.perf_counter()
                    body = await baseline_once(pool, session_id)
                    return time.perf_counter() - t0, len(body)

                for _ in range(args.warmup):
                    await bipa_once()
                    await baseline_timed()
                bipa_ms: list[float] = []
                base_ms: list[float] = []
                statements: list[int] = []
                checkouts: list[int] = []
                bipa_bytes = base_bytes = 0
                for _ in range(args.runs):
                    elapsed, n_sql, n_checkout, bipa_bytes = await bipa_once()
                    bipa_ms.append(elapsed * 1000)
                    statements.append(n_sql)
                    checkouts.append(n_checkout)
                    base_elapsed, base_bytes = await baseline_timed()
                    base_ms.append(base_elapsed * 1000)

                # One more request, recording the statements' text for the report.
                server.counter.texts = []
                await bipa_once()
                texts, server.counter.texts = server.counter.texts, None
        finally:
            await pool.close()
            await server.stop()

    b_med, b_p95 = common.median(bipa_ms), common.percentile(bipa_ms, 95)
    r_med, r_p95 = common.median(base_ms), common.percentile(base_ms, 95)
    ratio = b_med / r_med
    sql_per_request = max(statements)
    print(f"  runs: {args.runs} measured after {args.warmup} warm-up runs, interleaved")
    print(
        f"  bipa     latency median {b_med:8.2f} ms   p95 {b_p95:8.2f} ms   "
        f"response {bipa_bytes / 1024:.0f} KiB"
    )
    print(
        f"  baseline latency median {r_med:8.2f} ms   p95 {r_p95:8.2f} ms   "
        f"body {base_bytes / 1024:.0f} KiB  (raw asyncpg, 3 queries + json.dumps)"
    )
    print(
        f"  SQL statements per request: {sql_per_request}"
        + ("" if min(statements) == sql_per_request else f" (min {min(statements)})")
        + f"   pool checkouts (transactions) per request: {max(checkouts)}"
    )
    for statement, count in Counter(short_sql(t) for t in texts).items():
        print(f"      {count} x {statement}")
    print(
        f"  ratio = bipa median / baseline median = {ratio:.2f}x   "
        f"target <= {TARGET_RATIO:g}x: {common.verdict(ratio <= TARGET_RATIO)}"
    )
    print(
        f"  statements = {sql_per_request}   target <= {TARGET_STATEMENTS}: "
        f"{common.verdict(sql_per_request <= TARGET_STATEMENTS)}"
    )


def cli() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    common.add_database_argument(parser)
    parser.add_argument("--runs", type=int, default=30, help="measured runs (default 30)")
    parser.add_argument("--warmup", type=int, default=5, help="warm-up runs (default 5)")
    args = parser.parse_args()
    common.run(lambda: main(args))
    return 0


if __name__ == "__main__":
    sys.exit(cli())
