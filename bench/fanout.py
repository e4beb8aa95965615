"""Fan-out of live events: 1,000 websocket subscribers of one session, 100 events.

    .venv/bin/python bench/fanout.py [--database-url URL] [--subscribers 1000] [--events 100]
        [--workers 2] [--deflate] [--profile pyinstrument|cprofile --profile-out FILE]

A throw-away database (created on --database-url / BENCH_DATABASE_URL, migrated, dropped at
the end) gets a MANAGER and three OPEN sessions. The real server runs as a `bipa serve`
subprocess (``python -m bipa.cli serve``) with ``BROADCAST_URL=memory://`` (the in-process
pub/sub backend: one server, so no LISTEN/NOTIFY hop; the audit-log reads are the same).

1. Warm-up: 10 subscribers and 10 events on session W, then closed.
2. Mutation cost alone: 100 sequential ``addPackages`` of one package on session M, which
   nobody follows; the server's CPU time of that phase / 100 = the cost of producing one event.
3. 1,000 websocket connections (graphql-transport-ws, minimal raw clients in --workers client
   processes, bench/live_common.py), each with one
   ``sessionEvents(sessionId: S, afterSequence: 0) { sessionId sequence action details
   createdAt progress { total delivered percent } }``; each must receive the replay of the
   stored entry (``session.created``) before the events start, so all are live.
4. Events: 100 sequential ``addPackages`` of one package on S over HTTP (one keep-alive
   connection). Measured until every subscriber has received all 100: the server process's
   CPU time (psutil user+system), the clients' CPU, and per delivered event the latency from
   commit to receipt: receive time (``time.time()`` in the client) minus the entry's
   ``createdAt`` (set when the entry is flushed, just before the commit; same clock). Also
   shown: receipt minus the mutation's HTTP response time (after commit and publish).
   Every subscriber must get exactly the 100 sequences the mutations returned, in order.
5. Baseline, same run: a bare websocket broadcast server (Starlette on uvicorn with the options
   `bipa serve` uses, bench/live_common.py) holding the same 1,000 client connections sends
   the same bytes (the 100 message texts captured from subscriber 0 in step 4) to every one of
   them, 100 times (one ``POST /broadcast/k`` per event); its CPU time the same way, and its
   latency from the trigger request being sent to receipt.

Target: server CPU per delivered event, bipa / baseline <= 3x (bipa's figure includes the
mutations themselves; the fan-out alone, minus step 2, is shown too). PostgreSQL's own CPU is
not counted on either side. Prints PASS/FAIL and exits 0 either way.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx

from bench import live_common as lc
from bench.live_common import log

TARGET_RATIO = 3.0


def _latencies(conns: list[dict[str, Any]], ref: dict[int, float] | None) -> list[float]:
    """Receive time minus createdAt (ref None) or minus ref[sequence], in ms."""
    out: list[float] = []
    for c in conns:
        for seq, t, created in zip(c["seq"], c["t"], c["created"], strict=True):
            base = created if ref is None else ref[seq]
            out.append((t - base) * 1000)
    return out


def _fmt(values: list[float]) -> str:
    return (
        f"p50 {lc.percentile(values, 50):8.1f} ms   p99 {lc.percentile(values, 99):8.1f} ms"
        f"   max {max(values):8.1f} ms"
    )


async def bipa_phase(args: argparse.Namespace, url: str) -> dict[str, Any]:
    token, (warm_sid, mut_sid, sid) = await lc.seed(url, 3)
    server = await lc.BipaServer(url, args.profile, args.profile_out).start()
    log(f"bipa serve pid {server.pid} on port {server.port} (BROADCAST_URL=memory://)")
    pool = await lc.ClientPool(args.workers).start()
    out: dict[str, Any] = {}
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=60) as http:
            # 1. warm-up
            await pool.open(server.port, token, [warm_sid], 10, deflate=args.deflate)
            for i in range(10):
                await lc.add_package(http, token, warm_sid, f"WARM-{i}")
            await pool.wait(11, timeout=30)
            await pool.close_all()

            # 2. the mutations alone (nobody follows session M)
            await asyncio.sleep(0.5)
            cpu0 = server.cpu()
            for i in range(args.events):
                await lc.add_package(http, token, mut_sid, f"M-{i:04d}")
            out["mutation_cpu"] = (server.cpu() - cpu0) / args.events

            # 3. subscribers
            cpu_sub0 = server.cpu()
            opened = await pool.open(
                server.port, token, [sid], args.subscribers, deflate=args.deflate
            )
            log(
                f"{opened['subscribed']}/{args.subscribers} subscribed in {opened['elapsed']:.1f} s"
                f" (connected {opened['connected']}, acked {opened['acked']},"
                f" errors {opened['errors'] or 'none'})"
            )
            out["opened"] = opened
            await lc.wait_idle(server.pid)
            out["subscribe_cpu"] = server.cpu() - cpu_sub0
            first = await pool.collect(raw=True)
            out["first_raw"] = first["raw"][0]
            await pool.reset()
            await asyncio.sleep(1.0)
            idle0 = server.cpu()
            await asyncio.sleep(2.0)
            out["idle_cpu_per_s"] = (server.cpu() - idle0) / 2.0
            rss_before = server.rss()

            # 4. events
            if args.profile:
                server.signal(signal.SIGUSR1)
                await asyncio.sleep(0.3)
            cpu0, ccpu0 = server.cpu(), pool.cpu()
            load = lc.MachineLoad()
            started = time.perf_counter()
            mutations = []
            for i in range(args.events):
                mutations.append(await lc.add_package(http, token, sid, f"F-{i:04d}"))
            mutations_done = time.perf_counter() - started
            done = await pool.wait(args.events, timeout=240)
            elapsed = time.perf_counter() - started
            cpu1, ccpu1 = server.cpu(), pool.cpu()
            if args.profile:
                with contextlib.suppress(FileNotFoundError):
                    Path(args.profile_out).unlink()
                server.signal(signal.SIGUSR2)
                for _ in range(600):
                    await asyncio.sleep(0.5)
                    if Path(args.profile_out).exists():
                        break
                log(f"profile written to {args.profile_out}")
            out.update(
                load=load.busy(),
                all_received=done,
                cpu=cpu1 - cpu0,
                client_cpu=ccpu1 - ccpu0,
                elapsed=elapsed,
                mutations_elapsed=mutations_done,
                rss_before=rss_before,
                rss_after=server.rss(),
            )
            collected = await pool.collect(raw=True)
            out["expected"] = [m["seq"] for m in mutations]
            out["check"] = lc.check_sequences(collected["conns"], out["expected"])
            out["lat_commit"] = _latencies(collected["conns"], None)
            out["lat_response"] = _latencies(
                collected["conns"], {m["seq"]: m["answered"] for m in mutations}
            )
            out["lat_sent"] = _latencies(
                collected["conns"], {m["seq"]: m["sent"] for m in mutations}
            )
            out["raw"] = collected["raw"]
            out["bytes"] = sum(len(r.encode()) for r in collected["raw"])
            samples = [c["sample"] for c in collected["conns"] if c["sample"]]
            out["error_sample"] = samples[0] if samples else ""
            await pool.close_all()
    finally:
        await pool.stop()
        server.stop()
    return out


async def baseline_phase(args: argparse.Namespace, raw: list[str], first: str) -> dict[str, Any]:
    server = await lc.BaselineServer(raw, first).start()
    log(f"baseline server pid {server.pid} on port {server.port}")
    pool = await lc.ClientPool(args.workers).start()
    out: dict[str, Any] = {}
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=60) as http:
            await pool.open(server.port, "unused", ["x"], 10, deflate=args.deflate)
            for k in range(min(10, len(raw))):
                await http.post(f"/broadcast/{k}")
            await pool.close_all()
            opened = await pool.open(
                server.port, "unused", ["x"], args.subscribers, deflate=args.deflate
            )
            log(
                f"{opened['subscribed']}/{args.subscribers} subscribed in {opened['elapsed']:.1f} s"
            )
            out["opened"] = opened
            await pool.reset()
            await asyncio.sleep(1.0)
            cpu0, ccpu0 = server.cpu(), pool.cpu()
            load = lc.MachineLoad()
            started = time.perf_counter()
            sent: list[float] = []
            for k in range(len(raw)):
                sent.append(time.time())
                (await http.post(f"/broadcast/{k}")).raise_for_status()
            done = await pool.wait(len(raw), timeout=240)
            elapsed = time.perf_counter() - started
            cpu1, ccpu1 = server.cpu(), pool.cpu()
            out.update(
                all_received=done,
                cpu=cpu1 - cpu0,
                client_cpu=ccpu1 - ccpu0,
                elapsed=elapsed,
                load=load.busy(),
            )
            collected = await pool.collect()
            await pool.close_all()
    finally:
        await pool.stop()
        server.stop()
    # Message k carries the k-th sequence captured from bipa.
    seqs = collected["conns"][0]["seq"]
    out["check"] = lc.check_sequences(collected["conns"], seqs if len(seqs) == len(raw) else [])
    out["lat_sent"] = _latencies(collected["conns"], dict(zip(seqs, sent, strict=False)))
    return out


async def main(args: argparse.Namespace) -> None:
    nofile = lc.raise_nofile()
    print(
        f"fanout: {args.subscribers} websocket subscribers x {args.events} events, "
        f"{args.workers} client processes, permessage-deflate "
        f"{'offered' if args.deflate else 'not offered'}, RLIMIT_NOFILE {nofile}"
    )
    print(f"code: {lc.code_version()}")
    t0 = time.perf_counter()
    async with lc.throwaway_database(args.database_url, "bench_fanout") as url:
        bipa = await bipa_phase(args, url)
    t_bipa = time.perf_counter() - t0
    base = await baseline_phase(args, bipa["raw"], bipa["first_raw"])
    total = time.perf_counter() - t0

    n = args.subscribers * args.events
    bipa_per = bipa["cpu"] / n
    base_per = base["cpu"] / n
    fanout_only = (bipa["cpu"] - bipa["mutation_cpu"] * args.events) / n
    ratio = bipa_per / base_per
    ok_delivery = bipa["all_received"] and bipa["check"]["complete_in_order"] == args.subscribers

    print()
    print(
        f"bipa: {bipa['opened']['subscribed']}/{args.subscribers} subscribed in "
        f"{bipa['opened']['elapsed']:.1f} s (server CPU {bipa['subscribe_cpu']:.1f} s = "
        f"{bipa['subscribe_cpu'] / args.subscribers * 1000:.1f} ms per subscription); "
        f"delivery check {bipa['check']}"
    )
    if bipa["error_sample"]:
        print(f"      sample bad message: {bipa['error_sample']}")
    print(
        f"      events phase {bipa['elapsed']:.2f} s (the {args.events} mutations took "
        f"{bipa['mutations_elapsed']:.2f} s), message size {bipa['bytes'] / args.events:.0f} B;"
        f" {lc.load_note(bipa['load'])}"
    )
    print(f"      latency commit (createdAt) -> receipt   {_fmt(bipa['lat_commit'])}")
    print(f"      latency HTTP response -> receipt        {_fmt(bipa['lat_response'])}")
    print(f"      latency HTTP request sent -> receipt    {_fmt(bipa['lat_sent'])}")
    print(
        f"      server CPU {bipa['cpu']:.2f} s = {bipa_per * 1e6:.1f} us per delivered event "
        f"(mutation alone {bipa['mutation_cpu'] * 1e3:.2f} ms per event; fan-out only "
        f"{fanout_only * 1e6:.1f} us per delivered event); idle "
        f"{bipa['idle_cpu_per_s'] * 1e3:.1f} ms CPU/s"
    )
    print(
        f"      client CPU {bipa['client_cpu']:.2f} s ({bipa['client_cpu'] / n * 1e6:.1f} us "
        f"per message); server RSS {lc.mib(bipa['rss_before'])} -> {lc.mib(bipa['rss_after'])}"
        f" (+{(bipa['rss_after'] - bipa['rss_before']) / n:.0f} B per delivered event, held by"
        f" the still-open subscriptions)"
    )
    print(
        f"baseline: {base['opened']['subscribed']}/{args.subscribers} subscribed; "
        f"delivery check {base['check']}"
    )
    print(f"      events phase {base['elapsed']:.2f} s; {lc.load_note(base['load'])}")
    print(f"      latency trigger sent -> receipt         {_fmt(base['lat_sent'])}")
    print(f"      server CPU {base['cpu']:.2f} s = {base_per * 1e6:.1f} us per delivered message")
    print(
        f"      client CPU {base['client_cpu']:.2f} s ({base['client_cpu'] / n * 1e6:.1f} us "
        f"per message)"
    )
    print()
    print(
        f"ratio bipa / baseline, server CPU per delivered event: {ratio:.1f}x "
        f"(fan-out only: {fanout_only / base_per:.1f}x)   target <= {TARGET_RATIO:.0f}x   "
        f"{lc.verdict(ratio <= TARGET_RATIO)}"
    )
    print(
        f"every subscriber got all {args.events} events in order, no gap: {lc.verdict(ok_delivery)}"
    )
    print(f"run time {total:.0f} s (bipa part {t_bipa:.0f} s)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    lc.add_database_argument(parser)
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--events", type=int, default=100)
    parser.add_argument("--workers", type=int, default=2, help="client processes")
    parser.add_argument(
        "--deflate", action="store_true", help="clients offer permessage-deflate (as browsers do)"
    )
    parser.add_argument(
        "--profile",
        choices=["pyinstrument", "cprofile", "tracemalloc"],
        help="profile the server during the events phase",
    )
    parser.add_argument("--profile-out", default="/tmp/bipa-fanout-profile.txt")
    lc.run(main(parser.parse_args()))
