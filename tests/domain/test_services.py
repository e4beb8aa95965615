"""Each domain service called directly (no HTTP) on the real database, rolled back after.

One section per service module: what it changes, what it records in the audit log, and what
it refuses with which code (a refusal leaves the transaction to be rolled back by the caller).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest

import ocr
from db.enums import DeliveryStatus, Role, SessionStatus
from db.models import DeliverySession, User
from domain import completion, deliverers, packages, scanning, sessions, users, webhooks
from domain.actions import Action
from domain.addresses import AddressData
from domain.crypto import SecretBox
from domain.errors import (
    DomainError,
    InvalidTransition,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)
from domain.packages import PackageData
from domain.uow import UnitOfWork
from tests.domain.conftest import MakeUser

UowFactory = Callable[[], UnitOfWork]


async def _actions(uow: UnitOfWork, session_id: object) -> list[str]:
    return [e.action for e in await uow.audit.after(session_id, 0, 100)]  # type: ignore[arg-type]


async def _active_session(
    uow_factory: UowFactory, manager: User, courier: User, codes: list[str]
) -> tuple[DeliverySession, list[object]]:
    async with uow_factory() as uow:
        session = await sessions.create_session(uow, manager, "Service")
        deliverer, _ = await deliverers.add_deliverer(
            uow, manager, session.id, courier.id, "100.00", "2.50"
        )
        added = await packages.add_packages(
            uow,
            manager,
            session.id,
            [PackageData(c, deliverer_id=deliverer.id) for c in codes],
        )
        await sessions.start_session(uow, manager, session.id)
        await uow.commit()
    return session, [p.id for p in added.added]


# --- sessions --------------------------------------------------------------------------------


async def test_sessions_move_through_their_lifecycle_with_one_audit_entry_each(
    uow_factory: UowFactory, make_user: MakeUser
) -> None:
    manager = await make_user(Role.MANAGER)
    async with uow_factory() as uow:
        session = await sessions.create_session(uow, manager, "  Manhã   de  segunda ")
        assert session.name == "Manhã de segunda"
        await sessions.reuse_session(uow, manager, session.id)
        assert session.was_reused and session.reuse_count == 1
        await packages.add_packages(uow, manager, session.id, [PackageData("LIFE-1")])
        await sessions.start_session(uow, manager, session.id)
        await sessions.pause_session(uow, manager, session.id)
        with pytest.raises(InvalidTransition) as again:
            await sessions.pause_session(uow, manager, session.id)
        assert again.value.code == "SESSION_TRANSITION"
        await sessions.resume_session(uow, manager, session.id)
        assert session.status is SessionStatus.ACTIVE and session.started_at is not None
        await uow.commit()  # audit rows are written at commit
    async with uow_factory() as uow:
        assert await _actions(uow, session.id) == [
            Action.SESSION_CREATED,
            Action.SESSION_REUSED,
            Action.PACKAGE_ADDED,
            Action.SESSION_STARTED,
            Action.SESSION_PAUSED,
            Action.SESSION_RESUMED,
        ]


async def test_another_manager_cannot_touch_a_session(
    uow_factory: UowFactory, make_user: MakeUser
) -> None:
    owner, other = await make_user(Role.MANAGER), await make_user(Role.MANAGER)
    async with uow_factory() as uow:
        session = await sessions.create_session(uow, owner, "Mine")
        await uow.commit()
    async with uow_factory() as uow:
        with pytest.raises(PermissionDenied) as denied:
            await sessions.reuse_session(uow, other, session.id)
    assert denied.value.code == "NOT_SESSION_MANAGER"


# --- deliverers ------------------------------------------------------------------------------


async def test_add_deliverer_keeps_exact_pay_and_refuses_wrong_people(
    uow_factory: UowFactory, make_user: MakeUser
) -> None:
    manager, courier = await make_user(Role.MANAGER), await make_user(Role.DELIVERER)
    other_manager = await make_user(Role.MANAGER)
    async with uow_factory() as uow:
        session = await sessions.create_session(uow, manager, "Team")
        d, _ = await deliverers.add_deliverer(uow, manager, session.id, courier.id, "1.10", "0.20")
        assert (d.base_salary, d.commission_per_delivery, d.total_earned) == (
            Decimal("1.10"),
            Decimal("0.20"),
            Decimal("1.10"),
        )
        refusals = [
            (courier.id, "1", "1", "DELIVERER_EXISTS"),
            (other_manager.id, "1", "1", "NOT_A_DELIVERER"),
            (courier.id, "1.001", "1", "AMOUNT_CENTS"),
            (courier.id, "-1", "1", "AMOUNT_NEGATIVE"),
        ]
        for user_id, salary, commission, code in refusals:
            with pytest.raises(ValidationFailed) as refused:
                await deliverers.add_deliverer(
                    uow, manager, session.id, user_id, salary, commission
                )
            assert refused.value.code == code


# --- packages --------------------------------------------------------------------------------


async def test_add_packages_dedups_rejects_with_codes_and_shares_addresses(
    uow_factory: UowFactory, make_user: MakeUser
) -> None:
    manager = await make_user(Role.MANAGER)
    async with uow_factory() as uow:
        session = await sessions.create_session(uow, manager, "Adds")
        address = AddressData("Rua das Flores, 120", "São Paulo", "01310-100")
        same = AddressData("rua  das flores,120", "sao paulo", "01310-100")
        result = await packages.add_packages(
            uow,
            manager,
            session.id,
            [
                PackageData("ADD-1", address=address),
                PackageData("add-1"),
                PackageData("ADD-2", address=same),
                PackageData("7891000315508", symbology="EAN13"),  # wrong GTIN check digit
            ],
        )
        assert [p.barcode for p in result.added] == ["ADD-1", "ADD-2"]
        assert result.duplicates == ["ADD-1"]
        assert [(r.barcode, r.code) for r in result.rejected] == [
            ("7891000315508", "BARCODE_CHECK_DIGIT")
        ]
        assert result.added[0].address_id == result.added[1].address_id
        again = await packages.add_packages(uow, manager, session.id, [PackageData("ADD-2")])
        assert again.added == [] and again.duplicates == ["ADD-2"]


async def test_only_its_deliverer_changes_a_package_and_the_last_one_completes(
    uow_factory: UowFactory, make_user: MakeUser
) -> None:
    manager = await make_user(Role.MANAGER)
    ana, bruno = await make_user(Role.DELIVERER), await make_user(Role.DELIVERER)
    session, (first, second) = await _active_session(uow_factory, manager, ana, ["P-1", "P-2"])
    async with uow_factory() as uow:
        await deliverers.add_deliverer(uow, manager, session.id, bruno.id, "0", "0")
        await uow.commit()
    async with uow_factory() as uow:
        with pytest.raises(PermissionDenied) as denied:
            await packages.update_package_status(
                uow,
                bruno,
                first,
                DeliveryStatus.DELIVERED,
                None,  # type: ignore[arg-type]
            )
        assert denied.value.code == "NOT_YOUR_PACKAGE"
    async with uow_factory() as uow:
        with pytest.raises(ValidationFailed) as no_reason:
            await packages.update_package_status(
                uow,
                ana,
                first,
                DeliveryStatus.FAILED,
                "  ",  # type: ignore[arg-type]
            )
        assert no_reason.value.code == "REASON_REQUIRED"
    async with uow_factory() as uow:
        await packages.update_package_status(
            uow,
            ana,
            first,
            DeliveryStatus.DELIVERED,
            None,  # type: ignore[arg-type]
        )
        _, row = await packages.update_package_status(
            uow,
            ana,
            second,
            DeliveryStatus.FAILED,
            "ninguém em casa",  # type: ignore[arg-type]
        )
        await uow.commit()
    assert row.status is SessionStatus.COMPLETED
    snapshot = row.financial_snapshot or {}
    mine = next(d for d in snapshot["deliverers"] if d["userId"] == str(ana.id))
    assert (mine["delivered"], mine["failed"], mine["totalEarned"]) == (1, 1, "102.50")
    assert snapshot["totalCost"] == "102.50"


async def test_remove_package_only_while_open(uow_factory: UowFactory, make_user: MakeUser) -> None:
    manager, courier = await make_user(Role.MANAGER), await make_user(Role.DELIVERER)
    _, (package_id,) = await _active_session(uow_factory, manager, courier, ["RM-1"])
    async with uow_factory() as uow:
        with pytest.raises(InvalidTransition) as refused:
            await packages.remove_package(uow, manager, package_id)  # type: ignore[arg-type]
    assert refused.value.code == "SESSION_NOT_OPEN"


# --- completion ------------------------------------------------------------------------------


async def test_complete_if_done_completes_only_an_active_session_with_nothing_open(
    uow_factory: UowFactory, make_user: MakeUser
) -> None:
    manager, courier = await make_user(Role.MANAGER), await make_user(Role.DELIVERER)
    session, _ = await _active_session(uow_factory, manager, courier, ["C-1"])
    async with uow_factory() as uow:
        row = await uow.lock_session(session.id)
        assert row is not None
        assert not await completion.complete_if_done(uow, row, manager), "a package is open"
        forced = await sessions.complete_session(uow, manager, session.id, force=True)
        assert forced.status is SessionStatus.COMPLETED
        await uow.commit()
    async with uow_factory() as uow:
        entries = await uow.audit.after(session.id, 0, 100)
    completed = entries[-1]
    assert completed.action == Action.SESSION_COMPLETED
    assert completed.details["forced"] is True
    assert completed.details["snapshot"] == forced.financial_snapshot


# --- users -----------------------------------------------------------------------------------


async def test_users_telegram_ids_are_numeric_and_unique(
    uow_factory: UowFactory, make_user: MakeUser
) -> None:
    async with uow_factory() as uow:
        made = await users.create_user(uow, None, "Tg", Role.DELIVERER, "12345")
        assert made.token and made.user.telegram_id == "12345"
        assert await users.authenticate(uow, made.token) is made.user
        for telegram_id, code in (("12345", "TELEGRAM_ID_TAKEN"), ("abc", "TELEGRAM_ID_INVALID")):
            with pytest.raises(ValidationFailed) as refused:
                await users.create_user(uow, None, "Other", Role.DELIVERER, telegram_id)
            assert refused.value.code == code
        with pytest.raises(NotFound):
            await users.link_telegram(uow, made.user.id.__class__(int=1), "999")


# --- webhooks --------------------------------------------------------------------------------


async def test_webhook_events_are_audit_actions(
    uow_factory: UowFactory, make_user: MakeUser
) -> None:
    manager = await make_user(Role.MANAGER)

    async def resolve(host: str, port: int) -> list[str]:
        return ["127.0.0.1"]

    config = webhooks.WebhookConfig(production=False, resolve=resolve, box=SecretBox(b"k" * 32))
    async with uow_factory() as uow:
        row, secret = await webhooks.create_webhook(
            uow, manager, config, "http://127.0.0.1:9/hook", ["session.completed", "*"]
        )
        assert row.events == ["*", "session.completed"]
        assert config.box.decrypt(row.secret_ciphertext) == secret
        for events in (["session.finished"], ["package.anything"], []):
            with pytest.raises(ValidationFailed) as refused:
                await webhooks.create_webhook(uow, manager, config, "http://127.0.0.1:9/h", events)
            assert refused.value.code in ("UNKNOWN_EVENT", "NO_EVENTS")


# --- scanning --------------------------------------------------------------------------------


async def test_apply_scan_adds_through_the_same_rules_as_add_packages(
    uow_factory: UowFactory, make_user: MakeUser
) -> None:
    manager = await make_user(Role.MANAGER)
    async with uow_factory() as uow:
        session = await sessions.create_session(uow, manager, "Scans")
        report = ocr.ScanReport("4006381333931", "EAN13", "ZXING", 1.0, 3.0, ())
        outcome = await scanning.apply_scan(
            uow, manager, session.id, scanning.ScanIntent.ADD, report
        )
        assert outcome.package is not None and outcome.package.barcode == "4006381333931"
        assert outcome.package.scan_report == report.to_dict()
        bad = ocr.ScanReport("4006381333932", "EAN13", "ZXING", 1.0, 3.0, ())
        with pytest.raises(DomainError) as refused:
            await scanning.apply_scan(uow, manager, session.id, scanning.ScanIntent.ADD, bad)
        assert refused.value.code == "BARCODE_CHECK_DIGIT"


def test_webhook_retries_double_after_the_quick_ones_with_jitter_and_a_cap() -> None:
    quick = (2.0, 4.0, 8.0)
    assert [webhooks.next_delay(n, quick, jitter=lambda: 1.0) for n in (1, 2, 3)] == list(quick)
    full = [webhooks.next_delay(n, quick, jitter=lambda: 1.0) for n in range(4, 16)]
    assert full[:3] == [16.0, 32.0, 64.0], "doubling from the last quick step"
    assert max(full) == webhooks.MAX_RETRY_DELAY_S, "capped at an hour"
    low = webhooks.next_delay(5, quick, jitter=lambda: 0.0)
    assert low == 16.0, "jitter keeps at least half of the step"
