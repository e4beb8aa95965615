"""Telegram glue: who is speaking, once per update, friendly errors, replies.

Every update goes through `_guarded`: a duplicate of an update this process already handled is
dropped; the Telegram account must belong to a Bipa user (else a refusal and nothing else);
domain errors become Portuguese sentences (bot/errors.py) and anything unexpected a generic
apology (logged with its stack trace, never shown).

A write is one domain command run by the domain's runner (domain/operations.py) under the
idempotency key `tg-update:<update_id>`; the bot only reads (lookups before, the reply
after) and never commits. An update redelivered after a restart finds its key: it is not
acted on again, and its reply is rendered once more from the stored reference (the first
one may never have left), without telling other chats a second time.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from telegram import (
    CallbackQuery,
    Document,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    PhotoSize,
    Update,
)
from telegram.error import BadRequest, TelegramError
from telegram.ext import (
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot import actions, texts
from bot.context import BotServices, CurrentSessions, Reply
from bot.errors import NoSession, translate
from db.enums import DeliveryStatus, SessionStatus
from db.models import DeliverySession, User
from domain import barcodes, proof, proof_uploads, scanning
from domain.commands import (
    Command,
    CreateSession,
    Done,
    ReuseSession,
    SetProofRequirement,
    StartSession,
    UpdatePackageStatus,
)
from domain.errors import DomainError, InvalidImage
from domain.permissions import is_manager
from domain.uow import UnitOfWork

log = logging.getLogger("bipa.bot")
MAX_PHOTO_BYTES = 15 * 1024 * 1024  # the API's upload limit for scanBarcode
RECENT_UPDATES = 10_000  # update ids remembered in memory to drop in-process duplicates
Context = ContextTypes.DEFAULT_TYPE
# A read: the whole answer from a read unit of work.
Read = Callable[[UnitOfWork, User], Awaitable[Reply]]
# The lookups of a write and its command; or, when the lookups show there is nothing to
# write (a manager's scan in a session under way), the answer itself.
Build = Callable[[UnitOfWork], Awaitable[Command | Reply]]
# The words for a command's outcome (fresh or replayed), with reads of committed state.
Render = Callable[[UnitOfWork, User, Done], Awaitable[Reply]]


# How long the bot waits for a proof photo it asked for, and keeps a shared place.
PROOF_WAIT_S = 600.0


@dataclass
class AwaitingProof:
    """A delivery the bot asked a photo for: the next photo of the chat is its proof."""

    package_id: uuid.UUID
    session_id: uuid.UUID
    barcode: str
    until: float


@dataclass
class Place:
    latitude: float
    longitude: float
    accuracy: float | None
    at: datetime
    until: float


class PhotoProblem(Exception):
    """A photo we could not even hand to the scanner; `text` tells the person what to do."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


@dataclass(frozen=True)
class Caller:
    user: User
    chat_id: int
    update_id: int

    @property
    def key(self) -> str:
        """The idempotency key: Telegram redelivers an update with the same id."""
        return f"tg-update:{self.update_id}"


def _given(command: Command) -> Build:
    """A write that needs no lookups."""

    async def build(uow: UnitOfWork) -> Command:
        return command

    return build


Body = Callable[[Caller, Update, Context], Awaitable[None]]
Callback = Callable[[Update, Context], Coroutine[Any, Any, None]]


def _keyboard(reply: Reply) -> InlineKeyboardMarkup | None:
    if not reply.buttons:
        return None
    return InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(label, callback_data=data) for label, data in row]
            for row in reply.buttons
        ]
    )


def as_barcode(text: str) -> str | None:
    """A typed code: one word (or groups of digits) with a digit in it; else None.

    Requiring a digit keeps ordinary words ("obrigado") from becoming packages.
    """
    words = text.split()
    if not words or (len(words) > 1 and not all(w.isdigit() for w in words)):
        return None
    code = barcodes.normalize(text)
    if len(code) < 4 or not any(c.isdigit() for c in code):
        return None
    return code


class BipaBot:
    def __init__(self, services: BotServices) -> None:
        self.services = services
        self.current = CurrentSessions()
        self._seen: OrderedDict[int, None] = OrderedDict()
        # Per chat, in memory: a restart forgets them, and the bot asks again.
        self._awaiting: dict[int, AwaitingProof] = {}
        self._places: dict[int, Place] = {}

    def handlers(self) -> list[BaseHandler[Update, Context, None]]:
        fresh = filters.UpdateType.MESSAGE  # edits of old messages act on nothing
        private = filters.ChatType.PRIVATE
        commands: dict[str, Body] = {
            "start": self._start,
            "help": self._help,
            "ajuda": self._help,
            "sessions": self._sessions,
            "sessoes": self._sessions,
            "nova": self._nova,
            "start_session": self._start_session,
            "session_dashboard": self._dashboard,
            "painel": self._dashboard,
            "entregadores": self._deliverers,
            "atribuir": self._assign,
            "falha": self._fail,
            "historico": self._history,
            "proxima": self._next_stop,
            "comprovacao": self._requirement,
        }
        result: list[BaseHandler[Update, Context, None]] = [
            CommandHandler(name, self._guarded(body), filters=fresh)
            for name, body in commands.items()
        ]
        result += [
            # Scans only in private chats: in a group, any photo or "10min" would become a scan.
            MessageHandler(
                fresh & private & (filters.PHOTO | filters.Document.IMAGE),
                self._guarded(self._photo),
            ),
            MessageHandler(fresh & private & filters.LOCATION, self._guarded(self._location)),
            MessageHandler(
                fresh & private & filters.TEXT & ~filters.COMMAND, self._guarded(self._text)
            ),
            MessageHandler(fresh & private & filters.COMMAND, self._guarded(self._unknown_command)),
            CallbackQueryHandler(self._guarded(self._callback)),
        ]
        return result

    async def on_error(self, update: object, context: Context) -> None:
        """Last resort: PTB calls this for errors raised outside `_guarded` (e.g. polling)."""
        log.error("telegram bot error", exc_info=context.error)
        if isinstance(update, Update) and update.effective_chat is not None:
            await self._send(context, update.effective_chat.id, texts.INTERNAL_ERROR)

    # --- the guard --------------------------------------------------------------------------

    def _first_time(self, update_id: int) -> bool:
        if update_id in self._seen:
            return False
        self._seen[update_id] = None
        if len(self._seen) > RECENT_UPDATES:
            self._seen.popitem(last=False)
        return True

    def _guarded(self, body: Body) -> Callback:
        async def handle(update: Update, context: Context) -> None:
            chat, person = update.effective_chat, update.effective_user
            if chat is None or person is None:
                return
            if not self._first_time(update.update_id):
                log.info("duplicate update dropped", extra={"update_id": update.update_id})
                return
            if update.callback_query is not None:
                await self._acknowledge(update.callback_query)
            try:
                user = await self._identify(person.id)
                if user is None:
                    log.info(
                        "refused unknown Telegram user",
                        extra={"update_id": update.update_id, "telegram_id": person.id},
                    )
                    await self._say(
                        update, context, texts.UNKNOWN_USER.format(telegram_id=person.id)
                    )
                    return
                await body(Caller(user, chat.id, update.update_id), update, context)
            except DomainError as exc:
                log.info(
                    "bot action refused",
                    extra={
                        "update_id": update.update_id,
                        "error": type(exc).__name__,
                        "code": exc.code,
                        "detail": exc.message,
                    },
                )
                await self._say(update, context, translate(exc))
            except Exception:
                # Logged with its trace for us; the person only gets an apology.
                log.exception("bot update failed", extra={"update_id": update.update_id})
                await self._say(update, context, texts.INTERNAL_ERROR)

        return handle

    async def _identify(self, telegram_id: int) -> User | None:
        async with self.services.runner.uow() as uow:
            return await uow.users.by_telegram_id(str(telegram_id))

    # --- writing once ---------------------------------------------------------------------------

    async def _write(
        self,
        caller: Caller,
        update: Update,
        context: Context,
        build: Build,
        render: Render,
        *,
        peeked: bool = False,
    ) -> None:
        """Looks up what the command needs, runs it once through the runner, answers.

        A redelivered update is answered from its stored result before any lookup: what the
        lookups found then (an active session, an unassigned package) may be gone by now.
        `peeked`: the caller already looked (a photo, before decoding it).
        """
        if not peeked and await self._replayed(caller, update, context, render):
            return
        async with self.services.runner.uow() as uow:
            built = await build(uow)
        if isinstance(built, Reply):
            await self._respond(caller, update, context, built)
            return
        done = await self.services.runner.run_once(caller.user, built, caller.key)
        if not done.replayed:
            log.info(
                "bot action done",
                extra={
                    "update_id": caller.update_id,
                    "operation": built.operation,
                    "user_id": str(caller.user.id),
                },
            )
        await self._answer(caller, update, context, done, render)

    async def _replayed(
        self, caller: Caller, update: Update, context: Context, render: Render
    ) -> bool:
        """Was this update acted on already? If so it is answered again, and True."""
        stored = await self.services.runner.stored(caller.user, caller.key)
        if stored is None:
            return False
        await self._answer(caller, update, context, Done(stored, replayed=True), render)
        return True

    async def _answer(
        self, caller: Caller, update: Update, context: Context, done: Done, render: Render
    ) -> None:
        async with self.services.runner.uow() as uow:
            reply = await render(uow, caller.user, done)
        if done.replayed:
            log.info("redelivered update replayed", extra={"update_id": caller.update_id})
        await self._respond(caller, update, context, reply, replay=done.replayed)

    async def _read(self, caller: Caller, update: Update, context: Context, action: Read) -> None:
        async with self.services.runner.uow() as uow:
            reply = await action(uow, caller.user)
        await self._respond(caller, update, context, reply)

    async def _session(
        self,
        uow: UnitOfWork,
        caller: Caller,
        *,
        working: bool,
        session_id: uuid.UUID | None = None,
    ) -> DeliverySession:
        if session_id is not None:
            session = await uow.sessions.get_visible(session_id, caller.user.id, caller.user.role)
        else:
            session = await self.current.resolve(uow, caller.user, caller.chat_id, working=working)
        if session is None:
            raise NoSession(caller.user)
        return session

    # --- talking ----------------------------------------------------------------------------------

    async def _respond(
        self,
        caller: Caller,
        update: Update,
        context: Context,
        reply: Reply,
        *,
        replay: bool = False,
    ) -> None:
        if reply.current is not None:
            self.current.remember(caller.chat_id, reply.current)
        await self._say(update, context, reply.text, _keyboard(reply))
        if replay:
            return  # notifications are best effort and not worth sending twice
        for chat_id, text in reply.notify:
            await self._send(context, chat_id, text)

    async def _say(
        self,
        update: Update,
        context: Context,
        text: str,
        keyboard: InlineKeyboardMarkup | None = None,
    ) -> None:
        """Answers where the update came from: a button's menu is edited in place."""
        query = update.callback_query
        if query is not None and isinstance(query.message, Message):
            try:
                await query.edit_message_text(texts.clip(text), reply_markup=keyboard)
                return
            except BadRequest as exc:
                if "not modified" in str(exc).lower():
                    return
                log.info("menu edit failed; sending instead", extra={"error": str(exc)})
            except TelegramError as exc:
                log.warning("menu edit failed", extra={"error": type(exc).__name__})
        chat = update.effective_chat
        if chat is not None:
            await self._send(context, chat.id, text, keyboard)

    async def _send(
        self,
        context: Context,
        chat_id: int,
        text: str,
        keyboard: InlineKeyboardMarkup | None = None,
    ) -> None:
        try:
            await context.bot.send_message(chat_id, texts.clip(text), reply_markup=keyboard)
        except TelegramError as exc:
            # A person who never opened a chat with the bot cannot be written to: not our error.
            log.warning(
                "telegram send failed", extra={"chat_id": chat_id, "error": type(exc).__name__}
            )

    async def _acknowledge(self, query: CallbackQuery) -> None:
        try:
            await query.answer()
        except TelegramError as exc:
            log.info("callback answer failed", extra={"error": type(exc).__name__})

    # --- commands -------------------------------------------------------------------------------

    async def _start(self, caller: Caller, update: Update, context: Context) -> None:
        async def whoami(uow: UnitOfWork, user: User) -> Reply:
            current = await self.current.resolve(uow, user, caller.chat_id, working=False)
            return Reply(actions.whoami(user, current))

        await self._read(caller, update, context, whoami)

    async def _help(self, caller: Caller, update: Update, context: Context) -> None:
        await self._say(update, context, texts.HELP)

    async def _unknown_command(self, caller: Caller, update: Update, context: Context) -> None:
        await self._say(update, context, "Não conheço este comando. Veja a lista em /help.")

    async def _sessions(self, caller: Caller, update: Update, context: Context) -> None:
        if not is_manager(caller.user):
            await self._read(caller, update, context, actions.my_sessions)
            return
        menu = Reply(
            texts.SESSIONS_MENU,
            buttons=[
                [(texts.BUTTON_NEW, "menu:new")],
                [(texts.BUTTON_MINE, "menu:mine")],
                [(texts.BUTTON_REUSE, "menu:reuse")],
            ],
        )
        await self._respond(caller, update, context, menu)

    async def _nova(self, caller: Caller, update: Update, context: Context) -> None:
        name = " ".join(context.args or [])
        if not name:
            await self._say(update, context, texts.USAGE_NOVA)
            return

        await self._write(
            caller, update, context, _given(CreateSession(name)), actions.created_reply
        )

    async def _start_session(self, caller: Caller, update: Update, context: Context) -> None:
        async def start(uow: UnitOfWork) -> Command:
            session = await self._session(uow, caller, working=True)
            return StartSession(session.id)

        await self._write(caller, update, context, start, actions.started_reply)

    async def _dashboard(self, caller: Caller, update: Update, context: Context) -> None:
        async def show(uow: UnitOfWork, user: User) -> Reply:
            session = await self._session(uow, caller, working=False)
            return Reply(await actions.dashboard(uow, session, user))

        await self._read(caller, update, context, show)

    async def _next_stop(self, caller: Caller, update: Update, context: Context) -> None:
        async def show(uow: UnitOfWork, user: User) -> Reply:
            session = await self._session(uow, caller, working=True)
            return Reply(await actions.next_stop(uow, session, user))

        await self._read(caller, update, context, show)

    async def _history(self, caller: Caller, update: Update, context: Context) -> None:
        async def show(uow: UnitOfWork, user: User) -> Reply:
            return Reply(await actions.history(uow, user))

        await self._read(caller, update, context, show)

    async def _deliverers(self, caller: Caller, update: Update, context: Context) -> None:
        args = list(context.args or [])
        if not is_manager(caller.user):
            await self._say(update, context, texts.MANAGERS_ONLY)  # salaries are not for all
            return
        if not args:

            async def show(uow: UnitOfWork, user: User) -> Reply:
                session = await self._session(uow, caller, working=False)
                text = await actions.team_text(uow, session, user)
                return Reply(text + "\n\n" + texts.USAGE_ENTREGADORES)

            await self._read(caller, update, context, show)
            return
        if len(args) < 3:
            await self._say(update, context, texts.USAGE_ENTREGADORES)
            return
        telegram_id, salary, commission = args[:3]
        name = " ".join(args[3:]) or None

        async def add(uow: UnitOfWork) -> Command:
            session = await self._session(uow, caller, working=True)
            return actions.add_deliverer_command(session.id, telegram_id, salary, commission, name)

        await self._write(caller, update, context, add, actions.deliverer_reply)

    async def _assign(self, caller: Caller, update: Update, context: Context) -> None:
        args = list(context.args or [])
        if not args:
            await self._say(update, context, texts.USAGE_ATRIBUIR)
            return

        async def assign(uow: UnitOfWork) -> Command:
            session = await self._session(uow, caller, working=True)
            return await actions.assign_command(uow, session.id, args[0], args[1:])

        await self._write(caller, update, context, assign, actions.assigned_reply)

    async def _fail(self, caller: Caller, update: Update, context: Context) -> None:
        args = list(context.args or [])
        if len(args) < 2:
            await self._say(update, context, texts.USAGE_FALHA)
            return
        code, reason = barcodes.canonical(args[0]), " ".join(args[1:])

        async def fail(uow: UnitOfWork) -> Command:
            session = await self._session(uow, caller, working=True)
            return await actions.status_command(
                uow, session.id, code, DeliveryStatus.FAILED, reason, None
            )

        await self._write(caller, update, context, fail, actions.package_reply)

    # --- buttons --------------------------------------------------------------------------------

    async def _callback(self, caller: Caller, update: Update, context: Context) -> None:
        query = update.callback_query
        data = (query.data if query else None) or ""
        verb, _, arg = data.partition(":")
        target: uuid.UUID | None = None
        if verb in ("use", "reuse"):
            try:
                target = uuid.UUID(arg)
            except ValueError:
                verb = "?"
        if data == "menu:new":
            # Taken from the clock, so a redelivery would name it differently: _write answers
            # a redelivery from its stored result before this name is ever used.
            name = actions.default_session_name(datetime.now(UTC))
            await self._write(
                caller, update, context, _given(CreateSession(name)), actions.created_reply
            )
        elif data == "menu:mine":
            await self._read(caller, update, context, actions.my_sessions)
        elif data == "menu:reuse":
            await self._read(caller, update, context, actions.open_sessions)
        elif verb == "use" and target is not None:
            chosen = target

            async def choose(uow: UnitOfWork, user: User) -> Reply:
                return await actions.choose(uow, user, chosen)

            await self._read(caller, update, context, choose)
        elif verb == "reuse" and target is not None:
            await self._write(
                caller, update, context, _given(ReuseSession(target)), actions.reused_reply
            )
        else:
            await self._say(update, context, "Este botão não vale mais. Use /sessions de novo.")

    # --- scanning -------------------------------------------------------------------------------

    @staticmethod
    def _intent(user: User, session: DeliverySession) -> scanning.ScanIntent:
        """A deliverer's scan delivers; a manager's adds while OPEN, later only identifies."""
        if not is_manager(user):
            return scanning.ScanIntent.DELIVER
        if session.status is SessionStatus.OPEN:
            return scanning.ScanIntent.ADD
        return scanning.ScanIntent.IDENTIFY

    async def _text(self, caller: Caller, update: Update, context: Context) -> None:
        text = update.message.text if update.message else None
        code = as_barcode(text or "")
        if code is None:
            await self._say(update, context, texts.NOT_UNDERSTOOD)
            return
        await self._scan_code(caller, update, context, code, None, None, None)

    async def _photo(self, caller: Caller, update: Update, context: Context) -> None:
        message = update.message
        if message is None:
            return
        media = message.photo[-1] if message.photo else message.document  # largest size last
        if media is None:
            return
        # A redelivered photo is answered before it is downloaded and decoded again.
        if await self._replayed(caller, update, context, actions.package_reply):
            return
        pending = self._awaiting.get(caller.chat_id)
        if pending is not None and pending.until > time.monotonic():
            await self._proof_photo(caller, update, context, media, pending)
            return
        async with self.services.runner.uow() as uow:
            session = await self._session(uow, caller, working=True)
            intent = self._intent(caller.user, session)
            # Before spending CPU: may this person scan here? Also the manifest for the OCR.
            expected = await scanning.check_scan_allowed(uow, caller.user, session.id, intent)
        try:
            image = await self._download(media)
            report = await self.services.scanner.scan(image, expected)
        except PhotoProblem as exc:
            await self._say(update, context, exc.text)
            return
        except InvalidImage:
            await self._say(update, context, texts.INVALID_IMAGE)
            return
        if report.barcode is None:
            log.info(
                "photo unreadable",
                extra={"update_id": caller.update_id, "elapsed_ms": round(report.elapsed_ms, 1)},
            )
            await self._say(update, context, texts.UNREADABLE_PHOTO)
            return
        await self._scan_code(
            caller,
            update,
            context,
            # The text as decoded: a QR's JSON keeps its case; lookups canonicalize it.
            report.raw_text or report.barcode,
            report.symbology,
            report.to_dict(),
            session.id,
            peeked=True,
        )

    # --- proof of delivery ------------------------------------------------------------------------

    async def _proof_photo(
        self,
        caller: Caller,
        update: Update,
        context: Context,
        media: PhotoSize | Document,
        pending: AwaitingProof,
    ) -> None:
        """The photo the bot asked for: the proof of `pending`, with the shared place."""
        config, pool = self.services.proof, self.services.photos
        if config is None or pool is None:
            self._awaiting.pop(caller.chat_id, None)
            return
        try:
            image = await self._download(media)
        except PhotoProblem as exc:
            await self._say(update, context, exc.text)
            return
        place = self._places.get(caller.chat_id)
        if place is not None and place.until < time.monotonic():
            place = None
        message = update.message
        data = proof.ProofData(
            photos=(image,),
            latitude=place.latitude if place else None,
            longitude=place.longitude if place else None,
            accuracy=place.accuracy if place else None,
            captured_at=message.date if message is not None else None,
        )
        try:
            done = await proof_uploads.run(
                self.services.runner,
                config,
                pool,
                caller.user,
                pending.session_id,
                data,
                lambda staged: UpdatePackageStatus(
                    pending.package_id, DeliveryStatus.DELIVERED, None, proof=staged
                ),
                caller.key,
            )
        except InvalidImage:
            await self._say(update, context, texts.INVALID_IMAGE)  # still waiting for a photo
            return
        except DomainError:
            self._awaiting.pop(caller.chat_id, None)
            raise
        self._awaiting.pop(caller.chat_id, None)
        self._places.pop(caller.chat_id, None)
        await self._answer(caller, update, context, done, actions.package_reply)

    async def _location(self, caller: Caller, update: Update, context: Context) -> None:
        message = update.message
        if message is None or message.location is None:
            return
        loc = message.location
        self._places[caller.chat_id] = Place(
            loc.latitude,
            loc.longitude,
            loc.horizontal_accuracy,
            message.date or datetime.now(UTC),
            time.monotonic() + PROOF_WAIT_S,
        )
        pending = self._awaiting.get(caller.chat_id)
        if pending is not None and pending.until > time.monotonic():
            await self._say(
                update, context, texts.PROOF_PLACE_THEN_PHOTO.format(barcode=pending.barcode)
            )
            return
        await self._say(update, context, texts.PROOF_PLACE_OK)

    async def _requirement(self, caller: Caller, update: Update, context: Context) -> None:
        words = {a.strip().lower() for a in context.args or []}
        allowed = {"foto", "assinatura", "nenhuma"}
        if not words or not words <= allowed or ("nenhuma" in words and len(words) > 1):
            await self._say(update, context, texts.USAGE_COMPROVACAO)
            return
        photo, signature = "foto" in words, "assinatura" in words

        async def build(uow: UnitOfWork) -> Command:
            session = await self._session(uow, caller, working=False)
            return SetProofRequirement(session.id, photo, signature)

        async def render(uow: UnitOfWork, user: User, done: Done) -> Reply:
            row = await uow.sessions.get(uuid.UUID(done.ref["session"]))
            assert row is not None  # sessions are never deleted while open
            what = [
                label
                for label, on in (
                    (texts.PROOF_PHOTO, row.proof_requires_photo),
                    (texts.PROOF_SIGNATURE, row.proof_requires_signature),
                )
                if on
            ]
            return Reply(
                texts.PROOF_REQUIREMENT.format(
                    session=row.name, what=" e ".join(what) or texts.PROOF_NOTHING
                )
            )

        await self._write(caller, update, context, build, render)

    @staticmethod
    async def _download(media: PhotoSize | Document) -> bytes:
        if media.file_size is not None and media.file_size > MAX_PHOTO_BYTES:
            raise PhotoProblem(texts.PHOTO_TOO_LARGE)
        try:
            file = await media.get_file()
            image = bytes(await file.download_as_bytearray())
        except TelegramError as exc:
            log.warning("photo download failed", extra={"error": type(exc).__name__})
            raise PhotoProblem(texts.DOWNLOAD_FAILED) from None
        if len(image) > MAX_PHOTO_BYTES:
            raise PhotoProblem(texts.PHOTO_TOO_LARGE)
        return image

    async def _scan_code(
        self,
        caller: Caller,
        update: Update,
        context: Context,
        code: str,
        symbology: str | None,
        report: dict[str, Any] | None,
        session_id: uuid.UUID | None,
        *,
        peeked: bool = False,
    ) -> None:
        async def scan(uow: UnitOfWork) -> Command | Reply:
            session = await self._session(uow, caller, working=True, session_id=session_id)
            intent = self._intent(caller.user, session)
            if intent is scanning.ScanIntent.ADD:
                return actions.add_package_command(session.id, code, symbology, report)
            if intent is scanning.ScanIntent.DELIVER:
                command = await actions.status_command(
                    uow, session.id, code, DeliveryStatus.DELIVERED, None, report
                )
                if session.proof_requires_photo and self.services.proof is not None:
                    # Nothing is written yet: the delivery goes with its photo.
                    self._awaiting[caller.chat_id] = AwaitingProof(
                        command.package_id, session.id, code, time.monotonic() + PROOF_WAIT_S
                    )
                    return Reply(texts.PROOF_PHOTO_ASK.format(barcode=code))
                return command
            return await actions.identify(uow, caller.user, session, code)

        await self._write(caller, update, context, scan, actions.package_reply, peeked=peeked)
