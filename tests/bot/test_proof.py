"""The bot asks a deliverer for the photo when the session requires proof, and takes it."""

from __future__ import annotations

from bot import texts
from tests.ocr.test_photo import phone_jpeg


async def test_the_bot_asks_for_the_photo_and_takes_the_shared_place(  # type: ignore[no-untyped-def]
    bot, person, sql, fake_api
) -> None:
    manager = await person("MANAGER", "Rui Gerente")
    courier = await person("DELIVERER", "Ana Entregadora")
    await manager.say("/nova Comprovadas")
    await manager.say("7891000315507")
    await manager.say("LBR-000777-SP")
    assert "Use: /comprovacao" in await manager.say("/comprovacao talvez")
    assert "Comprovação exigida na sessão Comprovadas: foto." in await manager.say(
        "/comprovacao foto"
    )
    seen = len(fake_api.texts(courier.id))
    await manager.say(f"/entregadores {courier.id} 50 3")
    await manager.say(f"/atribuir {courier.id}")
    await fake_api.wait_sent(courier.id, seen + 2)
    seen = len(fake_api.texts(courier.id))
    await manager.say("/start_session")
    await fake_api.wait_sent(courier.id, seen + 1)

    asked = await courier.say("7891000315507")
    assert "exige foto da entrega do pacote 7891000315507" in asked
    rows = await sql(
        "SELECT p.status FROM session_packages p JOIN delivery_sessions s ON s.id = p.session_id "
        "WHERE s.name = 'Comprovadas' AND p.barcode = '7891000315507'"
    )
    assert rows == [("PENDING",)]  # nothing written before the photo
    then = (await courier.send(courier.location(-23.5505, -46.6333, 15.0)))[-1]
    assert "Agora envie a foto da entrega do pacote 7891000315507" in then
    assert texts.INVALID_IMAGE in await courier.snap(b"not an image")  # still waiting
    done = await courier.snap(phone_jpeg(1200, 900))
    assert "Entregue: 7891000315507" in done
    proof = await sql(
        "SELECT pp.latitude, pp.longitude, pp.accuracy_m, count(po.id) FROM package_proofs pp "
        "JOIN session_packages p ON p.id = pp.package_id JOIN proof_objects po ON po.proof_id = pp.id "
        "JOIN delivery_sessions s ON s.id = p.session_id "
        "WHERE s.name = 'Comprovadas' AND p.barcode = '7891000315507' GROUP BY pp.id"
    )
    assert proof == [(-23.5505, -46.6333, 15.0, 1)]
    # A later delivery without a photo is not written: the bot asks again.
    assert "exige foto" in await courier.say("LBR-000777-SP")
