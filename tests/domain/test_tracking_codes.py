"""Issue #13 through the domain: canonical codes, dedup across symbologies, the GTIN rule by
symbology, and the recipient read from a label (never in the audit log)."""

from __future__ import annotations

import json
from collections.abc import Callable

import ocr
from db.enums import Role
from domain import packages, scanning, sessions
from domain.barcodes import check
from domain.packages import PackageData
from domain.uow import UnitOfWork
from tests.domain.conftest import MakeUser

UowFactory = Callable[[], UnitOfWork]

ML_QR = '{"id":"41234567890","sender_id":123456789,"hash_code":"aBc+dEf/Gh=","security_digit":"0"}'


def _report(raw: str, symbology: str, **kw: object) -> ocr.ScanReport:
    code = check(raw, symbology).barcode
    return ocr.ScanReport(code, symbology, "ZXING", 1.0, 3.0, (), raw_text=raw, **kw)  # type: ignore[arg-type]


def test_typed_gtin_length_codes_are_accepted_but_decoded_ones_are_checked() -> None:
    assert check("10082312345678").ok, "Jadlog's 14 digits, typed"
    assert check("7891000315508").ok, "typed: unknown symbology"
    assert check("7891000315508", "EAN13").rejected is not None
    assert check("00012345600013", "ITF").rejected is not None
    assert check("10082312345678", "CODE128").ok, "a Code 128 carries no GTIN"


def test_s10_with_a_wrong_check_digit_is_refused_with_its_own_code() -> None:
    refused = check("RR123456784BR").rejected
    assert refused is not None and refused.code == "TRACKING_CHECK_DIGIT"
    assert refused.params == {"format": "S10"}


def test_mercado_livre_qr_payload_is_kept_and_not_upper_cased() -> None:
    checked = check(ML_QR, "QRCODE")
    assert checked.ok and checked.barcode == "41234567890"
    assert checked.carrier == "MERCADO_LIVRE" and checked.raw_text == ML_QR


async def test_the_same_label_via_qr_code128_or_typed_is_one_package(
    uow_factory: UowFactory, make_user: MakeUser
) -> None:
    manager = await make_user(Role.MANAGER)
    async with uow_factory() as uow:
        session = await sessions.create_session(uow, manager, "Labels")
        first = await scanning.apply_scan(
            uow, manager, session.id, scanning.ScanIntent.ADD, _report(ML_QR, "QRCODE")
        )
        assert first.package is not None
        assert first.package.barcode == "41234567890"
        assert first.package.carrier == "MERCADO_LIVRE"
        assert first.package.raw_text == ML_QR
        again = await scanning.apply_scan(
            uow,
            manager,
            session.id,
            scanning.ScanIntent.ADD,
            _report("41234567890", "CODE128"),
        )
        assert again.package is not None and again.package.id == first.package.id
        typed = await packages.add_packages(uow, manager, session.id, [PackageData("41234567890")])
        assert typed.added == [] and typed.duplicates == ["41234567890"]
        s10 = await packages.add_packages(
            uow,
            manager,
            session.id,
            [PackageData("JT124720455BR", symbology="CODE128"), PackageData("jt 124720455 br")],
        )
        assert [p.carrier for p in s10.added] == ["CORREIOS"]
        assert s10.duplicates == ["JT124720455BR"]


async def test_add_scan_fills_the_recipient_from_the_label_never_in_the_audit(
    uow_factory: UowFactory, make_user: MakeUser
) -> None:
    manager = await make_user(Role.MANAGER)
    recipient = ocr.LabelRecipient(
        "Maria Aparecida Souza",
        "Rua das Flores",
        "123",
        "Apto 45",
        "Jardim Paulista",
        "São Paulo",
        "SP",
        "01310100",
        0.8,
    )
    async with uow_factory() as uow:
        session = await sessions.create_session(uow, manager, "Recipients")
        outcome = await scanning.apply_scan(
            uow,
            manager,
            session.id,
            scanning.ScanIntent.ADD,
            _report("JT124720455BR", "CODE128", carrier="CORREIOS", recipient=recipient),
        )
        package = outcome.package
        assert package is not None and package.recipient_from_label
        assert package.recipient_name == "Maria Aparecida Souza"
        address = (await uow.addresses.get_many([package.address_id]))[0]  # type: ignore[list-item]
        assert address.line == "Rua das Flores, 123, Apto 45 - Jardim Paulista"
        assert (address.street, address.number, address.complement) == (
            "Rua das Flores",
            "123",
            "Apto 45",
        )
        assert address.neighbourhood == "Jardim Paulista"
        assert (address.city, address.state, address.postal_code) == ("São Paulo", "SP", "01310100")
        weak = ocr.LabelRecipient("X", None, None, None, None, None, None, "01310100", 0.2)
        low = await scanning.apply_scan(
            uow,
            manager,
            session.id,
            scanning.ScanIntent.ADD,
            _report("RR123456785BR", "CODE128", recipient=weak),
        )
        assert low.package is not None and not low.package.recipient_from_label
        assert low.package.recipient_name is None
        await uow.commit()
    async with uow_factory() as uow:
        entries = await uow.audit.after(session.id, 0, 100)
    text = json.dumps([e.details for e in entries], ensure_ascii=False)
    for private in ("Maria", "Flores", "Jardim", "01310100", "Apto"):
        assert private not in text, f"{private!r} leaked into the audit log"
    added = [e.details for e in entries if e.action == "package.added"]
    assert added[0]["carrier"] == "CORREIOS" and added[0]["barcode"] == "JT124720455BR"
