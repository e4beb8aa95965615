"""`bipa import` and `bipa export` as separate processes, with real files read back."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
import uuid
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl
import pypdf

from db.enums import DeliveryStatus, Role
from domain import deliverers, packages, sessions, users
from domain.packages import PackageData
from domain.uow import UnitOfWork
from tests.e2e import jobs_support as js

UowFactory = Callable[[], UnitOfWork]


def _bipa(database_url: str, token: str, *args: str, cwd: Path | None = None) -> Any:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "BIPA_TOKEN": token,
        "BIPA_IMPORT_BATCH": "7",
    }
    return subprocess.run(
        [sys.executable, "-m", "bipa.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
        cwd=cwd,
    )


async def _manager(committed_uow: UowFactory) -> tuple[Any, str]:
    async with committed_uow() as uow:
        made = await users.create_user(uow, None, f"Gerente {uuid.uuid4().hex[:6]}", Role.MANAGER)
        await uow.commit()
    return made.user, made.token


async def _session(committed_uow: UowFactory, manager: Any) -> str:
    async with committed_uow() as uow:
        session = await sessions.create_session(uow, manager, "Sessão da linha de comando")
        await uow.commit()
    return str(session.id)


async def _counts(database_url: str, sid: str) -> int:
    return (await js.counts(database_url, sid))["packages"]


async def test_import_csv_and_xlsx_with_progress(
    database_url: str, committed_uow: UowFactory, tmp_path: Path
) -> None:
    manager, token = await _manager(committed_uow)
    sid = await _session(committed_uow, manager)
    path = tmp_path / "dia.csv"
    path.write_bytes(js.manifest_csv(js.rows("CLI", 40)))
    proc = _bipa(database_url, token, "import", str(path), "--session", sid)
    assert proc.returncode == 0, proc.stderr
    assert "40 rows, added 40, refused 0" in proc.stdout
    assert "100%" in proc.stderr and "SUCCEEDED" in proc.stderr  # the bar, on stderr
    assert await _counts(database_url, sid) == 40

    xlsx = tmp_path / "dia.xlsx"
    body = js.rows("CLIX", 10)
    body[2][9] = "Ninguém"
    xlsx.write_bytes(js.manifest_xlsx(body))
    problems = tmp_path / "problemas.csv"
    proc = _bipa(
        database_url, token, "import", str(xlsx), "--session", sid, "--problems", str(problems)
    )
    assert proc.returncode == 1, proc.stderr  # a row was refused
    assert "10 rows, added 9, refused 1" in proc.stdout
    assert "linha 4" in proc.stderr and "UNKNOWN_DELIVERER" in proc.stderr
    rows = list(csv.reader(io.StringIO(problems.read_text("utf-8-sig")), delimiter=";"))
    assert rows[1][0] == "4" and rows[1][2] == "UNKNOWN_DELIVERER"
    assert await _counts(database_url, sid) == 49

    # The same file again: every row is already there, nothing is added twice.
    proc = _bipa(database_url, token, "import", str(path), "--session", sid)
    assert proc.returncode == 0, proc.stderr
    assert await _counts(database_url, sid) == 49


async def test_dry_run_all_or_nothing_and_refusals(
    database_url: str, committed_uow: UowFactory, tmp_path: Path
) -> None:
    manager, token = await _manager(committed_uow)
    sid = await _session(committed_uow, manager)
    body = js.rows("CLID", 12)
    body[5][0] = ""
    path = tmp_path / "dia.csv"
    path.write_bytes(js.manifest_csv(body))
    proc = _bipa(database_url, token, "import", str(path), "--session", sid, "--dry-run")
    assert "12 rows, would add 11, refused 1" in proc.stdout, proc.stderr
    proc = _bipa(database_url, token, "import", str(path), "--session", sid, "--all-or-nothing")
    assert proc.returncode == 1 and "nothing written" in proc.stdout, proc.stderr
    assert await _counts(database_url, sid) == 0

    pdf = tmp_path / "nota.csv"
    pdf.write_bytes(b"%PDF-1.4\n" * 50)
    proc = _bipa(database_url, token, "import", str(pdf), "--session", sid)
    assert proc.returncode == 1 and "NOT_A_SPREADSHEET" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr
    proc = _bipa(database_url, "not-a-token", "import", str(path), "--session", sid)
    assert proc.returncode == 1 and "invalid token" in proc.stderr
    proc = _bipa(database_url, token, "import", str(path), "--session", "x")
    assert proc.returncode == 2
    proc = _bipa(database_url, token, "import", str(tmp_path / "none.csv"), "--session", sid)
    assert proc.returncode == 2 and "cannot read" in proc.stderr
    _other, other_token = await _manager(committed_uow)
    proc = _bipa(database_url, other_token, "import", str(path), "--session", sid)
    assert proc.returncode == 1 and "NOT_SESSION_MANAGER" in proc.stderr
    assert await _counts(database_url, sid) == 0


async def test_export_a_completed_session_in_three_formats(
    database_url: str, committed_uow: UowFactory, tmp_path: Path
) -> None:
    manager, token = await _manager(committed_uow)
    async with committed_uow() as uow:
        courier = (
            await users.create_user(uow, None, f"Ana {uuid.uuid4().hex[:4]}", Role.DELIVERER)
        ).user
        session = await sessions.create_session(uow, manager, "Fechamento")
        d, _ = await deliverers.add_deliverer(uow, manager, session.id, courier.id, "90.00", "1.15")
        added = await packages.add_packages(
            uow, manager, session.id, [PackageData(f"EXP-{i}", None, None, d.id) for i in range(3)]
        )
        await sessions.start_session(uow, manager, session.id)
        for p in added.added:
            await packages.update_package_status(uow, courier, p.id, DeliveryStatus.DELIVERED, None)
        await uow.commit()
    sid = str(session.id)

    proc = _bipa(database_url, token, "export", "--session", sid, "--format", "csv", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    default = tmp_path / f"sessao-{sid}.csv"
    assert proc.stdout.strip().endswith(default.name) and default.exists()
    rows = list(csv.reader(io.StringIO(default.read_text("utf-8-sig")), delimiter=";"))
    assert rows[0] == ["Relatório da sessão Fechamento"]
    assert next(r for r in rows if r and r[0] == "Total")[5] == "93.45"  # 90.00 + 3 x 1.15

    out = tmp_path / "fechamento.xlsx"
    proc = _bipa(
        database_url, token, "export", "--session", sid, "--format", "XLSX", "--output", str(out)
    )
    assert proc.returncode == 0, proc.stderr
    values = [[c.value for c in r] for r in openpyxl.load_workbook(out).worksheets[0].iter_rows()]
    assert Decimal(str(next(r for r in values if r and r[0] == "Total")[5])) == Decimal("93.45")

    out = tmp_path / "fechamento.pdf"
    proc = _bipa(
        database_url, token, "export", "--session", sid, "--format", "PDF", "--output", str(out)
    )
    assert proc.returncode == 0, proc.stderr
    text = "\n".join(p.extract_text() for p in pypdf.PdfReader(out).pages)
    assert "R$ 93,45" in text and f"Assinatura: {courier.name}" in text
