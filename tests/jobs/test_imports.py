"""jobs/imports.py: an import yields the session to others between batches."""

from __future__ import annotations

import time
from types import SimpleNamespace

from domain.commands import Done
from domain.manifests import Outcome, RowOutcome
from jobs import imports


def _done(last_sequence: int, added: int) -> Done:
    outcomes = [RowOutcome(i + 2, Outcome.ADDED) for i in range(added)]
    session = SimpleNamespace(last_sequence=last_sequence)
    return Done({"outcomes": []}, rows={"session": session, "outcomes": outcomes})


async def test_a_batch_right_after_ours_runs_at_once() -> None:
    started = time.monotonic()
    # Our last batch ended at 10; this one wrote 11..15: nobody else wrote in between.
    assert await imports._yield_to_others(_done(15, 5), 10, took=0.3) == 15
    assert time.monotonic() - started < 0.1


async def test_others_writing_in_between_get_as_long_as_our_batch_took() -> None:
    started = time.monotonic()
    # Our last batch ended at 10; this one wrote 14..18: 11..13 were someone else's scans.
    assert await imports._yield_to_others(_done(18, 5), 10, took=0.3) == 18
    assert time.monotonic() - started >= 0.29


async def test_a_replay_or_the_first_batch_never_waits() -> None:
    started = time.monotonic()
    assert await imports._yield_to_others(Done({"outcomes": []}, replayed=True), 10, 0.5) is None
    assert await imports._yield_to_others(_done(50, 5), None, took=0.5) == 50
    assert time.monotonic() - started < 0.1
