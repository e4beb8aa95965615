"""An update Telegram delivers again acts once, through the domain's runner, and gets the same
answer; other chats are not told twice."""

from __future__ import annotations

from typing import Any

OWNER = "(SELECT id FROM users WHERE telegram_id = :tg)"


async def _session_id(sql: Any, name: str, owner: int) -> Any:
    rows = await sql(
        f"SELECT id FROM delivery_sessions WHERE name = :n AND owner_id = {OWNER}",
        n=name,
        tg=str(owner),
    )
    assert len(rows) == 1, rows
    return rows[0][0]


async def _audit(sql: Any, session_id: Any) -> list[str]:
    rows = await sql(
        "SELECT action FROM session_audit_log WHERE session_id = :s ORDER BY sequence",
        s=session_id,
    )
    return [a for (a,) in rows]


async def test_a_redelivered_update_acts_once_through_the_runner(  # type: ignore[no-untyped-def]
    bot, start_bot, person, sql, fake_api
) -> None:
    manager = await person("MANAGER", "Gil Gerente")
    courier = await person("DELIVERER", "Ana Entregadora")
    await manager.say("/nova Reenvios")
    sid = await _session_id(sql, "Reenvios", manager.id)

    typed = manager.text("7891000315507")
    first = await manager.send(typed)
    assert "Pacote 7891000315507 (EAN13) adicionado" in first[0]
    hire = manager.text(f"/entregadores {courier.id} 80 2,00")
    hired = await manager.send(hire)
    assign = manager.text(f"/atribuir {courier.id}")
    assigned = await manager.send(assign)
    assert "1 pacote atribuído a Ana Entregadora" in assigned[0]
    await manager.say("/start_session")
    await fake_api.wait_sent(courier.id, 3)  # added, assigned, started: before it answers
    deliver = courier.text("7891000315507")
    seen = len(fake_api.texts(manager.id))
    delivered = await courier.send(deliver)
    assert "Sessão Reenvios concluída!" in delivered[0]
    await fake_api.wait_sent(manager.id, seen + 1)  # the owner hears of the completion
    before = await _audit(sql, sid)

    # A new process (no memory of the updates): each comes again, after the session is over
    # and what their lookups found (an open session, an unassigned package) is gone.
    await bot.stop()
    again = await start_bot()
    manager_seen, courier_seen = len(fake_api.texts(manager.id)), len(fake_api.texts(courier.id))
    assert await manager.send(typed) == first
    assert await manager.send(hire) == hired
    assert await manager.send(assign) == assigned
    assert await courier.send(deliver) == delivered
    # A chat's updates run in order: once these are answered, the replays are wholly done.
    await manager.say("/start")
    await courier.say("/start")

    # Acted on once: the audit is as it was, nothing was published, nobody was told again.
    assert await _audit(sql, sid) == before
    assert before.count("package.added") == 1 and before.count("package.assigned") == 1
    assert await sql("SELECT count(*) FROM session_packages WHERE session_id = :s", s=sid) == [(1,)]
    assert [e for e in again.publisher.published if e.session_id == sid] == []
    assert len(fake_api.texts(manager.id)) == manager_seen + 4  # 3 replays and /start
    assert len(fake_api.texts(courier.id)) == courier_seen + 2
    # Through the runner: each update's key holds the command's operation.
    operations = await sql(
        "SELECT k.operation FROM idempotency_keys k WHERE k.user_id = "
        f"{OWNER} ORDER BY k.created_at",
        tg=str(manager.id),
    )
    assert [o for (o,) in operations] == [
        "createSession",
        "addPackages",
        "addDeliverer",
        "assignPackages",
        "startSession",
    ]


async def test_a_rejected_code_is_refused_the_same_way_again(  # type: ignore[no-untyped-def]
    bot, start_bot, person, sql
) -> None:
    manager = await person("MANAGER", "Téo Gerente")
    await manager.say("/nova Recusas")
    bad = manager.text("RR123456784BR")  # a Correios code with a wrong check digit
    refused = await manager.send(bad)
    assert refused == [
        "⚠️ O dígito verificador deste código de rastreio não confere: "
        "confira as letras e os números."
    ]
    await bot.stop()
    await start_bot()
    assert await manager.send(bad) == refused
    rows = await sql(
        "SELECT count(*) FROM session_packages p JOIN delivery_sessions s ON s.id = p.session_id "
        "WHERE s.name = 'Recusas'"
    )
    assert rows == [(0,)]
