"""Database-level guarantees, each tried with raw SQL (no domain code in the way)."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

pytestmark = pytest.mark.asyncio


async def _refused(conn: AsyncConnection, sql: str, **params: object) -> str:
    """Runs `sql` in a savepoint and returns the database's error text (it must fail)."""
    nested = await conn.begin_nested()
    try:
        await conn.execute(text(sql), params)
    except (IntegrityError, DBAPIError) as exc:
        await nested.rollback()
        return str(exc.orig)
    await nested.rollback()
    pytest.fail(f"the database accepted: {sql}")


async def _accepted(conn: AsyncConnection, sql: str, **params: object) -> None:
    await conn.execute(text(sql), params)


@pytest.fixture
async def world(conn: AsyncConnection) -> dict[str, uuid.UUID]:
    ids = {
        k: uuid.uuid4() for k in ("owner", "courier", "session", "deliverer", "address", "package")
    }
    await conn.execute(
        text(
            "INSERT INTO users (id, name, role) VALUES (:o, 'Owner', 'MANAGER'), (:c, 'Courier', 'DELIVERER')"
        ),
        {"o": ids["owner"], "c": ids["courier"]},
    )
    await conn.execute(
        text(
            "INSERT INTO delivery_sessions (id, name, status, owner_id, was_reused, reuse_count, last_sequence) "
            "VALUES (:s, 'Morning', 'ACTIVE', :o, false, 0, 1)"
        ),
        {"s": ids["session"], "o": ids["owner"]},
    )
    await conn.execute(
        text(
            "INSERT INTO session_deliverers (id, session_id, user_id, base_salary, commission_per_delivery, "
            "packages_assigned, packages_delivered, packages_failed, total_earned) "
            "VALUES (:d, :s, :c, 100.00, 2.50, 1, 0, 0, 100.00)"
        ),
        {"d": ids["deliverer"], "s": ids["session"], "c": ids["courier"]},
    )
    await conn.execute(
        text(
            "INSERT INTO session_addresses (id, session_id, normalized_key, line, package_count) "
            "VALUES (:a, :s, 'rua a 1', 'Rua A, 1', 1)"
        ),
        {"a": ids["address"], "s": ids["session"]},
    )
    await conn.execute(
        text(
            "INSERT INTO session_packages (id, session_id, barcode, status, address_id, deliverer_id) "
            "VALUES (:p, :s, '7891000315507', 'PENDING', :a, :d)"
        ),
        {"p": ids["package"], "s": ids["session"], "a": ids["address"], "d": ids["deliverer"]},
    )
    await conn.execute(
        text(
            "INSERT INTO session_audit_log (session_id, sequence, action, details) "
            "VALUES (:s, 1, 'session.created', '{}')"
        ),
        {"s": ids["session"]},
    )
    return ids


async def _complete(conn: AsyncConnection, sid: uuid.UUID) -> None:
    await conn.execute(
        text(
            "UPDATE session_packages SET status='DELIVERED', delivered_at=now() WHERE session_id=:s"
        ),
        {"s": sid},
    )
    await conn.execute(
        text(
            "UPDATE delivery_sessions SET status='COMPLETED', completed_at=now(), "
            'financial_snapshot=\'{"totalCost": "102.50"}\' WHERE id=:s'
        ),
        {"s": sid},
    )


async def test_audit_log_is_append_only(conn: AsyncConnection, world: dict[str, uuid.UUID]) -> None:
    s = world["session"]
    assert "append-only" in await _refused(
        conn, "UPDATE session_audit_log SET action='x' WHERE session_id=:s", s=s
    )
    assert "append-only" in await _refused(
        conn, "DELETE FROM session_audit_log WHERE session_id=:s", s=s
    )
    assert "append-only" in await _refused(conn, "TRUNCATE session_audit_log CASCADE")
    await _accepted(
        conn,
        "INSERT INTO session_audit_log (session_id, sequence, action, details) VALUES (:s, 2, 'x', '{}')",
        s=s,
    )


async def test_audit_sequence_unique_per_session(
    conn: AsyncConnection, world: dict[str, uuid.UUID]
) -> None:
    err = await _refused(
        conn,
        "INSERT INTO session_audit_log (session_id, sequence, action, details) VALUES (:s, 1, 'dup', '{}')",
        s=world["session"],
    )
    assert "uq_session_audit_log_session_id_sequence" in err


@pytest.mark.parametrize("final_status", ["COMPLETED", "ARCHIVED"])
async def test_children_of_readonly_session_are_frozen(
    conn: AsyncConnection, world: dict[str, uuid.UUID], final_status: str
) -> None:
    s = world["session"]
    await _complete(conn, s)
    if final_status == "ARCHIVED":
        await _accepted(
            conn,
            "UPDATE delivery_sessions SET status='ARCHIVED', archived_at=now() WHERE id=:s",
            s=s,
        )
    checks: list[tuple[str, dict[str, object]]] = [
        (
            "INSERT INTO session_packages (session_id, barcode, status) VALUES (:s, 'NEW1', 'PENDING')",
            {"s": s},
        ),
        ("UPDATE session_packages SET recipient_name='x' WHERE id=:p", {"p": world["package"]}),
        ("DELETE FROM session_packages WHERE id=:p", {"p": world["package"]}),
        (
            "INSERT INTO session_deliverers (session_id, user_id, base_salary, commission_per_delivery, "
            "packages_assigned, packages_delivered, packages_failed, total_earned) "
            "VALUES (:s, :o, 1, 1, 0, 0, 0, 1)",
            {"s": s, "o": world["owner"]},
        ),
        ("UPDATE session_deliverers SET total_earned = 999 WHERE id=:d", {"d": world["deliverer"]}),
        ("DELETE FROM session_deliverers WHERE id=:d", {"d": world["deliverer"]}),
        (
            "INSERT INTO session_addresses (session_id, normalized_key, line, package_count) "
            "VALUES (:s, 'k', 'l', 0)",
            {"s": s},
        ),
        ("UPDATE session_addresses SET line='changed' WHERE id=:a", {"a": world["address"]}),
        ("DELETE FROM session_addresses WHERE id=:a", {"a": world["address"]}),
    ]
    for sql, params in checks:
        err = await _refused(conn, sql, **params)
        assert "read-only" in err, (sql, err)


async def test_children_of_active_session_can_change(
    conn: AsyncConnection, world: dict[str, uuid.UUID]
) -> None:
    await _accepted(
        conn, "UPDATE session_packages SET recipient_name='Maria' WHERE id=:p", p=world["package"]
    )
    await _accepted(
        conn,
        "INSERT INTO session_packages (session_id, barcode, status) VALUES (:s, 'NEW2', 'PENDING')",
        s=world["session"],
    )


async def test_financial_snapshot_never_changes(
    conn: AsyncConnection, world: dict[str, uuid.UUID]
) -> None:
    s = world["session"]
    await _complete(conn, s)
    assert "immutable" in await _refused(
        conn,
        'UPDATE delivery_sessions SET financial_snapshot=\'{"totalCost": "0.00"}\' WHERE id=:s',
        s=s,
    )
    # Nor can it be removed by moving the session back out of COMPLETED.
    await _refused(
        conn,
        "UPDATE delivery_sessions SET status='ACTIVE', financial_snapshot=NULL WHERE id=:s",
        s=s,
    )
    assert "read-only" in await _refused(
        conn, "UPDATE delivery_sessions SET status='ACTIVE' WHERE id=:s", s=s
    )
    assert "read-only" in await _refused(
        conn, "UPDATE delivery_sessions SET name='renamed' WHERE id=:s", s=s
    )
    assert "read-only" in await _refused(conn, "DELETE FROM delivery_sessions WHERE id=:s", s=s)
    # Archiving is the one move left, and it keeps the snapshot.
    await _accepted(
        conn, "UPDATE delivery_sessions SET status='ARCHIVED', archived_at=now() WHERE id=:s", s=s
    )
    row = (
        await conn.execute(
            text("SELECT financial_snapshot FROM delivery_sessions WHERE id=:s"), {"s": s}
        )
    ).one()
    assert row[0] == {"totalCost": "102.50"}
    assert "read-only" in await _refused(
        conn, "UPDATE delivery_sessions SET status='COMPLETED' WHERE id=:s", s=s
    )


async def test_snapshot_only_with_completion(
    conn: AsyncConnection, world: dict[str, uuid.UUID]
) -> None:
    err = await _refused(
        conn, "UPDATE delivery_sessions SET financial_snapshot='{}' WHERE id=:s", s=world["session"]
    )
    assert "snapshot_iff_completed" in err


@pytest.mark.parametrize(
    ("sql", "constraint"),
    [
        ("UPDATE session_deliverers SET base_salary=-0.01 WHERE id=:d", "base_salary_non_negative"),
        (
            "UPDATE session_deliverers SET commission_per_delivery=-1 WHERE id=:d",
            "commission_non_negative",
        ),
        ("UPDATE session_deliverers SET total_earned=-5 WHERE id=:d", "total_earned_non_negative"),
    ],
)
async def test_money_is_never_negative(
    conn: AsyncConnection, world: dict[str, uuid.UUID], sql: str, constraint: str
) -> None:
    assert constraint in await _refused(conn, sql, d=world["deliverer"])


async def test_money_has_exactly_two_decimals(
    conn: AsyncConnection, world: dict[str, uuid.UUID]
) -> None:
    await _accepted(
        conn, "UPDATE session_deliverers SET base_salary=10.005 WHERE id=:d", d=world["deliverer"]
    )
    row = (
        await conn.execute(
            text("SELECT base_salary::text FROM session_deliverers WHERE id=:d"),
            {"d": world["deliverer"]},
        )
    ).one()
    assert row[0] == "10.01"  # NUMERIC(12,2) rounds half away from zero, never a float


async def test_package_links_stay_within_their_session(
    conn: AsyncConnection, world: dict[str, uuid.UUID]
) -> None:
    other = uuid.uuid4()
    await _accepted(
        conn,
        "INSERT INTO delivery_sessions (id, name, status, owner_id, was_reused, reuse_count, last_sequence) "
        "VALUES (:x, 'Other', 'OPEN', :o, false, 0, 0)",
        x=other,
        o=world["owner"],
    )
    err = await _refused(
        conn,
        "INSERT INTO session_packages (session_id, barcode, status, deliverer_id) VALUES (:x, 'B1', 'PENDING', :d)",
        x=other,
        d=world["deliverer"],
    )
    assert "same_session" in err
    err = await _refused(
        conn,
        "INSERT INTO session_packages (session_id, barcode, status, address_id) VALUES (:x, 'B2', 'PENDING', :a)",
        x=other,
        a=world["address"],
    )
    assert "same_session" in err


async def test_barcode_unique_per_session(
    conn: AsyncConnection, world: dict[str, uuid.UUID]
) -> None:
    err = await _refused(
        conn,
        "INSERT INTO session_packages (session_id, barcode, status) VALUES (:s, '7891000315507', 'PENDING')",
        s=world["session"],
    )
    assert "uq_session_packages_session_id_barcode" in err


async def test_token_hash_must_be_sha256_hex(
    conn: AsyncConnection, world: dict[str, uuid.UUID]
) -> None:
    err = await _refused(
        conn,
        "INSERT INTO api_tokens (id, user_id, token_hash) VALUES (:i, :u, 'plain-token')",
        i=uuid.uuid4(),
        u=world["owner"],
    )
    assert "token_hash_hex" in err


async def _add_proof(
    conn: AsyncConnection, world: dict[str, uuid.UUID]
) -> tuple[uuid.UUID, uuid.UUID]:
    proof, obj = uuid.uuid4(), uuid.uuid4()
    await conn.execute(
        text(
            "INSERT INTO package_proofs (id, session_id, package_id, status, received_by, latitude, longitude) "
            "VALUES (:id, :s, :p, 'DELIVERED', 'Porteiro', -23.5, -46.6)"
        ),
        {"id": proof, "s": world["session"], "p": world["package"]},
    )
    await conn.execute(
        text(
            "INSERT INTO proof_objects (id, proof_id, session_id, kind, position, key, sha256, size, width, height, content_type) "
            "VALUES (:id, :proof, :s, 'PHOTO', 0, :key, :sha, 1000, 1600, 1200, 'image/jpeg')"
        ),
        {
            "id": obj,
            "proof": proof,
            "s": world["session"],
            "key": f"proof/{proof}/a.jpg",
            "sha": "a" * 64,
        },
    )
    return proof, obj


async def test_proof_of_active_session_can_be_written(
    conn: AsyncConnection, world: dict[str, uuid.UUID]
) -> None:
    proof, _ = await _add_proof(conn, world)
    await _accepted(conn, "UPDATE package_proofs SET note='portão azul' WHERE id=:id", id=proof)


@pytest.mark.parametrize("final_status", ["COMPLETED", "ARCHIVED"])
async def test_proof_of_readonly_session_cannot_be_added_replaced_or_removed(
    conn: AsyncConnection, world: dict[str, uuid.UUID], final_status: str
) -> None:
    s = world["session"]
    proof, obj = await _add_proof(conn, world)
    await _complete(conn, s)
    if final_status == "ARCHIVED":
        await _accepted(
            conn,
            "UPDATE delivery_sessions SET status='ARCHIVED', archived_at=now() WHERE id=:s",
            s=s,
        )
    refused = [
        ("UPDATE package_proofs SET received_by='Outra pessoa' WHERE id=:id", {"id": proof}),
        ("DELETE FROM package_proofs WHERE id=:id", {"id": proof}),
        ("UPDATE proof_objects SET key='proof/x/other.jpg' WHERE id=:id", {"id": obj}),
        ("UPDATE proof_objects SET sha256=:sha WHERE id=:id", {"id": obj, "sha": "b" * 64}),
        ("DELETE FROM proof_objects WHERE id=:id", {"id": obj}),
        (
            "INSERT INTO proof_objects (proof_id, session_id, kind, position, key, sha256, size, width, height, content_type) "
            "VALUES (:proof, :s, 'SIGNATURE', 0, 'proof/x/sig.png', :sha, 10, 10, 10, 'image/png')",
            {"proof": proof, "s": s, "sha": "c" * 64},
        ),
        ("UPDATE delivery_sessions SET proof_requires_photo = true WHERE id=:s", {"s": s}),
    ]
    for sql, params in refused:
        assert "read-only" in await _refused(conn, sql, **params), sql
    assert "append-only" in await _refused(conn, "TRUNCATE proof_objects CASCADE")


async def test_proof_object_keys_are_never_reused(
    conn: AsyncConnection, world: dict[str, uuid.UUID]
) -> None:
    proof, _ = await _add_proof(conn, world)
    err = await _refused(
        conn,
        "INSERT INTO proof_objects (proof_id, session_id, kind, position, key, sha256, size, width, height, content_type) "
        "VALUES (:proof, :s, 'PHOTO', 1, :key, :sha, 10, 10, 10, 'image/jpeg')",
        proof=proof,
        s=world["session"],
        key=f"proof/{proof}/a.jpg",
        sha="d" * 64,
    )
    assert "uq_proof_objects_key" in err


async def test_read_only_rows_allow_exactly_their_anonymisation(
    conn: AsyncConnection, world: dict[str, uuid.UUID]
) -> None:
    s, p, a = world["session"], world["package"], world["address"]
    await conn.execute(
        text("UPDATE session_packages SET recipient_name='Maria Silva' WHERE id=:p"), {"p": p}
    )
    await _complete(conn, s)
    # Still refused: an ordinary change, a change dressed as anonymisation, half of one.
    for sql in (
        "UPDATE session_packages SET recipient_name='Outra' WHERE id=:p",
        "UPDATE session_packages SET recipient_name=NULL WHERE id=:p",  # no anonymized_at
        "UPDATE session_packages SET anonymized_at=now() WHERE id=:p",  # the name stays
        "UPDATE session_packages SET recipient_name=NULL, anonymized_at=now(), "
        "barcode='X' WHERE id=:p",
        "UPDATE session_packages SET recipient_name=NULL, anonymized_at=now(), "
        "status='FAILED' WHERE id=:p",
        "UPDATE session_addresses SET line='', city=NULL, anonymized_at=now(), "
        "normalized_key='anything' WHERE id=:a",
        "DELETE FROM session_packages WHERE id=:p",
    ):
        assert "read-only" in await _refused(conn, sql, p=p, a=a), sql
    # Exactly the anonymisation: what identifies the recipient emptied, the moment set.
    await _accepted(
        conn,
        "UPDATE session_packages SET recipient_name=NULL, failure_reason=NULL, raw_text=NULL, "
        "scan_report=NULL, anonymized_at=now() WHERE id=:p",
        p=p,
    )
    await _accepted(
        conn,
        "UPDATE session_addresses SET line='', city=NULL, postal_code=NULL, latitude=NULL, "
        "longitude=NULL, normalized_key='anonymized:' || id::text, anonymized_at=now() "
        "WHERE id=:a",
        a=a,
    )
    # Once: an anonymised row is read-only again.
    assert "read-only" in await _refused(
        conn, "UPDATE session_packages SET anonymized_at=now() WHERE id=:p", p=p
    )
    snapshot = (
        await conn.execute(
            text("SELECT financial_snapshot FROM delivery_sessions WHERE id=:s"), {"s": s}
        )
    ).scalar_one()
    assert snapshot == {"totalCost": "102.50"}
