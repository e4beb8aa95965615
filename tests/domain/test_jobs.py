"""Jobs: the state machine (every pair), idempotent creation, same-work dedup, cancel, finish
with its webhook, progress, requeue, and who may follow them."""

from __future__ import annotations

import itertools
import uuid

import pytest
from sqlalchemy import select

from db.enums import JobKind, JobStatus, Role
from db.models import AuditEntry, Webhook, WebhookDelivery
from domain import commands
from domain import jobs as job_service
from domain.actions import Action
from domain.errors import InvalidTransition, NotFound, PermissionDenied
from domain.operations import Runner
from domain.uow import UnitOfWork
from tests.domain.conftest import MakeUser

J = JobStatus
ALLOWED = {
    (J.QUEUED, J.RUNNING),
    (J.QUEUED, J.CANCELLED),
    (J.QUEUED, J.FAILED),
    (J.RUNNING, J.SUCCEEDED),
    (J.RUNNING, J.FAILED),
    (J.RUNNING, J.CANCELLED),
    (J.RUNNING, J.QUEUED),
}


@pytest.mark.parametrize(("current", "target"), list(itertools.product(J, J)))
def test_every_transition_pair(current: JobStatus, target: JobStatus) -> None:
    allowed = (current, target) in ALLOWED
    assert job_service.job_can(current, target) is allowed
    if allowed:
        job_service.ensure_job_transition(current, target)
    else:
        with pytest.raises(InvalidTransition) as caught:
            job_service.ensure_job_transition(current, target)
        assert caught.value.code == "JOB_TRANSITION"


def test_final_states_are_the_ones_with_no_way_out() -> None:
    assert {J.SUCCEEDED, J.FAILED, J.CANCELLED} == job_service.FINAL


def test_percent_is_bounded() -> None:
    assert job_service.percent(0, 0, None) == 0
    assert job_service.percent(5, 5, 20) == 50
    assert job_service.percent(30, 0, 20) == 100


def test_the_same_work_ignores_where_the_upload_was_stored() -> None:
    sid = uuid.uuid4()
    a = job_service.work_hash(JobKind.IMPORT_MANIFEST, sid, {"sha256": "x", "key": "imports/a"})
    b = job_service.work_hash(JobKind.IMPORT_MANIFEST, sid, {"sha256": "x", "key": "imports/b"})
    c = job_service.work_hash(JobKind.IMPORT_MANIFEST, sid, {"sha256": "y", "key": "imports/a"})
    assert a == b != c


async def _session(runner: Runner, manager: object) -> uuid.UUID:
    done = await runner.run_once(manager, commands.CreateSession("jobs"))  # type: ignore[arg-type]
    return uuid.UUID(done.ref["session"])


def _export(sid: uuid.UUID, fmt: str = "CSV") -> commands.CreateJob:
    return commands.CreateJob(sid, JobKind.EXPORT_REPORT, {"format": fmt})


async def test_create_is_idempotent_and_the_same_work_answers_the_active_job(
    runner: Runner, make_user: MakeUser, uow_factory: type[UnitOfWork]
) -> None:
    manager = await make_user(Role.MANAGER)
    sid = await _session(runner, manager)
    first = await runner.run_once(manager, _export(sid), "export-1")
    assert first.ref["created"] is True
    replay = await runner.run_once(manager, _export(sid), "export-1")
    assert replay.replayed and replay.ref["job"] == first.ref["job"]
    # Another request (another key) for the same work while it is queued: the same job.
    again = await runner.run_once(manager, _export(sid), "export-2")
    assert again.ref == {"job": first.ref["job"], "created": False}
    other = await runner.run_once(manager, _export(sid, "PDF"), None)
    assert other.ref["created"] is True and other.ref["job"] != first.ref["job"]
    # Once it is done, asking again is new work.
    job_id = uuid.UUID(first.ref["job"])
    await runner.run_once(None, commands.StartJob(job_id))
    await runner.run_once(None, commands.FinishJob(job_id, J.SUCCEEDED, {"key": "k"}))
    later = await runner.run_once(manager, _export(sid), None)
    assert later.ref["created"] is True and later.ref["job"] != first.ref["job"]


async def test_a_run_moves_through_start_progress_and_finish_with_audit_and_webhook(
    runner: Runner, make_user: MakeUser, uow_factory: type[UnitOfWork]
) -> None:
    manager = await make_user(Role.MANAGER)
    async with uow_factory() as uow:
        hook = Webhook(
            owner_id=manager.id,
            url="https://example.com/h",
            events=["job.succeeded", "job.failed"],
            active=True,
            failure_streak=0,
            secret_ciphertext=b"x",
        )
        uow.webhooks.add(hook)
        await uow.commit()
    sid = await _session(runner, manager)
    job_id = uuid.UUID((await runner.run_once(manager, _export(sid), None)).ref["job"])
    started = (await runner.run_once(None, commands.StartJob(job_id))).rows["job"]
    assert started.status is J.RUNNING and started.attempts == 1 and started.started_at
    progressed = (
        await runner.run_once(None, commands.SetJobProgress(job_id, done=3, failed=1, total=8))
    ).rows["job"]
    assert (progressed.progress, progressed.done, progressed.failed) == (50, 3, 1)
    # A lost worker's job resumes RUNNING: another attempt, same row.
    await runner.run_once(None, commands.RequeueJob(job_id, "TimeoutError: store"))
    again = (await runner.run_once(None, commands.StartJob(job_id))).rows["job"]
    assert again.status is J.RUNNING and again.attempts == 2 and again.last_error
    # Its replayed batches report from the first again: the counters do not go back.
    replayed = (
        await runner.run_once(None, commands.SetJobProgress(job_id, done=1, failed=0, total=8))
    ).rows["job"]
    assert (replayed.progress, replayed.done, replayed.failed) == (50, 3, 1)
    finished = (
        await runner.run_once(None, commands.FinishJob(job_id, J.SUCCEEDED, {"key": "x"}))
    ).rows["job"]
    assert finished.status is J.SUCCEEDED and finished.progress == 100 and finished.finished_at
    async with uow_factory() as uow:
        query = select(WebhookDelivery.event).where(WebhookDelivery.session_id == sid)
        events = list((await uow.session.scalars(query)).all())
        audit = select(AuditEntry.action).where(AuditEntry.session_id == sid)
        actions = list((await uow.session.scalars(audit)).all())
    # The webhook asked for job.succeeded and job.failed only: one delivery, in the outbox.
    assert events == [Action.JOB_SUCCEEDED.value]
    assert actions[-2:] == [Action.JOB_CREATED.value, Action.JOB_SUCCEEDED.value]
    # A final job does not move again; a late duplicate start is answered as it is.
    late = (await runner.run_once(None, commands.StartJob(job_id))).rows["job"]
    assert late.status is J.SUCCEEDED and late.attempts == 2
    with pytest.raises(InvalidTransition):
        await runner.run_once(manager, commands.CancelJob(job_id))
    with pytest.raises(InvalidTransition) as caught:
        await runner.run_once(None, commands.SetJobProgress(job_id, done=1, failed=0, total=1))
    assert caught.value.code == "JOB_NOT_RUNNING"


async def test_cancel_wins_over_a_late_finish(runner: Runner, make_user: MakeUser) -> None:
    manager = await make_user(Role.MANAGER)
    sid = await _session(runner, manager)
    job_id = uuid.UUID((await runner.run_once(manager, _export(sid), None)).ref["job"])
    await runner.run_once(None, commands.StartJob(job_id))
    cancelled = (await runner.run_once(manager, commands.CancelJob(job_id))).rows["job"]
    assert cancelled.status is J.CANCELLED and cancelled.finished_at
    after = (
        await runner.run_once(None, commands.FinishJob(job_id, J.FAILED, error="JOB_NOT_RUNNING"))
    ).rows["job"]
    assert after.status is J.CANCELLED


async def test_only_the_sessions_managers_follow_and_cancel_its_jobs(
    runner: Runner, make_user: MakeUser, uow_factory: type[UnitOfWork]
) -> None:
    owner = await make_user(Role.MANAGER)
    stranger = await make_user(Role.MANAGER)
    admin = await make_user(Role.ADMIN)
    deliverer = await make_user(Role.DELIVERER)
    sid = await _session(runner, owner)
    with pytest.raises(PermissionDenied):
        await runner.run_once(stranger, _export(sid), None)
    job_id = uuid.UUID((await runner.run_once(owner, _export(sid), None)).ref["job"])
    for outsider in (stranger, deliverer):
        with pytest.raises(NotFound) as caught:
            await runner.run_once(outsider, commands.CancelJob(job_id))
        assert caught.value.code == "JOB_NOT_FOUND"
    async with uow_factory() as uow:
        assert (await job_service.visible_job(uow, admin, job_id)).id == job_id
        assert [j.id for j in await job_service.page(uow, owner, sid, None, None, 10)] == [job_id]
        assert await job_service.page(uow, stranger, sid, None, None, 10) == []
        assert await job_service.page(uow, stranger, None, None, None, 10) == []
        assert await job_service.page(uow, deliverer, None, None, None, 10) == []
        assert job_id in [j.id for j in await job_service.page(uow, admin, None, None, None, 10)]
        queued = await job_service.page(uow, owner, None, [J.QUEUED], None, 10)
        assert [j.id for j in queued] == [job_id]
        assert await job_service.page(uow, owner, None, [J.RUNNING], None, 10) == []


async def test_an_import_batch_moves_its_jobs_counters_and_is_refused_once_cancelled(
    runner: Runner, make_user: MakeUser, uow_factory: type[UnitOfWork]
) -> None:
    from manifest import ManifestRow

    manager = await make_user(Role.MANAGER)
    sid = await _session(runner, manager)
    params = {"key": "imports/x.csv", "sha256": "abc", "dryRun": False, "allOrNothing": False}
    created = await runner.run_once(
        manager, commands.CreateJob(sid, JobKind.IMPORT_MANIFEST, params), None
    )
    job_id = uuid.UUID(created.ref["job"])
    await runner.run_once(None, commands.StartJob(job_id))
    rows = (ManifestRow(row=2, tracking_code="BATCH01"), ManifestRow(row=3, tracking_code=""))
    base = commands.ImportProgress(job_id, done=5, failed=1, total=10)
    done = await runner.run_once(manager, commands.ImportManifestRows(sid, rows, job=base), "b-0")
    assert [o.outcome.value for o in done.rows["outcomes"]] == ["ADDED", "PROBLEM"]
    async with uow_factory() as uow:
        job = await uow.jobs.get(job_id)
        assert job is not None and (job.done, job.failed, job.total, job.progress) == (6, 2, 10, 80)
    await runner.run_once(manager, commands.CancelJob(job_id))
    late = (ManifestRow(row=4, tracking_code="BATCH02"),)
    with pytest.raises(InvalidTransition) as caught:
        await runner.run_once(manager, commands.ImportManifestRows(sid, late, job=base), "b-1")
    assert caught.value.code == "JOB_NOT_RUNNING"
    async with uow_factory() as uow:
        assert await uow.packages.existing_ids(sid, ["BATCH01", "BATCH02"]) == {
            "BATCH01": done.rows["outcomes"][0].package_id
        }
