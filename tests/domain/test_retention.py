"""Recipient data with a lifetime: anonymisation on request and after retention (LGPD)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta

import pytest

from db.base import utcnow
from db.enums import DeliveryStatus, Role, SessionStatus
from domain import deliverers, packages, retention, sessions
from domain.actions import Action
from domain.addresses import AddressData
from domain.errors import NotFound, PermissionDenied
from domain.packages import PackageData
from domain.uow import UnitOfWork
from tests.domain.conftest import MakeUser

UowFactory = Callable[[], UnitOfWork]


CODES = iter(range(1, 10_000))


async def _completed(uow_factory: UowFactory, manager, courier, name: str) -> tuple:  # type: ignore[no-untyped-def]
    async with uow_factory() as uow:
        session = await sessions.create_session(uow, manager, "LGPD")
        d, _ = await deliverers.add_deliverer(uow, manager, session.id, courier.id, "10", "1")
        added = await packages.add_packages(
            uow,
            manager,
            session.id,
            [
                PackageData(
                    f"LGPD-{next(CODES)}",
                    recipient_name=name,
                    address=AddressData(
                        "Rua Secreta, 42",
                        "Recife",
                        "50000-000",
                        -8.05,
                        -34.9,
                        street="Rua Secreta",
                        number="42",
                        complement="Casa 2",
                        neighbourhood="Boa Vista",
                        state="PE",
                    ),
                    deliverer_id=d.id,
                )
            ],
        )
        await sessions.start_session(uow, manager, session.id)
        package = added.added[0]
        await packages.update_package_status(
            uow, courier, package.id, DeliveryStatus.FAILED, f"{name} não estava, a vizinha Ana"
        )
        await uow.commit()
    return session, package


async def test_forgetting_one_package_removes_what_identifies_the_recipient(
    uow_factory: UowFactory, make_user: MakeUser
) -> None:
    manager, courier = await make_user(Role.MANAGER), await make_user(Role.DELIVERER)
    session, package = await _completed(uow_factory, manager, courier, "Maria Sigilosa")
    async with uow_factory() as uow:
        before = (await uow.sessions.get(session.id)).financial_snapshot  # type: ignore[union-attr]
        forgotten = await retention.forget_recipient(uow, manager, package_id=package.id)
        await uow.commit()
    assert [p.id for p in forgotten.packages] == [package.id]
    async with uow_factory() as uow:
        row = await uow.packages.get(package.id)
        assert row is not None and row.anonymized_at is not None
        assert row.recipient_name is None and row.failure_reason == ""
        assert row.status is DeliveryStatus.FAILED and row.barcode == package.barcode
        (address,) = await uow.addresses.get_many([row.address_id])  # type: ignore[list-item]
        assert (address.line, address.city, address.postal_code, address.latitude) == (
            "",
            None,
            None,
            None,
        )
        # The structured parts and how the place was found go too (the read-only guard
        # lets exactly these be emptied).
        parts = (address.street, address.number, address.complement, address.neighbourhood)
        assert parts == (None, None, None, None) and address.state is None
        assert (address.geo_precision, address.geo_provider, address.geocoding_cache) == (
            None,
            None,
            None,
        )
        stored = await uow.sessions.get(session.id)
        assert stored is not None and stored.status is SessionStatus.COMPLETED
        assert stored.financial_snapshot == before, "the snapshot is kept"
        audit = await uow.audit.after(session.id, 0, 100)
    assert audit[-1].action == Action.PACKAGE_ANONYMIZED
    assert audit[-1].details == {"packageId": str(package.id), "why": "request", "proofFiles": 0}
    text = json.dumps([e.details for e in audit])
    for secret in ("Maria", "Sigilosa", "Secreta", "50000", "vizinha"):
        assert secret not in text, f"{secret!r} reached the audit log"


async def test_forgetting_a_recipient_by_name_and_who_may(
    uow_factory: UowFactory, make_user: MakeUser
) -> None:
    manager, courier = await make_user(Role.MANAGER), await make_user(Role.DELIVERER)
    other = await make_user(Role.MANAGER)
    _, first = await _completed(uow_factory, manager, courier, "João Repetido")
    _, second = await _completed(uow_factory, manager, courier, "joão   REPETIDO")
    _, foreign = await _completed(uow_factory, other, courier, "João Repetido")
    async with uow_factory() as uow:
        with pytest.raises(PermissionDenied):
            await retention.forget_recipient(uow, courier, recipient_name="João Repetido")
    async with uow_factory() as uow:
        with pytest.raises(NotFound) as missing:
            await retention.forget_recipient(uow, manager, recipient_name="Ninguém")
        assert missing.value.code == "RECIPIENT_NOT_FOUND"
    async with uow_factory() as uow:
        done = await retention.forget_recipient(uow, manager, recipient_name=" joão repetido ")
        await uow.commit()
    assert {p.id for p in done.packages} == {first.id, second.id}
    async with uow_factory() as uow:
        kept = await uow.packages.get(foreign.id)
        assert kept is not None and kept.recipient_name == "João Repetido", "another's session"


async def test_retention_anonymises_sessions_completed_long_enough_ago(
    uow_factory: UowFactory, make_user: MakeUser
) -> None:
    manager, courier = await make_user(Role.MANAGER), await make_user(Role.DELIVERER)
    session, package = await _completed(uow_factory, manager, courier, "Rita Antiga")
    async with uow_factory() as uow:
        assert await retention.anonymize_expired(uow, 90, 50) == 0, "completed just now"
        later = utcnow() + timedelta(days=91)
        assert await retention.anonymize_expired(uow, 90, 50, now=later) >= 1
        await uow.commit()
    async with uow_factory() as uow:
        row = await uow.packages.get(package.id)
        assert row is not None and row.recipient_name is None and row.anonymized_at is not None
        audit = await uow.audit.after(session.id, 0, 100)
        assert audit[-1].details["why"] == "retention" and audit[-1].actor_id is None
        assert await retention.anonymize_expired(uow, 90, 50, now=later) == 0, "only once"
