"""Each recogniser on real-format examples: valid codes, and the misreads it must refuse."""

from __future__ import annotations

import pytest

from tracking import Carrier, Kind, Role, find_in_text, identify, nfe_check_ok, s10_check_ok
from tracking.checks import nfe_check_digit, s10_check_digit


def nfe_reference_dv(body: str) -> int:
    """The SEFAZ rule written another way: weights 2..9 repeating from the right."""
    weights = [2, 3, 4, 5, 6, 7, 8, 9] * 6
    total = sum(int(d) * w for d, w in zip(reversed(body), weights, strict=False))
    dv = 11 - total % 11
    return 0 if dv >= 10 else dv


# cUF 35 (SP), 2024-03, a CNPJ, model 55, series 001, number 000012345, tpEmis 1, cNF.
NFE_BODY = "3524031234567800019955001000012345110203040"
NFE_KEY = NFE_BODY + str(nfe_reference_dv(NFE_BODY))


# --- S10 (Correios) ----------------------------------------------------------------------------


@pytest.mark.parametrize("code", ["RR123456785BR", "JT124720455BR", "OA016913717BR"])
def test_s10_codes_with_their_check_digit(code: str) -> None:
    if code == "OA016913717BR":
        code = code[:10] + str(s10_check_digit(code[2:10])) + code[11:]
    assert s10_check_ok(code)
    found = identify(code, "CODE128")
    assert (found.role, found.kind, found.carrier, found.code) == (
        Role.TRACKING,
        Kind.S10,
        Carrier.CORREIOS,
        code,
    )


def test_s10_typed_in_lower_case_with_spaces_is_the_same_code() -> None:
    assert identify(" rr 123456785 br ").code == "RR123456785BR"


@pytest.mark.parametrize("misread", ["RR123456784BR", "RR123456795BR", "RR128456785BR"])
def test_s10_misreads_fail_their_check(misread: str) -> None:
    found = identify(misread, "CODE128")
    assert found.kind is Kind.BAD_CHECK and found.failed == "S10"
    assert found.role is not Role.TRACKING


def test_s10_check_digit_special_cases() -> None:
    # mod 11 rest 1 -> 10 -> 0; rest 0 -> 11 -> 5.
    for serial in (f"{n:08d}" for n in range(0, 3000, 7)):
        d = s10_check_digit(serial)
        assert 0 <= d <= 9


def test_s10_of_another_post_is_postal() -> None:
    found = identify("EE123456785CN", "CODE128")
    assert found.carrier is Carrier.POSTAL and found.role is Role.TRACKING


# --- Mercado Livre ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "payload",
    [
        '{"id":"41234567890","t":"lm"}',
        '{"id":"41234567890","sender_id":123456789,"hash_code":"Xy9+abcDEF/12=","security_digit":"0"}',
        '{"id": 41234567890, "sender_id": 1}',
    ],
)
def test_mercado_livre_qr_json_gives_the_shipment_id(payload: str) -> None:
    found = identify(payload, "QRCODE")
    assert found.code == "41234567890"
    assert found.carrier is Carrier.MERCADO_LIVRE and found.kind is Kind.ML_SHIPMENT
    assert found.raw == payload, "the payload is kept exactly, never upper-cased"


def test_mercado_livre_code128_and_typed_are_the_same_code() -> None:
    assert identify("41234567890", "CODE128").code == "41234567890"
    assert identify("41234567890").carrier is Carrier.MERCADO_LIVRE


@pytest.mark.parametrize("payload", ['{"name":"x"}', '{"id":"abc","t":"lm"}', "[1,2]", "{broken"])
def test_other_json_is_not_mercado_livre(payload: str) -> None:
    assert identify(payload, "QRCODE").carrier is None


# --- Shopee, Jadlog, Amazon, Loggi, URLs ----------------------------------------------------------


def test_shopee() -> None:
    found = identify("BR2412345678901A", "CODE128")
    assert (found.carrier, found.role) == (Carrier.SHOPEE, Role.TRACKING)
    assert identify("BR241234567890A", "CODE128").carrier is None, "12 digits: not Shopee"
    assert identify("BR24123456789012", "CODE128").carrier is None, "no final letter"


def test_jadlog_14_digits_from_code128_is_not_checked_as_gtin() -> None:
    found = identify("10082312345678", "CODE128")
    assert (found.carrier, found.role) == (Carrier.JADLOG, Role.TRACKING)
    typed = identify("10082312345678")
    assert typed.role is Role.TRACKING, "typed 14 digits: a carrier number, no GTIN check"


def test_itf14_is_a_product_with_its_gtin_check() -> None:
    assert identify("00012345600012", "ITF").role is Role.PRODUCT
    bad = identify("00012345600013", "ITF")
    assert bad.kind is Kind.BAD_CHECK and bad.failed == "GTIN-14"


def test_amazon() -> None:
    found = identify("TBA123456789012", "CODE128")
    assert (found.carrier, found.kind) == (Carrier.AMAZON, Kind.AMAZON_TBA)
    assert identify("TBA12345678901", "CODE128").carrier is None


@pytest.mark.parametrize(
    ("url", "code", "carrier"),
    [
        (
            "https://rastreamento.correios.com.br/app/index.php?objeto=JT124720455BR",
            "JT124720455BR",
            Carrier.CORREIOS,
        ),
        ("https://spx.com.br/track?BR2412345678901A", "BR2412345678901A", Carrier.SHOPEE),
        ("https://www.loggi.com/rastreador/Abc123XYZ9", "ABC123XYZ9", Carrier.LOGGI),
        ("https://www.jadlog.com.br/tracking?cte=10082312345678", "10082312345678", Carrier.JADLOG),
    ],
)
def test_tracking_urls(url: str, code: str, carrier: Carrier) -> None:
    found = identify(url, "QRCODE")
    assert (found.code, found.carrier) == (code, carrier)
    assert found.raw == url


def test_unknown_urls_and_texts_keep_their_case() -> None:
    url = "http://google.com/gwt/n?u=bluenile.com"
    assert identify(url, "QRCODE").code == url
    assert identify(url, "QRCODE").role is Role.OTHER
    vcard = "Sean Owen\nsrowen@google.com"
    assert identify(vcard, "QRCODE").code == vcard


# --- non-tracking roles -------------------------------------------------------------------------


def test_nfe_access_key() -> None:
    assert nfe_check_digit(NFE_BODY) == nfe_reference_dv(NFE_BODY)
    assert nfe_check_ok(NFE_KEY)
    found = identify(NFE_KEY, "CODE128")
    assert (found.role, found.kind) == (Role.INVOICE_KEY, Kind.NFE_KEY)
    wrong = NFE_KEY[:-1] + str((int(NFE_KEY[-1]) + 1) % 10)
    assert identify(wrong, "CODE128").failed == "NFE_KEY"
    swapped = NFE_KEY[:10] + NFE_KEY[11] + NFE_KEY[10] + NFE_KEY[12:]
    if swapped != NFE_KEY:
        assert not nfe_check_ok(swapped), "a transposition of two digits is caught"


def test_cep_barcode_is_a_postal_code_but_ean8_is_a_product() -> None:
    assert identify("01310100", "CODE128").role is Role.POSTAL_CODE
    assert identify("96385074", "EAN8").role is Role.PRODUCT
    assert identify("01310100").role is Role.OTHER, "typed 8 digits: nothing to tell"


@pytest.mark.parametrize(
    ("code", "sym"),
    [("7891000315507", "EAN13"), ("036000291452", "UPCA"), ("01234565", "UPCE")],
)
def test_products(code: str, sym: str) -> None:
    assert identify(code, sym).role is Role.PRODUCT


@pytest.mark.parametrize(
    ("code", "sym"), [("7891000315508", "EAN13"), ("036000291453", "UPCA"), ("01234566", "UPCE")]
)
def test_product_misreads_fail_the_gtin_check(code: str, sym: str) -> None:
    assert identify(code, sym).kind is Kind.BAD_CHECK


def test_typed_gtin_length_digits_are_accepted() -> None:
    assert identify("7891000315508").kind is Kind.OTHER


# --- printed codes in OCR text -------------------------------------------------------------------


def test_find_in_text_finds_checked_codes_only() -> None:
    text = f"DESTINATARIO\nObjeto: JT 124 720 455 BR\nNF-e {NFE_KEY[:22]} {NFE_KEY[22:]}\nRR123456784BR"
    found = find_in_text(text)
    assert [c.code for c in found] == ["JT124720455BR", NFE_KEY]


def test_correios_datamatrix_gives_the_object_code_inside() -> None:
    payload = "0131010000000013101000000JT124720455BR0133562764279873673090"
    found = identify(payload, "DATAMATRIX")
    assert (found.code, found.carrier, found.raw) == ("JT124720455BR", Carrier.CORREIOS, payload)
    assert identify(payload.replace("455BR", "454BR"), "DATAMATRIX").role is Role.OTHER
