"""The command runner: one transaction per command, keys claimed once, replays, the lines."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid

import pytest

from db.enums import DeliveryStatus, Role, SessionStatus
from domain import commands
from domain.crypto import SecretBox
from domain.errors import IdempotencyConflict, NotFound, PermissionDenied, ValidationFailed
from domain.operations import Runner
from domain.packages import PackageData
from tests.conftest import RecordingPublisher
from tests.domain.conftest import MakeUser


async def test_a_command_commits_once_and_publishes_after_commit(
    runner: Runner, make_user: MakeUser, publisher: RecordingPublisher
) -> None:
    manager = await make_user(Role.MANAGER)
    done = await runner.run_once(manager, commands.CreateSession("Runner"), "k-1")
    assert not done.replayed
    session = done.rows["session"]
    assert done.ref == {"session": str(session.id)}
    assert [(e.session_id, e.sequence) for e in publisher.published] == [(session.id, 1)]  # type: ignore[attr-defined]
    async with runner.uow() as uow:
        assert list(await uow.audit.sequences(session.id)) == [1]


async def test_a_replay_returns_the_stored_reference_and_does_nothing_again(
    runner: Runner, make_user: MakeUser, publisher: RecordingPublisher
) -> None:
    manager = await make_user(Role.MANAGER)
    first = await runner.run_once(manager, commands.CreateSession("Once"), "k-once")
    again = await runner.run_once(manager, commands.CreateSession("Once"), "k-once")
    assert again.replayed and again.ref == first.ref and again.rows == {}
    assert len(publisher.published) == 1
    with pytest.raises(IdempotencyConflict):
        await runner.run_once(manager, commands.CreateSession("Other"), "k-once")
    stored = await runner.stored(manager, "k-once")
    assert stored == first.ref
    assert await runner.stored(manager, "never-used") is None


async def test_a_refused_command_writes_nothing_and_frees_its_key(
    runner: Runner, make_user: MakeUser
) -> None:
    manager = await make_user(Role.MANAGER)
    created = await runner.run_once(manager, commands.CreateSession("Empty"))
    sid = created.rows["session"].id
    with pytest.raises(Exception) as refused:
        await runner.run_once(manager, commands.StartSession(sid), "k-start")
    assert getattr(refused.value, "code", None) == "SESSION_EMPTY"
    assert await runner.stored(manager, "k-start") is None, "the key went with the rollback"
    async with runner.uow() as uow:
        assert list(await uow.audit.sequences(sid)) == [1]
        row = await uow.sessions.get(sid)
        assert row is not None and row.status is SessionStatus.OPEN


async def test_package_commands_wait_in_their_session_s_line(
    runner: Runner, make_user: MakeUser
) -> None:
    manager = await make_user(Role.MANAGER)
    sid = (await runner.run_once(manager, commands.CreateSession("Line"))).rows["session"].id
    added = await runner.run_once(manager, commands.AddPackages(sid, (PackageData("LINE-1"),)))
    package = added.rows["packages"][0]
    assert await runner.session_of(commands.RemovePackage(package.id)) == sid
    assert await runner.session_of(commands.RemovePackage(uuid.uuid4())) is None
    # A command waits for the line before it takes any connection: while the line is held,
    # it has not started (no transaction, no key claimed).
    line = runner.lines.lock(sid)
    await line.acquire()
    task = asyncio.create_task(runner.run_once(manager, commands.RemovePackage(package.id), "rm"))
    await asyncio.sleep(0.05)
    assert not task.done()
    assert await runner.stored(manager, "rm") is None
    line.release()
    done = await task
    assert done.ref["removed"]["barcode"] == "LINE-1"


async def test_commands_need_a_caller_except_the_operator_s(
    runner: Runner, make_user: MakeUser
) -> None:
    with pytest.raises(PermissionDenied) as refused:
        await runner.run_once(None, commands.CreateSession("Nobody"))
    assert refused.value.code == "UNAUTHENTICATED"
    done = await runner.run_once(None, commands.CreateUser("Operator-made", Role.ADMIN))
    assert done.rows["user"].role is Role.ADMIN and done.private["token"]
    assert "token" not in done.ref, "secrets are never stored for replays"


async def test_group_commit_serves_direct_callers_with_their_own_answers(
    committed_runner: Runner, committed_user: MakeUser
) -> None:
    manager = await committed_user(Role.MANAGER)
    sid = (
        (await committed_runner.run_once(manager, commands.CreateSession("Grouped")))
        .rows["session"]
        .id
    )
    before = committed_runner.batches.batches
    results = await asyncio.gather(
        *[
            committed_runner.run_once(
                manager, commands.AddPackages(sid, (PackageData(f"GC-{i}"),)), f"gc-{i}"
            )
            for i in range(20)
        ]
    )
    assert committed_runner.batches.batches - before < 20, "no call shared a transaction"
    assert [r.rows["packages"][0].barcode for r in results] == [f"GC-{i}" for i in range(20)]
    sequences = sorted(r.rows["session"].last_sequence for r in results)
    assert sequences == list(range(2, 22)), "each answer shows the session as its call left it"
    replay = await committed_runner.run_once(
        manager, commands.AddPackages(sid, (PackageData("GC-3"),)), "gc-3"
    )
    assert replay.replayed and replay.ref == results[3].ref


async def test_a_status_change_of_an_unknown_package_is_not_found(
    runner: Runner, make_user: MakeUser
) -> None:
    manager = await make_user(Role.MANAGER)
    with pytest.raises(NotFound) as missing:
        await runner.run_once(
            manager, commands.UpdatePackageStatus(uuid.uuid4(), DeliveryStatus.DELIVERED)
        )
    assert missing.value.code == "PACKAGE_NOT_FOUND"


async def test_create_user_replays_its_token_sealed_to_its_caller_and_key(
    runner: Runner, make_user: MakeUser
) -> None:
    manager = await make_user(Role.MANAGER)
    create = commands.CreateUser("Sem Chave", Role.DELIVERER)
    with pytest.raises(ValidationFailed) as refused:
        await runner.run_once(manager, create, "k-no-box")  # no secret key: no keyed createUser
    assert refused.value.code == "IDEMPOTENCY_UNAVAILABLE"

    runner.deps = dataclasses.replace(runner.deps, box=SecretBox(b"test key"))
    first = await runner.run_once(manager, create, "k-user")
    again = await runner.run_once(manager, create, "k-user")
    assert again.replayed and again.ref == first.ref
    assert again.private == first.private and first.private["token"]
    assert await runner.stored(manager, "k-user") == first.ref  # the seal never leaves

    # The server's secret key changed since: the user stays created once, and the replay
    # says so (which user) instead of failing or creating a second one.
    runner.deps = dataclasses.replace(runner.deps, box=SecretBox(b"another key"))
    with pytest.raises(ValidationFailed) as lost:
        await runner.run_once(manager, create, "k-user")
    assert lost.value.code == "IDEMPOTENCY_ANSWER_LOST"
    assert lost.value.params == {"user": first.ref["user"]}
