"""jobs/imports.py: an import yields the session to others between batches, and grows its
batches while it is alone."""

from __future__ import annotations

from types import SimpleNamespace

from domain.commands import Done
from domain.manifests import Outcome, RowOutcome
from domain.packages import MAX_PACKAGES_PER_CALL
from jobs import imports


def _done(last_sequence: int, added: int) -> Done:
    outcomes = [RowOutcome(i + 2, Outcome.ADDED) for i in range(added)]
    session = SimpleNamespace(last_sequence=last_sequence)
    return Done({"outcomes": []}, rows={"session": session, "outcomes": outcomes})


def test_alone_a_short_batch_doubles_and_runs_the_next_at_once() -> None:
    pace = imports.Pace(100)
    assert pace.after(_done(100, 100), took=0.05) == 0.0  # the first batch: nobody seen yet
    assert pace.size == 200
    # Our last batch ended at 100; this one wrote 101..300: nobody else wrote in between.
    assert pace.after(_done(300, 200), took=0.1) == 0.0
    assert pace.size == 400


def test_growth_stops_at_a_long_batch_and_at_the_per_call_limit() -> None:
    pace = imports.Pace(100, size=400)
    pace.last_seen = 0
    assert pace.after(_done(400, 400), took=imports.GROW_BELOW_S + 0.01) == 0.0
    assert pace.size == 400, "a batch that held the lock this long does not grow"
    pace = imports.Pace(100, size=MAX_PACKAGES_PER_CALL)
    pace.after(_done(1000, 1000), took=0.01)
    assert pace.size == MAX_PACKAGES_PER_CALL


def test_others_writing_in_between_shrink_the_batch_and_get_the_time() -> None:
    pace = imports.Pace(100, size=800)
    pace.last_seen = 10
    # Our last batch ended at 10; this one wrote 14..813: 11..13 were someone else's scans.
    assert pace.after(_done(813, 800), took=0.2) == 0.2 * imports.YIELD_FACTOR
    assert pace.size == 100
    assert pace.last_seen == 813
    pace.last_seen = 10
    assert pace.after(_done(900, 100), took=5.0) == imports.MAX_YIELD_S


def test_a_replay_never_waits() -> None:
    pace = imports.Pace(100)
    pace.last_seen = 10
    assert pace.after(Done({"outcomes": []}, replayed=True), took=0.5) == 0.0
    assert pace.last_seen is None, "a replay says nothing of who wrote since"
