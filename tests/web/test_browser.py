"""The dashboard and the scanner in headless Chromium against a live server.

Changes are made from outside the browser (GraphQL over HTTP, as another user or the bot
would) and the open pages must show them live, without a reload. The scanner is fed by
Chromium's fake camera playing a video made from a real barcode photo.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from tests.e2e import queries as q
from tests.web.conftest import Browser, barcode_photo, y4m_from_photo

NO_RELOAD_MARK = "window.__bipaSamePage = 'yes'"
IS_SAME_PAGE = "return window.__bipaSamePage === 'yes'"

PACKAGE = """
query($sid: ID!, $code: String!) {
  package(sessionId: $sid, barcode: $code) { id barcode status symbology }
}"""


def _ok(result: dict[str, Any], typename: str) -> dict[str, Any]:
    assert result["__typename"] == typename, result
    return result


def _session_with_packages(manager: Any, name: str, codes: list[str]) -> tuple[str, list[str]]:
    sid = _ok(manager(q.CREATE_SESSION, name=name)["createSession"], "SessionSuccess")["session"][
        "id"
    ]
    packages = [
        {
            "barcode": c,
            "recipientName": f"Cliente {i}",
            "address": {"line": f"Rua {i}, 10", "city": "Recife"},
        }
        for i, c in enumerate(codes, 1)
    ]
    added = _ok(
        manager(q.ADD_PACKAGES, sid=sid, packages=packages)["addPackages"], "AddPackagesSuccess"
    )
    return sid, [p["id"] for p in added["added"]]


def _set_status(manager: Any, pid: str, status: str, reason: str | None = None) -> dict[str, Any]:
    result = manager(q.UPDATE_STATUS, pid=pid, status=status, reason=reason)["updatePackageStatus"]
    return _ok(result, "PackageSuccess")


def _wait_live(browser: Browser) -> None:
    browser.wait_css("#live[data-state='connected']", 15)
    # The subscription is sent right after connection_ack; give the server a moment to
    # register it (mySessionEvents has no replay, by design).
    time.sleep(0.4)


async def test_sign_in_with_a_token(browser_factory, web_user) -> None:  # type: ignore[no-untyped-def]
    manager = await web_user("MANAGER", name="Carla Gestora")
    browser = browser_factory()
    browser.get("/")
    browser.wait(lambda: "/entrar.html" in browser.driver.current_url, what="the sign-in page")
    browser.screenshot("1-form")

    browser.find("#token").send_keys("bipa_not-a-real-token")
    browser.click("#signin-submit")
    assert "Token inválido" in browser.wait_text("#signin-error", "Token inválido")
    assert browser.driver.execute_script("return localStorage.getItem('bipa.token')") is None
    browser.screenshot("2-bad-token")

    token_input = browser.find("#token")
    token_input.clear()
    token_input.send_keys(manager.token)
    browser.click("#signin-submit")
    browser.wait(
        lambda: browser.driver.current_url.rstrip("/") == browser.base_url, what="the list"
    )
    browser.wait_text("#who", "Carla Gestora")
    assert "Gestor" in browser.text("#who")
    browser.wait_css("#live[data-state='connected']")
    browser.wait_text("#sessions-summary", "sess")
    browser.screenshot("3-signed-in")

    # Signing out forgets the token and goes back to the form.
    browser.click("#sign-out")
    browser.wait(lambda: "/entrar.html" in browser.driver.current_url, what="the sign-in page")
    assert browser.driver.execute_script("return localStorage.getItem('bipa.token')") is None


async def test_sessions_list_is_live(browser_factory, web_user) -> None:  # type: ignore[no-untyped-def]
    manager = await web_user("MANAGER")
    browser = browser_factory()
    browser.sign_in_with(manager.token)
    browser.get("/")
    _wait_live(browser)
    browser.driver.execute_script(NO_RELOAD_MARK)

    sid, pids = _session_with_packages(
        manager, "Rota Boa Viagem", ["LIVE-A", "LIVE-B", "LIVE-C", "LIVE-D"]
    )
    card = f"[data-session-id='{sid}']"
    browser.wait_css(card)
    browser.wait_text(f"{card} .session-name", "Rota Boa Viagem")
    browser.wait_text(f"{card} .progress-text", "0 de 4 finalizados")
    assert browser.text(f"{card} .badge") == "Aberta"

    _ok(manager(q.session_action("startSession"), sid=sid)["startSession"], "SessionSuccess")
    browser.wait_text(f"{card} .badge", "Em andamento")
    _set_status(manager, pids[0], "DELIVERED")
    _set_status(manager, pids[1], "FAILED", "cliente ausente")
    progress = browser.wait_text(f"{card} .progress-text", "2 de 4 finalizados")
    assert "50%" in progress, progress
    assert "1 entregue" in browser.text(f"{card} .counts")
    assert "1 falha" in browser.text(f"{card} .counts")
    assert browser.attrs(f"{card} [role=progressbar]", "aria-valuenow") == ["50"]
    assert browser.driver.execute_script(IS_SAME_PAGE), "the page was reloaded"
    browser.screenshot("live-progress")


async def test_session_page_updates_live(browser_factory, web_user) -> None:  # type: ignore[no-untyped-def]
    manager = await web_user("MANAGER")
    rider = await web_user("DELIVERER", name="Davi Entregador")
    sid, pids = _session_with_packages(manager, "Rota Olinda", ["OLD-1", "OLD-2", "OLD-3"])
    did = _ok(
        manager(q.ADD_DELIVERER, sid=sid, uid=rider.id, base="100.00", commission="5.50")[
            "addDeliverer"
        ],
        "AddDelivererSuccess",
    )["deliverer"]["id"]
    _ok(
        manager(q.ASSIGN, sid=sid, pids=pids[:2], did=did)["assignPackages"],
        "AssignPackagesSuccess",
    )
    _ok(manager(q.session_action("startSession"), sid=sid)["startSession"], "SessionSuccess")

    browser = browser_factory(window=(1366, 1000))
    browser.sign_in_with(manager.token)
    browser.get(f"/sessao.html?id={sid}")
    browser.wait_text("#session-name", "Rota Olinda")
    _wait_live(browser)
    browser.driver.execute_script(NO_RELOAD_MARK)
    assert browser.text("[data-counter='total'] dd") == "3"
    assert browser.text("#session-status") == "Em andamento"
    browser.wait_text("#feed", "Distribuição iniciada")
    row = f"#deliverers tr[data-deliverer-id='{did}']"
    assert "Davi Entregador" in browser.text(row)
    assert "R$ 100,00" in browser.text(row)
    assert len(browser.attrs("#packages tbody tr", "data-package-id")) == 3

    # A delivery made elsewhere: progress, counters, feed, earnings and table follow.
    _set_status(manager, pids[0], "DELIVERED")
    browser.wait_text("[data-counter='delivered'] dd", "1")
    browser.wait_text("#progress-percent", "33,3%")
    assert browser.attrs("#progress", "aria-valuenow") == ["33"]
    browser.wait_text("#feed .feed-item:first-child", "OLD-1: Pendente → Entregue")
    browser.wait_text(row, "R$ 105,50")
    browser.wait_text(f"#packages tr[data-package-id='{pids[0]}']", "Entregue")
    assert browser.text("[data-counter='pending'] dd") == "2"
    browser.screenshot("1-delivered")

    # Filters: by status, then by deliverer.
    browser.click("#filter-status option[value='DELIVERED']")
    rows = "#packages tbody tr"
    browser.wait(lambda: browser.attrs(rows, "data-barcode") == ["OLD-1"], what="the delivered row")
    browser.click("#filter-status option[value='']")
    browser.click(f"#filter-deliverer option[value='{did}']")
    browser.wait(
        lambda: sorted(browser.attrs(rows, "data-barcode")) == ["OLD-1", "OLD-2"],
        what="the deliverer's two packages",
    )
    browser.click("#filter-deliverer option[value='']")
    browser.wait(lambda: len(browser.attrs(rows, "data-barcode")) == 3, what="all rows again")

    # The last two finish the session: it completes and the financial snapshot appears.
    assert not browser.find("#snapshot").is_displayed()
    _set_status(manager, pids[1], "FAILED", "endereço não encontrado")
    _set_status(manager, pids[2], "DELIVERED")
    browser.wait_text("#session-status", "Concluída")
    browser.wait(lambda: browser.find("#snapshot").is_displayed(), what="the financial snapshot")
    browser.wait_text("#snapshot-total", "R$ 105,50")
    assert browser.text("#snapshot-delivered") == "2"
    assert browser.text("#snapshot-failed") == "1"
    assert "Davi Entregador" in browser.text("#snapshot-table")
    browser.wait_text("#progress-percent", "100%")
    browser.wait_text("#feed", "Sessão concluída")
    # The reason a person typed is on the package, not in the (immutable) audit feed.
    assert "motivo registrado" in browser.text("#feed")
    assert "endereço não encontrado" not in browser.text("#feed")
    browser.wait_text("#packages tbody", "endereço não encontrado")
    assert browser.driver.execute_script(IS_SAME_PAGE), "the page was reloaded"
    browser.screenshot("2-completed")


async def test_scanner_fake_camera_adds_the_package(  # type: ignore[no-untyped-def]
    browser_factory, web_user, tmp_path: Path
) -> None:
    photo, expected = barcode_photo("ean13-2/01.png")
    camera = y4m_from_photo(photo, tmp_path / "ean13.y4m")
    manager = await web_user("MANAGER")
    sid = _ok(manager(q.CREATE_SESSION, name="Bipagem Centro")["createSession"], "SessionSuccess")[
        "session"
    ]["id"]

    browser = browser_factory(camera=camera, phone=True)
    browser.sign_in_with(manager.token)
    browser.get(f"/scanner.html?id={sid}")
    browser.wait_text("#scan-session-name", "Bipagem Centro")
    browser.wait(
        lambda: browser.driver.execute_script(
            "return document.getElementById('video').videoWidth > 0"
        ),
        what="the camera",
    )
    browser.wait_css("#result[data-kind='added']", 40)
    assert browser.text("#result .result-code") == expected
    assert browser.text("#result .result-title") == "Adicionado"
    browser.wait_text("#scan-session-progress", "1 pacote")
    browser.screenshot("added")

    package = manager(PACKAGE, sid=sid, code=expected)["package"]
    assert package is not None and package["barcode"] == expected
    assert package["symbology"] == "EAN13"
    session = manager(q.SESSION, id=sid)["session"]
    assert session["progress"]["total"] == 1
    # The code stays in view: it is not added or shown again.
    time.sleep(2.5)
    assert len(browser.attrs("#history .history-item", "data-key")) == 1
    assert manager(q.SESSION, id=sid)["session"]["progress"]["total"] == 1


async def test_offline_outbox_sends_once_when_back_online(  # type: ignore[no-untyped-def]
    browser_factory, web_user
) -> None:
    manager = await web_user("MANAGER")
    sid = _ok(
        manager(q.CREATE_SESSION, name="Galpão sem sinal")["createSession"], "SessionSuccess"
    )["session"]["id"]
    code = "BIPA-OFF-0001"

    browser = browser_factory(phone=True)  # no camera at all: manual entry still works
    browser.sign_in_with(manager.token)
    browser.get(f"/scanner.html?id={sid}")
    browser.wait_text("#scan-session-name", "Galpão sem sinal")
    browser.wait_text("#camera-message", "Nenhuma câmera")

    browser.set_offline(True)
    browser.wait_css("#net[data-online='false']")
    browser.find("#manual-code").send_keys(code)
    browser.click("#manual button[type=submit]")
    browser.wait_css("#result[data-kind='queued']")
    browser.wait_css("#outbox-badge[data-count='1']")
    assert browser.find("#outbox-badge").is_displayed()
    key = browser.attrs("#history .history-item", "data-key")[0]
    assert key and len(key) == 36
    queued = browser.driver.execute_async_script(
        """
        const done = arguments[arguments.length - 1];
        const req = indexedDB.open('bipa-scanner');
        req.onsuccess = () => {
          const all = req.result.transaction('outbox').objectStore('outbox').getAll();
          all.onsuccess = () => done(all.result.map(j => [j.idempotencyKey, j.barcode, j.intent]));
        };
        req.onerror = () => done(null);
        """
    )
    assert queued == [[key, code, "ADD"]]
    browser.screenshot("1-queued")
    time.sleep(1)  # the outbox timer runs while offline and must not lose or send anything
    assert manager(PACKAGE, sid=sid, code=code)["package"] is None

    browser.set_offline(False)
    browser.wait_css("#outbox-badge[data-count='0']", 20)
    browser.wait_css("#result[data-kind='added']")
    assert "enviado da fila" in browser.text("#result .result-title")
    browser.screenshot("2-sent")

    package = manager(PACKAGE, sid=sid, code=code)["package"]
    assert package is not None and package["barcode"] == code
    audit = manager(q.SESSION, id=sid)["session"]["audit"]["edges"]
    added = [e for e in audit if e["node"]["action"] == "package.added"]
    assert [e["node"]["details"]["barcode"] for e in added] == [code]
    # Exactly one request carried the scan, with the key it was given when queued.
    time.sleep(1)
    sent = [
        json.loads(r["postData"])
        for r in browser.graphql_posts()
        if code in r.get("postData", "") and "addPackages" in r.get("postData", "")
    ]
    assert len(sent) == 1, sent
    assert sent[0]["variables"]["key"] == key


FAKE_DETECTOR = """
window.__codes = [];
window.__signals = [];
window.__vibrations = [];
navigator.vibrate = (pattern) => { window.__vibrations.push(pattern); return true; };
document.addEventListener('bipa:signal', (e) => window.__signals.push(e.detail.kind));
window.BarcodeDetector = class {
  static async getSupportedFormats() { return ['ean_13', 'code_128', 'qr_code']; }
  constructor(options) { this.options = options; }
  async detect(source) {
    const code = window.__codes.shift();
    return code ? [{ rawValue: code, format: 'ean_13', boundingBox: {}, cornerPoints: [] }] : [];
  }
};
"""


async def test_scanner_local_decoder_shows_duplicates_and_invalid_codes(  # type: ignore[no-untyped-def]
    browser_factory, web_user
) -> None:
    """Where BarcodeDetector exists the phone decodes and sends the text (addPackages)."""
    manager = await web_user("MANAGER")
    sid = _ok(manager(q.CREATE_SESSION, name="Leitura local")["createSession"], "SessionSuccess")[
        "session"
    ]["id"]
    browser = browser_factory(camera=True, phone=True, init_script=FAKE_DETECTOR)
    browser.sign_in_with(manager.token)
    browser.get(f"/scanner.html?id={sid}")
    browser.wait_css("#decoder[data-mode='local']")
    browser.wait(
        lambda: browser.driver.execute_script(
            "return document.getElementById('video').videoWidth > 0"
        ),
        what="the camera",
    )

    def detect(*codes: str) -> None:
        browser.driver.execute_script("window.__codes.push(...arguments)", *codes)

    def history() -> list[tuple[str | None, ...]]:
        return browser.rows("#history .history-item", "data-kind", "data-barcode")

    detect("9780804816632", "9780804816632", "9780804816632")  # one code held in view
    browser.wait_css("#result[data-kind='added']")
    assert browser.text("#result .result-code") == "9780804816632"
    time.sleep(0.6)
    assert history() == [("added", "9780804816632")], "consecutive detections are one scan"

    detect("BIPA-LOCAL-2")
    browser.wait(lambda: history()[0] == ("added", "BIPA-LOCAL-2"), what="the second code")
    detect("9780804816632")  # back to the first one: it is already in the session
    browser.wait_css("#result[data-kind='duplicate']")
    assert browser.text("#result .result-title") == "Já estava na sessão"
    detect("9780804816633")  # a wrong check digit
    browser.wait_css("#result[data-kind='rejected']")
    assert browser.text("#result .result-title") == "Código inválido"
    assert "dígito verificador inválido (GTIN-13)" in browser.text("#result .result-detail")
    browser.screenshot("rejected")

    assert browser.driver.execute_script("return window.__signals") == ["ok", "ok", "warn", "error"]
    assert browser.driver.execute_script("return window.__vibrations") == [
        [80],
        [80],
        [40, 60, 40],
        [200, 100, 200],
    ]
    session = manager(q.SESSION, id=sid)["session"]
    codes = sorted(e["node"]["barcode"] for e in session["packages"]["edges"])
    assert codes == ["9780804816632", "BIPA-LOCAL-2"]


async def test_session_page_resumes_events_after_a_dropped_connection(  # type: ignore[no-untyped-def]
    browser_factory, web_user
) -> None:
    """The socket dies, events happen meanwhile; on reconnect the feed resumes with
    afterSequence = the last sequence seen: every event once, in order, no reload."""
    manager = await web_user("MANAGER")
    sid, pids = _session_with_packages(manager, "Rota Reconexão", ["RC-1", "RC-2", "RC-3"])
    _ok(manager(q.session_action("startSession"), sid=sid)["startSession"], "SessionSuccess")

    browser = browser_factory()
    browser.sign_in_with(manager.token)
    browser.get(f"/sessao.html?id={sid}")
    browser.wait_text("#feed", "Distribuição iniciada")
    _wait_live(browser)
    browser.driver.execute_script(NO_RELOAD_MARK)

    browser.set_offline(True)
    browser.driver.execute_script("window.bipa.live.terminate();")
    browser.wait_css("#live[data-state='reconnecting']")
    _set_status(manager, pids[0], "DELIVERED")
    _set_status(manager, pids[1], "FAILED", "recusado")
    time.sleep(1)
    assert browser.text("#live") == "Reconectando…"
    assert browser.text("[data-counter='delivered'] dd") == "0", "no socket, no live update"

    browser.set_offline(False)
    browser.wait_css("#live[data-state='connected']", 20)
    browser.wait_text("#feed", "RC-2: Pendente → Falhou")
    assert "RC-1: Pendente → Entregue" in browser.text("#feed")
    browser.wait_text("[data-counter='failed'] dd", "1")
    assert browser.text("[data-counter='delivered'] dd") == "1"
    seqs = [int(s or 0) for s in browser.attrs("#feed .feed-item", "data-sequence")]
    assert seqs == list(range(seqs[0], seqs[0] - len(seqs), -1)), seqs  # newest first, no gap
    assert browser.driver.execute_script(IS_SAME_PAGE), "the page was reloaded"
    browser.screenshot("resumed")


async def test_graphiql_works_offline_and_starts_signed_in(browser_factory, web_user) -> None:  # type: ignore[no-untyped-def]
    # Chromium here has no internet at all: everything GraphiQL needs comes from the app.
    manager = await web_user("MANAGER", name="Gina GraphiQL")
    browser = browser_factory()
    browser.sign_in_with(manager.token)
    browser.get("/graphql")
    browser.wait_css(".graphiql-container", 30)
    headers_tab = browser.driver.execute_script(
        "return [...document.querySelectorAll('.graphiql-editor-tool button, button')]"
        ".map(b => b.textContent).join('|')"
    )
    assert "Headers" in headers_tab
    # The prefilled Authorization header answers `me` as the signed-in user.
    browser.click(".graphiql-execute-button")
    browser.wait(
        lambda: (
            "Gina GraphiQL"
            in browser.driver.execute_script(
                "return document.querySelector('.result-window')?.textContent || ''"
            )
        ),
        30,
        what="the query result",
    )
    browser.screenshot("graphiql")
    errors = [e for e in browser.console() if e.get("level") == "SEVERE"]
    assert not errors, errors
