"""Quiet, honest output: JSON lines only on stderr, client mistakes are not our errors, a
database that cannot be used is one line and exit code 2, no nanobind dump at exit."""

from __future__ import annotations

import io
import json
import logging
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from graphql import GraphQLError

from db.enums import Role
from domain import users as user_service
from domain.uow import UnitOfWork
from gql.schema import build_schema, is_client_error
from tests.conftest import ROOT, LiveServer, with_database

pytestmark = pytest.mark.e2e  # these tests start servers

PHOTO = ROOT / "tests" / "photos" / "ean13-2" / "01.png"
UNREACHABLE = "postgresql://postgres:s3cret@127.0.0.1:1/bipa"


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "BIPA_"))}
    return {**env, "BIPA_LOG_LEVEL": "INFO", **extra}


def _bipa(
    *args: str, env: dict[str, str], timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bipa.cli", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def json_lines(text: str) -> list[dict[str, Any]]:
    """Every line parsed as one JSON object; fails naming the first line that is not."""
    records = []
    for line in text.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            pytest.fail(f"a stderr line is not JSON: {line[:300]!r}\n---\n{text[-3000:]}")
        assert isinstance(record, dict), line
        records.append(record)
    return records


# ---- a database that cannot be used ----------------------------------------------------------


@pytest.mark.parametrize("command", ["serve", "migrate", "worker"])
def test_unreachable_database_is_one_line_and_exit_2(command: str) -> None:
    proc = _bipa(command, env=_env(DATABASE_URL=UNREACHABLE, BIPA_PORT="18999"))
    assert proc.returncode == 2, proc.stderr
    [line] = json_lines(proc.stderr)
    assert line["level"] == "error" and "exc" not in line
    assert "cannot use the database" in line["msg"] and "127.0.0.1:1/bipa" in line["msg"]
    assert "s3cret" not in proc.stderr, "the password never reaches a log line"
    assert proc.stdout == ""


@pytest.mark.parametrize("command", ["serve", "migrate"])
def test_missing_database_on_a_live_server_is_one_line_and_exit_2(
    database_url: str, command: str
) -> None:
    missing = with_database(database_url, f"bipa_missing_{uuid.uuid4().hex[:8]}")
    proc = _bipa(command, env=_env(DATABASE_URL=missing, BIPA_PORT="18999"))
    assert proc.returncode == 2, proc.stderr
    [line] = json_lines(proc.stderr)
    assert line["level"] == "error" and "does not exist" in line["msg"], line


# ---- client mistakes -------------------------------------------------------------------------


@pytest.fixture
async def token(engine: Any) -> str:
    from db.engine import make_sessionmaker

    async with UnitOfWork(make_sessionmaker(engine)) as uow:
        created = await user_service.create_user(
            uow, None, f"Quiet {uuid.uuid4().hex[:6]}", Role.MANAGER, None
        )
        await uow.commit()
    return created.token


def _new_log_lines(server: LiveServer, offset: int, wanted: Callable[[str], bool]) -> str:
    """What the server logged after `offset`, once `wanted` holds (its request lines)."""
    deadline = time.monotonic() + 10
    while True:
        with open(server.log_path, "rb") as fh:
            fh.seek(offset)
            text = fh.read().decode("utf-8", errors="replace")
        if wanted(text) or time.monotonic() > deadline:
            return text
        time.sleep(0.05)


CLIENT_MISTAKES = {
    "bad cursor": ('{ sessions(after: "not-a-cursor") { totalCount } }', None),
    "bad variable": (
        "query($first: Int) { sessions(first: $first) { totalCount } }",
        {"first": "ten"},
    ),
    "missing variable": ("query($id: ID!) { session(id: $id) { id } }", {}),
    "bad decimal variable": (
        "mutation($i: AddDelivererInput!) { addDeliverer(input: $i) { __typename } }",
        {
            "i": {
                "sessionId": "x",
                "userId": "y",
                "baseSalary": "a lot",
                "commissionPerDelivery": "1",
            }
        },
    ),
    "syntax error": ("{ sessions(", None),
    "unknown field": ("{ noSuchField }", None),
}


@pytest.mark.parametrize("name", list(CLIENT_MISTAKES))
def test_client_mistakes_are_logged_without_error_or_traceback(
    live_server: LiveServer, token: str, name: str
) -> None:
    query, variables = CLIENT_MISTAKES[name]
    offset = live_server.log_path.stat().st_size
    marker = f"quiet-{uuid.uuid4().hex}"
    r = httpx.post(
        live_server.url + "/graphql",
        json={"query": query, "variables": variables},
        headers={"authorization": f"Bearer {token}", "x-request-id": marker},
        timeout=30,
    )
    assert r.status_code in (200, 400), r.text
    assert r.json()["errors"], "the client is told what was wrong"
    text = _new_log_lines(live_server, offset, lambda t: '"request"' in t)
    records = json_lines(text)
    assert records, "the request was logged"
    bad = [rec for rec in records if rec["level"] in ("error", "critical") or "exc" in rec]
    assert not bad, bad
    assert "Traceback" not in text
    refused = [rec for rec in records if rec["msg"] == "graphql request refused"]
    assert refused and all(rec["level"] == "info" for rec in refused), records


def test_a_bug_is_still_an_error_with_its_traceback(caplog: pytest.LogCaptureFixture) -> None:
    try:
        raise RuntimeError("a resolver bug")
    except RuntimeError as exc:
        bug = GraphQLError("a resolver bug", original_error=exc, path=["me"])
    client = GraphQLError("invalid cursor", extensions={"code": "BAD_USER_INPUT"})
    assert not is_client_error(bug) and is_client_error(client)
    with caplog.at_level(logging.INFO):
        build_schema().process_errors([bug, client])
    levels = {r.getMessage().splitlines()[0]: r for r in caplog.records}
    assert levels["a resolver bug"].levelno == logging.ERROR
    assert levels["a resolver bug"].exc_info is not None
    refused = levels["graphql request refused"]
    assert refused.levelno == logging.INFO and refused.exc_info is None


# ---- JSON lines only, and no nanobind dump ---------------------------------------------------


def test_serve_writes_only_json_lines_and_exits_without_a_leak_dump(
    database_url: str, token: str
) -> None:
    # Its own server, webhook worker on (the default), so startup, scans and shutdown all log.
    server = LiveServer(database_url).start()
    try:
        operations = json.dumps(
            {
                "query": "mutation($input: ScanBarcodeInput!) { scanBarcode(input: $input) "
                "{ __typename } }",
                "variables": {"input": {"sessionId": "nope", "image": None, "intent": "IDENTIFY"}},
            }
        )
        r = httpx.post(
            server.url + "/graphql",
            data={"operations": operations, "map": json.dumps({"0": ["variables.input.image"]})},
            files={"0": ("photo.png", io.BytesIO(PHOTO.read_bytes()), "image/png")},
            headers={"authorization": f"Bearer {token}"},
            timeout=60,
        )
        assert r.status_code == 200, r.text
        httpx.post(server.url + "/graphql", json={"query": "{ nope }"}, timeout=30)
    finally:
        server.stop()
    text = server.log_text()
    assert "nanobind" not in text and "leaked" not in text, text[-3000:]
    messages = [rec["msg"] for rec in json_lines(text)]
    assert "bipa started" in messages and "bipa stopped" in messages
    assert any(m.startswith("Uvicorn running on") for m in messages), "uvicorn's own lines too"


def test_migrate_writes_only_json_lines(database_url: str) -> None:
    proc = _bipa("migrate", env=_env(DATABASE_URL=database_url))
    assert proc.returncode == 0, proc.stderr
    assert [rec["msg"] for rec in json_lines(proc.stderr)] == ["migrations applied"]


def test_worker_writes_only_json_lines(database_url: str) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "bipa.cli", "worker"],
        env=_env(DATABASE_URL=database_url),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    # Until it says it started (a fixed sleep was too short on a loaded machine), then stop.
    assert proc.stderr is not None
    lines: list[str] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        lines.append(line)
        if "job worker started" in line:
            break
    proc.send_signal(signal.SIGTERM)
    stdout, rest = proc.communicate(timeout=30)
    stderr = "".join(lines) + rest
    assert "job worker started" in stderr, stderr[-2000:]
    assert json_lines(stderr), "the worker says it started"
    assert stdout == ""


def test_warnings_and_crashes_are_json_lines(tmp_path: Path) -> None:
    script = (
        "import threading, warnings\n"
        "from bipa import logs\n"
        "logs.configure('INFO')\n"
        "warnings.warn('a library complains')\n"
        "t = threading.Thread(target=lambda: 1 / 0, name='helper'); t.start(); t.join()\n"
        "raise RuntimeError('boom')\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 1
    records = json_lines(proc.stderr)
    assert [r["level"] for r in records] == ["warning", "critical", "critical"], records
    assert "a library complains" in records[0]["msg"]
    assert "ZeroDivisionError" in records[1]["exc"] and records[1]["thread_name"] == "helper"
    assert "RuntimeError: boom" in records[2]["exc"]


def test_an_invalid_setting_is_one_json_line_and_exit_2() -> None:
    proc = _bipa("migrate", env=_env(BIPA_PORT="0"))
    assert proc.returncode == 2
    [line] = json_lines(proc.stderr)
    assert line["level"] == "error" and "BIPA_PORT" in line["msg"]
