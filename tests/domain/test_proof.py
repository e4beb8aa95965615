"""Proof of delivery through the runner, on the real database and the embedded object store."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import storage
from db.enums import DeliveryStatus, Role
from domain import commands, proof, proof_uploads
from domain.actions import Action
from domain.errors import InvalidImage, ValidationFailed
from domain.operations import Runner
from domain.scanning import ScanPool
from domain.uow import UnitOfWork
from tests.domain.conftest import MakeUser
from tests.domain.test_services import _active_session
from tests.ocr.test_photo import GPS_TAG, phone_jpeg

UowFactory = Callable[[], UnitOfWork]


@pytest.fixture
def config(tmp_path: Path) -> proof.ProofConfig:
    return proof.ProofConfig(storage.LocalStore(tmp_path / "objects", secrets.token_bytes(32)))


@pytest.fixture
def pool() -> ScanPool:
    p = ScanPool(1, 4)
    yield p
    p.shutdown()


def _signature_png() -> bytes:
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGBA", (300, 100), (0, 0, 0, 0)).save(out, "PNG")
    return out.getvalue()


async def _deliver(
    runner,
    config,
    pool,
    courier,
    session_id,
    package_id,
    data,
    key=None,
    status=DeliveryStatus.DELIVERED,
):
    return await proof_uploads.run(
        runner,
        config,
        pool,
        courier,
        session_id,
        data,
        lambda staged: commands.UpdatePackageStatus(
            package_id, status, "ausente" if status is DeliveryStatus.FAILED else None, proof=staged
        ),
        key,
    )


async def _objects(config: proof.ProofConfig) -> list[str]:
    return [o.key for o in await config.store.list_prefix(proof.PREFIX)]


async def test_proof_is_stored_without_exif_and_audited_by_hash(
    runner: Runner,
    uow_factory: UowFactory,
    make_user: MakeUser,
    config: proof.ProofConfig,
    pool: ScanPool,
) -> None:
    manager, courier = await make_user(Role.MANAGER), await make_user(Role.DELIVERER)
    session, (pid, _) = await _active_session(uow_factory, manager, courier, ["PRF-1", "PRF-2"])
    data = proof.ProofData(
        photos=(phone_jpeg(2400, 1800),),
        signature=_signature_png(),
        received_by="  Dona   Maria ",
        latitude=-23.55,
        longitude=-46.63,
        accuracy=12.5,
        captured_at=datetime(2026, 12, 1, 10, 0, tzinfo=UTC),
    )
    await _deliver(runner, config, pool, courier, session.id, pid, data, "k-proof-1")
    async with uow_factory() as uow:
        [(row, objects)] = await uow.proofs.for_packages([pid])
        entry = (await uow.audit.after(session.id, 0, 100))[-1]
    assert row.received_by == "Dona Maria" and row.latitude == -23.55
    assert [o.kind for o in objects] == ["PHOTO", "SIGNATURE"]
    assert sorted(await _objects(config)) == sorted(o.key for o in objects)
    stored = await config.store.get(objects[0].key)
    import hashlib
    import io

    from PIL import Image

    assert hashlib.sha256(stored).hexdigest() == objects[0].sha256
    assert not Image.open(io.BytesIO(stored)).getexif().get_ifd(GPS_TAG)
    assert max(objects[0].width, objects[0].height) == config.longest_edge
    assert entry.action == Action.PACKAGE_STATUS_CHANGED
    details = entry.details
    assert details["proof"]["photos"] == [{"sha256": objects[0].sha256, "bytes": objects[0].size}]
    assert details["proof"]["signature"]["sha256"] == objects[1].sha256
    # No personal data and no key or link in the audit entry.
    text = str(details)
    assert "Maria" not in text and "-23.55" not in text and "proof/" not in text


async def test_retry_with_the_same_key_stores_one_copy(
    runner: Runner,
    uow_factory: UowFactory,
    make_user: MakeUser,
    config: proof.ProofConfig,
    pool: ScanPool,
) -> None:
    manager, courier = await make_user(Role.MANAGER), await make_user(Role.DELIVERER)
    session, (pid,) = await _active_session(uow_factory, manager, courier, ["PRF-3"])
    data = proof.ProofData(photos=(phone_jpeg(800, 600),))
    first = await _deliver(runner, config, pool, courier, session.id, pid, data, "k-retry")
    again = await _deliver(runner, config, pool, courier, session.id, pid, data, "k-retry")
    assert not first.replayed and again.replayed
    assert len(await _objects(config)) == 1


async def test_refused_change_leaves_no_object(
    runner: Runner,
    uow_factory: UowFactory,
    make_user: MakeUser,
    config: proof.ProofConfig,
    pool: ScanPool,
) -> None:
    manager, courier, other = (
        await make_user(Role.MANAGER),
        await make_user(Role.DELIVERER),
        await make_user(Role.DELIVERER),
    )
    session, (pid,) = await _active_session(uow_factory, manager, courier, ["PRF-4"])
    data = proof.ProofData(photos=(phone_jpeg(800, 600),))
    with pytest.raises(Exception):
        await _deliver(runner, config, pool, other, session.id, pid, data)
    assert await _objects(config) == []


async def test_bad_image_writes_nothing(
    runner: Runner,
    uow_factory: UowFactory,
    make_user: MakeUser,
    config: proof.ProofConfig,
    pool: ScanPool,
) -> None:
    manager, courier = await make_user(Role.MANAGER), await make_user(Role.DELIVERER)
    session, (pid,) = await _active_session(uow_factory, manager, courier, ["PRF-5"])
    data = proof.ProofData(photos=(phone_jpeg(800, 600), phone_jpeg(800, 600)[:-3000]))
    with pytest.raises(InvalidImage):
        await _deliver(runner, config, pool, courier, session.id, pid, data)
    assert await _objects(config) == []
    async with uow_factory() as uow:
        assert (await uow.packages.get(pid)).status is DeliveryStatus.PENDING


async def test_session_requirement_refuses_and_is_in_audit_and_snapshot(
    runner: Runner,
    uow_factory: UowFactory,
    make_user: MakeUser,
    config: proof.ProofConfig,
    pool: ScanPool,
) -> None:
    manager, courier = await make_user(Role.MANAGER), await make_user(Role.DELIVERER)
    session, (pid,) = await _active_session(uow_factory, manager, courier, ["PRF-6"])
    await runner.run_once(manager, commands.SetProofRequirement(session.id, True, True))
    with pytest.raises(ValidationFailed) as no_photo:
        await runner.run_once(courier, commands.UpdatePackageStatus(pid, DeliveryStatus.DELIVERED))
    assert no_photo.value.code == "PROOF_PHOTO_REQUIRED"
    with pytest.raises(ValidationFailed) as no_signature:
        await _deliver(
            runner,
            config,
            pool,
            courier,
            session.id,
            pid,
            proof.ProofData(photos=(phone_jpeg(640, 480),)),
        )
    assert no_signature.value.code == "PROOF_SIGNATURE_REQUIRED"
    assert await _objects(config) == []  # the refused call's photo was removed again
    data = proof.ProofData(photos=(phone_jpeg(640, 480),), signature=_signature_png())
    await _deliver(runner, config, pool, courier, session.id, pid, data)
    async with uow_factory() as uow:
        entries = await uow.audit.after(session.id, 0, 100)
        row = await uow.sessions.get(session.id)
    changed = [e for e in entries if e.action == Action.PACKAGE_STATUS_CHANGED][-1]
    assert changed.details["proofRequired"] == {"photo": True, "signature": True}
    assert row.financial_snapshot["proofRequired"] == {"photo": True, "signature": True}
    assert Action.SESSION_PROOF_REQUIREMENT_CHANGED in [e.action for e in entries]


async def test_failed_attempt_takes_proof_and_requirement_applies_to_delivered_only(
    runner: Runner,
    uow_factory: UowFactory,
    make_user: MakeUser,
    config: proof.ProofConfig,
    pool: ScanPool,
) -> None:
    manager, courier = await make_user(Role.MANAGER), await make_user(Role.DELIVERER)
    session, (pid,) = await _active_session(uow_factory, manager, courier, ["PRF-7"])
    await runner.run_once(manager, commands.SetProofRequirement(session.id, True, False))
    data = proof.ProofData(photos=(phone_jpeg(640, 480),), note="portão fechado")
    await _deliver(
        runner, config, pool, courier, session.id, pid, data, status=DeliveryStatus.FAILED
    )
    async with uow_factory() as uow:
        [(row, objects)] = await uow.proofs.for_packages([pid])
    assert row.status == "FAILED" and row.note == "portão fechado" and len(objects) == 1


async def test_sweeper_removes_only_uncommitted_old_objects(
    runner: Runner,
    uow_factory: UowFactory,
    make_user: MakeUser,
    config: proof.ProofConfig,
    pool: ScanPool,
) -> None:
    manager, courier = await make_user(Role.MANAGER), await make_user(Role.DELIVERER)
    session, (pid,) = await _active_session(uow_factory, manager, courier, ["PRF-8"])
    await _deliver(
        runner,
        config,
        pool,
        courier,
        session.id,
        pid,
        proof.ProofData(photos=(phone_jpeg(640, 480),)),
    )
    # A crash between the upload and the commit: an object no row names.
    orphan = f"{proof.day_prefix(datetime.now(UTC))}{session.id}/{uuid.uuid4().hex}.jpg"
    await config.store.put(orphan, b"\xff\xd8orphan", "image/jpeg")
    async with uow_factory() as uow:
        assert await proof.sweep(uow, config) == []  # too young: maybe still on its way
        removed = await proof.sweep(uow, config, now=datetime.now(UTC) + timedelta(hours=2))
    assert removed == [orphan]
    assert len(await _objects(config)) == 1
    done = await runner.run_once(None, commands.SweepProofObjects())
    assert done.ref == {"removed": 0}  # no store configured in this runner's deps


async def test_the_periodic_housekeeping_sweeps_uncommitted_objects(
    tmp_path: Path, committed_runner: Runner
) -> None:
    from domain.commands import Deps
    from domain.operations import Runner as JobRunner
    from jobs.deps import JobDeps
    from jobs.periodic import sweep_proof_objects

    config = proof.ProofConfig(
        storage.LocalStore(tmp_path / "swept", secrets.token_bytes(32)), sweep_after_s=0
    )
    orphan = f"{proof.day_prefix(datetime.now(UTC))}{uuid.uuid4()}/{uuid.uuid4().hex}.jpg"
    await config.store.put(orphan, b"\xff\xd8left behind", "image/jpeg")
    runner = JobRunner(committed_runner.sessionmaker, deps=Deps(proof=config))
    await sweep_proof_objects(JobDeps(runner=runner, files=config))
    assert not await config.store.exists(orphan)


async def test_forgetting_a_recipient_removes_the_proof_files_and_place(
    runner: Runner,
    uow_factory: UowFactory,
    make_user: MakeUser,
    config: proof.ProofConfig,
    pool: ScanPool,
) -> None:
    from domain import retention

    manager, courier = await make_user(Role.MANAGER), await make_user(Role.DELIVERER)
    session, (pid,) = await _active_session(uow_factory, manager, courier, ["PRF-LGPD"])
    await _deliver(
        runner,
        config,
        pool,
        courier,
        session.id,
        pid,
        proof.ProofData(
            photos=(phone_jpeg(640, 480),),
            received_by="Dona Sigilosa",
            latitude=-8.05,
            longitude=-34.9,
        ),
    )
    assert len(await _objects(config)) == 1
    async with uow_factory() as uow:
        await retention.forget_recipient(uow, manager, package_id=pid)
        await uow.commit()
    async with uow_factory() as uow:
        ((row, objects),) = await uow.proofs.for_packages([pid])
        assert row.received_by is None and row.latitude is None and row.anonymized_at
        assert objects == [], "no link is minted for an anonymised photo"
        # The sweeper deletes the file: no live row names it any more.
        removed = await proof.sweep(uow, config, now=datetime.now(UTC) + timedelta(hours=2))
    assert len(removed) == 1 and await _objects(config) == []
