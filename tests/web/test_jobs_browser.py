"""The session page's jobs in headless Chromium: a manager imports a small CSV (a real file
chosen in the file input), follows the progress bar to 100% and sees the packages appear;
a report is exported and its link downloads the file."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import LiveServer
from tests.e2e import jobs_support as js
from tests.e2e import queries as q
from tests.web.conftest import Browser
from tests.web.test_dashboard import _open_session, _sign_in


@pytest.fixture(scope="module")
def web_server(database_url: str) -> Iterator[LiveServer]:
    # This page needs the job worker (the shared server runs none): its own server, with it.
    server = LiveServer(database_url, {"BIPA_RUN_WORKER": "true", "BIPA_IMPORT_BATCH": "4"})
    yield server.start()
    server.stop()


@pytest.fixture(scope="module")
def web_http(web_server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=web_server.url, timeout=60) as client:
        yield client


@pytest.fixture(scope="module")
def web_user(engine: Any, web_http: httpx.Client) -> Any:
    from tests.web import conftest

    return conftest.web_user.__wrapped__(engine, web_http)  # type: ignore[attr-defined]


def _session(manager: Any) -> str:
    return str(
        manager(q.CREATE_SESSION, name="Manifesto no navegador")["createSession"]["session"]["id"]
    )


async def test_import_a_csv_and_follow_it_to_100_percent(
    browser_factory: Any, web_user: Any, tmp_path: Path, web_server: LiveServer
) -> None:
    manager = await web_user("MANAGER", name="Paula Gestora")
    sid = _session(manager)
    path = tmp_path / "manifesto.csv"
    path.write_bytes(js.manifest_csv(js.rows("WEB", 20)))
    browser: Browser = browser_factory()
    _sign_in(browser, manager)
    _open_session(browser, sid, "Manifesto no navegador")
    browser.wait_css("#jobs-card:not([hidden])")
    browser.wait_text("#jobs-empty", "Nenhuma tarefa")

    # A dry run first: checked, nothing written.
    browser.find("#import-file").send_keys(str(path))
    browser.click("#import-dry-run")
    browser.click("#import-submit")
    browser.wait_css(".job[data-status='SUCCEEDED']", 30)
    browser.wait_text(".job", "nada foi gravado")
    assert manager(q.SESSION, id=sid)["session"]["progress"]["total"] == 0

    browser.click("#import-dry-run")  # off: the real import
    browser.find("#import-file").send_keys(str(path))
    browser.click("#import-submit")
    seen: list[int] = []

    def finished() -> bool:
        values = browser.rows(".job", "data-status", "data-progress")
        newest = values[0]
        seen.append(int(newest[1] or 0))
        return newest[0] == "SUCCEEDED"

    browser.wait(finished, 40, "the import to succeed")
    assert seen == sorted(seen), seen  # the bar only moves forward
    bar = browser.attrs(".job:first-child [role=progressbar]", "aria-valuenow")
    assert bar == ["100"]
    browser.wait_text(".job:first-child", "20 de 20 linhas")
    browser.wait_text(".job:first-child", "20 pacotes na sessão")
    browser.wait_text("#packages-count", "20")
    browser.wait_text("#packages", js.code("WEB", 19))
    browser.screenshot("imported")
    assert manager(q.SESSION, id=sid)["session"]["progress"]["total"] == 20

    # A report: generated as a job, downloaded through its link.
    browser.find("#export-format").send_keys("CSV")
    browser.click("#export-submit")
    browser.wait_css(".job:first-child .job-download", 30)
    href = browser.attrs(".job:first-child .job-download", "href")[0]
    assert href
    data = httpx.get(web_server.url + href, timeout=30).content
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig")), delimiter=";"))
    assert rows[0][0].startswith("RELATÓRIO PARCIAL")
    assert {r[0] for r in rows if r and r[0].startswith("WEB")} == {
        js.code("WEB", i) for i in range(20)
    }
    # The templates the page links to, read back: headers the importer knows, one example row.
    template = httpx.get(web_server.url + "/modelos/manifesto.xlsx", timeout=30)
    assert template.status_code == 200 and template.content[:2] == b"PK"
    assert "attachment" in template.headers["content-disposition"]
    text = httpx.get(web_server.url + "/modelos/manifesto.csv", timeout=30).content
    from manifest import read_manifest

    example = read_manifest(text, "modelo.csv", max_bytes=10_000, max_rows=10)
    assert [r.tracking_code for r in example.rows] == ["AA123456785BR"] and not example.problems
    assert httpx.get(web_server.url + "/modelos/manifesto.pdf", timeout=30).status_code == 404
