"""The Telegram bot end to end: chats on a fake Bot API server, effects in PostgreSQL."""

from __future__ import annotations

import io

from PIL import Image

# Three labels, each photographed twice: the manager's shot adds, the deliverer's delivers.
LABELS = [
    ("ean13-2/01.png", "ean13-2/03.png", "9780804816632"),
    ("code128-2a/01.png", "code128-2a/02.png", "005-3379497200006"),
    ("ean8-1a/2.png", "ean8-1a/3.png", "12345670"),
]


def blank_png() -> bytes:
    out = io.BytesIO()
    Image.new("L", (320, 240), 255).save(out, format="PNG")
    return out.getvalue()


async def test_a_whole_session_from_the_chats(bot, person, sql, fake_api) -> None:  # type: ignore[no-untyped-def]
    manager = await person("MANAGER", "Marta Gerente")
    courier = await person("DELIVERER", "João Entregador")

    hello = await manager.say("/start")
    assert "Olá, Marta Gerente" in hello and "Gerente" in hello

    created = await manager.say("/nova Rota Centro")
    assert "Sessão criada: Rota Centro" in created
    (sid,) = (
        await sql(
            "SELECT id FROM delivery_sessions WHERE name = 'Rota Centro' AND owner_id = (SELECT id FROM users WHERE telegram_id = :tg)",
            tg=str(manager.id),
        )
    )[0]

    for shot, _, code in LABELS:
        added = await manager.snap(shot)
        assert f"Pacote {code}" in added and "adicionado" in added, added

    courier_seen = len(fake_api.texts(courier.id))
    added = await manager.say(f"/entregadores {courier.id} 100 2,50")
    assert "João Entregador adicionado(a) à sessão Rota Centro" in added
    assert "R$ 100,00" in added and "R$ 2,50 por entrega" in added
    assigned = await manager.say(f"/atribuir {courier.id}")
    assert "3 pacotes atribuídos a João Entregador" in assigned
    started = await manager.say("/start_session")
    assert "Sessão Rota Centro iniciada com 3 pacotes" in started
    notes = await fake_api.wait_sent(courier.id, courier_seen + 3)
    assert "A sessão Rota Centro começou! Você tem 3 pacotes." in notes[-1].text

    first = await courier.snap(LABELS[0][1])
    assert "Entregue: 9780804816632" in first and "Faltam 2 pacotes" in first
    await courier.snap(LABELS[1][1])
    manager_seen = len(fake_api.texts(manager.id))
    last = await courier.snap(LABELS[2][1])
    assert "Entregue: 12345670" in last
    assert "Sessão Rota Centro concluída!" in last
    assert "João Entregador: R$ 100,00 + 3 x R$ 2,50 = R$ 107,50" in last
    assert "Custo total: R$ 107,50" in last
    # The owner hears about it in their own chat.
    told = await fake_api.wait_sent(manager.id, manager_seen + 1)
    assert "Sessão Rota Centro concluída!" in told[-1].text

    dashboard = await manager.say("/session_dashboard")
    assert "100%" in dashboard and "Entregues: 3" in dashboard and "Concluída" in dashboard
    assert "R$ 107,50" in dashboard

    own = await courier.say("/session_dashboard")
    assert "100%" in own and "Seus ganhos:" in own and "R$ 107,50" in own
    assert "Custo total" not in own

    history = await courier.say("/historico")
    assert "Rota Centro: concluída em" in history and "seus ganhos: R$ 107,50" in history

    # The database agrees, and the bot went through the domain: audit, snapshot, live events.
    ((status, snapshot),) = await sql(
        "SELECT status, financial_snapshot FROM delivery_sessions WHERE id = :s", s=sid
    )
    assert status == "COMPLETED" and snapshot["totalCost"] == "107.50"
    rows = await sql(
        "SELECT barcode, status, scan_report IS NOT NULL FROM session_packages WHERE session_id = :s ORDER BY barcode",
        s=sid,
    )
    assert rows == sorted((code, "DELIVERED", True) for _, _, code in LABELS)
    actions = [
        a
        for (a,) in await sql(
            "SELECT action FROM session_audit_log WHERE session_id = :s ORDER BY sequence", s=sid
        )
    ]
    assert actions[0] == "session.created" and actions[-1] == "session.completed"
    assert actions.count("package.added") == 3 and actions.count("package.status_changed") == 3
    published = [e for e in bot.publisher.published if e.session_id == sid]
    assert [e.sequence for e in published] == list(range(1, len(actions) + 1))


async def test_an_unknown_account_is_refused_and_nothing_happens(bot, person, sql) -> None:  # type: ignore[no-untyped-def]
    stranger = await person(None, "Estranho")
    counts = "SELECT (SELECT count(*) FROM delivery_sessions), (SELECT count(*) FROM idempotency_keys), (SELECT count(*) FROM session_audit_log)"
    before = await sql(counts)

    for reply in (
        await stranger.say("/nova Rota Pirata"),
        await stranger.snap("ean13-2/01.png"),
        await stranger.say("7891000315507"),
    ):
        assert f"Esta conta do Telegram (id {stranger.id}) não está vinculada" in reply
        assert "nada foi feito" in reply and "bipa users link-telegram" in reply

    assert await sql(counts) == before
    assert await sql("SELECT 1 FROM delivery_sessions WHERE name = 'Rota Pirata'") == []


async def test_the_same_update_twice_acts_once_even_after_a_restart(  # type: ignore[no-untyped-def]
    bot, start_bot, person, sql, fake_api
) -> None:
    manager = await person("MANAGER", "Rita Gerente")
    await manager.say("/nova Duplicadas")
    photo = manager.photo("ean13-4/01.png")
    command = manager.text("/nova Outra Duplicada")

    # Twins in one getUpdates batch: one act, one answer. A chat's updates run in order, so
    # once /start is answered every twin before it is done.
    before = len(fake_api.texts(manager.id))
    await fake_api.feed(photo, photo, command, command, manager.text("/start"))
    await fake_api.wait_sent(manager.id, before + 3)
    answers = fake_api.texts(manager.id)[before:]
    assert len(answers) == 3 and "Olá, Rita Gerente" in answers[2], answers
    assert "Pacote 9780441014989" in answers[0] and "Sessão criada: Outra Duplicada" in answers[1]

    # A restart loses the memory; the update comes again: stored answer, no second act.
    await bot.stop()
    await start_bot()
    again = await manager.send(photo)
    assert again == [answers[0]]
    again = await manager.send(command)
    assert again == [answers[1]]

    owner = "(SELECT id FROM users WHERE telegram_id = :tg)"
    names = await sql(
        f"SELECT name FROM delivery_sessions WHERE owner_id = {owner} ORDER BY created_at",
        tg=str(manager.id),
    )
    assert [n for (n,) in names] == ["Duplicadas", "Outra Duplicada"]
    packages = await sql(
        f"SELECT p.barcode FROM session_packages p JOIN delivery_sessions s ON s.id = p.session_id WHERE s.owner_id = {owner}",
        tg=str(manager.id),
    )
    assert packages == [("9780441014989",)]


async def test_an_unreadable_photo_gets_a_hint(bot, person, sql) -> None:  # type: ignore[no-untyped-def]
    manager = await person("MANAGER", "Bia Gerente")
    await manager.say("/nova Fotos Ruins")

    blank = await manager.snap(blank_png())
    assert "Não consegui ler um código de barras nesta foto" in blank
    assert "aproxime a câmera" in blank and "digite" in blank
    broken = await manager.snap(b"this is not an image at all")
    assert "Não consegui abrir esta imagem" in broken

    rows = await sql(
        "SELECT count(*) FROM session_packages p JOIN delivery_sessions s ON s.id = p.session_id WHERE s.name = 'Fotos Ruins'"
    )
    assert rows == [(0,)]


async def test_typed_codes_failures_and_history(bot, person, sql, fake_api) -> None:  # type: ignore[no-untyped-def]
    manager = await person("MANAGER", "Caio Gerente")
    courier = await person("DELIVERER", "Lia Entregadora")
    await manager.say("/nova Digitadas")

    assert "Pacote 7891000315507 (EAN13) adicionado" in await manager.say("7891000315507")
    assert "Pacote LBR-000123-SP adicionado" in await manager.say("lbr-000123-sp")
    assert "já estava na sessão" in await manager.say("789 1000 315507")
    # A Correios code with a wrong check digit is refused (a typed GTIN-length number is not
    # checked: it may be a carrier's tracking number, tests/domain/test_tracking_codes.py).
    assert "dígito verificador" in await manager.say("RR123456784BR")
    assert "Não entendi" in await manager.say("obrigado!")
    assert "Use: /falha CÓDIGO MOTIVO" in await manager.say("/falha")

    refused = await courier.say("7891000315507")
    assert "não participa de nenhuma sessão em andamento" in refused

    seen = len(fake_api.texts(courier.id))
    await manager.say(f"/entregadores {courier.id} 50 3")
    await manager.say(f"/atribuir {courier.id}")
    team = await manager.say("/entregadores")
    assert "Lia Entregadora" in team and "0/2 entregues" in team
    await fake_api.wait_sent(courier.id, seen + 2)  # "added to the session", "2 packages"
    assert "ainda não começou" in await courier.say("7891000315507")
    seen = len(fake_api.texts(courier.id))
    assert "iniciada com 2 pacotes" in await manager.say("/start_session")
    await fake_api.wait_sent(courier.id, seen + 1)  # "the session started"

    assert "Entregue: 7891000315507" in await courier.say("7891000315507")
    assert "Não encontrei o pacote 0000000000000 nesta sessão" in await courier.say("0000000000000")
    assert "Use: /falha CÓDIGO MOTIVO" in await courier.say("/falha LBR-000123-SP")
    done = await courier.say("/falha lbr-000123-sp destinatário ausente")
    assert "Falha registrada: LBR-000123-SP" in done and "Sessão Digitadas concluída!" in done
    assert "Lia Entregadora: R$ 50,00 + 1 x R$ 3,00 = R$ 53,00" in done
    assert "Entregues: 1 | Falhas: 1" in done

    late = await courier.say("/falha 7891000315507 tarde demais")
    assert "não participa de nenhuma sessão em andamento" in late

    history = await manager.say("/historico")
    assert "Digitadas: concluída em" in history and "1 entregues, 1 falhas" in history
    assert "custo R$ 53,00" in history

    rows = await sql(
        "SELECT p.barcode, p.status, p.failure_reason FROM session_packages p JOIN delivery_sessions s ON s.id = p.session_id WHERE s.name = 'Digitadas' ORDER BY p.barcode"
    )
    assert rows == [
        ("7891000315507", "DELIVERED", None),
        ("LBR-000123-SP", "FAILED", "destinatário ausente"),
    ]


async def test_the_sessions_menu(bot, person, sql, fake_api) -> None:  # type: ignore[no-untyped-def]
    manager = await person("MANAGER", "Duda Gerente")
    await manager.say("/sessions")
    menu = fake_api.sent(manager.id)[-1]
    assert menu.text == "📋 Sessões: o que você quer fazer?"
    assert [data for _, data in menu.buttons] == ["menu:new", "menu:mine", "menu:reuse"]
    menu_id = 0

    created = await manager.send(manager.press("menu:new", menu_id))
    assert "Sessão criada: Sessão " in created[0]
    assert fake_api.sent(manager.id)[-1].method == "editMessageText"
    await manager.say("/nova Segunda")

    await manager.send(manager.press("menu:mine", menu_id))
    listing = fake_api.sent(manager.id)[-1]
    assert listing.method == "editMessageText" and "Suas sessões (2)" in listing.text
    labels = dict(listing.buttons)
    first = next(data for label, data in labels.items() if label.startswith("Sessão "))
    chosen = await manager.send(manager.press(first, menu_id))
    assert "Sessão atual: Sessão " in chosen[0]

    await manager.send(manager.press("menu:reuse", menu_id))
    reuse = fake_api.sent(manager.id)[-1]
    target = dict(reuse.buttons)["♻️ Segunda"]
    reused = await manager.send(manager.press(target, menu_id))
    assert "Sessão Segunda reutilizada (0 pacotes)" in reused[0]
    assert "Pacote 12345670" in await manager.snap("ean8-1a/3.png")

    rows = await sql(
        "SELECT s.reuse_count, count(p.id) FROM delivery_sessions s LEFT JOIN session_packages p ON p.session_id = s.id WHERE s.name = 'Segunda' AND s.owner_id = (SELECT id FROM users WHERE telegram_id = :tg) GROUP BY s.id",
        tg=str(manager.id),
    )
    assert rows == [(1, 1)]
    assert any(c.method == "answerCallbackQuery" for c in fake_api.calls)


async def test_deliverers_cannot_manage_and_get_friendly_errors(bot, person) -> None:  # type: ignore[no-untyped-def]
    courier = await person("DELIVERER", "Rui Entregador")
    assert "Só gerentes e administradores podem fazer isso" in await courier.say("/nova Minha")
    assert "Não conheço este comando" in await courier.say("/apagar_tudo")
    assert "Só gerentes" in await courier.say("/entregadores")
    help_text = await courier.say("/help")
    assert "/falha CÓDIGO MOTIVO" in help_text and "/entregadores TELEGRAM_ID" in help_text
