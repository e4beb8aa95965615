"""Manifest rows imported through the runner on the real database: the rules of addPackages,
deliverers by name, retried batches, all-or-nothing, dry runs."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from db.enums import Role, SessionStatus
from db.models import User
from domain import addresses, commands, deliverers, manifests, packages, sessions
from domain.actions import Action
from domain.errors import PermissionDenied, ReadOnlySession
from domain.manifests import Outcome
from domain.operations import Runner
from domain.packages import PackageData
from domain.uow import UnitOfWork
from manifest import ManifestRow, read_manifest
from tests.conftest import RecordingPublisher
from tests.domain.conftest import MakeUser

UowFactory = Callable[[], UnitOfWork]


async def _session(uow_factory: UowFactory, manager: User, *couriers: User) -> object:
    async with uow_factory() as uow:
        session = await sessions.create_session(uow, manager, "Manifesto")
        for courier in couriers:
            await deliverers.add_deliverer(uow, manager, session.id, courier.id, "100.00", "2.50")
        await uow.commit()
    return session.id


def _row(n: int, code: str, **kw: str | None) -> ManifestRow:
    return ManifestRow(row=n, tracking_code=code, **kw)  # type: ignore[arg-type]


def test_address_is_composed_in_one_place() -> None:
    row = _row(
        2,
        "X",
        street="Rua A",
        number="12",
        complement="apto 3",
        neighbourhood="Centro",
        city="São Paulo",
        uf="SP",
        cep="01310-100",
    )
    a = manifests.address_of(row)
    assert a is not None and a.structured
    assert (a.street, a.number, a.complement, a.neighbourhood) == (
        "Rua A",
        "12",
        "apto 3",
        "Centro",
    )
    assert (a.city, a.state, a.postal_code) == ("São Paulo", "SP", "01310-100")
    cleaned = addresses.clean(a, "address")
    assert cleaned.line and "Rua A" in cleaned.line and cleaned.postal_code == "01310100"
    assert manifests.address_of(_row(2, "X")) is None
    # No street: what there is, as a line.
    bare = manifests.address_of(_row(2, "X", neighbourhood="Centro", city="Rio", uf="RJ"))
    assert bare is not None and not bare.structured
    assert (bare.line, bare.city, bare.state) == ("Centro", "Rio", "RJ")


async def test_import_adds_valid_rows_through_add_packages(
    uow_factory: UowFactory, make_user: MakeUser, runner: Runner, publisher: RecordingPublisher
) -> None:
    manager = await make_user(Role.MANAGER)
    courier = await make_user(Role.DELIVERER, "José Ávila")
    sid = await _session(uow_factory, manager, courier)
    rows = (
        _row(
            2,
            "AA123456785BR",
            recipient_name="Ana",
            street="Rua A",
            number="1",
            city="Rio",
            cep="20000-000",
            deliverer="jose avila",
        ),
        _row(3, "AA123456784BR"),  # bad S10 check digit
        _row(4, "41234567890", deliverer="Fulano"),  # not in the session
        _row(5, '{"id":"41234567890","sender_id":1}'),  # the same parcel as row 4's, as a QR
        _row(6, "LOCAL-7", street="Rua A", number="1", city="Rio", cep="20000-000"),
        _row(7, "QQ-1", city="Rio"),  # a city but no address line
    )
    done = await runner.run_once(manager, commands.ImportManifestRows(sid, rows, False), "m-1")  # type: ignore[arg-type]
    outcomes = {o.row: o for o in done.rows["outcomes"]}
    assert {n: o.outcome for n, o in outcomes.items()} == {
        2: Outcome.ADDED,
        3: Outcome.PROBLEM,
        4: Outcome.PROBLEM,
        5: Outcome.ADDED,
        6: Outcome.ADDED,
        7: Outcome.PROBLEM,
    }
    assert outcomes[3].code == "TRACKING_CHECK_DIGIT" and "verificador" in (
        outcomes[3].reason or ""
    )
    assert (outcomes[4].code, outcomes[4].column) == ("UNKNOWN_DELIVERER", "deliverer")
    assert outcomes[7].code == "ADDRESS_EMPTY"
    assert outcomes[5].barcode == "41234567890"  # canonical
    async with uow_factory() as uow:
        first = await uow.packages.by_barcode(sid, "AA123456785BR")  # type: ignore[arg-type]
        other = await uow.packages.by_barcode(sid, "LOCAL-7")  # type: ignore[arg-type]
        assert first is not None and other is not None
        assert first.recipient_name == "Ana" and first.deliverer_id is not None
        assert first.address_id == other.address_id  # one address row, as addPackages does
        actions = [e.action for e in await uow.audit.after(sid, 0, 100)]  # type: ignore[arg-type]
    assert actions.count(Action.PACKAGE_ADDED) == 3
    assert publisher.published  # live events after the commit
    # The reference is what a replay answers.
    assert [o["outcome"] for o in done.ref["outcomes"]] == [
        "ADDED",
        "PROBLEM",
        "PROBLEM",
        "ADDED",
        "ADDED",
        "PROBLEM",
    ]


async def test_a_retried_batch_counts_rows_as_already_present(
    uow_factory: UowFactory, make_user: MakeUser, runner: Runner
) -> None:
    manager = await make_user(Role.MANAGER)
    sid = await _session(uow_factory, manager)
    async with uow_factory() as uow:  # one parcel scanned before the import
        await packages.add_packages(uow, manager, sid, [PackageData("SCAN-1")])  # type: ignore[arg-type]
        await uow.commit()
    rows = (_row(2, "scan-1"), _row(3, "NEW-1"))
    first = await runner.run_once(manager, commands.ImportManifestRows(sid, rows), "b-1")  # type: ignore[arg-type]
    assert [o.outcome for o in first.rows["outcomes"]] == [Outcome.ALREADY_PRESENT, Outcome.ADDED]
    # The same batch under a new key (a worker died after the commit, before recording it).
    again = await runner.run_once(manager, commands.ImportManifestRows(sid, rows), "b-2")  # type: ignore[arg-type]
    assert [o.outcome for o in again.rows["outcomes"]] == [Outcome.ALREADY_PRESENT] * 2
    # Nothing written the second time: no package, no audit entry.
    assert again.rows["session"].last_sequence == first.rows["session"].last_sequence
    replay = await runner.run_once(manager, commands.ImportManifestRows(sid, rows), "b-1")  # type: ignore[arg-type]
    assert replay.replayed and replay.ref == first.ref
    async with uow_factory() as uow:
        assert await uow.packages.count(sid) == 2  # type: ignore[arg-type]


async def test_all_or_nothing_writes_nothing_when_a_row_is_wrong(
    uow_factory: UowFactory, make_user: MakeUser, runner: Runner
) -> None:
    manager = await make_user(Role.MANAGER)
    sid = await _session(uow_factory, manager)
    rows = (_row(2, "OK-1"), _row(3, "BAD CODE ç"))
    done = await runner.run_once(manager, commands.ImportManifestRows(sid, rows, True))  # type: ignore[arg-type]
    assert [o.outcome for o in done.rows["outcomes"]] == [Outcome.SKIPPED, Outcome.PROBLEM]
    async with uow_factory() as uow:
        assert await uow.packages.count(sid) == 0  # type: ignore[arg-type]
    done = await runner.run_once(manager, commands.ImportManifestRows(sid, rows[:1], True))  # type: ignore[arg-type]
    assert [o.outcome for o in done.rows["outcomes"]] == [Outcome.ADDED]


async def test_validate_manifest_is_a_dry_run(uow_factory: UowFactory, make_user: MakeUser) -> None:
    manager = await make_user(Role.MANAGER)
    stranger = await make_user(Role.MANAGER)
    sid = await _session(uow_factory, manager)
    data = "rastreio;entregador\nAA123456785BR;\nAA123456784BR;\nX-1;Ninguém\n".encode()
    m = read_manifest(data, "a.csv", max_bytes=10_000, max_rows=10)
    async with uow_factory() as uow:
        problems = await manifests.validate_manifest(uow, sid, m.rows, actor=manager)  # type: ignore[arg-type]
        assert [(p.row, p.code) for p in problems] == [
            (3, "TRACKING_CHECK_DIGIT"),
            (4, "UNKNOWN_DELIVERER"),
        ]
        assert await uow.packages.count(sid) == 0  # type: ignore[arg-type]
        with pytest.raises(PermissionDenied):
            await manifests.validate_manifest(uow, sid, m.rows, actor=stranger)  # type: ignore[arg-type]


async def test_refused_on_a_session_that_takes_no_packages(
    uow_factory: UowFactory, make_user: MakeUser, runner: Runner
) -> None:
    manager = await make_user(Role.MANAGER)
    courier = await make_user(Role.DELIVERER)
    sid = await _session(uow_factory, manager, courier)
    async with uow_factory() as uow:
        await packages.add_packages(uow, manager, sid, [PackageData("ONE")])  # type: ignore[arg-type]
        await sessions.start_session(uow, manager, sid)  # type: ignore[arg-type]
        await sessions.complete_session(uow, manager, sid, True)  # type: ignore[arg-type]
        session = await uow.sessions.get(sid)  # type: ignore[arg-type]
        assert session is not None and session.status is SessionStatus.COMPLETED
        await uow.commit()
    with pytest.raises(ReadOnlySession) as refused:
        await runner.run_once(manager, commands.ImportManifestRows(sid, (_row(2, "TWO"),)))  # type: ignore[arg-type]
    assert refused.value.code == "SESSION_READ_ONLY"
    async with uow_factory() as uow:
        with pytest.raises(ReadOnlySession):
            await manifests.validate_manifest(uow, sid, (_row(2, "TWO"),))  # type: ignore[arg-type]
