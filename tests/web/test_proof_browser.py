"""The scanner's deliver flow with proof (photo + signature drawn on the screen), through the
offline outbox, and the session page showing it."""

from __future__ import annotations

import time
from pathlib import Path

from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select

from tests.e2e import queries as q
from tests.ocr.test_photo import phone_jpeg
from tests.web.test_browser import _ok, _session_with_packages

SET_REQUIREMENT = """
mutation($sid: ID!) { setProofRequirement(input: {sessionId: $sid, photo: true, signature: true}) { __typename } }"""

PROOF = """
query($sid: ID!, $code: String!) { package(sessionId: $sid, barcode: $code) { status
  proof { photos { url width height } signature { url } receivedBy } } }"""


async def test_deliver_with_photo_and_signature_through_the_outbox(  # type: ignore[no-untyped-def]
    browser_factory, web_user, tmp_path: Path
) -> None:
    manager = await web_user("MANAGER")
    courier = await web_user("DELIVERER")
    code = "BIPA-PRF-0001"
    sid, pids = _session_with_packages(manager, "Entregas comprovadas", [code])
    did = manager(q.ADD_DELIVERER, sid=sid, uid=courier.id, base="10.00", commission="1.00")[
        "addDeliverer"
    ]["deliverer"]["id"]
    manager(q.ASSIGN, sid=sid, pids=pids, did=did)
    assert (
        manager(SET_REQUIREMENT, sid=sid)["setProofRequirement"]["__typename"] == "SessionSuccess"
    )
    _ok(manager(q.session_action("startSession"), sid=sid)["startSession"], "SessionSuccess")
    photo = tmp_path / "entrega.jpg"
    photo.write_bytes(phone_jpeg(1600, 1200))

    browser = browser_factory(phone=True)
    browser.sign_in_with(courier.token)
    browser.get(f"/scanner.html?id={sid}")
    browser.wait_text("#scan-session-name", "Entregas comprovadas")
    # The test sign-in stores a MANAGER profile: choose the deliverer's action by hand.
    Select(browser.find("#intent")).select_by_value("DELIVER")
    browser.wait_text("#proof-required", "exige foto e assinatura")
    assert browser.find("#proof").is_displayed()
    browser.click("#proof-place")  # no place in this test (headless has no position)

    # Enter submits the form (the phone keyboard's "send"); a synthetic tap on the button lands
    # while the page still lays out the proof panel.
    browser.find("#manual-code").send_keys(code, Keys.ENTER)
    browser.wait_text("#result .result-title", "Falta a comprovação")

    browser.find("#proof-photo").send_keys(str(photo))
    browser.wait_css("#proof-thumbs[data-count='1']")
    pad = browser.find("#signature-pad")
    ActionChains(browser.driver).move_to_element_with_offset(
        pad, -100, 0
    ).click_and_hold().move_by_offset(60, 10).move_by_offset(60, -20).move_by_offset(
        60, 15
    ).release().perform()
    browser.wait_css("#signature-pad[data-signed='true']")
    browser.find("#received-by").send_keys("Dona Rita")
    browser.screenshot("1-proof-ready")

    browser.set_offline(True)
    browser.wait_css("#net[data-online='false']")
    # Enter submits the form (the phone keyboard's "send"); a synthetic tap on the button lands
    # while the page still lays out the proof panel.
    browser.find("#manual-code").send_keys(code, Keys.ENTER)
    browser.wait_css("#result[data-kind='queued']")
    queued = browser.driver.execute_async_script(
        """
        const done = arguments[arguments.length - 1];
        const req = indexedDB.open('bipa-scanner');
        req.onsuccess = () => {
          const all = req.result.transaction('outbox').objectStore('outbox').getAll();
          all.onsuccess = () => done(all.result.map(j => [j.barcode, j.proof.photos.length,
            j.proof.signature instanceof Blob, j.proof.receivedBy]));
        };
        """
    )
    assert queued == [[code, 1, True, "Dona Rita"]]
    time.sleep(0.5)
    assert manager(PROOF, sid=sid, code=code)["package"]["status"] == "PENDING"

    browser.set_offline(False)
    browser.wait_css("#result[data-kind='delivered']", 25)
    browser.wait_css("#proof-thumbs[data-count='0']")  # cleared for the next delivery
    browser.screenshot("2-delivered")
    package = manager(PROOF, sid=sid, code=code)["package"]
    assert package["status"] == "DELIVERED"
    proof = package["proof"]
    assert len(proof["photos"]) == 1 and proof["signature"] is not None
    assert proof["receivedBy"] == "Dona Rita"
    assert max(proof["photos"][0]["width"], proof["photos"][0]["height"]) == 1600

    page = browser_factory()
    page.sign_in_with(manager.token)
    page.get(f"/sessao.html?id={sid}")
    page.wait_css(".proof-thumb img", 20)
    page.wait_text(".proof", "Recebido por Dona Rita")
    page.wait_text("#snapshot-proof", "foto e assinatura")
    href = page.attrs(".proof-thumb", "href")[0]
    assert href and "signature=" in href
    page.screenshot("3-session-page")
