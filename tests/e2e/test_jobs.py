"""Background jobs end to end: a real server with its embedded job worker, real multipart
uploads over HTTP, jobProgress over a real websocket, files downloaded through their links and
read back with csv / openpyxl / pypdf, webhooks at a local receiver."""

from __future__ import annotations

import asyncio
import csv
import io
import zipfile
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import openpyxl
import pypdf
import pytest

from tests.conftest import LiveServer
from tests.e2e import jobs_support as js
from tests.e2e import queries as q
from tests.e2e.conftest import Caller
from tests.e2e.webhook_receiver import Receiver
from tests.e2e.wsclient import EVENTS, WsClient

MAX_BYTES = 200_000
MAX_ROWS = 2_000
ENV = {
    "BIPA_RUN_WORKER": "true",
    "BIPA_IMPORT_BATCH": "25",
    "BIPA_IMPORT_MAX_BYTES": str(MAX_BYTES),
    "BIPA_IMPORT_MAX_ROWS": str(MAX_ROWS),
    "BIPA_WEBHOOK_POLL": "0.05",
    "BIPA_WEBHOOK_BACKOFF": "0.2,0.4,0.8",
    "BIPA_WEBHOOK_RETRY_FOR": "0",
}

WEBHOOK = """mutation($url: String!, $events: [String!]!) {
  createWebhook(input: {url: $url, events: $events}) {
    __typename ... on WebhookSecretSuccess { webhook { id } } ... on Error { message } } }"""


@pytest.fixture(scope="module")
def server(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    data_dir = tmp_path_factory.mktemp("jobs-data")
    s = LiveServer(database_url, {**ENV, "BIPA_DATA_DIR": str(data_dir)}).start()
    s.data_dir = data_dir  # type: ignore[attr-defined]
    yield s
    s.stop()


def _uploads(server: LiveServer, sid: str) -> list[Path]:
    """The manifests stored for a session (the local object store's files)."""
    root: Path = server.data_dir  # type: ignore[attr-defined]
    return sorted(root.glob(f"objects/imports/*/{sid}/*"))


@pytest.fixture(scope="module")
def client(server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=60) as c:
        yield c


@pytest.fixture
def on(client: httpx.Client) -> Any:
    """A caller made by `make_user`, speaking to this module's server."""

    def bind(caller: Caller) -> Caller:
        return Caller(caller.id, caller.name, caller.role, caller.token, lambda: client)

    return bind


async def _manager(make_user: Any, on: Any) -> Caller:
    return on(await make_user("MANAGER"))  # type: ignore[no-any-return]


async def _courier(manager: Caller, sid: str, make_user: Any, name: str) -> str:
    user = await make_user("DELIVERER", name=name)
    added = manager(q.ADD_DELIVERER, sid=sid, uid=user.id, base="100.00", commission="2.50")
    assert added["addDeliverer"]["__typename"] == "AddDelivererSuccess", added
    return str(added["addDeliverer"]["deliverer"]["id"])


def _download(client: httpx.Client, url: str) -> httpx.Response:
    r = client.get(url)
    assert r.status_code == 200, r.text
    return r


def _problems(client: httpx.Client, url: str) -> list[list[str]]:
    data = _download(client, url).content
    assert data.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig")), delimiter=";"))


async def _done(server: LiveServer, caller: Caller, answer: dict[str, Any]) -> dict[str, Any]:
    """Follows the job to its end over a websocket; then the whole job, read over HTTP."""
    assert answer["__typename"] == "JobSuccess", answer
    job_id = answer["job"]["id"]
    states = await js.follow(server.ws_url, caller, job_id)
    js.assert_monotonic(states)
    job = caller(js.JOB, id=job_id)["job"]
    assert job["status"] == states[-1]["status"]
    return {"states": states, **job}


async def test_csv_import_followed_to_succeeded_with_the_events_of_scans(
    server: LiveServer, client: httpx.Client, make_user: Any, on: Any, database_url: str
) -> None:
    manager = await _manager(make_user, on)
    sid = js.new_session(manager)
    did = await _courier(manager, sid, make_user, "Joana Prado")
    # One package the way a scanner adds it, to compare its event with the imported ones'.
    scanned = manager(q.ADD_PACKAGES, sid=sid, packages=[{"barcode": "SCAN0000001"}])
    assert scanned["addPackages"]["__typename"] == "AddPackagesSuccess"
    after = scanned["addPackages"]["session"]["lastSequence"] - 1
    n = 120
    data = js.manifest_csv(js.rows("CSVA", n, deliverer="joana prado"))

    async with WsClient(server.ws_url, manager.token) as ws:
        assert await ws.acked()
        events = await ws.subscribe(EVENTS, sid=sid, after=after)
        answer = js.upload(client, manager, sid, data, "manifesto.csv")
        assert answer["created"] is True and answer["job"]["status"] in ("QUEUED", "RUNNING")
        assert answer["job"]["kind"] == "IMPORT_MANIFEST"
        job = await _done(server, manager, answer)
        seen = await ws.take(events, 1 + 1 + n + 1, timeout=60)  # scan, job.created, rows, end
    states = job["states"]
    assert job["status"] == "SUCCEEDED", job
    assert (job["done"], job["failed"], job["total"], job["progress"]) == (n, 0, n, 100)
    assert job["attempts"] == 1 and job["problemsUrl"] is None
    assert job["result"]["added"] == n and job["result"]["applied"] is True
    assert len(states) >= 2 and states[0]["progress"] < 100  # followed, not only the end
    assert all(0 <= s["progress"] <= 100 for s in states)

    counts = await js.counts(database_url, sid)
    assert counts == {"packages": n + 1, "distinct": n + 1, "added": n + 1, "added_ids": n + 1}
    session = manager(q.SESSION, id=sid)["session"]
    assert session["progress"]["total"] == n + 1
    courier = next(d for d in session["deliverers"] if d["id"] == did)
    assert courier["packagesAssigned"] == n

    actions = [e["action"] for e in seen]
    assert actions.count("package.added") == n + 1
    assert actions[0] == "package.added" and actions[1] == "job.created"
    assert actions[-1] == "job.succeeded"
    sequences = [e["sequence"] for e in seen]
    assert sequences == list(range(sequences[0], sequences[0] + len(seen)))  # no gap
    scan_event = next(e for e in seen if e["action"] == "package.added")
    imported = [e for e in seen if e["action"] == "package.added"][1:]
    assert all(set(e["details"]) == set(scan_event["details"]) for e in imported)
    assert {e["actor"]["id"] for e in imported} == {manager.id}  # who asked, like a scan
    assert imported[0]["details"]["barcode"] == js.code("CSVA", 0)
    assert all(e["details"]["delivererId"] == did for e in imported)


async def test_xlsx_import_reports_bad_rows_in_a_problems_csv(
    server: LiveServer, client: httpx.Client, make_user: Any, on: Any, database_url: str
) -> None:
    manager = await _manager(make_user, on)
    sid = js.new_session(manager)
    body = js.rows("XLSX", 30)
    body[4][0] = '=HYPERLINK("http://x")'  # a formula: never evaluated, refused
    body[9][9] = "Fulano de Tal"  # not a deliverer of the session
    body[14][8] = "123"  # not a CEP
    header = ("Tracking code", "Recipient", "Phone", "Street", "Number", "Neighbourhood",
              "City", "State", "Postal code", "Deliverer")  # fmt: skip
    data = js.manifest_xlsx(body, header=header)
    job = await _done(server, manager, js.upload(client, manager, sid, data, "dia.xlsx"))
    assert job["status"] == "SUCCEEDED", job
    assert (job["done"], job["failed"], job["total"], job["progress"]) == (27, 3, 30, 100)
    rows = _problems(client, job["problemsUrl"])
    assert rows[0] == ["Linha", "Coluna", "Código", "Motivo"]
    by_row = {int(r[0]): r for r in rows[1:]}
    assert sorted(by_row) == [6, 11, 16]  # the header is row 1
    assert by_row[6][2] == "FORMULA_NOT_ALLOWED"
    assert by_row[11][2] == "UNKNOWN_DELIVERER" and "Fulano de Tal" in by_row[11][3]
    assert by_row[16][1] and by_row[16][3]  # a column and a reason in Portuguese
    # The link is minted on each read: a second read is another valid link to the same file.
    again = manager(js.JOB, id=job["id"])["job"]["problemsUrl"]
    assert _problems(client, again) == rows
    counts = await js.counts(database_url, sid)
    assert counts["packages"] == counts["added"] == counts["distinct"] == 27


async def test_latin1_comma_csv_is_read(
    server: LiveServer, client: httpx.Client, make_user: Any, on: Any, database_url: str
) -> None:
    manager = await _manager(make_user, on)
    sid = js.new_session(manager)
    data = js.manifest_csv(js.rows("LATN", 5), delimiter=",", encoding="latin-1")
    job = await _done(server, manager, js.upload(client, manager, sid, data, "carrier.txt"))
    assert (job["status"], job["done"], job["failed"]) == ("SUCCEEDED", 5, 0), job
    session = manager(q.SESSION, id=sid)["session"]
    names = {e["node"]["barcode"] for e in session["packages"]["edges"]}
    assert names == {js.code("LATN", i) for i in range(5)}


async def test_dry_run_writes_nothing_and_reports(
    server: LiveServer, client: httpx.Client, make_user: Any, on: Any, database_url: str
) -> None:
    manager = await _manager(make_user, on)
    sid = js.new_session(manager)
    body = js.rows("DRY", 10)
    body[3][9] = "Ninguém"
    answer = js.upload(client, manager, sid, js.manifest_csv(body), dry_run=True)
    job = await _done(server, manager, answer)
    assert job["status"] == "SUCCEEDED", job
    assert job["result"]["dryRun"] is True and job["result"]["applied"] is False
    assert (job["done"], job["failed"], job["total"]) == (9, 1, 10)
    assert [r[0] for r in _problems(client, job["problemsUrl"])[1:]] == ["5"]
    assert await js.counts(database_url, sid) == dict.fromkeys(
        ("packages", "distinct", "added", "added_ids"), 0
    )


async def test_all_or_nothing_with_a_bad_row_writes_nothing(
    server: LiveServer, client: httpx.Client, make_user: Any, on: Any, database_url: str
) -> None:
    manager = await _manager(make_user, on)
    sid = js.new_session(manager)
    body = js.rows("AON", 60)
    body[59][0] = ""  # the last row has no tracking code
    answer = js.upload(client, manager, sid, js.manifest_csv(body), all_or_nothing=True)
    job = await _done(server, manager, answer)
    assert job["status"] == "SUCCEEDED" and job["result"]["applied"] is False, job
    assert job["failed"] == 1 and job["result"]["added"] == 0
    assert [r[0] for r in _problems(client, job["problemsUrl"])[1:]] == ["61"]
    assert (await js.counts(database_url, sid))["packages"] == 0
    # The same file with the row fixed goes in whole.
    body[59][0] = js.code("AON", 59)
    answer = js.upload(client, manager, sid, js.manifest_csv(body), all_or_nothing=True)
    job = await _done(server, manager, answer)
    assert (job["status"], job["done"], job["failed"]) == ("SUCCEEDED", 60, 0)
    assert (await js.counts(database_url, sid))["packages"] == 60


def _many_rows(n: int) -> bytes:
    return ("codigo\r\n" + "".join(f"ROW{i:07d}\r\n" for i in range(n))).encode()


def _zip_bomb() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("xl/worksheets/sheet1.xml", b"\0" * 40_000_000)  # ~40 KB compressed
    return out.getvalue()


@pytest.mark.parametrize(
    ("name", "data", "code"),
    [
        (
            "dia.csv",
            b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj <<>> endobj\n" * 10,
            "NOT_A_SPREADSHEET",
        ),
        ("foto.xlsx", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4, "NOT_A_SPREADSHEET"),
        ("grande.csv", js.manifest_csv(js.rows("BIG", 4_000)), "MANIFEST_TOO_LARGE"),
        ("linhas.csv", _many_rows(MAX_ROWS + 1), "TOO_MANY_ROWS"),
        ("bomba.xlsx", _zip_bomb(), "UNSAFE_ARCHIVE"),
    ],
    ids=["pdf-as-csv", "png-as-xlsx", "too-large", "too-many-rows", "zip-bomb"],
)
async def test_bad_files_are_coded_errors_and_write_nothing(
    server: LiveServer,
    client: httpx.Client,
    make_user: Any,
    on: Any,
    database_url: str,
    name: str,
    data: bytes,
    code: str,
) -> None:
    manager = await _manager(make_user, on)
    sid = js.new_session(manager)
    before = len(server.log_text())
    answer = js.upload(client, manager, sid, data, name)
    assert answer["__typename"] == "ValidationError", answer
    assert answer["code"] == code, answer
    assert answer["field"] == "file" and answer["message"]
    assert manager(js.JOBS, sid=sid)["jobs"]["edges"] == []
    assert (await js.counts(database_url, sid))["packages"] == 0
    assert _uploads(server, sid) == []
    assert "Traceback" not in server.log_text()[before:]


async def _completed_session(manager: Caller, make_user: Any) -> tuple[str, dict[str, Any]]:
    """Two couriers, five parcels (four delivered, one failed): COMPLETED, with its snapshot."""
    sid = js.new_session(manager, "Sessão para relatório")
    couriers = [await _courier(manager, sid, make_user, f"Courier {i} Ñandú") for i in (1, 2)]
    added = manager(
        q.ADD_PACKAGES, sid=sid, packages=[{"barcode": js.code("REP", i)} for i in range(5)]
    )["addPackages"]["added"]
    pids = [p["id"] for p in added]
    manager(q.ASSIGN, sid=sid, pids=pids[:3], did=couriers[0])
    manager(q.ASSIGN, sid=sid, pids=pids[3:], did=couriers[1])
    manager(q.session_action("startSession"), sid=sid)
    for pid in pids[:4]:
        manager(q.UPDATE_STATUS, pid=pid, status="DELIVERED")
    last = manager(q.UPDATE_STATUS, pid=pids[4], status="FAILED", reason="=ausente")
    assert last["updatePackageStatus"]["session"]["status"] == "COMPLETED", last
    snapshot = manager(q.SESSION, id=sid)["session"]["financialSnapshot"]
    return sid, snapshot


async def test_reports_of_a_completed_session_in_three_formats(
    server: LiveServer, client: httpx.Client, make_user: Any, on: Any
) -> None:
    manager = await _manager(make_user, on)
    sid, snapshot = await _completed_session(manager, make_user)
    total = Decimal(snapshot["totalCost"])
    assert total == Decimal("210.00")  # two bases of 100.00, four deliveries at 2.50
    pay = {d["name"]: d for d in snapshot["deliverers"]}
    files: dict[str, bytes] = {}
    for fmt in ("CSV", "XLSX", "PDF"):
        answer = manager(js.EXPORT, sid=sid, format=fmt)["exportSessionReport"]
        job = await _done(server, manager, answer)
        assert job["status"] == "SUCCEEDED" and job["kind"] == "EXPORT_REPORT", job
        assert job["downloadUrl"] and job["result"]["format"] == fmt
        files[fmt] = _download(client, job["downloadUrl"]).content

    rows = list(csv.reader(io.StringIO(files["CSV"].decode("utf-8-sig")), delimiter=";"))
    assert rows[0] == ["Relatório da sessão Sessão para relatório"]
    codes = {r[0]: r for r in rows if r and r[0].startswith("REP")}
    assert len(codes) == 5
    assert codes[js.code("REP", 4)][9] == "'=ausente"  # escaped, never a formula
    head = rows.index(
        ["Entregador", "Salário base", "Comissão por entrega", "Entregas", "Comissão", "Total"]
    )
    lines = {r[0]: r for r in rows[head + 1 :] if r and r[0] in pay}
    for name, d in pay.items():
        assert Decimal(lines[name][5]) == Decimal(d["totalEarned"])
        assert Decimal(lines[name][1]) == Decimal(d["baseSalary"])
        assert int(lines[name][3]) == d["delivered"]
    assert next(r for r in rows if r and r[0] == "Total")[5] == f"{total:.2f}"

    sheet = openpyxl.load_workbook(io.BytesIO(files["XLSX"])).worksheets[0]
    values = [[c.value for c in row] for row in sheet.iter_rows()]
    assert values[0][0] == "Relatório da sessão Sessão para relatório"
    total_row = next(r for r in values if r and r[0] == "Total")
    assert Decimal(str(total_row[5])) == total
    with zipfile.ZipFile(io.BytesIO(files["XLSX"])) as z:
        assert "<f>" not in z.read("xl/worksheets/sheet1.xml").decode()

    assert files["PDF"].startswith(b"%PDF")
    reader = pypdf.PdfReader(io.BytesIO(files["PDF"]))
    text = "\n".join(page.extract_text() for page in reader.pages)
    assert text.splitlines()[0] == "Relatório da sessão Sessão para relatório"
    assert f"R$ {total:,.2f}".replace(",", "X").replace(".", ",").replace("X", ".") in text
    for name in pay:
        assert f"Assinatura: {name}" in text


async def test_an_open_sessions_report_says_so_first(
    server: LiveServer, client: httpx.Client, make_user: Any, on: Any
) -> None:
    manager = await _manager(make_user, on)
    sid = js.new_session(manager, "Aberta")
    manager(q.ADD_PACKAGES, sid=sid, packages=[{"barcode": "OPEN0000001"}])
    job = await _done(
        server, manager, manager(js.EXPORT, sid=sid, format="CSV")["exportSessionReport"]
    )
    text = _download(client, job["downloadUrl"]).content.decode("utf-8-sig")
    first = next(csv.reader(io.StringIO(text), delimiter=";"))[0]
    assert first.startswith("RELATÓRIO PARCIAL") and "não está concluída" in first


async def test_job_webhooks_reach_a_receiver(
    server: LiveServer, client: httpx.Client, make_user: Any, on: Any
) -> None:
    receiver = Receiver().start()
    try:
        manager = await _manager(make_user, on)
        made = manager(WEBHOOK, url=receiver.url, events=["job.succeeded", "job.failed"])
        assert made["createWebhook"]["__typename"] == "WebhookSecretSuccess", made
        sid = js.new_session(manager)
        ok = await _done(
            server, manager, js.upload(client, manager, sid, js.manifest_csv(js.rows("WH", 3)))
        )
        assert ok["status"] == "SUCCEEDED"
        got = receiver.wait_for(1)
        by_event = {r.headers["Bipa-Event"]: r.json for r in got}
        assert set(by_event) == {"job.succeeded"}
        assert by_event["job.succeeded"]["sessionId"] == sid
        assert by_event["job.succeeded"]["data"]["jobId"] == ok["id"]
        assert by_event["job.succeeded"]["data"]["done"] == 3
        # (job.failed reaches a receiver in tests/e2e/test_route_jobs.py: a job whose session
        # is completed while it waits for a worker.)
    finally:
        receiver.stop()


async def test_an_import_into_a_completed_session_is_refused_at_upload(
    server: LiveServer, client: httpx.Client, make_user: Any, on: Any, database_url: str
) -> None:
    manager = await _manager(make_user, on)
    sid, _ = await _completed_session(manager, make_user)
    before = await js.counts(database_url, sid)
    for dry_run in (False, True):
        answer = js.upload(
            client, manager, sid, js.manifest_csv(js.rows("LATE", 3)), dry_run=dry_run
        )
        assert (answer["__typename"], answer["code"]) == (
            "ReadOnlySessionError",
            "SESSION_READ_ONLY",
        ), answer
    assert manager(js.JOBS, sid=sid)["jobs"]["edges"] == []
    assert await js.counts(database_url, sid) == before
    assert _uploads(server, sid) == []


async def test_the_same_idempotency_key_returns_the_same_job(
    server: LiveServer, client: httpx.Client, make_user: Any, on: Any, database_url: str
) -> None:
    manager = await _manager(make_user, on)
    sid = js.new_session(manager)
    data = js.manifest_csv(js.rows("IDEM", 40))
    first = js.upload(client, manager, sid, data, key="import-idem-1")
    again = js.upload(client, manager, sid, data, key="import-idem-1")
    assert first["created"] is True and again["created"] is False
    assert again["job"]["id"] == first["job"]["id"]
    job = await _done(server, manager, first)
    assert job["status"] == "SUCCEEDED"
    late = js.upload(client, manager, sid, data, key="import-idem-1")
    assert late["job"]["id"] == first["job"]["id"]
    edges = manager(js.JOBS, sid=sid)["jobs"]["edges"]
    assert [e["node"]["id"] for e in edges] == [first["job"]["id"]]
    exp = manager(js.EXPORT, sid=sid, format="PDF", key="export-idem-1")["exportSessionReport"]
    exp2 = manager(js.EXPORT, sid=sid, format="PDF", key="export-idem-1")["exportSessionReport"]
    assert exp["job"]["id"] == exp2["job"]["id"]
    assert (await js.counts(database_url, sid))["packages"] == 40


async def test_cancel_stops_an_import_at_its_next_batch(
    server: LiveServer, client: httpx.Client, make_user: Any, on: Any, database_url: str
) -> None:
    manager = await _manager(make_user, on)
    sid = js.new_session(manager)
    n = 1_500
    answer = js.upload(client, manager, sid, js.manifest_csv(js.rows("CANC", n)))
    job_id = answer["job"]["id"]
    states: list[dict[str, Any]] = []
    async with WsClient(server.ws_url, manager.token) as ws:
        assert await ws.acked()
        sub = await ws.subscribe(js.PROGRESS, id=job_id)
        while True:
            msg = await ws.next(sub, timeout=60)
            assert msg["type"] == "next", msg
            states.append(msg["payload"]["data"]["jobProgress"])
            if states[-1]["done"] > 0:
                break
        cancelled = manager(js.CANCEL, id=job_id)["cancelJob"]
        assert cancelled["__typename"] == "JobSuccess", cancelled
        assert cancelled["job"]["status"] == "CANCELLED"
        while True:
            msg = await ws.next(sub, timeout=30)
            if msg["type"] == "complete":
                break
            states.append(msg["payload"]["data"]["jobProgress"])
    assert states[-1]["status"] == "CANCELLED"
    await asyncio.sleep(1.5)  # the worker sees the cancel at its next batch
    settled = (await js.counts(database_url, sid))["packages"]
    await asyncio.sleep(1.0)
    assert (await js.counts(database_url, sid))["packages"] == settled < n
    assert manager(js.JOB, id=job_id)["job"]["status"] == "CANCELLED"
    again = manager(js.CANCEL, id=job_id)["cancelJob"]
    assert again["__typename"] == "InvalidTransitionError", again


async def test_jobs_are_only_seen_by_the_sessions_managers(
    server: LiveServer, client: httpx.Client, make_user: Any, on: Any
) -> None:
    manager = await _manager(make_user, on)
    other = await _manager(make_user, on)
    sid = js.new_session(manager)
    job = await _done(
        server, manager, js.upload(client, manager, sid, js.manifest_csv(js.rows("SEEN", 2)))
    )
    assert other(js.JOB, id=job["id"])["job"] is None
    assert other(js.JOBS, sid=sid)["jobs"]["edges"] == []
    refused = js.upload(client, other, sid, js.manifest_csv(js.rows("SEEN", 2)))
    assert refused["__typename"] == "PermissionDeniedError", refused
    assert len(manager(js.JOBS, sid=sid)["jobs"]["edges"]) == 1
