"""What each bot command does, as calls to the same domain services the API uses.

Every function runs inside a unit of work opened by the caller (bot/handlers.py), which
commits it together with the update's idempotency key. Functions here never commit and never
talk to Telegram: they return the words to send (a Reply) or a text.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from bot import texts
from bot.context import LIST_LIMIT, Reply, chat_of, is_manager
from db.enums import DeliveryStatus, Role, SessionStatus
from db.models import DeliverySession, SessionDeliverer, User
from domain import barcodes, deliverers, packages, sessions
from domain import users as user_service
from domain.errors import NotFound, ValidationFailed
from domain.uow import UnitOfWork


def session_line(session: DeliverySession) -> str:
    return f"{session.name} ({texts.SESSION_STATUS[session.status]})"


def default_session_name(now: datetime) -> str:
    return "Sessão " + texts.local_time(now)


def whoami(user: User, current: DeliverySession | None) -> str:
    lines = [
        f"👋 Olá, {user.name}! Você é {texts.ROLE[user.role]} no Bipa.",
        "Sessão atual: " + (session_line(current) if current else "nenhuma"),
    ]
    if is_manager(user) and current is None:
        lines.append("Crie uma sessão com /nova NOME ou use o menu /sessions.")
    lines.append("Veja todos os comandos em /help.")
    return "\n".join(lines)


# --- sessions ----------------------------------------------------------------------------------


async def create(uow: UnitOfWork, user: User, name: str) -> Reply:
    session = await sessions.create_session(uow, user, name)
    text = (
        f"✅ Sessão criada: {session.name}\n"
        "Agora envie as fotos dos códigos de barras dos pacotes (ou digite os códigos). "
        "Depois: /entregadores, /atribuir e /start_session."
    )
    return Reply(text, current=session.id)


async def reuse(uow: UnitOfWork, user: User, session_id: uuid.UUID) -> Reply:
    session = await sessions.reuse_session(uow, user, session_id)
    count = await uow.packages.count(session.id)
    text = (
        f"♻️ Sessão {session.name} reutilizada ({texts.plural(count, 'pacote', 'pacotes')}). "
        "Ela é a sessão atual deste chat: continue enviando fotos."
    )
    return Reply(text, current=session.id)


async def start(uow: UnitOfWork, user: User, session_id: uuid.UUID) -> Reply:
    session = await sessions.start_session(uow, user, session_id)
    total = await uow.packages.count(session.id)
    team = await uow.deliverers.for_sessions_with_users([session.id])
    unassigned = sum(1 for p in await uow.packages.not_final(session.id) if p.deliverer_id is None)
    lines = [
        f"🚚 Sessão {session.name} iniciada com {texts.plural(total, 'pacote', 'pacotes')}.",
        "Os entregadores já podem enviar as fotos das entregas.",
    ]
    if unassigned:
        lines.append(
            f"Atenção: {texts.plural(unassigned, 'pacote está', 'pacotes estão')} sem "
            "entregador (use /atribuir)."
        )
    notify = []
    for d in team:
        chat = chat_of(d.user)
        if chat is not None and d.user_id != user.id:
            notify.append(
                (
                    chat,
                    f"🚚 A sessão {session.name} começou! Você tem "
                    f"{texts.plural(d.packages_assigned, 'pacote', 'pacotes')}.\n"
                    "Envie a foto (ou o código digitado) de cada pacote ao entregar. "
                    "Não conseguiu entregar? /falha CÓDIGO MOTIVO",
                )
            )
    return Reply("\n".join(lines), notify=notify, current=session.id)


async def my_sessions(uow: UnitOfWork, user: User) -> Reply:
    owner = user.id if is_manager(user) else None
    rows, total = await uow.sessions.list_visible(
        user.id, user.role, status=None, owner_id=owner, first=LIST_LIMIT, after=None
    )
    if not rows:
        return Reply("Você ainda não tem sessões. Crie uma com /nova NOME.")
    text = f"📂 Suas sessões ({total}). Toque numa para torná-la a sessão atual:"
    buttons = [[(session_line(s), f"use:{s.id}")] for s in rows[:LIST_LIMIT]]
    return Reply(text, buttons=buttons)


async def open_sessions(uow: UnitOfWork, user: User) -> Reply:
    rows, _ = await uow.sessions.list_visible(
        user.id,
        user.role,
        status=SessionStatus.OPEN,
        owner_id=user.id,
        first=LIST_LIMIT,
        after=None,
    )
    if not rows:
        return Reply("Nenhuma sessão aberta para reutilizar. Crie uma com /nova NOME.")
    buttons = [[(f"♻️ {s.name}", f"reuse:{s.id}")] for s in rows]
    return Reply("♻️ Qual sessão aberta você quer reutilizar?", buttons=buttons)


async def choose(uow: UnitOfWork, user: User, session_id: uuid.UUID) -> Reply:
    session = await uow.sessions.get_visible(session_id, user.id, user.role)
    if session is None:
        raise NotFound("session not found", id=str(session_id))
    return Reply(f"📌 Sessão atual: {session_line(session)}", current=session.id)


# --- deliverers ----------------------------------------------------------------------------------


async def team_text(uow: UnitOfWork, session: DeliverySession) -> str:
    team = await uow.deliverers.for_sessions_with_users([session.id])
    lines = [f"👥 Entregadores da sessão {session.name}:"]
    lines += [_deliverer_line(d) for d in team] or ["• nenhum ainda"]
    return "\n".join(lines)


def _deliverer_line(d: SessionDeliverer) -> str:
    tg = f" [tg {d.user.telegram_id}]" if d.user.telegram_id else ""
    return (
        f"• {d.user.name}{tg}: {d.packages_delivered}/{d.packages_assigned} entregues, "
        f"{d.packages_failed} falhas | salário {texts.brl(d.base_salary)} + "
        f"{texts.brl(d.commission_per_delivery)} por entrega = {texts.brl(d.total_earned)}"
    )


async def add_deliverer(
    uow: UnitOfWork,
    user: User,
    session_id: uuid.UUID,
    telegram_id: str,
    salary: str,
    commission: str,
    name: str | None,
) -> Reply:
    person = await uow.users.by_telegram_id(telegram_id.strip())
    created = False
    if person is None:
        if not name:
            raise ValidationFailed("no user has this Telegram id", field="telegramId")
        # Same rule as createUser: a MANAGER may create DELIVERER users only.
        person = (await user_service.create_user(uow, user, name, Role.DELIVERER, telegram_id)).user
        created = True
    deliverer, session = await deliverers.add_deliverer(
        uow, user, session_id, person.id, texts.parse_money(salary), texts.parse_money(commission)
    )
    text = (
        f"👤 {person.name} {'cadastrado(a) e ' if created else ''}adicionado(a) à sessão "
        f"{session.name}: salário {texts.brl(deliverer.base_salary)} + "
        f"{texts.brl(deliverer.commission_per_delivery)} por entrega.\n"
        f"Atribua pacotes com /atribuir {person.telegram_id}"
    )
    notify = []
    chat = chat_of(person)
    if chat is not None and person.id != user.id:
        notify.append(
            (chat, f"👋 Você foi adicionado(a) como entregador(a) na sessão {session.name}.")
        )
    return Reply(text, notify=notify)


async def assign(
    uow: UnitOfWork, user: User, session_id: uuid.UUID, telegram_id: str, codes: Sequence[str]
) -> Reply:
    person = await uow.users.by_telegram_id(telegram_id.strip())
    if person is None:
        raise NotFound("user not found", id=telegram_id)
    deliverer = await uow.deliverers.by_user(session_id, person.id)
    if deliverer is None:
        raise NotFound("deliverer not found in this session", id=telegram_id)
    if codes:
        ids = []
        for raw in codes:
            package = await uow.packages.by_barcode(session_id, barcodes.normalize(raw))
            if package is None:
                raise NotFound(f"package {barcodes.normalize(raw)} is not in this session")
            ids.append(package.id)
    else:
        ids = [p.id for p in await uow.packages.not_final(session_id) if p.deliverer_id is None]
        if not ids:
            raise ValidationFailed("packageIds must not be empty", field="packageIds")
    assigned, session = await packages.assign_packages(uow, user, session_id, ids, deliverer.id)
    text = (
        f"📦 {texts.plural(len(assigned), 'pacote atribuído', 'pacotes atribuídos')} a "
        f"{person.name} (agora com {deliverer.packages_assigned} na sessão {session.name})."
    )
    notify = []
    chat = chat_of(person)
    if chat is not None and person.id != user.id:
        notify.append(
            (
                chat,
                f"📦 Você recebeu {texts.plural(len(assigned), 'pacote', 'pacotes')} na sessão "
                f"{session.name}. Quando a sessão começar, envie a foto do código de cada "
                "pacote entregue.",
            )
        )
    return Reply(text, notify=notify)


# --- packages ----------------------------------------------------------------------------------


async def add_package(
    uow: UnitOfWork,
    user: User,
    session_id: uuid.UUID,
    code: str,
    symbology: str | None,
    scan_report: dict[str, Any] | None,
) -> Reply:
    item = packages.PackageData(code, symbology=symbology, scan_report=scan_report)
    result = await packages.add_packages(uow, user, session_id, [item])
    if result.rejected:
        barcode, reason = result.rejected[0]
        raise ValidationFailed(f"{barcode}: {reason}", field="barcode")
    total = await uow.packages.count(session_id)
    if result.duplicates:
        return Reply(
            f"🔁 O pacote {result.duplicates[0]} já estava na sessão "
            f"({texts.plural(total, 'pacote', 'pacotes')})."
        )
    added = result.added[0]
    kind = f" ({added.symbology})" if added.symbology else ""
    return Reply(
        f"📦 Pacote {added.barcode}{kind} adicionado. A sessão {result.session.name} tem "
        f"{texts.plural(total, 'pacote', 'pacotes')}."
    )


async def identify(uow: UnitOfWork, user: User, session: DeliverySession, code: str) -> Reply:
    """A manager's scan once the session is under way: what is this package's situation?"""
    package = await uow.packages.by_barcode(session.id, code)
    if package is None:
        text = f"🔎 O pacote {code} não está na sessão {session.name}."
    else:
        who = "sem entregador"
        if package.deliverer_id is not None:
            found = await uow.deliverers.get_many_with_users([package.deliverer_id])
            who = "entregador(a) " + found[0].user.name if found else who
        text = f"🔎 Pacote {code}: {texts.PACKAGE_STATUS[package.status]}, {who}."
        if package.failure_reason:
            text += f" Motivo: {package.failure_reason}"
    if session.status is not SessionStatus.OPEN:
        text += (
            f"\n(A sessão está {texts.SESSION_STATUS[session.status].lower()}: para adicionar "
            "pacotes novos, crie outra com /nova NOME.)"
        )
    return Reply(text)


async def change_status(
    uow: UnitOfWork,
    user: User,
    session_id: uuid.UUID,
    code: str,
    status: DeliveryStatus,
    reason: str | None,
    scan_report: dict[str, Any] | None,
) -> Reply:
    package = await uow.packages.by_barcode(session_id, code)
    if package is None:
        raise NotFound(f"package {code} is not in this session", id=code)
    package, session = await packages.update_package_status(
        uow, user, package.id, status, reason, scan_report=scan_report
    )
    if session.status is SessionStatus.COMPLETED:
        return await _completed(uow, user, session, package.barcode, status)
    left = await uow.packages.count_not_final(session.id)
    done = "✅ Entregue" if status is DeliveryStatus.DELIVERED else "❌ Falha registrada"
    return Reply(
        f"{done}: {package.barcode}. Faltam {texts.plural(left, 'pacote', 'pacotes')} na sessão "
        f"{session.name}.",
        current=session.id,
    )


async def _completed(
    uow: UnitOfWork, actor: User, session: DeliverySession, code: str, status: DeliveryStatus
) -> Reply:
    snapshot = session.financial_snapshot or {}
    summary = texts.completion(session.name, snapshot)
    done = "✅ Entregue" if status is DeliveryStatus.DELIVERED else "❌ Falha registrada"
    team = await uow.deliverers.for_session(session.id)
    people = await uow.users.get_many([session.owner_id, *(d.user_id for d in team)])
    notify = [
        (chat, summary)
        for person in people
        if person.id != actor.id and (chat := chat_of(person)) is not None
    ]
    return Reply(f"{done}: {code}.\n\n{summary}", notify=notify, current=session.id)


# --- reading -------------------------------------------------------------------------------------


async def dashboard(uow: UnitOfWork, session: DeliverySession, viewer: User) -> str:
    """Progress for everyone; pay only for managers, a deliverer sees just their own."""
    counts = (await uow.packages.progress([session.id]))[session.id]
    total = sum(counts.values())
    delivered = counts.get(DeliveryStatus.DELIVERED.value, 0)
    failed = counts.get(DeliveryStatus.FAILED.value, 0)
    lines = [
        f"📊 {session_line(session)}",
        texts.progress_bar(delivered + failed, total),
        f"Pacotes: {total} | Entregues: {delivered} | Falhas: {failed} | "
        f"Pendentes: {counts.get(DeliveryStatus.PENDING.value, 0)} | "
        f"Em rota: {counts.get(DeliveryStatus.PICKED_UP.value, 0)}",
    ]
    manager = is_manager(viewer)
    if session.financial_snapshot:
        # A completed session shows its frozen snapshot: the numbers that were paid.
        snapshot = dict(session.financial_snapshot)
        if not manager:
            mine = [d for d in snapshot.get("deliverers", []) if d.get("userId") == str(viewer.id)]
            snapshot["deliverers"] = mine
        lines += ["Ganhos:" if manager else "Seus ganhos:", *texts.earnings_lines(snapshot)]
        if manager:
            lines.append(f"Custo total: {texts.brl(snapshot.get('totalCost'))}")
        return "\n".join(lines)
    team = await uow.deliverers.for_sessions_with_users([session.id])
    if not manager:
        lines += ["Você:", *(_deliverer_line(d) for d in team if d.user_id == viewer.id)]
        return "\n".join(lines)
    lines.append("Entregadores:")
    lines += [_deliverer_line(d) for d in team] or ["• nenhum ainda (use /entregadores)"]
    cost = sum((d.total_earned for d in team), start=Decimal("0"))
    lines.append(f"Custo até agora: {texts.brl(cost)}")
    return "\n".join(lines)


async def history(uow: UnitOfWork, user: User) -> str:
    done: list[DeliverySession] = []
    for status in (SessionStatus.COMPLETED, SessionStatus.ARCHIVED):
        rows, _ = await uow.sessions.list_visible(
            user.id, user.role, status=status, owner_id=None, first=LIST_LIMIT, after=None
        )
        done += rows
    if not done:
        return "📚 Nenhuma sessão concluída ainda."
    done.sort(key=lambda s: s.completed_at or s.created_at, reverse=True)
    lines = ["📚 Sessões concluídas (somente leitura):"]
    for s in done[:LIST_LIMIT]:
        snap: dict[str, Any] = s.financial_snapshot or {}
        line = (
            f"• {s.name}: concluída em {texts.local_time(s.completed_at)} | "
            f"{snap.get('delivered', 0)} entregues, {snap.get('failed', 0)} falhas"
        )
        if user.role is Role.DELIVERER:
            mine = [d for d in snap.get("deliverers", []) if d.get("userId") == str(user.id)]
            if mine:
                line += f" | seus ganhos: {texts.brl(mine[0]['totalEarned'])}"
        else:
            line += f" | custo {texts.brl(snap.get('totalCost'))}"
        lines.append(line)
    return "\n".join(lines)
