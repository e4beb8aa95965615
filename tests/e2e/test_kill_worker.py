"""A `bipa worker` killed with SIGKILL in the middle of an import: a second worker takes the
job over once the first one's heartbeat is stale, and every row is added exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import ROOT, LiveServer
from tests.e2e import jobs_support as js
from tests.e2e.conftest import Caller
from tests.e2e.wsclient import WsClient

ROWS = 3_000
FAST = {
    "BIPA_IMPORT_BATCH": "20",
    "BIPA_JOBS_HEARTBEAT": "0.5",
    "BIPA_JOBS_STALLED_AFTER": "3",
}


class Worker:
    """A real `bipa worker` process."""

    def __init__(self, database_url: str, name: str) -> None:
        self.log_path: Path = ROOT / "test-artifacts" / f"worker-{name}-{os.getpid()}.log"
        self.log_path.parent.mkdir(exist_ok=True)
        env = {**os.environ, "DATABASE_URL": database_url, "BIPA_LOG_LEVEL": "INFO", **FAST}
        self._log = open(self.log_path, "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bipa.cli", "worker"],
            env=env,
            stdout=self._log,
            stderr=self._log,
        )

    def wait_started(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log_path.read_text()[-2000:]
            if "job worker started" in self.log_path.read_text(errors="replace"):
                return
            time.sleep(0.1)
        raise AssertionError("the worker did not start")

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self._log.close()


@pytest.fixture
def workers() -> Iterator[list[Worker]]:
    started: list[Worker] = []
    yield started
    for w in started:
        w.stop()


@pytest.fixture
def server(database_url: str) -> Iterator[LiveServer]:
    # No job worker inside the server: only the `bipa worker` processes run jobs.
    s = LiveServer(database_url, {"BIPA_RUN_WORKER": "false", **FAST}).start()
    yield s
    s.stop()


async def test_a_worker_killed_mid_import_leaves_every_row_added_once(
    server: LiveServer, workers: list[Worker], make_user: Any, database_url: str
) -> None:
    first = Worker(database_url, "first")
    workers.append(first)
    first.wait_started()
    with httpx.Client(base_url=server.url, timeout=60) as client:
        made = await make_user("MANAGER")
        manager = Caller(made.id, made.name, made.role, made.token, lambda: client)
        sid = js.new_session(manager, "Manifesto grande")
        data = js.manifest_csv(js.rows("KILL", ROWS))
        answer = js.upload(client, manager, sid, data, "grande.csv")
        assert answer["__typename"] == "JobSuccess", answer
        job_id = answer["job"]["id"]

        states: list[dict[str, Any]] = []
        async with WsClient(server.ws_url, manager.token) as ws:
            assert await ws.acked()
            sub = await ws.subscribe(js.PROGRESS, id=job_id)
            while True:
                msg = await ws.next(sub, timeout=60)
                assert msg["type"] == "next", msg
                states.append(msg["payload"]["data"]["jobProgress"])
                if 0 < states[-1]["progress"] < 100:
                    break
            first.kill()
            at_kill = (await js.counts(database_url, sid))["packages"]
            assert 0 < at_kill < ROWS, "killed mid-import"
            second = Worker(database_url, "second")
            workers.append(second)
            while True:
                msg = await ws.next(sub, timeout=120)
                if msg["type"] == "complete":
                    break
                assert "errors" not in msg["payload"], msg
                states.append(msg["payload"]["data"]["jobProgress"])

        js.assert_monotonic(states)
        job = manager(js.JOB, id=job_id)["job"]
    assert job["status"] == "SUCCEEDED", job
    assert (job["done"], job["failed"], job["total"], job["progress"]) == (ROWS, 0, ROWS, 100)
    assert job["attempts"] >= 2, job  # the retry shows
    assert job["result"]["added"] == ROWS
    counts = await js.counts(database_url, sid)
    assert counts == dict.fromkeys(("packages", "distinct", "added", "added_ids"), ROWS)
    log = second.log_path.read_text(errors="replace")
    assert "job of a lost worker retried" in log  # the second worker took it over
    assert "Traceback" not in log
