"""Manifests made by the tests, the multipart upload, and following a job over a websocket."""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import Sequence
from typing import Any

import asyncpg
import httpx
import openpyxl

from tests.conftest import asyncpg_dsn
from tests.e2e import queries as q
from tests.e2e.conftest import Caller
from tests.e2e.wsclient import WsClient

HEADER_PT = ("Código de Rastreio", "Destinatário", "Telefone", "Rua", "Número", "Bairro",
             "Cidade", "UF", "CEP", "Entregador")  # fmt: skip

JOB_FIELDS = """id kind sessionId status progress done failed total attempts lastError result
requestedBy createdAt startedAt finishedAt downloadUrl problemsUrl"""

IMPORT = f"""mutation($sid: ID!, $file: Upload!, $dry: Boolean!, $aon: Boolean!, $key: String) {{
  importManifest(sessionId: $sid, file: $file, dryRun: $dry, allOrNothing: $aon, idempotencyKey: $key) {{
    __typename ... on JobSuccess {{ created job {{ {JOB_FIELDS} }} }} {q.ERR} }} }}"""

EXPORT = f"""mutation($sid: ID!, $format: ReportFormat!, $key: String) {{
  exportSessionReport(sessionId: $sid, format: $format, idempotencyKey: $key) {{
    __typename ... on JobSuccess {{ created job {{ {JOB_FIELDS} }} }} {q.ERR} }} }}"""

CANCEL = f"""mutation($id: ID!) {{ cancelJob(jobId: $id) {{
  __typename ... on JobSuccess {{ job {{ {JOB_FIELDS} }} }} {q.ERR} }} }}"""

JOB = f"""query($id: ID!) {{ job(id: $id) {{ {JOB_FIELDS} }} }}"""
JOBS = f"""query($sid: ID, $status: [JobStatus!]) {{ jobs(sessionId: $sid, status: $status) {{
  edges {{ node {{ {JOB_FIELDS} }} }} }} }}"""

PROGRESS = """subscription($id: ID!) { jobProgress(jobId: $id) {
  id status progress done failed total attempts lastError } }"""


def code(prefix: str, n: int) -> str:
    """A carrier-style alphanumeric code (no check digit to get right), unique per prefix."""
    return f"{prefix}{n:07d}"


def rows(prefix: str, n: int, *, start: int = 0, deliverer: str | None = None) -> list[list[str]]:
    return [
        [
            code(prefix, i),
            f"Destinatário {i}",
            "(11) 98765-4321",
            "Rua das Flores",
            str(100 + i),
            "Centro",
            "São Paulo",
            "SP",
            "01310-100",
            deliverer or "",
        ]
        for i in range(start, start + n)
    ]


def manifest_csv(
    body: Sequence[Sequence[str]],
    *,
    header: Sequence[str] = HEADER_PT,
    delimiter: str = ";",
    encoding: str = "utf-8-sig",
) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(body)
    return out.getvalue().encode(encoding)


def manifest_xlsx(body: Sequence[Sequence[str]], *, header: Sequence[str] = HEADER_PT) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(list(header))
    for row in body:
        sheet.append(list(row))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def multipart(doc: str, variables: dict[str, Any], data: bytes, filename: str) -> dict[str, Any]:
    """The GraphQL multipart request spec: operations, map, then the file part."""
    ops = {"query": doc, "variables": {**variables, "file": None}}
    return {
        "data": {"operations": json.dumps(ops), "map": json.dumps({"0": ["variables.file"]})},
        "files": {"0": (filename, data, "application/octet-stream")},
    }


def upload(
    client: httpx.Client,
    caller: Caller,
    sid: str,
    data: bytes,
    filename: str = "dia.csv",
    *,
    dry_run: bool = False,
    all_or_nothing: bool = False,
    key: str | None = None,
) -> dict[str, Any]:
    variables = {"sid": sid, "dry": dry_run, "aon": all_or_nothing, "key": key}
    r = client.post(
        "/graphql",
        headers={"authorization": f"Bearer {caller.token}"},
        **multipart(IMPORT, variables, data, filename),
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert "errors" not in body, body
    return body["data"]["importManifest"]  # type: ignore[no-any-return]


async def follow(ws_url: str, caller: Caller, job_id: str, timeout: float = 120) -> list[dict]:
    """Every state jobProgress sends, until it completes (a final state)."""
    states: list[dict[str, Any]] = []
    async with WsClient(ws_url, caller.token) as ws:
        assert await ws.acked()
        sub = await ws.subscribe(PROGRESS, id=job_id)
        while True:
            msg = await ws.next(sub, timeout=timeout)
            if msg["type"] == "complete":
                return states
            assert msg["type"] == "next", msg
            assert "errors" not in msg["payload"], msg["payload"]
            states.append(msg["payload"]["data"]["jobProgress"])


def assert_monotonic(states: list[dict[str, Any]]) -> None:
    assert states, "no state"
    progress = [s["progress"] for s in states]
    done = [s["done"] for s in states]
    assert progress == sorted(progress), progress
    assert done == sorted(done), done
    assert states[-1]["status"] in ("SUCCEEDED", "FAILED", "CANCELLED")


async def counts(database_url: str, sid: str) -> dict[str, int]:
    """What the database holds for the session: packages, distinct codes, package.added rows."""
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        session_id = uuid.UUID(sid)
        packages = await conn.fetchval(
            "SELECT count(*) FROM session_packages WHERE session_id = $1", session_id
        )
        distinct = await conn.fetchval(
            "SELECT count(DISTINCT barcode) FROM session_packages WHERE session_id = $1",
            session_id,
        )
        added = await conn.fetchval(
            "SELECT count(*) FROM session_audit_log WHERE session_id = $1"
            " AND action = 'package.added'",
            session_id,
        )
        added_ids = await conn.fetchval(
            "SELECT count(DISTINCT details->>'packageId') FROM session_audit_log"
            " WHERE session_id = $1 AND action = 'package.added'",
            session_id,
        )
        return {"packages": packages, "distinct": distinct, "added": added, "added_ids": added_ids}
    finally:
        await conn.close()


def new_session(manager: Caller, name: str = "Manifesto do dia") -> str:
    made = manager(q.CREATE_SESSION, name=name)["createSession"]
    assert made["__typename"] == "SessionSuccess", made
    return str(made["session"]["id"])
