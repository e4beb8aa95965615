"""Soak: writers and subscribers against a live `bipa serve` for a bounded time, optionally with
faults injected by the soak itself, then every promise checked.

    .venv/bin/python bench/soak.py [--duration 60] [--writers 40] [--subscribers 200]
                                   [--sessions 10] [--faults] [--backend redis|postgres|memory]

Writers add one package per call (addPackages with an idempotency key, retried with the same
key after any transport error or 5xx, as a phone would). Subscribers are raw websocket
clients (bench/live_common.py) following `sessionEvents` of every session from sequence 0.
With `--faults`, every few seconds the soak terminates the server's database connections
(`pg_terminate_backend`: its pool and its LISTEN connection) and, on the Redis backend,
restarts its own redis-server.

Afterwards, from the database and from every subscriber: each acknowledged add is stored
exactly once and nothing else is (nothing lost, nothing duplicated); each session's audit
log is gapless (1..last_sequence); every subscriber received exactly its session's sequence,
in order. It prints throughput, latency p50/p99 and events checked, and exits 1 on any loss.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import shutil
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any

import asyncpg
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import live_common as lc

ADD = """
mutation($sid: ID!, $barcode: String!, $key: String!) {
  addPackages(input: {sessionId: $sid, packages: [{barcode: $barcode}], idempotencyKey: $key}) {
    __typename
    ... on AddPackagesSuccess { added { barcode } duplicates }
    ... on Error { code message }
  }
}"""


class Redis:
    """Our own redis-server on a free loopback port, so it can be restarted at will."""

    def __init__(self) -> None:
        self.port = lc.free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Redis:
        binary = shutil.which("redis-server")
        if binary is None:
            raise SystemExit("soak: --backend redis needs redis-server (./dev test installs it)")
        self.proc = subprocess.Popen(
            [binary, "--port", str(self.port), "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(0.3)
        return self

    def restart(self) -> None:
        self.stop()
        self.start()

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"


class Writer:
    def __init__(self, n: int, client: httpx.AsyncClient, token: str, sids: list[str]) -> None:
        self.n = n
        self.client = client
        self.token = token
        self.sids = sids
        self.acked: dict[str, str] = {}  # barcode -> session
        self.latencies: list[float] = []
        self.retries = 0
        self.refused: list[str] = []

    async def one(self, i: int) -> None:
        sid = self.sids[(self.n + i) % len(self.sids)]
        barcode = f"SOAK-{self.n}-{i}"
        variables = {"sid": sid, "barcode": barcode, "key": f"soak-{self.n}-{i}"}
        started = time.perf_counter()
        for attempt in range(30):
            try:
                r = await self.client.post(
                    "/graphql",
                    json={"query": ADD, "variables": variables},
                    headers={"authorization": f"Bearer {self.token}"},
                )
                if r.status_code < 500:
                    body = r.json()
                    result = (body.get("data") or {}).get("addPackages")
                    if result and result["__typename"] == "AddPackagesSuccess":
                        self.acked[barcode] = sid
                        self.latencies.append(time.perf_counter() - started)
                        return
                    if result is None:  # a GraphQL error (e.g. the database went away)
                        raise RuntimeError(str(body.get("errors"))[:200])
                    self.refused.append(f"{barcode}: {result}")
                    return
            except (httpx.HTTPError, RuntimeError, ValueError):
                pass
            self.retries += 1
            await asyncio.sleep(min(0.05 * 2**attempt, 1.0))
        self.refused.append(f"{barcode}: gave up after retries")

    async def run(self, until: float) -> None:
        i = 0
        while time.monotonic() < until:
            await self.one(i)
            i += 1


async def terminate_connections(database_url: str) -> int:
    conn = await asyncpg.connect(lc.plain_url(database_url))
    try:
        rows = await conn.fetch(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid() "
            "AND application_name LIKE 'bipa%'"
        )
    finally:
        await conn.close()
    return len(rows)


async def faults(
    args: argparse.Namespace, url: str, redis: Redis | None, until: float
) -> list[str]:
    done: list[str] = []
    turn = 0
    while time.monotonic() < until - 5:
        await asyncio.sleep(args.fault_every)
        if redis is not None and turn % 2 == 1:
            redis.restart()
            done.append("redis restarted")
        else:
            done.append(f"{await terminate_connections(url)} connections terminated")
        turn += 1
    return done


async def check_database(url: str, acked: dict[str, str]) -> dict[str, Any]:
    conn = await asyncpg.connect(lc.plain_url(url))
    try:
        rows = await conn.fetch(
            "SELECT p.barcode, p.session_id::text AS sid FROM session_packages p "
            "WHERE p.barcode LIKE 'SOAK-%'"
        )
        sessions = await conn.fetch("SELECT id::text AS sid, last_sequence FROM delivery_sessions")
        gaps = 0
        last: dict[str, int] = {}
        for s in sessions:
            seqs = await conn.fetch(
                "SELECT sequence FROM session_audit_log WHERE session_id = $1 ORDER BY sequence",
                uuid.UUID(s["sid"]),
            )
            if [r["sequence"] for r in seqs] != list(range(1, s["last_sequence"] + 1)):
                gaps += 1
            last[s["sid"]] = s["last_sequence"]
    finally:
        await conn.close()
    stored = defaultdict(list)
    for r in rows:
        stored[r["barcode"]].append(r["sid"])
    lost = [b for b, sid in acked.items() if stored.get(b) != [sid]]
    extra = [b for b in stored if b not in acked]
    duplicated = [b for b, sids in stored.items() if len(sids) > 1]
    return {"lost": lost, "extra": extra, "duplicated": duplicated, "gaps": gaps, "last": last}


async def main(args: argparse.Namespace) -> int:
    lc.raise_nofile()
    redis = Redis().start() if args.backend == "redis" else None
    async with lc.throwaway_database(args.database_url, "bench_soak") as url:
        token, sids = await lc.seed(url, args.sessions)
        env = {}
        if redis is not None:
            env["BROADCAST_URL"] = redis.url
        elif args.backend == "postgres":
            env["BROADCAST_URL"] = ""  # LISTEN/NOTIFY on the app's own database
        server = await lc.BipaServer(url, env=env).start()
        pool = await lc.ClientPool(args.client_workers).start()
        try:
            opened = await pool.open(server.port, token, sids, args.subscribers, after=0)
            lc.log(f"subscribers: {opened['subscribed']}/{args.subscribers} ({opened['errors']})")
            limits = httpx.Limits(
                max_connections=args.writers, max_keepalive_connections=args.writers
            )
            async with httpx.AsyncClient(
                base_url=f"http://{lc.HOST}:{server.port}", timeout=30, limits=limits
            ) as client:
                writers = [Writer(n, client, token, sids) for n in range(args.writers)]
                started = time.monotonic()
                until = started + args.duration
                tasks = [asyncio.create_task(w.run(until)) for w in writers]
                injected: list[str] = []
                if args.faults:
                    injected = await faults(args, url, redis, until)
                await asyncio.gather(*tasks)
                elapsed = time.monotonic() - started
            acked = {b: s for w in writers for b, s in w.acked.items()}
            refused = [r for w in writers for r in w.refused]
            latencies = [x for w in writers for x in w.latencies]
            db = await check_database(url, acked)
            expected = {sid: list(range(1, db["last"][sid] + 1)) for sid in sids}
            deadline = time.monotonic() + args.settle
            while True:  # the subscribers catch up (gap reads, the 5 s poll after faults)
                conns = (await pool.collect())["conns"]
                behind = [c for c in conns if c["seq"] != expected[c["sid"]]]
                if not behind or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.5)
            exact = len(conns) - len(behind)
            events = sum(len(c["seq"]) for c in conns)
        finally:
            await pool.stop()
            server.stop()
            if redis is not None:
                redis.stop()
    print(
        f"soak: {args.duration:.0f} s, {args.writers} writers, {len(conns)} subscribers over "
        f"{args.sessions} sessions, backend {args.backend}, faults: {len(injected)}"
    )
    for fault in injected:
        print(f"  fault: {fault}")
    print(
        f"  adds acknowledged {len(acked)} ({len(acked) / elapsed:.1f}/s), retries "
        f"{sum(w.retries for w in writers)}, refused {len(refused)}"
    )
    if latencies:
        print(
            f"  add latency p50 {lc.percentile(latencies, 50) * 1000:.1f} ms, "
            f"p99 {lc.percentile(latencies, 99) * 1000:.1f} ms (retries included)"
        )
    print(
        f"  database: lost {len(db['lost'])}, unacknowledged but stored {len(db['extra'])}, "
        f"duplicated {len(db['duplicated'])}, sessions with audit gaps {db['gaps']}"
    )
    print(f"  subscribers exact {exact}/{len(conns)}; events checked {events}")
    for c in behind[:5]:
        print(
            f"    behind: {c['sid']} got {len(c['seq'])} of {len(expected[c['sid']])}"
            f" (lost connection: {c['lost']}, close {c['close_code']})"
        )
    for r in refused[:5]:
        print(f"    refused: {r}")
    # An add retried after its answer was lost is stored once and acknowledged by the retry:
    # "extra" can only be an add whose every attempt failed yet one reached the database.
    ok = not (db["lost"] or db["duplicated"] or db["gaps"] or behind or refused or db["extra"])
    print(
        f"nothing lost, nothing duplicated, audit gapless, every subscriber exact: {lc.verdict(ok)}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    lc.add_database_argument(parser)
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--writers", type=int, default=40)
    parser.add_argument("--subscribers", type=int, default=200)
    parser.add_argument("--sessions", type=int, default=10)
    parser.add_argument("--faults", action="store_true")
    parser.add_argument("--fault-every", type=float, default=7.0)
    parser.add_argument("--backend", choices=("redis", "postgres", "memory"), default="redis")
    parser.add_argument("--settle", type=float, default=30.0, help="seconds to catch up after")
    parser.add_argument("--client-workers", type=int, default=2)
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(lc.run(main(parser.parse_args())))
