"""Memory per idle subscriber, and 10,000 subscribers held open by one server process.

    .venv/bin/python bench/subscribers_memory.py [--database-url URL] [--steps 1000,10000]
        [--sessions 10] [--hold 25] [--workers 2] [--deflate]
        [--profile tracemalloc --profile-out FILE]

A throw-away database (created on --database-url / BENCH_DATABASE_URL, migrated, dropped at
the end) gets a MANAGER and --sessions OPEN sessions (plus one for the warm-up). The real
server runs as a `bipa serve` subprocess (``python -m bipa.cli serve``) with
``BROADCAST_URL=memory://`` (in-process pub/sub: one server).

1. Warm-up: 10 subscribers and 3 events on the warm-up session, then closed; the server's
   RSS (psutil) once it is idle = RSS(0).
2. Idle subscribers, each its own websocket connection (graphql-transport-ws, minimal raw
   clients in --workers client processes, bench/live_common.py) with one
   ``sessionEvents(sessionId: S) { sessionId sequence action details createdAt
   progress { total delivered percent } }`` (no afterSequence: nothing is sent to an idle
   subscriber, so nothing but the subscription itself is held), round robin over the
   sessions: 1,000 then 10,000 in all. After each step, once the server has finished
   processing the subscriptions (its CPU idle), RSS(N); KB per subscriber = (RSS(N) -
   RSS(0)) / N. Connected = connection_ack received.
3. Hold for --hold seconds (default 25; uvicorn, not Strawberry, keeps the connections alive:
   a websocket ping frame every 20 s, closing those that do not answer a pong within 20 s;
   the clients answer ping frames and graphql-transport-ws pings). None may drop, and every
   connection must have been pinged at least once.
4. Still delivering: one ``addPackages`` on every session and two more on the first; every
   subscriber must receive its session's new entries, in order (this also proves every
   subscription was live).
5. Baseline, same run: the bare websocket broadcast server (Starlette on uvicorn with the
   options `bipa serve` uses, bench/live_common.py), the same clients and steps; KB per
   connection the same way, then one broadcast to all of them.

Target: KB per subscriber <= 30 (at each step); the ratio bipa / baseline is shown. Prints
PASS/FAIL per target and exits 0 either way.
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

TARGET_KB = 30.0


async def _step_rss(server: Any, label: str) -> int:
    waited = await lc.wait_idle(server.pid)
    rss = server.rss()
    log(f"{label}: RSS {lc.mib(rss)} (server idle after {waited:.1f} s)")
    return int(rss)


async def _open_steps(
    args: argparse.Namespace, server: Any, pool: lc.ClientPool, token: str, sids: list[str]
) -> dict[str, Any]:
    out: dict[str, Any] = {"rss": {}, "opened": {}, "open_cpu": {}}
    out["rss"][0] = await _step_rss(server, f"{server.name} 0 subscribers")
    have = 0
    for n in args.steps:
        cpu0 = server.cpu()
        opened = await pool.open(
            server.port,
            token,
            sids,
            n - have,
            after=None,
            deflate=args.deflate,
            concurrency=args.concurrency,
            timeout=300,
        )
        have = n
        log(
            f"{server.name}: {opened['acked']} more acked "
            f"(connected {opened['connected']}) in {opened['elapsed']:.1f} s, "
            f"errors {opened['errors'] or 'none'}"
        )
        out["opened"][n] = opened
        out["rss"][n] = await _step_rss(server, f"{server.name} {n} subscribers")
        out["open_cpu"][n] = server.cpu() - cpu0
    return out


async def bipa_phase(args: argparse.Namespace, url: str) -> dict[str, Any]:
    token, sids = await lc.seed(url, args.sessions + 1)
    warm_sid, sids = sids[0], sids[1:]
    server = await lc.BipaServer(url, args.profile, args.profile_out).start()
    log(f"bipa serve pid {server.pid} on port {server.port} (BROADCAST_URL=memory://)")
    pool = await lc.ClientPool(args.workers).start()
    out: dict[str, Any] = {}
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=120) as http:
            await pool.open(server.port, token, [warm_sid], 10, deflate=args.deflate)
            for i in range(3):
                await lc.add_package(http, token, warm_sid, f"WARM-{i}")
            await pool.wait(4, timeout=60)
            await pool.close_all()
            if args.profile:
                server.signal(signal.SIGUSR1)
            load = lc.MachineLoad()
            started = time.perf_counter()
            out.update(await _open_steps(args, server, pool, token, sids))
            out["connect_elapsed"] = time.perf_counter() - started
            if args.profile:
                with contextlib.suppress(FileNotFoundError):
                    Path(args.profile_out).unlink()
                server.signal(signal.SIGUSR2)
                for _ in range(600):
                    await asyncio.sleep(0.5)
                    if Path(args.profile_out).exists():
                        break
                log(f"profile written to {args.profile_out}")

            # hold
            log(f"holding {args.steps[-1]} subscribers for {args.hold:.0f} s")
            cpu0, t0 = server.cpu(), time.perf_counter()
            min_open = args.steps[-1]
            while time.perf_counter() - t0 < args.hold:
                await asyncio.sleep(min(5.0, max(0.1, args.hold - (time.perf_counter() - t0))))
                min_open = min(min_open, (await pool.status())["open"])
            out["hold_cpu_per_s"] = (server.cpu() - cpu0) / (time.perf_counter() - t0)
            out["status"] = await pool.status()
            out["min_open"] = min_open
            out["rss_held"] = server.rss()

            # still delivering
            expected: dict[str, list[int]] = {}
            for sid in sids:
                expected[sid] = [(await lc.add_package(http, token, sid, "AFTER-0"))["seq"]]
            for i in (1, 2):
                expected[sids[0]].append(
                    (await lc.add_package(http, token, sids[0], f"AFTER-{i}"))["seq"]
                )
            all_one = await pool.wait(1, timeout=180)
            first_three = await pool.wait(3, sid=sids[0], timeout=180)
            collected = await pool.collect()
            ok = sum(1 for c in collected["conns"] if c["seq"] == expected[c["sid"]])
            out["delivery"] = {
                "subscribers": len(collected["conns"]),
                "got_all_in_order": ok,
                "first_session_subscribers": sum(
                    1 for c in collected["conns"] if c["sid"] == sids[0]
                ),
                "waits_done": all_one and first_three,
                "events": sum(len(v) for v in expected.values()),
            }
            out["lat"] = [
                (t - created) * 1000
                for c in collected["conns"]
                for t, created in zip(c["t"], c["created"], strict=True)
            ]
            out["load"] = load.busy()
            out["rss_after_events"] = server.rss()
            await pool.close_all()
    finally:
        await pool.stop()
        server.stop()
    return out


async def baseline_phase(args: argparse.Namespace, message: str) -> dict[str, Any]:
    server = await lc.BaselineServer([message], first="").start()
    log(f"baseline server pid {server.pid} on port {server.port}")
    pool = await lc.ClientPool(args.workers).start()
    out: dict[str, Any] = {}
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=120) as http:
            await pool.open(server.port, "unused", ["x"], 10, after=None, deflate=args.deflate)
            await http.post("/broadcast/0")
            await pool.wait(1, timeout=60)
            await pool.close_all()
            started = time.perf_counter()
            out.update(await _open_steps(args, server, pool, "unused", ["x"]))
            out["connect_elapsed"] = time.perf_counter() - started
            out["status"] = await pool.status()
            sent = (await http.post("/broadcast/0")).json()["sent"]
            done = await pool.wait(1, timeout=120)
            out["delivery"] = {"sent": sent, "all_received": done}
            await pool.close_all()
    finally:
        await pool.stop()
        server.stop()
    return out


async def main(args: argparse.Namespace) -> None:
    nofile = lc.raise_nofile()
    top = args.steps[-1]
    print(
        f"subscribers_memory: steps {args.steps} idle websocket subscribers over "
        f"{args.sessions} sessions, {args.workers} client processes, permessage-deflate "
        f"{'offered' if args.deflate else 'not offered'}, RLIMIT_NOFILE {nofile}"
    )
    if top + 100 > nofile:
        print(f"  !! RLIMIT_NOFILE {nofile} is too low for {top} connections")
    print(f"code: {lc.code_version()}")
    t0 = time.perf_counter()
    async with lc.throwaway_database(args.database_url, "bench_subs_mem") as url:
        bipa = await bipa_phase(args, url)
    t_bipa = time.perf_counter() - t0
    # The bytes bipa sent for one event, reused by the baseline's broadcast check.
    sample = (
        '{"id": "1", "type": "next", "payload": {"data": {"sessionEvents": {"sessionId": '
        '"00000000-0000-0000-0000-000000000000", "sequence": 2, "action": "package.added", '
        '"details": {"barcode": "AFTER-0"}, "createdAt": "2025-01-01T00:00:00+00:00", '
        '"progress": {"total": 1, "delivered": 0, "percent": 0.0}}}}}'
    )
    base = await baseline_phase(args, sample)
    total = time.perf_counter() - t0

    print()
    kb_ok = True
    rows = []
    for n in args.steps:
        b_kb = (bipa["rss"][n] - bipa["rss"][0]) / n / 1024
        base_kb = (base["rss"][n] - base["rss"][0]) / n / 1024
        kb_ok = kb_ok and b_kb <= TARGET_KB
        rows.append((n, b_kb, base_kb))
        ob, oa = bipa["opened"][n], base["opened"][n]
        print(
            f"N={n:>6}: bipa RSS {lc.mib(bipa['rss'][0])} -> {lc.mib(bipa['rss'][n])}: "
            f"{b_kb:6.1f} KB per subscriber ({ob['acked']} acked this step, opened in "
            f"{ob['elapsed']:.1f} s, server CPU {bipa['open_cpu'][n]:.1f} s = "
            f"{bipa['open_cpu'][n] / max(1, ob['acked']) * 1000:.1f} ms per new subscriber)"
        )
        print(
            f"          baseline RSS {lc.mib(base['rss'][0])} -> {lc.mib(base['rss'][n])}: "
            f"{base_kb:6.1f} KB per connection ({oa['acked']} acked this step, opened in "
            f"{oa['elapsed']:.1f} s, server CPU {base['open_cpu'][n]:.1f} s)"
        )
        print(f"          ratio bipa / baseline {b_kb / base_kb:.1f}x")
    st = bipa["status"]
    d = bipa["delivery"]
    held_ok = (
        st["conns"] == top
        and bipa["min_open"] == top
        and st["open"] == top
        and st["conns_pinged"] == top
    )
    delivered_ok = d["waits_done"] and d["got_all_in_order"] == top
    print(
        f"hold {args.hold:.0f} s with {top}: {st['open']}/{st['conns']} open at the end "
        f"(lowest seen {bipa['min_open']}), close codes {st['close_codes'] or 'none'}, "
        f"{st['conns_pinged']} connections pinged ({st['ws_pings']} ping frames, "
        f"{st['gql_pings']} graphql-transport-ws pings answered); server idle CPU "
        f"{bipa['hold_cpu_per_s'] * 1000:.0f} ms/s; RSS {lc.mib(bipa['rss_held'])}"
    )
    print(
        f"events after the hold ({d['events']} mutations): {d['got_all_in_order']}/"
        f"{d['subscribers']} subscribers got their session's new entries in order "
        f"({d['first_session_subscribers']} on the session with 3); latency commit -> "
        f"receipt p50 {lc.percentile(bipa['lat'], 50):.0f} ms, p99 "
        f"{lc.percentile(bipa['lat'], 99):.0f} ms; RSS after {lc.mib(bipa['rss_after_events'])}"
    )
    print(
        f"baseline: {base['status']['open']}/{base['status']['conns']} open, broadcast "
        f"reached {base['delivery']['sent']} (all received: {base['delivery']['all_received']})"
    )
    print(f"{lc.load_note(bipa['load'])} during the bipa part")
    print()
    for n, b_kb, base_kb in rows:
        print(
            f"KB per idle subscriber at N={n}: {b_kb:.1f} KB (baseline {base_kb:.1f} KB, ratio "
            f"{b_kb / base_kb:.1f}x)   target <= {TARGET_KB:.0f} KB   "
            f"{lc.verdict(b_kb <= TARGET_KB)}"
        )
    print(
        f"{top} subscribers: all connected ({sum(o['acked'] for o in bipa['opened'].values())}"
        f" acked): {lc.verdict(sum(o['acked'] for o in bipa['opened'].values()) == top)}; "
        f"none dropped after {args.hold:.0f} s: {lc.verdict(held_ok)}; "
        f"events still delivered: {lc.verdict(delivered_ok)}"
    )
    print(
        f"run time {total:.0f} s (bipa part {t_bipa:.0f} s, of which opening "
        f"{bipa['connect_elapsed']:.0f} s)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    lc.add_database_argument(parser)
    parser.add_argument(
        "--steps", default="1000,10000", help="cumulative subscriber counts (comma separated)"
    )
    parser.add_argument("--sessions", type=int, default=10)
    parser.add_argument("--hold", type=float, default=25.0)
    parser.add_argument("--workers", type=int, default=2, help="client processes")
    parser.add_argument(
        "--concurrency",
        type=int,
        default=128,
        help="connections being opened at once (over all workers)",
    )
    parser.add_argument(
        "--deflate", action="store_true", help="clients offer permessage-deflate (as browsers do)"
    )
    parser.add_argument(
        "--profile",
        choices=["pyinstrument", "cprofile", "tracemalloc"],
        help="profile the server while the subscribers are opened",
    )
    parser.add_argument("--profile-out", default="/tmp/bipa-subscribers-profile.txt")
    parsed = parser.parse_args()
    parsed.steps = [int(x) for x in parsed.steps.split(",")]
    lc.run(main(parsed))
