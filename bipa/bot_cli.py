"""`bipa bot`: the Telegram bot process, wired like the API (same services, live hub, scanner)."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
import traceback

from telegram.error import InvalidToken

from bipa.app import broadcast_url, make_store, proof_config
from bipa.settings import Settings
from bot.app import build_application, run_polling
from bot.context import BotServices
from db.engine import make_engine, make_sessionmaker
from domain.scanning import ScanPool
from live.hub import LiveHub

log = logging.getLogger("bipa.bot")
REDACTED = "<TELEGRAM_BOT_TOKEN>"


class RedactToken(logging.Filter):
    """The token is part of every Bot API URL: no log line may carry it, traces included."""

    def __init__(self, token: str) -> None:
        super().__init__()
        self.token = token

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if self.token in message:
            record.msg, record.args = message.replace(self.token, REDACTED), None
        if record.exc_info and record.exc_info[1] is not None:
            trace = "".join(traceback.format_exception(*record.exc_info))
            if self.token in trace:
                record.msg = f"{record.getMessage()}\n{trace.replace(self.token, REDACTED)}"
                record.args, record.exc_info, record.exc_text = None, None, None
        return True


def _protect_logs(token: str) -> None:
    # httpx logs every request URL at INFO, and the URL holds the token.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    redact = RedactToken(token)
    for handler in logging.getLogger().handlers:
        handler.addFilter(redact)


def run_bot(settings: Settings, database_url: str) -> int:
    token = settings.telegram_bot_token
    if not token:
        sys.stderr.write(
            "bipa: TELEGRAM_BOT_TOKEN is not set: create a bot with @BotFather and set its token "
            "(TELEGRAM_API_URL optionally points at a self-hosted Bot API server)\n"
        )
        return 2
    _protect_logs(token)
    try:
        asyncio.run(_serve(settings, database_url, token))
    except InvalidToken:
        sys.stderr.write("bipa: the Bot API refused TELEGRAM_BOT_TOKEN\n")
        return 2
    return 0


async def _serve(settings: Settings, database_url: str, token: str) -> None:
    engine = make_engine(database_url)
    sessionmaker = make_sessionmaker(engine)
    # The API's own pub/sub: what the bot commits reaches live dashboards of every instance.
    hub = LiveHub(broadcast_url(settings, database_url), sessionmaker)
    scanner = ScanPool(settings.scan_workers, settings.scan_queue, settings.scan_budget_s)
    photos = ScanPool(settings.scan_workers, settings.scan_queue, settings.scan_budget_s)
    store = make_store(settings)
    services = BotServices(
        sessionmaker, scanner, hub, settings.currency, proof_config(settings, store), photos
    )
    application = build_application(token, services, api_url=settings.telegram_api_url)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await hub.start()
    log.info(
        "bipa bot starting", extra={"api": "custom" if settings.telegram_api_url else "telegram"}
    )
    try:
        await run_polling(application, stop)
    finally:
        await hub.stop()
        scanner.shutdown()
        photos.shutdown()
        await store.close()
        await engine.dispose()
