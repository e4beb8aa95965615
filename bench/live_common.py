"""Shared pieces of the live-events benchmarks (bench/fanout.py, bench/subscribers_memory.py).

* ``BipaServer``: the real server as a ``python -m bipa.cli serve`` subprocess (what the
  ``bipa serve`` console script runs), like tests/conftest.py's LiveServer, with
  ``BROADCAST_URL=memory://`` (in-process pub/sub: one server, no LISTEN/NOTIFY hop),
  JSON logs at INFO to a temporary file, and the open-files limit raised to the hard limit.
  With ``profile=`` it runs through ``profiled-serve`` below instead: the same
  ``bipa.cli.main(["serve", ...])`` with a profiler started on SIGUSR1 and written on SIGUSR2.
* ``BaselineServer``: a bare websocket broadcast server (``python bench/live_common.py
  baseline``): Starlette on uvicorn with the options ``bipa serve`` passes to uvicorn (uvloop,
  httptools, the websockets-sansio protocol, permessage-deflate on offer, ping frames every
  20 s), speaking just enough graphql-transport-ws (connection_init -> connection_ack,
  subscribe -> registered and one canned message, ping -> pong) and sending pre-encoded
  message texts to every registered socket on ``POST /broadcast/{k}``.
* ``ClientPool``: websocket clients in separate worker processes (``python
  bench/live_common.py client``, driven by JSON lines on stdin/stdout). Each connection is a
  minimal RFC 6455 client on a raw asyncio Protocol (uvloop), much cheaper per message than
  a full websocket library, so that the clients are not the bottleneck: it answers ping
  frames with pongs and graphql-transport-ws ``{"type":"ping"}`` with ``{"type":"pong"}``,
  records each ``next``/``error``/``complete`` message with its receive time
  (``time.time()``) and parses them only when asked (``collect``). By default the clients
  do not offer permessage-deflate (so neither server compresses); ``deflate=True`` offers it
  (as browsers do) and inflates the server's compressed frames.

Run a benchmark with ``.venv/bin/python bench/<name>.py``; this file runs on its own only as
a worker (``client``), the baseline server (``baseline``) or the profiled server
(``profiled-serve``).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
import zlib
from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

HOST = "127.0.0.1"
WS_PATH = "/graphql"
PROTOCOL = "graphql-transport-ws"

EVENTS_QUERY = (
    "subscription($sid: ID!, $after: Int) { sessionEvents(sessionId: $sid, "
    "afterSequence: $after) { sessionId sequence action details createdAt "
    "progress { total delivered percent } } }"
)
ADD_ONE_PACKAGE = """
mutation($sid: ID!, $barcode: String!) {
  addPackages(input: {sessionId: $sid, packages: [{barcode: $barcode}]}) {
    __typename
    ... on AddPackagesSuccess { session { lastSequence } }
    ... on Error { message }
  }
}"""


# ---------------------------------------------------------------------------------------------
# Process limits and measurements


def raise_nofile() -> int:
    """Soft RLIMIT_NOFILE up to the hard limit (inherited by the subprocesses started later)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, 1_048_576)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def cpu_seconds(pid: int) -> float:
    import psutil

    t = psutil.Process(pid).cpu_times()
    return float(t.user + t.system)


def rss_bytes(pid: int) -> int:
    import psutil

    return int(psutil.Process(pid).memory_info().rss)


async def wait_idle(
    pid: int, *, busy_below: float = 0.05, window: float = 1.0, timeout: float = 300
) -> float:
    """Until the process used less than `busy_below` of a core over `window` seconds (its
    backlog of work is done); returns the seconds waited."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        c0 = cpu_seconds(pid)
        await asyncio.sleep(window)
        if (cpu_seconds(pid) - c0) / window < busy_below:
            break
    return time.monotonic() - started


class MachineLoad:
    """Machine-wide CPU busy fraction over a phase (other processes compete for the cores)."""

    def __init__(self) -> None:
        import psutil

        self._t0 = psutil.cpu_times()

    def busy(self) -> float:
        import psutil

        t1 = psutil.cpu_times()
        idle = (t1.idle + getattr(t1, "iowait", 0)) - (
            self._t0.idle + getattr(self._t0, "iowait", 0)
        )
        total = sum(t1) - sum(self._t0)
        return 1 - idle / total if total > 0 else 0.0


def load_note(busy: float) -> str:
    return (
        f"machine CPU busy {busy * 100:.0f}% of {os.cpu_count()} cores, load average "
        f"{os.getloadavg()[0]:.1f}"
    )


def code_version() -> str:
    """The commit the server code comes from, and whether the working tree differs from it."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            check=False,
            cwd=ROOT,
            capture_output=True,
            text=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            check=False,
            cwd=ROOT,
            capture_output=True,
            text=True,
        ).stdout.split("\n")
    except OSError:
        return "unknown"
    changed = [line[3:] for line in dirty if line.strip()]
    return f"{head}" + (f" + uncommitted changes in {', '.join(changed)}" if changed else "")


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


async def _wait_healthy(proc: subprocess.Popen[bytes], url: str, log_path: str) -> None:
    import httpx

    deadline = time.monotonic() + 90
    async with httpx.AsyncClient(timeout=2) as client:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                tail = Path(log_path).read_text(errors="replace")[-3000:]
                raise RuntimeError(f"server exited ({proc.returncode}): {tail}")
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get(url + "/healthz")).status_code == 200:
                    return
            await asyncio.sleep(0.2)
    raise RuntimeError("server did not become healthy in 90 s")


class _Subprocess:
    name = "server"

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://{HOST}:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self._log = tempfile.NamedTemporaryFile(  # noqa: SIM115
            prefix=f"bipa-bench-{self.name}-", suffix=".log", delete=False
        )

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def cpu(self) -> float:
        return cpu_seconds(self.pid)

    def rss(self) -> int:
        return rss_bytes(self.pid)

    def log_text(self) -> str:
        return Path(self._log.name).read_text(errors="replace")

    def _spawn(self, argv: list[str], env: dict[str, str]) -> None:
        # The raised RLIMIT_NOFILE (raise_nofile, called first by every benchmark) is inherited.
        self.proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=self._log, stderr=self._log)

    def signal(self, signum: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(signum)

    def stop(self, keep_log: bool = False) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        if not keep_log:
            with contextlib.suppress(OSError):
                os.unlink(self._log.name)


class BipaServer(_Subprocess):
    """`bipa serve` (python -m bipa.cli serve) on a free loopback port."""

    name = "bipa"

    def __init__(
        self,
        database_url: str,
        profile: str | None = None,
        out: str = "",
        env: dict[str, str] | None = None,
    ) -> None:
        super().__init__()
        self.database_url = database_url
        self.profile = profile
        self.profile_out = out
        self.extra_env = env or {}

    async def start(self) -> BipaServer:
        env = {
            **os.environ,
            "DATABASE_URL": self.database_url,
            "BROADCAST_URL": "memory://",
            "BIPA_HOST": HOST,
            "BIPA_PORT": str(self.port),
            "BIPA_LOG_LEVEL": "INFO",
            "BIPA_ENV": "development",
            # Thousands of subscribers from one loopback address and one token, on purpose.
            "BIPA_MAX_WS_PER_IP": "0",
            "BIPA_MAX_WS_PER_TOKEN": "0",
            "BIPA_RATE_LIMITS": "false",
            **self.extra_env,
        }
        if self.profile:
            env["BENCH_PROFILE"] = self.profile
            env["BENCH_PROFILE_OUT"] = self.profile_out
            argv = [sys.executable, str(Path(__file__).resolve()), "profiled-serve"]
        else:
            argv = [sys.executable, "-m", "bipa.cli", "serve", "--host", HOST]
            argv += ["--port", str(self.port)]
        self._spawn(argv, env)
        assert self.proc is not None
        await _wait_healthy(self.proc, self.url, self._log.name)
        return self

    @property
    def ws_url(self) -> str:
        return f"ws://{HOST}:{self.port}{WS_PATH}"


class BaselineServer(_Subprocess):
    """The bare broadcast server (see `_baseline_main`)."""

    name = "baseline"

    def __init__(self, messages: Sequence[str], first: str) -> None:
        super().__init__()
        self._messages = tempfile.NamedTemporaryFile(  # noqa: SIM115
            "w", prefix="bipa-bench-messages-", suffix=".json", delete=False
        )
        json.dump({"messages": list(messages), "first": first}, self._messages)
        self._messages.close()

    async def start(self) -> BaselineServer:
        argv = [sys.executable, str(Path(__file__).resolve()), "baseline", str(self.port)]
        self._spawn([*argv, self._messages.name], dict(os.environ))
        assert self.proc is not None
        await _wait_healthy(self.proc, self.url, self._log.name)
        return self

    def stop(self, keep_log: bool = False) -> None:
        super().stop(keep_log)
        with contextlib.suppress(OSError):
            os.unlink(self._messages.name)


# ---------------------------------------------------------------------------------------------
# Throw-away database and seeding (kept here rather than imported from bench/common.py, which
# another benchmark owns, so that both can change independently)

DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"


def add_database_argument(parser: Any) -> None:
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL") or DEFAULT_SERVER,
        help="PostgreSQL server to create the throw-away database on "
        "(env BENCH_DATABASE_URL, default %(default)s)",
    )


def plain_url(url: str) -> str:
    for prefix in ("postgresql+asyncpg://", "postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql://" + url[len(prefix) :]
    raise SystemExit(f"not a postgresql:// URL: {url!r}")


def _with_database(url: str, name: str) -> str:
    head, sep, query = url.partition("?")
    return f"{head.rsplit('/', 1)[0]}/{name}{sep}{query}"


async def _admin(server: str, sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(plain_url(server))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@contextlib.asynccontextmanager
async def throwaway_database(server: str, prefix: str) -> Any:
    """CREATE DATABASE, migrate (alembic runs its own loop: in a thread); yields the
    postgresql+asyncpg:// URL; DROP DATABASE at the end, whatever happens."""
    import uuid

    from bipa import database

    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    dsn = _with_database(plain_url(server), name)
    url = "postgresql+asyncpg://" + dsn[len("postgresql://") :]
    await _admin(server, f'CREATE DATABASE "{name}"')
    try:
        started = time.perf_counter()
        await asyncio.to_thread(database.migrate, url)
        log(f"database {name} created and migrated in {time.perf_counter() - started:.1f} s")
        yield url
    finally:
        await _admin(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        log(f"database {name} dropped")


async def seed(url: str, sessions: int) -> tuple[str, list[str]]:
    """A MANAGER with an API token owning `sessions` OPEN sessions (through the domain
    services); returns the token and the session ids."""
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
                s = await session_service.create_session(uow, manager.user, f"Live bench {n}")
                await uow.commit()
                ids.append(str(s.id))
    finally:
        await engine.dispose()
    return manager.token, ids


def run(main: Any) -> Any:
    """asyncio on uvloop (what uvicorn gives `bipa serve`)."""
    import io

    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(line_buffering=True)
    try:
        import uvloop

        factory: Any = uvloop.new_event_loop
    except ImportError:
        factory = None
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(main)


# ---------------------------------------------------------------------------------------------
# GraphQL over HTTP


async def add_package(client: Any, token: str, sid: str, barcode: str) -> dict[str, Any]:
    """One addPackages of one package; returns timings and the session's lastSequence."""
    body = {"query": ADD_ONE_PACKAGE, "variables": {"sid": sid, "barcode": barcode}}
    sent = time.time()
    response = await client.post(
        "/graphql", json=body, headers={"authorization": f"Bearer {token}"}
    )
    answered = time.time()
    data = response.json()
    result = (data.get("data") or {}).get("addPackages") or {}
    if result.get("__typename") != "AddPackagesSuccess":
        raise RuntimeError(f"addPackages failed: {data}")
    return {"sent": sent, "answered": answered, "seq": result["session"]["lastSequence"]}


# ---------------------------------------------------------------------------------------------
# Statistics


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100)."""
    import math

    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def log(message: str) -> None:
    print(f"  .. {message}", flush=True)


def mib(n: float) -> str:
    return f"{n / 1048576:.1f} MiB"


# ---------------------------------------------------------------------------------------------
# Client pool (orchestrator side)


class ClientPool:
    """`workers` client processes; `call` sends one command to each and gathers the replies."""

    def __init__(self, workers: int) -> None:
        self.n = workers
        self.procs: list[asyncio.subprocess.Process] = []

    async def start(self) -> ClientPool:
        for _ in range(self.n):
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                str(Path(__file__).resolve()),
                "client",
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                cwd=ROOT,
                limit=1 << 30,
            )
            self.procs.append(proc)
        await self.call_all({"op": "hello"})
        return self

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.procs]

    def cpu(self) -> float:
        return sum(cpu_seconds(pid) for pid in self.pids)

    async def _one(self, proc: asyncio.subprocess.Process, cmd: dict[str, Any]) -> Any:
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(json.dumps(cmd).encode() + b"\n")
        await proc.stdin.drain()
        line = await proc.stdout.readline()
        if not line:
            raise RuntimeError(f"client worker {proc.pid} exited")
        reply = json.loads(line)
        if isinstance(reply, dict) and "fatal" in reply:
            raise RuntimeError(f"client worker {proc.pid}: {reply['fatal']}")
        return reply

    async def call(self, cmds: Sequence[dict[str, Any]]) -> list[Any]:
        pairs = zip(self.procs, cmds, strict=True)
        return list(await asyncio.gather(*(self._one(p, c) for p, c in pairs)))

    async def call_all(self, cmd: dict[str, Any]) -> list[Any]:
        return await self.call([cmd] * self.n)

    async def open(
        self,
        port: int,
        token: str,
        sessions: Sequence[str],
        count: int,
        *,
        after: int | None = 0,
        deflate: bool = False,
        concurrency: int = 64,
        timeout: float = 120,
    ) -> dict[str, Any]:
        """`count` more connections, each with one sessionEvents subscription, round robin
        over `sessions`, spread evenly over the workers; waits for each one's first message
        (the replay of the stored entries after `after`) when `after` is not None."""
        per: list[list[str]] = [[] for _ in range(self.n)]
        for i in range(count):
            per[i % self.n].append(sessions[i % len(sessions)])
        cmds = []
        for sids in per:
            counts = Counter(sids)
            cmds.append(
                {
                    "op": "open",
                    "port": port,
                    "token": token,
                    "subs": [[sid, n] for sid, n in counts.items()],
                    "after": after,
                    "deflate": deflate,
                    "concurrency": max(1, concurrency // self.n),
                    "timeout": timeout,
                }
            )
        started = time.perf_counter()
        replies = await self.call(cmds)
        errors: Counter[str] = Counter()
        for r in replies:
            errors.update(r["errors"])
        return {
            "connected": sum(r["connected"] for r in replies),
            "acked": sum(r["acked"] for r in replies),
            "subscribed": sum(r["first"] for r in replies),
            "errors": dict(errors),
            "elapsed": time.perf_counter() - started,
        }

    async def status(self) -> dict[str, Any]:
        replies = await self.call_all({"op": "status"})
        out: dict[str, Any] = {}
        for r in replies:
            for k, v in r.items():
                if isinstance(v, dict):
                    bucket = out.setdefault(k, Counter())
                    bucket.update(v)
                else:
                    out[k] = out.get(k, 0) + v
        return {k: (dict(v) if isinstance(v, Counter) else v) for k, v in out.items()}

    async def wait(self, count: int, *, sid: str | None = None, timeout: float = 120) -> bool:
        replies = await self.call_all(
            {"op": "wait", "count": count, "sid": sid, "timeout": timeout}
        )
        return all(r["done"] for r in replies)

    async def reset(self) -> None:
        await self.call_all({"op": "reset"})

    async def collect(self, *, sid: str | None = None, raw: bool = False) -> dict[str, Any]:
        cmds = [{"op": "collect", "sid": sid, "raw": raw and i == 0} for i in range(self.n)]
        replies = await self.call(cmds)
        conns: list[dict[str, Any]] = []
        for r in replies:
            conns.extend(r["conns"])
        return {"conns": conns, "raw": replies[0].get("raw", [])}

    async def close_all(self) -> None:
        await self.call_all({"op": "close"})

    async def stop(self) -> None:
        for proc in self.procs:
            if proc.returncode is None and proc.stdin is not None:
                with contextlib.suppress(Exception):
                    proc.stdin.close()
        for proc in self.procs:
            try:
                await asyncio.wait_for(proc.wait(), 15)
            except TimeoutError:
                proc.kill()
                await proc.wait()


def check_sequences(conns: list[dict[str, Any]], expected: list[int]) -> dict[str, int]:
    """How many subscribers got exactly `expected` (in order, no gap, no duplicate)."""
    ok = short = disorder = bad = 0
    for c in conns:
        seqs = c["seq"]
        if c["bad"]:
            bad += 1
        if seqs == expected:
            ok += 1
        elif len(seqs) < len(expected):
            short += 1
        else:
            disorder += 1
    return {
        "complete_in_order": ok,
        "missing": short,
        "wrong_order_or_extra": disorder,
        "with_errors": bad,
    }


# ---------------------------------------------------------------------------------------------
# Client worker: minimal websocket client connections


def _mask_frame(opcode: int, payload: bytes) -> bytes:
    n = len(payload)
    if n < 126:
        head = bytes((0x80 | opcode, 0x80 | n))
    elif n < 65536:
        head = bytes((0x80 | opcode, 0x80 | 126)) + n.to_bytes(2, "big")
    else:
        head = bytes((0x80 | opcode, 0x80 | 127)) + n.to_bytes(8, "big")
    key = os.urandom(4)
    if n:
        stream = (key * (n // 4 + 1))[:n]
        payload = (int.from_bytes(payload, "little") ^ int.from_bytes(stream, "little")).to_bytes(
            n, "little"
        )
    return head + key + payload


PONG_TEXT = json.dumps({"type": "pong"}).encode()


class _Worker:
    def __init__(self) -> None:
        self.conns: list[_Conn] = []
        self.ws_pings = 0
        self.gql_pings = 0
        self.handshake_failures: Counter[str] = Counter()


class _Conn(asyncio.Protocol):
    def __init__(self, worker: _Worker, sid: str, init: bytes, port: int, deflate: bool) -> None:
        self.worker = worker
        self.sid = sid
        self.init = init
        self.port = port
        self.offer_deflate = deflate
        self.transport: asyncio.Transport | None = None
        self.upgraded = False
        self.buf = bytearray()
        self.frag: list[bytes] | None = None
        self.frag_compressed = False
        self.inflater: Any = None
        self.msgs: list[tuple[float, bytes]] = []
        self.count = 0
        self.pings = 0
        self.lost = False
        self.close_code: int | None = None
        self.close_reason = ""
        loop = asyncio.get_running_loop()
        self.acked: asyncio.Future[None] = loop.create_future()
        self.first: asyncio.Future[None] = loop.create_future()

    # --- transport -----------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        key = base64.b64encode(os.urandom(16)).decode()
        ext = (
            "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
            if self.offer_deflate
            else ""
        )
        request = (
            f"GET {WS_PATH} HTTP/1.1\r\nHost: {HOST}:{self.port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            f"Sec-WebSocket-Protocol: {PROTOCOL}\r\n{ext}\r\n"
        )
        transport.write(request.encode())  # type: ignore[attr-defined]

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        reason = self.close_reason or f"code {self.close_code}"
        if exc is not None and not self.close_reason:
            reason += f", {type(exc).__name__}"
        err = ConnectionError(f"closed ({reason})")
        for fut in (self.acked, self.first):
            if not fut.done():
                fut.set_exception(err)
                fut.exception()  # mark retrieved

    def send_text(self, payload: bytes) -> None:
        if self.transport is not None and not self.lost:
            self.transport.write(_mask_frame(0x1, payload))

    def close(self) -> None:
        if self.transport is not None and not self.lost:
            with contextlib.suppress(Exception):
                self.transport.write(_mask_frame(0x8, (1000).to_bytes(2, "big")))
            self.transport.close()

    # --- frames --------------------------------------------------------------------------------
    def data_received(self, data: bytes) -> None:
        if not self.upgraded:
            self.buf += data
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self.buf[:end]).lower()
            rest = bytes(self.buf[end + 4 :])
            self.buf = bytearray()
            if not head.startswith(b"http/1.1 101"):
                status = head.split(b"\r\n", 1)[0].decode(errors="replace")
                self.worker.handshake_failures[status[:40]] += 1
                self.close_reason = f"handshake {status[:40]}"
                assert self.transport is not None
                self.transport.close()
                return
            if b"permessage-deflate" in head:
                self.inflater = zlib.decompressobj(-15)
            self.upgraded = True
            self.send_text(self.init)
            if not rest:
                return
            data = rest
        buf = self.buf
        if buf:
            buf += data
            view: Any = buf
        else:
            view = data
        n = len(view)
        pos = 0
        while n - pos >= 2:
            b0 = view[pos]
            b1 = view[pos + 1]
            length = b1 & 0x7F
            hdr = 2
            if length == 126:
                if n - pos < 4:
                    break
                length = int.from_bytes(view[pos + 2 : pos + 4], "big")
                hdr = 4
            elif length == 127:
                if n - pos < 10:
                    break
                length = int.from_bytes(view[pos + 2 : pos + 10], "big")
                hdr = 10
            if b1 & 0x80:  # servers do not mask; tolerate it anyway
                hdr += 4
            if n - pos < hdr + length:
                break
            payload = bytes(view[pos + hdr : pos + hdr + length])
            if b1 & 0x80:
                key = view[pos + hdr - 4 : pos + hdr]
                stream = (bytes(key) * (length // 4 + 1))[:length]
                payload = (
                    int.from_bytes(payload, "little") ^ int.from_bytes(stream, "little")
                ).to_bytes(length, "little")
            pos += hdr + length
            self._frame(b0, payload)
        if buf:
            del buf[:pos]
        elif pos < n:
            self.buf = bytearray(view[pos:])

    def _frame(self, b0: int, payload: bytes) -> None:
        opcode = b0 & 0x0F
        if opcode in (1, 2):
            if b0 & 0x80:
                self._message(payload, bool(b0 & 0x40))
            else:
                self.frag = [payload]
                self.frag_compressed = bool(b0 & 0x40)
        elif opcode == 0:
            if self.frag is not None:
                self.frag.append(payload)
                if b0 & 0x80:
                    whole, self.frag = b"".join(self.frag), None
                    self._message(whole, self.frag_compressed)
        elif opcode == 9:  # ping frame (uvicorn's keep-alive): pong with the same payload
            self.pings += 1
            self.worker.ws_pings += 1
            if self.transport is not None and not self.lost:
                self.transport.write(_mask_frame(0xA, payload))
        elif opcode == 8:
            if len(payload) >= 2:
                self.close_code = int.from_bytes(payload[:2], "big")
            self.close()

    def _message(self, payload: bytes, compressed: bool) -> None:
        if compressed:
            payload = self.inflater.decompress(payload + b"\x00\x00\xff\xff")
        now = time.time()
        if len(payload) < 100:
            kind = json.loads(payload).get("type")
            if kind == "ping":
                self.pings += 1
                self.worker.gql_pings += 1
                self.send_text(PONG_TEXT)
                return
            if kind == "connection_ack":
                if not self.acked.done():
                    self.acked.set_result(None)
                return
            if kind == "pong":
                return
        self.msgs.append((now, payload))
        self.count += 1
        if not self.first.done():
            self.first.set_result(None)


async def _open(worker: _Worker, cmd: dict[str, Any]) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    port = int(cmd["port"])
    init = json.dumps(
        {"type": "connection_init", "payload": {"authorization": f"Bearer {cmd['token']}"}}
    ).encode()
    after = cmd.get("after")
    wait_first = after is not None
    frames: dict[str, bytes] = {}
    for sid, _ in cmd["subs"]:
        variables: dict[str, Any] = {"sid": sid}
        if after is not None:
            variables["after"] = after
        frames[sid] = json.dumps(
            {
                "id": "1",
                "type": "subscribe",
                "payload": {"query": EVENTS_QUERY, "variables": variables},
            }
        ).encode()
    sem = asyncio.Semaphore(int(cmd.get("concurrency", 32)))
    timeout = float(cmd.get("timeout", 120))
    stats = {"connected": 0, "acked": 0, "first": 0}
    errors: Counter[str] = Counter()

    async def one(sid: str) -> None:
        async with sem:
            try:
                _, conn = await asyncio.wait_for(
                    loop.create_connection(
                        lambda: _Conn(worker, sid, init, port, bool(cmd.get("deflate"))),
                        HOST,
                        port,
                    ),
                    timeout,
                )
                worker.conns.append(conn)
                stats["connected"] += 1
                await asyncio.wait_for(asyncio.shield(conn.acked), timeout)
                stats["acked"] += 1
                conn.send_text(frames[sid])
                if wait_first:
                    await asyncio.wait_for(asyncio.shield(conn.first), timeout)
                    stats["first"] += 1
            except Exception as exc:  # counted and reported, the benchmark goes on
                errors[f"{type(exc).__name__}: {exc}"[:80]] += 1

    await asyncio.gather(*(one(sid) for sid, n in cmd["subs"] for _ in range(n)))
    return {**stats, "errors": dict(errors)}


async def _wait(worker: _Worker, cmd: dict[str, Any]) -> dict[str, Any]:
    deadline = time.monotonic() + float(cmd.get("timeout", 120))
    target = int(cmd["count"])
    sid = cmd.get("sid")
    conns = [c for c in worker.conns if sid is None or c.sid == sid]
    while True:
        pending = [c for c in conns if not c.lost and len(c.msgs) < target]
        if not pending:
            return {"done": True}
        if time.monotonic() > deadline:
            return {"done": False, "pending": len(pending)}
        await asyncio.sleep(0.05)


def _epoch(value: str) -> float:
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        from datetime import UTC

        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def _collect(worker: _Worker, cmd: dict[str, Any]) -> dict[str, Any]:
    sid = cmd.get("sid")
    out = []
    raw: list[str] = []
    for i, c in enumerate(worker.conns):
        if sid is not None and c.sid != sid:
            continue
        seqs: list[int] = []
        times: list[float] = []
        created: list[float] = []
        bad = 0
        sample = ""
        for t, payload in c.msgs:
            msg = json.loads(payload)
            data = (msg.get("payload") or {}).get("data") if msg.get("type") == "next" else None
            if not data or msg["payload"].get("errors"):
                bad += 1
                sample = sample or payload.decode(errors="replace")[:300]
                continue
            event = data["sessionEvents"]
            seqs.append(event["sequence"])
            times.append(round(t, 6))
            created.append(round(_epoch(event["createdAt"]), 6))
        out.append(
            {
                "sid": c.sid,
                "seq": seqs,
                "t": times,
                "created": created,
                "bad": bad,
                "sample": sample,
                "lost": c.lost,
                "close_code": c.close_code,
            }
        )
        if cmd.get("raw") and not raw and i == 0:
            raw = [p.decode() for _, p in c.msgs]
    return {"conns": out, "raw": raw}


def _status(worker: _Worker) -> dict[str, Any]:
    codes: Counter[str] = Counter()
    for c in worker.conns:
        if c.lost:
            codes[str(c.close_code)] += 1
    return {
        "conns": len(worker.conns),
        "open": sum(1 for c in worker.conns if not c.lost),
        "lost": sum(1 for c in worker.conns if c.lost),
        "close_codes": dict(codes),
        "ws_pings": worker.ws_pings,
        "gql_pings": worker.gql_pings,
        "conns_pinged": sum(1 for c in worker.conns if c.pings),
        "messages": sum(c.count for c in worker.conns),
        "handshake_failures": dict(worker.handshake_failures),
    }


async def _client_main() -> None:
    raise_nofile()
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=1 << 26)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    worker = _Worker()
    out = sys.stdout.buffer

    def reply(obj: Any) -> None:
        out.write(json.dumps(obj).encode() + b"\n")
        out.flush()

    while True:
        line = await reader.readline()
        if not line:
            break
        cmd = json.loads(line)
        op = cmd["op"]
        try:
            if op == "hello":
                reply({"pid": os.getpid()})
            elif op == "open":
                reply(await _open(worker, cmd))
            elif op == "status":
                reply(_status(worker))
            elif op == "wait":
                reply(await _wait(worker, cmd))
            elif op == "reset":
                for c in worker.conns:
                    c.msgs = []
                reply({"ok": True})
            elif op == "collect":
                reply(_collect(worker, cmd))
            elif op == "close":
                for c in worker.conns:
                    c.close()
                await asyncio.sleep(0.5)
                worker.conns.clear()
                worker.ws_pings = worker.gql_pings = 0
                reply({"ok": True})
            else:
                reply({"fatal": f"unknown op {op}"})
        except Exception as exc:  # reported to the orchestrator
            reply({"fatal": f"{type(exc).__name__}: {exc}"})


# ---------------------------------------------------------------------------------------------
# Baseline server: bare websocket broadcast


def _baseline_main(port: int, messages_path: str) -> None:
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route, WebSocketRoute
    from starlette.websockets import WebSocket, WebSocketDisconnect

    raise_nofile()
    loaded = json.loads(Path(messages_path).read_text())
    messages: list[str] = loaded["messages"]
    first: str = loaded["first"]
    subscribers: set[WebSocket] = set()
    ack = json.dumps({"type": "connection_ack"})
    pong = json.dumps({"type": "pong"})

    async def ws_endpoint(websocket: WebSocket) -> None:
        await websocket.accept(subprotocol=PROTOCOL)
        try:
            while True:
                msg = json.loads(await websocket.receive_text())
                kind = msg.get("type")
                if kind == "connection_init":
                    await websocket.send_text(ack)
                elif kind == "subscribe":
                    subscribers.add(websocket)
                    if first:  # like bipa's replay of the stored entries (afterSequence)
                        await websocket.send_text(first)
                elif kind == "ping":
                    await websocket.send_text(pong)
                elif kind == "complete":
                    subscribers.discard(websocket)
        except WebSocketDisconnect:
            pass
        finally:
            subscribers.discard(websocket)

    async def broadcast(request: Request) -> JSONResponse:
        text = messages[int(request.path_params["k"])]
        sent = 0
        for ws in list(subscribers):
            try:
                await ws.send_text(text)
                sent += 1
            except Exception:  # a closed socket: dropped like any broadcast would
                subscribers.discard(ws)
        return JSONResponse({"sent": sent})

    async def healthz(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok", "subscribers": len(subscribers)})

    app = Starlette(
        routes=[
            Route("/healthz", healthz, methods=["GET"]),
            Route("/broadcast/{k:int}", broadcast, methods=["POST"]),
            WebSocketRoute(WS_PATH, ws_endpoint),
        ]
    )
    from bipa.settings import Settings

    # The options bipa/commands.py:serve passes to uvicorn.run.
    uvicorn.run(
        app,
        host=HOST,
        port=port,
        log_config=None,
        ws_max_size=1_048_576,
        proxy_headers=False,
        # The websocket implementation bipa serve uses (BIPA_WS_IMPL, bipa/settings.py).
        ws=Settings.from_env().ws_impl,
    )


# ---------------------------------------------------------------------------------------------
# Profiled `bipa serve`: SIGUSR1 starts a profiler, SIGUSR2 stops it and writes the report


def _profiled_serve_main() -> int:
    kind = os.environ.get("BENCH_PROFILE", "pyinstrument")
    out = os.environ["BENCH_PROFILE_OUT"]
    state: dict[str, Any] = {}

    import gc

    gc_stats: dict[Any, Any] = {}

    def gc_callback(phase: str, info: dict[str, Any]) -> None:
        if not gc_stats.get("on"):
            return
        gen = info["generation"]
        if phase == "start":
            gc_stats["t0"] = time.process_time()
        else:
            n, spent, collected = gc_stats.setdefault(gen, (0, 0.0, 0))
            gc_stats[gen] = (
                n + 1,
                spent + time.process_time() - gc_stats["t0"],
                collected + info["collected"],
            )

    gc.callbacks.append(gc_callback)

    def gc_report() -> str:
        lines = [
            f"=== cyclic GC during the profiled window (threshold {gc.get_threshold()}, "
            f"tracked objects now {len(gc.get_objects())}) ==="
        ]
        for gen in (0, 1, 2):
            n, spent, collected = gc_stats.get(gen, (0, 0.0, 0))
            lines.append(f"gen{gen}: {n} collections, {spent:.3f} s CPU, {collected} collected")
        return "\n".join(lines) + "\n\n"

    def start(signum: int, frame: Any) -> None:
        for gen in (0, 1, 2):
            gc_stats.pop(gen, None)
        gc_stats["on"] = True
        if kind == "pyinstrument":
            from pyinstrument import Profiler

            profiler = Profiler(interval=0.0005, async_mode="disabled")
            profiler.start()
            state["p"] = profiler
        elif kind == "cprofile":
            import cProfile

            prof = cProfile.Profile(time.process_time)
            prof.enable()
            state["p"] = prof
        elif kind == "tracemalloc":
            import tracemalloc

            tracemalloc.start(int(os.environ.get("BENCH_TRACEMALLOC_FRAMES", "10")))
            state["p"] = tracemalloc.take_snapshot()

    def stop(signum: int, frame: Any) -> None:
        p = state.pop("p", None)
        gc_stats["on"] = False
        if p is None:
            return
        if kind == "pyinstrument":
            p.stop()
            session = p.last_session
            tree = p.output_text(unicode=True, color=False, show_all=False)
            flat = p.output_text(unicode=True, color=False, flat=True, time="percent_of_total")
            full = p.output_text(
                unicode=True,
                color=False,
                show_all=True,
                time="percent_of_total",
                processor_options={"filter_threshold": 0.02},
            )
            Path(out).write_text(
                gc_report() + f"CPU time {session.cpu_time:.2f} s of {session.duration:.2f} s"
                "\n\n"
                + tree
                + "\n=== flat, self time ===\n"
                + flat[:12000]
                + "\n=== full tree (nodes >= 2%) ===\n"
                + full
            )
        elif kind == "cprofile":
            import io
            import pstats

            p.disable()
            p.dump_stats(out + ".pstats")
            buf = io.StringIO()
            stats = pstats.Stats(p, stream=buf)
            stats.sort_stats("tottime").print_stats(60)
            stats.sort_stats("cumulative").print_stats(80)
            Path(out).write_text(gc_report() + buf.getvalue())
        elif kind == "tracemalloc":
            import gc
            import tracemalloc

            gc.collect()
            snap = tracemalloc.take_snapshot()
            lines = []
            total = sum(st.size_diff for st in snap.compare_to(p, "filename"))
            lines.append(f"=== total traced growth {total / 1048576:.1f} MiB ===")
            lines.append("=== top by filename ===")
            lines.extend(str(st) for st in snap.compare_to(p, "filename")[:30])
            for key in ("lineno", "traceback"):
                diff = snap.compare_to(p, key)
                lines.append(f"=== top by {key} ===")
                for stat in diff[: 40 if key == "lineno" else 12]:
                    lines.append(str(stat))
                    if key == "traceback":
                        lines.extend("      " + ln for ln in stat.traceback.format()[-16:])
            Path(out).write_text(gc_report() + "\n".join(lines))
            tracemalloc.stop()

    signal.signal(signal.SIGUSR1, start)
    signal.signal(signal.SIGUSR2, stop)
    from bipa.cli import main

    host = os.environ.get("BIPA_HOST", HOST)
    return main(["serve", "--host", host, "--port", os.environ["BIPA_PORT"]])


if __name__ == "__main__":
    mode = sys.argv[1] if len(sys.argv) > 1 else ""
    if mode == "client":
        try:
            import uvloop

            uvloop.run(_client_main())
        except ImportError:
            asyncio.run(_client_main())
    elif mode == "baseline" and len(sys.argv) == 4:
        _baseline_main(int(sys.argv[2]), sys.argv[3])
    elif mode == "profiled-serve":
        sys.exit(_profiled_serve_main())
    else:
        print(
            "usage: live_common.py client | baseline PORT MESSAGES.json | profiled-serve",
            file=sys.stderr,
        )
        sys.exit(2)
