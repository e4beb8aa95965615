"""Running a whole session from the dashboard in headless Chromium, as a person would: typing,
clicking, ticking boxes, confirming. What the page did is then checked through the API (the
truth), not only on the screen.
"""

from __future__ import annotations

from typing import Any

from tests.e2e import queries as q
from tests.web.conftest import Browser
from tests.web.test_browser import _ok, _session_with_packages, _set_status, _wait_live


def _sign_in(browser: Browser, user: Any) -> None:
    browser.get("/entrar.html")
    browser.driver.execute_script(
        "localStorage.setItem('bipa.token', arguments[0]);"
        "localStorage.setItem('bipa.user', JSON.stringify(arguments[1]));",
        user.token,
        {"id": user.id, "name": user.name, "role": user.role},
    )


def _open_session(browser: Browser, sid: str, name: str) -> None:
    browser.get(f"/sessao.html?id={sid}")
    browser.wait_text("#session-name", name)
    _wait_live(browser)


def _type(browser: Browser, css: str, text: str) -> None:
    field = browser.find(css)
    field.clear()
    field.send_keys(text)


def _status(manager: Any, sid: str) -> str:
    return str(manager(q.SESSION, id=sid)["session"]["status"])


def _act(browser: Browser, action: str, badge: str) -> None:
    browser.click(f"#action-{action}")
    browser.wait_text("#session-status", badge)


async def test_create_a_session_then_reuse_it(browser_factory, web_user) -> None:  # type: ignore[no-untyped-def]
    manager = await web_user("MANAGER", name="Renata Gestora")
    browser = browser_factory()
    _sign_in(browser, manager)
    browser.get("/")
    _wait_live(browser)
    browser.wait_text("#sessions-summary", "0 sessões")

    browser.find("#new-session-name").send_keys("Rota Casa Amarela")
    browser.click("#new-session button[type=submit]")
    browser.wait_text("#sessions", "Rota Casa Amarela")
    browser.wait_text("#sessions-summary", "1 sessão")
    assert "1 sessões" not in browser.text("#sessions-summary")
    sid = browser.attrs(".session-card", "data-session-id")[0]
    assert sid
    card = f".session-card[data-session-id='{sid}']"
    assert "0 pendentes" in browser.text(f"{card} .counts")
    browser.screenshot("1-created")

    # Back to the open session the next morning: reuse it instead of creating another.
    browser.click(f"{card} .session-reuse")
    browser.wait(lambda: "/sessao.html" in browser.driver.current_url, what="the session page")
    browser.wait_text("#session-meta", "reaproveitada 1\u00d7")
    session = manager(q.SESSION, id=sid)["session"]
    assert session["wasReused"] is True and session["reuseCount"] == 1
    assert manager(q.SESSIONS_COUNT)["sessions"]["totalCount"] == 1
    browser.wait_text("#feed", "Sessão reaproveitada")


async def test_run_a_whole_session(browser_factory, web_user) -> None:  # type: ignore[no-untyped-def]
    manager = await web_user("MANAGER", name="Marta Gestora")
    known = await web_user("DELIVERER", name="Bruno Conhecido")
    # Bruno delivered in one of Marta's sessions before: the page offers him by name.
    before = _ok(manager(q.CREATE_SESSION, name="Ontem")["createSession"], "SessionSuccess")
    _ok(
        manager(
            q.ADD_DELIVERER, sid=before["session"]["id"], uid=known.id, base="1.00", commission="0"
        )["addDeliverer"],
        "AddDelivererSuccess",
    )
    codes = ["RUN-1", "RUN-2", "RUN-3", "RUN-4", "RUN-5"]
    sid, pids = _session_with_packages(manager, "Rota Madalena", codes)
    by_code = dict(zip(codes, pids, strict=True))

    browser = browser_factory(window=(1440, 1000))
    _sign_in(browser, manager)
    _open_session(browser, sid, "Rota Madalena")
    browser.wait_text("#packages-count", "5 pacotes")

    # A new deliverer, with pay typed the Brazilian way; the page shows their token once.
    browser.wait_css("#add-deliverer:not([hidden])")
    browser.click("#deliverer-user option[value='new']")
    _type(browser, "#deliverer-name", "Ana Nova")
    _type(browser, "#deliverer-base", "1.234,50")
    _type(browser, "#deliverer-commission", "5,5")
    browser.click("#deliverer-submit")
    browser.wait_text("#deliverers", "Ana Nova")
    assert browser.find("#deliverer-token").is_displayed()
    assert browser.text("#deliverer-token-value").startswith("bipa_")
    browser.wait_text("#deliverers-count", "1 entregador")
    assert "1 entregadores" not in browser.text("#deliverers-count")

    # The one offered by name.
    browser.click(f"#deliverer-user option[value='{known.id}']")
    _type(browser, "#deliverer-base", "80")
    _type(browser, "#deliverer-commission", "3.25")
    browser.click("#deliverer-submit")
    browser.wait_text("#deliverers", "Bruno Conhecido")
    browser.wait_text("#deliverers-count", "2 entregadores")
    pay = {
        d["user"]["name"]: (d["baseSalary"], d["commissionPerDelivery"], d["id"])
        for d in manager(q.SESSION, id=sid)["session"]["deliverers"]
    }
    assert pay["Ana Nova"][:2] == ("1234.50", "5.50")  # exact decimals, as typed
    assert pay["Bruno Conhecido"][:2] == ("80.00", "3.25")
    ana, bruno = pay["Ana Nova"][2], pay["Bruno Conhecido"][2]
    browser.screenshot("1-deliverers")

    # Two ticked packages to Ana...
    browser.wait_css("#assign-bar:not([hidden])")
    for code in ("RUN-1", "RUN-3"):
        browser.click(f"#packages tr[data-barcode='{code}'] input.pick")
    browser.wait_text("#selected-count", "2 pacotes selecionados")
    browser.click(f"#assign-deliverer option[value='{ana}']")
    browser.click("#assign-selected")
    browser.wait_text("#packages tr[data-barcode='RUN-3'] .deliverer-cell", "Ana Nova")
    browser.wait_text("#packages tr[data-barcode='RUN-1'] .deliverer-cell", "Ana Nova")
    # ...and every package without a deliverer to Bruno, at once.
    browser.click(f"#assign-deliverer option[value='{bruno}']")
    browser.click("#assign-unassigned")
    for code in ("RUN-2", "RUN-4", "RUN-5"):
        browser.wait_text(f"#packages tr[data-barcode='{code}'] .deliverer-cell", "Bruno")
    packages = manager(q.SESSION, id=sid)["session"]["packages"]["edges"]
    owner = {p["node"]["barcode"]: p["node"]["deliverer"]["id"] for p in packages}
    assert owner == {
        "RUN-1": ana,
        "RUN-2": bruno,
        "RUN-3": ana,
        "RUN-4": bruno,
        "RUN-5": bruno,
    }
    # A second bulk click has nothing left to give.
    browser.click("#assign-unassigned")
    browser.wait_text("#action-error", "Nenhum pacote sem entregador.")

    # Start, pause, resume.
    assert not browser.find("#action-pause").is_displayed()
    _act(browser, "start", "Em andamento")
    assert _status(manager, sid) == "ACTIVE"
    _act(browser, "pause", "Pausada")
    assert _status(manager, sid) == "PAUSED"
    _act(browser, "resume", "Em andamento")
    assert _status(manager, sid) == "ACTIVE"
    browser.screenshot("2-active")

    # Three delivered from the phones; two still open.
    for code in ("RUN-1", "RUN-2", "RUN-4"):
        _set_status(manager, by_code[code], "DELIVERED")
    browser.wait_text("[data-counter='delivered'] dd", "3")

    # Complete: the page asks first, and cancelling changes nothing.
    browser.click("#action-complete")
    browser.wait(lambda: browser.find("#confirm").is_displayed(), what="the confirmation")
    text = browser.text("#confirm-text")
    assert "2 pacotes em aberto" in text and "falha" in text, text
    browser.screenshot("3-confirm")
    browser.click("#confirm-cancel")
    browser.wait(lambda: not browser.find("#confirm").is_displayed(), what="the dialog to close")
    assert _status(manager, sid) == "ACTIVE"
    browser.click("#action-complete")
    browser.wait(lambda: browser.find("#confirm").is_displayed(), what="the confirmation")
    browser.click("#confirm-ok")
    browser.wait_text("#session-status", "Concluída")
    browser.wait(lambda: browser.find("#snapshot").is_displayed(), what="the snapshot")
    session = manager(q.SESSION, id=sid)["session"]
    assert session["status"] == "COMPLETED"
    assert session["progress"]["failed"] == 2  # forced: the open ones became FAILED
    # Ana: 1234.50 + 1 x 5.50; Bruno: 80.00 + 2 x 3.25.
    browser.wait_text("#snapshot-total", "R$ 1.326,50")
    assert not browser.find("#add-deliverer").is_displayed()
    assert not browser.find("#assign-bar").is_displayed()
    assert not browser.find_all("#packages input.pick")

    # Archive.
    _act(browser, "archive", "Arquivada")
    assert _status(manager, sid) == "ARCHIVED"
    assert not browser.find("#session-actions").is_displayed()
    browser.screenshot("4-archived")


async def test_errors_come_in_portuguese(browser_factory, web_user) -> None:  # type: ignore[no-untyped-def]
    manager = await web_user("MANAGER")
    sid = _ok(manager(q.CREATE_SESSION, name="Sem pacotes")["createSession"], "SessionSuccess")[
        "session"
    ]["id"]
    browser = browser_factory()
    _sign_in(browser, manager)
    _open_session(browser, sid, "Sem pacotes")

    browser.click("#action-start")  # SESSION_EMPTY from the result union
    browser.wait_text("#action-error", "A sessão precisa de pelo menos um pacote para começar.")
    assert _status(manager, sid) == "OPEN"

    browser.click("#deliverer-user option[value='new']")
    _type(browser, "#deliverer-name", "Caio Centavos")
    _type(browser, "#deliverer-base", "dez reais")  # not a number: the page says so itself
    _type(browser, "#deliverer-commission", "1")
    browser.click("#deliverer-submit")
    browser.wait_text("#deliverer-error", "Salário base: informe um valor como 100,00.")
    _type(browser, "#deliverer-base", "10,505")  # AMOUNT_CENTS from the server
    browser.click("#deliverer-submit")
    browser.wait_text(
        "#deliverer-error", "O salário base pode ter no máximo dois decimais (centavos)."
    )
    assert manager(q.SESSION, id=sid)["session"]["deliverers"] == []
    # The user made on the first try is offered again, not created twice.
    assert browser.text("#deliverer-user option:checked") == "Caio Centavos"
    _type(browser, "#deliverer-base", "10,50")
    browser.click("#deliverer-submit")
    browser.wait_text("#deliverers", "Caio Centavos")
    browser.screenshot("errors")


async def test_search_packages_by_code_or_recipient(browser_factory, web_user) -> None:  # type: ignore[no-untyped-def]
    manager = await web_user("MANAGER")
    sid = _ok(manager(q.CREATE_SESSION, name="Busca")["createSession"], "SessionSuccess")[
        "session"
    ]["id"]
    people = ["José Araújo", "Maria Lima", "João Araújo", "Pedro Melo"]
    _ok(
        manager(
            q.ADD_PACKAGES,
            sid=sid,
            packages=[
                {"barcode": f"BR{i}00{i}", "recipientName": name}
                for i, name in enumerate(people, 1)
            ],
        )["addPackages"],
        "AddPackagesSuccess",
    )
    browser = browser_factory()
    _sign_in(browser, manager)
    _open_session(browser, sid, "Busca")
    rows = "#packages tbody tr"
    browser.wait(lambda: len(browser.attrs(rows, "data-barcode")) == 4, what="4 rows")

    _type(browser, "#package-search", "araujo")  # no accent, lower case
    browser.wait(
        lambda: sorted(browser.attrs(rows, "data-barcode")) == ["BR1001", "BR3003"],
        what="the two Araújo",
    )
    browser.wait_text("#packages-count", "2 encontrados")
    _type(browser, "#package-search", "2002")  # part of a code
    browser.wait(lambda: browser.attrs(rows, "data-barcode") == ["BR2002"], what="the code")
    browser.wait_text("#packages-count", "1 encontrado ")
    _type(browser, "#package-search", "br4004")  # a whole code, typed in lower case
    browser.wait(lambda: browser.attrs(rows, "data-barcode") == ["BR4004"], what="the code")
    _type(browser, "#package-search", "Ninguém")
    browser.wait_text("#packages-empty", "Nenhum pacote encontrado")
    browser.find("#package-search").clear()
    browser.find("#package-search").send_keys(" ")
    browser.wait(lambda: len(browser.attrs(rows, "data-barcode")) == 4, what="all rows again")


async def test_a_4403_on_the_socket_sends_to_sign_in(browser_factory, web_user) -> None:  # type: ignore[no-untyped-def]
    """The token goes bad while the page is open: the next connect is refused with 4403 and
    the page goes to the sign-in form, from the websocket alone."""
    manager = await web_user("MANAGER")
    sid, _ = _session_with_packages(manager, "Token trocado", ["TK-1"])
    browser = browser_factory()
    _sign_in(browser, manager)
    _open_session(browser, sid, "Token trocado")
    browser.driver.get_log("performance")  # forget the requests so far
    browser.driver.execute_script(
        "localStorage.setItem('bipa.token', 'bipa_not-a-real-token'); window.bipa.live.terminate();"
    )
    browser.wait(lambda: "/entrar.html" in browser.driver.current_url, what="the sign-in page")
    assert "next=" in browser.driver.current_url
    assert browser.driver.execute_script("return localStorage.getItem('bipa.token')") is None
    bad = [r for r in browser.graphql_posts() if "not-a-real-token" in str(r.get("headers"))]
    assert bad == [], "an HTTP request, not the socket, sent the page to sign in"


# Every table cell inside its scroll box, every box inside the page, nothing scrolled sideways.
OVERFLOWS = """
const out = [];
const page = document.documentElement;
if (page.scrollWidth > page.clientWidth + 1) out.push(`page ${page.scrollWidth} > ${page.clientWidth}`);
for (const wrap of document.querySelectorAll('.table-wrap')) {
  if (!wrap.offsetParent) continue;
  const box = wrap.getBoundingClientRect();
  if (wrap.scrollWidth > wrap.clientWidth + 1) out.push(`${wrap.firstElementChild.id} scrolls: ${wrap.scrollWidth} > ${wrap.clientWidth}`);
  for (const cell of wrap.querySelectorAll('td, th')) {
    if (!cell.offsetParent) continue;
    const r = cell.getBoundingClientRect();
    if (r.right > box.right + 1 || r.left < box.left - 1) out.push(`${wrap.firstElementChild.id}: "${cell.innerText.slice(0, 30)}" ${r.left}-${r.right} outside ${box.left}-${box.right}`);
    if (cell.scrollWidth > cell.clientWidth + 1) out.push(`${wrap.firstElementChild.id}: "${cell.innerText.slice(0, 30)}" overflows its cell`);
  }
}
return out;
"""


async def test_tables_fit_from_phones_to_wide_screens(browser_factory, web_user) -> None:  # type: ignore[no-untyped-def]
    manager = await web_user("MANAGER")
    riders = [
        await web_user("DELIVERER", name="Maria Aparecida dos Santos Oliveira Cavalcanti"),
        await web_user("DELIVERER", name="Zé"),
    ]
    codes = [
        "BR123456789012345678901234567890123456789",
        "7891000315507",
        "PEDIDO-2026-000123",
        "LONGO-" + "X" * 58,
    ]
    sid, pids = _session_with_packages(manager, "Rota com nomes bem compridos", codes)
    dids = []
    for rider in riders:
        added = manager(
            q.ADD_DELIVERER, sid=sid, uid=rider.id, base="123456.78", commission="1234.56"
        )["addDeliverer"]
        dids.append(_ok(added, "AddDelivererSuccess")["deliverer"]["id"])
    _ok(
        manager(q.ASSIGN, sid=sid, pids=pids[:2], did=dids[0])["assignPackages"],
        "AssignPackagesSuccess",
    )
    _ok(
        manager(q.ASSIGN, sid=sid, pids=pids[2:], did=dids[1])["assignPackages"],
        "AssignPackagesSuccess",
    )
    _ok(manager(q.session_action("startSession"), sid=sid)["startSession"], "SessionSuccess")
    _set_status(manager, pids[0], "DELIVERED")
    _set_status(manager, pids[1], "FAILED", "destinatário ausente depois de três tentativas")
    _set_status(manager, pids[2], "DELIVERED")
    open_one = _session_with_packages(manager, "Aberta", ["AB-1"])[0]

    browser = browser_factory()
    _sign_in(browser, manager)
    sizes = ((1280, 900, False), (1440, 900, False), (1920, 1080, False), (412, 915, True))
    for width, height, phone in sizes:
        browser.driver.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": phone},
        )
        for path, name in (
            (f"/sessao.html?id={open_one}", "Aberta"),
            (f"/sessao.html?id={sid}", "Rota com"),
        ):
            browser.get(path)
            browser.wait_text("#session-name", name)
            browser.wait(lambda: browser.find_all("#packages tbody tr"), what="the rows")
            if name == "Rota com":
                browser.wait(
                    lambda: len(browser.find_all("#deliverers tbody tr")) == 2, what="riders"
                )
                # Every earnings figure is on screen, whole.
                earned = browser.find_all("#deliverers .earned")
                assert all(e.is_displayed() and "R$" in e.text for e in earned)
            assert browser.driver.execute_script(OVERFLOWS) == [], (width, path)
            browser.screenshot(f"{width}-{name.split()[0].lower()}")
        # The completed session's snapshot table too.
        if width == sizes[0][0]:
            done = manager(q.COMPLETE, sid=sid, force=True)["completeSession"]
            _ok(done, "SessionSuccess")
        browser.get(f"/sessao.html?id={sid}")
        browser.wait(lambda: browser.find("#snapshot").is_displayed(), what="the snapshot")
        browser.wait(lambda: len(browser.find_all("#snapshot-table tbody tr")) == 2, what="rows")
        assert browser.driver.execute_script(OVERFLOWS) == [], (width, "snapshot")
        browser.screenshot(f"{width}-snapshot")
        browser.get("/")
        browser.wait_css(".session-card")
        assert browser.driver.execute_script(OVERFLOWS) == [], (width, "list")
