"""The python-telegram-bot Application: built from services, run with long polling."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from telegram import BotCommand, Update
from telegram.error import TelegramError
from telegram.ext import Application, ApplicationBuilder

from bot.context import BotServices
from bot.handlers import BipaBot
from bot.processor import PerChatUpdateProcessor

log = logging.getLogger("bipa.bot")
CONCURRENT_UPDATES = 32
COMMANDS = [
    BotCommand("start", "quem sou eu no Bipa"),
    BotCommand("sessions", "menu de sessões"),
    BotCommand("nova", "nova sessão: /nova NOME"),
    BotCommand("start_session", "iniciar as entregas da sessão atual"),
    BotCommand("session_dashboard", "progresso e ganhos da sessão"),
    BotCommand("entregadores", "entregadores da sessão"),
    BotCommand("atribuir", "atribuir pacotes a um entregador"),
    BotCommand("falha", "registrar falha: /falha CÓDIGO MOTIVO"),
    BotCommand("historico", "sessões concluídas"),
    BotCommand("help", "ajuda"),
]


def build_application(
    token: str, services: BotServices, *, api_url: str | None = None
) -> Application:  # type: ignore[type-arg]
    """An Application answering with `BipaBot`; `api_url` points it at another Bot API server.

    The Bot API serves methods under `<url>/bot<token>/` and files under
    `<url>/file/bot<token>/`; PTB appends the token to both base URLs itself.
    """
    builder = ApplicationBuilder().token(token)
    builder = builder.concurrent_updates(PerChatUpdateProcessor(CONCURRENT_UPDATES))
    if api_url:
        base = api_url.rstrip("/")
        builder = builder.base_url(f"{base}/bot").base_file_url(f"{base}/file/bot")
    application = builder.build()
    bipa = BipaBot(services)
    application.add_handlers(bipa.handlers())
    application.add_error_handler(bipa.on_error)
    application.bot_data["bipa"] = bipa
    return application


async def run_polling(
    application: Application,  # type: ignore[type-arg]
    stop: asyncio.Event,
    *,
    poll_timeout: float = 30.0,
) -> None:
    """Long polling until `stop` is set; then fetched updates are finished before returning."""
    async with application:  # initialize (getMe) ... shutdown
        try:
            await application.bot.set_my_commands(COMMANDS)
        except TelegramError as exc:  # a menu of commands is a nicety, not a reason to stop
            log.warning("setMyCommands failed", extra={"error": type(exc).__name__})
        updater = application.updater
        if updater is None:
            raise RuntimeError("the Application was built without an updater")
        await updater.start_polling(
            timeout=timedelta(seconds=poll_timeout),
            allowed_updates=[Update.MESSAGE, Update.CALLBACK_QUERY],
        )
        await application.start()
        log.info("telegram bot polling", extra={"bot": application.bot.username})
        try:
            await stop.wait()
        finally:
            await updater.stop()
            await application.stop()
            log.info("telegram bot stopped")
