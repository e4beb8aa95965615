"""`bipa.bot_cli.run_bot`, the composition root, as a real process against the fake Bot API."""

from __future__ import annotations

import asyncio
import os
import signal
import sys

from bipa.bot_cli import run_bot
from bipa.settings import Settings
from tests.conftest import ROOT

SCRIPT = """
import sys
from bipa import logs
from bipa.bot_cli import run_bot
from bipa.settings import Settings
settings = Settings.from_env()
logs.configure(settings.log_level)
sys.exit(run_bot(settings, settings.database_url))
"""


def test_without_a_token_it_says_so_and_exits_2(database_url, capsys) -> None:  # type: ignore[no-untyped-def]
    assert run_bot(Settings(), database_url) == 2
    assert "TELEGRAM_BOT_TOKEN is not set" in capsys.readouterr().err


async def test_the_bot_process_answers_and_stops_cleanly(  # type: ignore[no-untyped-def]
    fake_api, person, database_url, sql, tmp_path
) -> None:
    manager = await person("MANAGER", "Paula Processo")
    log_path = tmp_path / "bot.log"
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "TELEGRAM_BOT_TOKEN": fake_api.token,
        "TELEGRAM_API_URL": fake_api.url,
        # DEBUG: python-telegram-bot then logs its API URLs, which hold the token.
        "BIPA_LOG_LEVEL": "DEBUG",
    }
    with open(log_path, "wb") as log:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", SCRIPT, env=env, cwd=ROOT, stdout=log, stderr=log
        )
        try:
            hello = await manager.say("/start")
            assert "Olá, Paula Processo!" in hello
            created = await manager.say("/nova Pelo Processo")
            assert "Sessão criada: Pelo Processo" in created
        finally:
            proc.send_signal(signal.SIGTERM)
            code = await asyncio.wait_for(proc.wait(), 30)
    output = log_path.read_text(errors="replace")
    assert code == 0, output[-3000:]
    assert fake_api.token not in output
    assert "<TELEGRAM_BOT_TOKEN>" in output
    assert '"msg": "telegram bot stopped"' in output
    rows = await sql("SELECT status FROM delivery_sessions WHERE name = 'Pelo Processo'")
    assert rows == [("OPEN",)]
    assert any(c.method == "setMyCommands" for c in fake_api.calls)
