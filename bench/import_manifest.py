"""Manifest import end to end, and scanners of the same session while it runs.

    .venv/bin/python bench/import_manifest.py [--database-url URL] [--rows 10000]
        [--batch 250] [--scanners 20] [--think 0.25]

A throw-away database gets a MANAGER and four OPEN sessions (through the domain services).
The server is `bipa serve` (a subprocess, BIPA_RUN_WORKER=false: no job worker inside) and
the jobs run in ONE separate `bipa worker` process, as in production; both share a temporary
data dir (the object store) and LISTEN/NOTIFY on the database as their pub/sub.

1. Import rate. bipa: a CSV of `--rows` rows (code, recipient, street, number, neighbourhood,
   city, UF, CEP: a distinct address per row) uploaded with the multipart `importManifest`
   over HTTP, the job polled (`job(id)`, every 50 ms) until SUCCEEDED; timed from the start
   of the upload to the answer that says SUCCEEDED. Baseline, in the same run: the same rows
   (addresses, packages and one `package.added` audit row each) written by raw asyncpg with
   `copy_records_to_table` in one transaction, with the session row locked and its
   last_sequence moved. Rows per second of both, ratio bipa / baseline, target >= 0.2x.
2. Scanners. `--scanners` clients, each adding one new package with `addPackages` over HTTP
   (its own keep-alive connection), then pausing `--think` seconds (a person scans a parcel
   every second or two; 0.25 s is faster than anyone), into one session: first alone for as
   long as the import took, then into the session an import of the same size is filling.
   p95 latency during the import / p95 alone, target <= 2x (only calls that started while the
   job was RUNNING count).

Prints figures and PASS/FAIL lines; exits 0 either way (a benchmark, not a test).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import json
import os
import shutil
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import asyncpg
import httpx
import psutil

from bench import common
from bench.common import log
from bench.live_common import BipaServer, _Subprocess

TARGET_RATE = 0.2
TARGET_P95 = 2.0

IMPORT = """mutation($sid: ID!, $file: Upload!) {
  importManifest(sessionId: $sid, file: $file) {
    __typename ... on JobSuccess { job { id status } } ... on Error { message code } } }"""
JOB = """query($id: ID!) { job(id: $id) { status progress done failed total attempts lastError
  createdAt startedAt finishedAt } }"""
ADD = """mutation($sid: ID!, $barcode: String!) {
  addPackages(input: {sessionId: $sid, packages: [{barcode: $barcode}]}) {
    __typename ... on Error { message } } }"""
HEADER = ["Código de Rastreio", "Destinatário", "Rua", "Número", "Bairro", "Cidade", "UF", "CEP"]


CITIES = [("São Paulo", "01310-100"), ("Guarulhos", "07010-000"), ("Osasco", "06010-000"),
          ("Santo André", "09010-000"), ("São Bernardo do Campo", "09710-000")]  # fmt: skip


def manifest_rows(prefix: str, n: int) -> list[list[str]]:
    """A day's parcels: about five to a street (2,000 streets in five cities), each at its
    own number, so nothing is normalised once for all rows."""
    rows = []
    for i in range(n):
        city, cep = CITIES[i % len(CITIES)]
        street = f"Rua Projetada {i % 2000}"
        rows.append([f"{prefix}{i:08d}", f"Destinatário {i}", street, str(i + 1),
                     f"Jardim {i % 97}", city, "SP", cep])  # fmt: skip
    return rows


def manifest_csv(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(HEADER)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8-sig")


class WorkerProcess(_Subprocess):
    name = "worker"

    def start(self, env: dict[str, str], profile: str | None = None) -> WorkerProcess:
        argv = [sys.executable, "-m", "bipa.cli", "worker"]
        if profile:  # pyinstrument's report of the whole worker, written when it stops
            argv[1:1] = ["-m", "pyinstrument", "-o", profile]
        self._spawn(argv, env)
        return self

    async def started(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if "job worker started" in self.log_text():
                return
            assert self.proc is not None and self.proc.poll() is None, self.log_text()[-2000:]
            await asyncio.sleep(0.1)
        raise RuntimeError("the worker did not start")


async def baseline(
    dsn: str, session_id: uuid.UUID, actor: uuid.UUID, rows: list[list[str]]
) -> float:
    """The same rows straight into the tables: addresses, packages, audit; one transaction."""
    now = datetime.now(UTC)
    addresses, packages, audit = [], [], []
    for i, r in enumerate(rows):
        address_id, package_id = uuid.uuid4(), uuid.uuid4()
        # What the import stores: the structured parts, the line built from them, CEP digits.
        line = f"{r[2]}, {r[3]} - {r[4]} - {r[5]}/{r[6]}"
        cep = r[7].replace("-", "")
        addresses.append((address_id, session_id, f"{line}|{cep}".lower(), line, r[2], r[3],
                          r[4], r[5], r[6], cep, 1))  # fmt: skip
        packages.append((package_id, session_id, r[0], r[0], "PENDING", r[1], address_id, now, now))
        details = {"packageId": str(package_id), "barcode": r[0], "symbology": None,
                   "carrier": None, "addressId": str(address_id), "delivererId": None,
                   "viaScan": False}  # fmt: skip
        audit.append((session_id, i + 2, "package.added", actor, json.dumps(details), now))
    conn = await asyncpg.connect(dsn)
    backend = psutil.Process(conn.get_server_pid())
    try:
        cpu = backend.cpu_times()
        started = time.perf_counter()
        async with conn.transaction():
            await conn.execute(
                "SELECT id FROM delivery_sessions WHERE id = $1 FOR UPDATE", session_id
            )
            await conn.copy_records_to_table(
                "session_addresses",
                records=addresses,
                columns=[
                    "id",
                    "session_id",
                    "normalized_key",
                    "line",
                    "street",
                    "number",
                    "neighbourhood",
                    "city",
                    "state",
                    "postal_code",
                    "package_count",
                ],
            )
            await conn.copy_records_to_table(
                "session_packages",
                records=packages,
                columns=[
                    "id",
                    "session_id",
                    "barcode",
                    "raw_text",
                    "status",
                    "recipient_name",
                    "address_id",
                    "created_at",
                    "updated_at",
                ],
            )
            await conn.copy_records_to_table(
                "session_audit_log",
                records=audit,
                columns=["session_id", "sequence", "action", "actor_id", "details", "created_at"],
            )
            await conn.execute(
                "UPDATE delivery_sessions SET last_sequence = $2 WHERE id = $1",
                session_id,
                len(rows) + 1,
            )
        elapsed = time.perf_counter() - started
        now = backend.cpu_times()
        # Its own backend's CPU, read before it exits (the database's share of the baseline).
        log(f"baseline backend CPU s: {now.user + now.system - cpu.user - cpu.system:.2f}")
        return elapsed
    finally:
        await conn.close()


async def start_import(client: httpx.AsyncClient, sid: uuid.UUID, data: bytes) -> tuple[str, float]:
    ops = {"query": IMPORT, "variables": {"sid": str(sid), "file": None}}
    started = time.perf_counter()
    r = await client.post(
        "/graphql",
        data={"operations": json.dumps(ops), "map": json.dumps({"0": ["variables.file"]})},
        files={"0": ("manifesto.csv", data, "text/csv")},
    )
    answer = r.json()["data"]["importManifest"]
    if answer["__typename"] != "JobSuccess":
        raise RuntimeError(f"importManifest: {answer}")
    log(f"importManifest answered in {time.perf_counter() - started:.2f} s")
    return answer["job"]["id"], started


async def wait_job(
    client: httpx.AsyncClient, job_id: str, running: asyncio.Event | None = None
) -> dict[str, Any]:
    while True:
        r = await client.post("/graphql", json={"query": JOB, "variables": {"id": job_id}})
        job = r.json()["data"]["job"]
        if running is not None and job["status"] == "RUNNING":
            running.set()
        if job["status"] in ("SUCCEEDED", "FAILED", "CANCELLED"):
            return job  # type: ignore[no-any-return]
        await asyncio.sleep(0.05)


def phases(job: dict[str, Any]) -> str:
    at = {k: datetime.fromisoformat(job[k]) for k in ("createdAt", "startedAt", "finishedAt")}
    queued = (at["startedAt"] - at["createdAt"]).total_seconds()
    ran = (at["finishedAt"] - at["startedAt"]).total_seconds()
    return f"queued {queued:.2f} s, ran {ran:.2f} s, attempts {job['attempts']}"


async def scanners(
    url: str, token: str, sid: uuid.UUID, n: int, think: float, stop: asyncio.Event,
    counted: asyncio.Event | None, prefix: str,
) -> list[float]:  # fmt: skip
    """Latencies (ms) of calls started while `counted` is set (always, when None)."""
    latencies: list[float] = []

    async def one(k: int) -> None:
        async with httpx.AsyncClient(
            base_url=url,
            headers={"authorization": f"Bearer {token}"},
            timeout=120,
            limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
        ) as client:
            i = 0
            while not stop.is_set():
                barcode = f"{prefix}{k:02d}{i:06d}"
                count = counted is None or counted.is_set()
                t0 = time.perf_counter()
                r = await client.post("/graphql", json={"query": ADD, "variables": {
                    "sid": str(sid), "barcode": barcode}})  # fmt: skip
                elapsed = (time.perf_counter() - t0) * 1000
                if r.json()["data"]["addPackages"]["__typename"] != "AddPackagesSuccess":
                    raise RuntimeError(r.text)
                # A client's first call opens its connection and warms the server's token
                # cache: left out of both phases (20 cold calls were the alone phase's p95).
                if count and i > 0 and not stop.is_set():
                    latencies.append(elapsed)
                i += 1
                await asyncio.sleep(think)

    await asyncio.gather(*(one(k) for k in range(n)))
    return latencies


async def count(dsn: str, sid: uuid.UUID) -> tuple[int, int]:
    conn = await asyncpg.connect(dsn)
    try:
        packages = await conn.fetchval(
            "SELECT count(*) FROM session_packages WHERE session_id = $1", sid
        )
        added = await conn.fetchval(
            "SELECT count(*) FROM session_audit_log WHERE session_id = $1"
            " AND action = 'package.added'",
            sid,
        )
    finally:
        await conn.close()
    return int(packages), int(added)


def cpu_seconds(pids: dict[str, int]) -> dict[str, float]:
    """CPU time (user + system) so far of each named process, and of every PostgreSQL process
    of this machine ("database"; 0 when they cannot be read)."""
    out = {}
    for name, pid in pids.items():
        times = psutil.Process(pid).cpu_times()
        out[name] = times.user + times.system
    total = 0.0
    for proc in psutil.process_iter(["name", "cpu_times"]):
        if proc.info["name"] == "postgres" and proc.info["cpu_times"] is not None:
            total += proc.info["cpu_times"].user + proc.info["cpu_times"].system
    out["database"] = total
    return out


async def import_once(
    client: httpx.AsyncClient,
    sid: uuid.UUID,
    rows: list[list[str]],
    running: asyncio.Event | None,
    pids: dict[str, int] | None = None,
) -> tuple[float, dict[str, Any]]:
    before = cpu_seconds(pids or {})
    job_id, started = await start_import(client, sid, manifest_csv(rows))
    job = await wait_job(client, job_id, running)
    elapsed = time.perf_counter() - started
    if job["status"] != "SUCCEEDED" or job["done"] != len(rows):
        raise RuntimeError(f"import: {job}")
    # Where the time went: the CPU each process spent (2 cores here: the sum can pass 1x).
    spent = {k: v - before[k] for k, v in cpu_seconds(pids or {}).items()}
    cpu = ", ".join(f"{k} {v:.2f}" for k, v in spent.items())
    log(f"import: {len(rows)} rows in {elapsed:.2f} s; {phases(job)}; CPU s: {cpu}")
    return elapsed, job


async def scan_round(
    args: argparse.Namespace, url: str, token: str, client: httpx.AsyncClient,
    alone_sid: uuid.UUID, during_sid: uuid.UUID, rows: list[list[str]], k: int,
) -> tuple[list[float], list[float], float]:  # fmt: skip
    """Scanners alone for as long as an import takes, then scanners during one."""
    stop = asyncio.Event()
    task = asyncio.create_task(
        scanners(url, token, alone_sid, args.scanners, args.think, stop, None, f"A{k}")
    )
    await asyncio.sleep(args.scan_s)
    stop.set()
    alone = await task
    stop, running = asyncio.Event(), asyncio.Event()
    task = asyncio.create_task(
        scanners(url, token, during_sid, args.scanners, args.think, stop, running, f"D{k}")
    )
    await asyncio.sleep(1.0)  # the scanners are going before the upload
    loaded_s, _ = await import_once(client, during_sid, rows, running)
    stop.set()
    during = await task
    log(f"round {k}: {len(alone)} calls alone, {len(during)} during the import")
    return alone, during, loaded_s


async def main(args: argparse.Namespace) -> None:
    n, rounds = args.rows, args.rounds
    print(
        f"bench/import_manifest.py: a {n:,}-row CSV manifest through importManifest, one "
        f"`bipa serve` + one `bipa worker` (BIPA_IMPORT_BATCH={args.batch}); "
        f"{args.scanners} scanners (think {args.think:g} s) alone and during an import; "
        f"{rounds} rounds (rates: the best round; latencies: all rounds pooled)"
    )
    data_dir = tempfile.mkdtemp(prefix="bipa-bench-import-")
    async with common.throwaway_database(args.database_url, "bipa_bench_import") as db:
        seeded = await common.seed_manager_and_sessions(db.url, sessions=1 + 4 * rounds)
        warm_sid, *sids = seeded.session_ids
        base_sids, import_sids = sids[:rounds], sids[rounds : 2 * rounds]
        alone_sids, during_sids = sids[2 * rounds : 3 * rounds], sids[3 * rounds :]
        base_times = []
        for k, sid in enumerate(base_sids):
            base_times.append(
                await baseline(db.dsn, sid, seeded.manager_id, manifest_rows(f"B{k}", n))
            )
            log(f"baseline: {n} rows in {base_times[-1]:.2f} s")
        env = {
            "DATABASE_URL": db.url,
            "BROADCAST_URL": "",  # LISTEN/NOTIFY on the database: server and worker share it
            "BIPA_DATA_DIR": data_dir,
            "BIPA_SECRET_KEY": "bench-" + "k" * 40,
            "BIPA_IMPORT_BATCH": str(args.batch),
            "BIPA_IMPORT_MAX_ROWS": str(max(20_000, n)),
            "BIPA_RUN_WORKER": "false",
        }
        server = await BipaServer(db.url, env=env).start()
        worker = WorkerProcess().start(
            {**os.environ, "BIPA_LOG_LEVEL": "INFO", **env}, args.profile_worker
        )
        alone: list[float] = []
        during: list[float] = []
        bipa_times: list[float] = []
        loaded_times: list[float] = []
        try:
            await worker.started()
            pids = {"worker": worker.pid, "server": server.pid}
            async with httpx.AsyncClient(
                base_url=server.url,
                headers={"authorization": f"Bearer {seeded.manager_token}"},
                timeout=300,
            ) as client:
                # Warm-up: a small import (code paths, pools, procrastinate's listener).
                await import_once(client, warm_sid, manifest_rows("WARM", 50), None)
                for k, sid in enumerate(import_sids):
                    elapsed, _ = await import_once(
                        client, sid, manifest_rows(f"I{k}", n), None, pids
                    )
                    bipa_times.append(elapsed)
                for k in range(0 if args.import_only else rounds):
                    a, d, loaded_s = await scan_round(
                        args, server.url, seeded.manager_token, client, alone_sids[k],
                        during_sids[k], manifest_rows(f"L{k}", n), k,
                    )  # fmt: skip
                    alone += a
                    during += d
                    loaded_times.append(loaded_s)
        finally:
            worker.stop()
            server.stop()
        for sid in (*import_sids, *during_sids[: len(loaded_times)]):
            packages, added = await count(db.dsn, sid)
            if packages != added or packages < n:
                raise RuntimeError(f"session {sid}: {packages} packages, {added} audit rows")
    shutil.rmtree(data_dir, ignore_errors=True)

    base_s, bipa_s = min(base_times), min(bipa_times)
    base_rate, bipa_rate = n / base_s, n / bipa_s
    rate_ratio = bipa_rate / base_rate
    print(f"  import   bipa {bipa_rate:9.0f} rows/s  (upload to SUCCEEDED, best {bipa_s:.2f} s;"
          f" all: {', '.join(f'{t:.2f}' for t in bipa_times)} s)")  # fmt: skip
    print(f"           baseline {base_rate:9.0f} rows/s  (asyncpg COPY, best {base_s:.2f} s;"
          f" all: {', '.join(f'{t:.2f}' for t in base_times)} s)")  # fmt: skip
    print(
        f"  import ratio = bipa / baseline = {rate_ratio:.2f}x   target >= {TARGET_RATE:g}x: "
        f"{common.verdict(rate_ratio >= TARGET_RATE)}"
    )
    if not loaded_times:
        return
    p95_alone, p95_during = common.percentile(alone, 95), common.percentile(during, 95)
    p95_ratio = p95_during / p95_alone
    print(f"           under {args.scanners} scanners: best {n / min(loaded_times):.0f} rows/s")
    print(
        f"  scanners alone:  p50 {common.median(alone):6.1f} ms  p95 {p95_alone:6.1f} ms"
        f"  ({len(alone)} calls)"
    )
    print(
        f"  scanners during: p50 {common.median(during):6.1f} ms  p95 {p95_during:6.1f} ms"
        f"  ({len(during)} calls while the job was RUNNING)"
    )
    print(
        f"  scanner p95 ratio = during / alone = {p95_ratio:.2f}x   target <= {TARGET_P95:g}x: "
        f"{common.verdict(p95_ratio <= TARGET_P95)}"
    )


def cli() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    common.add_database_argument(parser)
    parser.add_argument("--rows", type=int, default=10_000, help="manifest rows (10000)")
    parser.add_argument("--batch", type=int, default=50, help="BIPA_IMPORT_BATCH (50)")
    parser.add_argument("--scanners", type=int, default=20, help="concurrent scanners (20)")
    parser.add_argument("--think", type=float, default=0.25, help="seconds between scans (0.25)")
    parser.add_argument("--rounds", type=int, default=2, help="rounds of each measurement (2)")
    parser.add_argument("--scan-s", type=float, default=6.0, help="seconds of scanners alone (6)")
    parser.add_argument("--import-only", action="store_true", help="skip the scanners")
    parser.add_argument("--profile-worker", help="write pyinstrument's report of the worker here")
    args = parser.parse_args()
    common.run(lambda: main(args))
    return 0


if __name__ == "__main__":
    sys.exit(cli())
