"""What each bot command does: the domain command it builds and the words it answers.

Commands run through the domain's runner (bot/handlers.py); nothing here writes or commits.
Three kinds of functions, none of which talks to Telegram:

- reads (a whole answer from a read unit of work: menus, the dashboard, the history);
- builders (`*_command`): the lookups a command needs (the package of a typed code, the
  deliverer of a Telegram id), done as reads, and the command;
- replies (`*_reply`): the words for a command's outcome, from the rows it committed or, on
  a replay (the same update delivered again), from its stored reference and the state now.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from bot import texts
from bot.context import LIST_LIMIT, Reply, chat_of
from db.enums import DeliveryStatus, SessionStatus
from db.models import DeliverySession, SessionDeliverer, SessionPackage, User
from domain import barcodes, packages, routes
from domain.commands import (
    AddDeliverer,
    AddPackages,
    AssignPackages,
    Done,
    UpdatePackageStatus,
)
from domain.errors import NotFound, ValidationFailed
from domain.permissions import can_see_pay, is_manager, visible_pay
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


def _not_in_session(code: str) -> NotFound:
    return NotFound(
        f"package {code} is not in this session",
        id=code,
        code="PACKAGE_NOT_IN_SESSION",
        params={"barcode": code},
    )


async def _session(uow: UnitOfWork, done: Done) -> DeliverySession:
    """The session as the command left it or, on a replay, as it is now."""
    row = done.rows.get("session")
    if isinstance(row, DeliverySession):
        return row
    session = await uow.sessions.get(uuid.UUID(done.ref["session"]))
    if session is None:
        raise NotFound("session not found", id=done.ref["session"], code="SESSION_NOT_FOUND")
    return session


async def _package(uow: UnitOfWork, done: Done, package_id: str) -> SessionPackage:
    for row in done.rows.get("packages", []):
        if str(row.id) == package_id:
            return row
    package = await uow.packages.get(uuid.UUID(package_id))
    if package is None:  # removed since the update this replays
        raise NotFound("package not found", id=package_id, code="PACKAGE_NOT_FOUND")
    return package


async def _deliverer(uow: UnitOfWork, deliverer_id: uuid.UUID | str) -> SessionDeliverer:
    """A deliverer with their user (for the name and the chat), read after the commit."""
    found = await uow.deliverers.get_many_with_users([uuid.UUID(str(deliverer_id))])
    if not found:
        raise NotFound(
            "deliverer not found in this session",
            id=str(deliverer_id),
            code="DELIVERER_NOT_IN_SESSION",
        )
    return found[0]


# --- sessions ----------------------------------------------------------------------------------


async def created_reply(uow: UnitOfWork, actor: User, done: Done) -> Reply:
    session = await _session(uow, done)
    text = (
        f"✅ Sessão criada: {session.name}\n"
        "Agora envie as fotos dos códigos de barras dos pacotes (ou digite os códigos). "
        "Depois: /entregadores, /atribuir e /start_session."
    )
    return Reply(text, current=session.id)


async def reused_reply(uow: UnitOfWork, actor: User, done: Done) -> Reply:
    session = await _session(uow, done)
    count = await uow.packages.count(session.id)
    text = (
        f"♻️ Sessão {session.name} reutilizada ({texts.plural(count, 'pacote', 'pacotes')}). "
        "Ela é a sessão atual deste chat: continue enviando fotos."
    )
    return Reply(text, current=session.id)


async def started_reply(uow: UnitOfWork, actor: User, done: Done) -> Reply:
    session = await _session(uow, done)
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
        if chat is not None and d.user_id != actor.id:
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
        raise NotFound("session not found", id=str(session_id), code="SESSION_NOT_FOUND")
    return Reply(f"📌 Sessão atual: {session_line(session)}", current=session.id)


# --- deliverers ----------------------------------------------------------------------------------


async def team_text(uow: UnitOfWork, session: DeliverySession, viewer: User) -> str:
    team = await uow.deliverers.for_sessions_with_users([session.id])
    lines = [f"👥 Entregadores da sessão {session.name}:"]
    lines += [_deliverer_line(d) for d in team if can_see_pay(viewer, d.user_id)] or [
        "• nenhum ainda"
    ]
    return "\n".join(lines)


def _deliverer_line(d: SessionDeliverer) -> str:
    tg = f" [tg {d.user.telegram_id}]" if d.user.telegram_id else ""
    return (
        f"• {d.user.name}{tg}: {d.packages_delivered}/{d.packages_assigned} entregues, "
        f"{d.packages_failed} falhas | salário {texts.brl(d.base_salary)} + "
        f"{texts.brl(d.commission_per_delivery)} por entrega = {texts.brl(d.total_earned)}"
    )


def add_deliverer_command(
    session_id: uuid.UUID, telegram_id: str, salary: str, commission: str, name: str | None
) -> AddDeliverer:
    """By Telegram id; `name` registers that person as a DELIVERER if nobody uses it yet."""
    return AddDeliverer(
        session_id,
        texts.parse_money(salary),
        texts.parse_money(commission),
        telegram_id=telegram_id,
        new_user_name=name,
    )


async def deliverer_reply(uow: UnitOfWork, actor: User, done: Done) -> Reply:
    session = await _session(uow, done)
    deliverer = await _deliverer(uow, done.ref["deliverer"])
    person = deliverer.user
    created = bool(done.ref.get("createdUser"))
    text = (
        f"👤 {person.name} {'cadastrado(a) e ' if created else ''}adicionado(a) à sessão "
        f"{session.name}: salário {texts.brl(deliverer.base_salary)} + "
        f"{texts.brl(deliverer.commission_per_delivery)} por entrega.\n"
        f"Atribua pacotes com /atribuir {person.telegram_id}"
    )
    notify = []
    chat = chat_of(person)
    if chat is not None and person.id != actor.id:
        notify.append(
            (chat, f"👋 Você foi adicionado(a) como entregador(a) na sessão {session.name}.")
        )
    return Reply(text, notify=notify)


async def assign_command(
    uow: UnitOfWork, session_id: uuid.UUID, telegram_id: str, codes: Sequence[str]
) -> AssignPackages:
    """The listed packages, or (no codes) every one still without a deliverer."""
    person = await uow.users.by_telegram_id(telegram_id.strip())
    if person is None:
        raise NotFound("user not found", id=telegram_id, code="USER_NOT_FOUND")
    deliverer = await uow.deliverers.by_user(session_id, person.id)
    if deliverer is None:
        raise NotFound(
            "deliverer not found in this session",
            id=telegram_id,
            code="DELIVERER_NOT_IN_SESSION",
        )
    ids: list[uuid.UUID] = []
    if codes:
        for raw in codes:
            code = barcodes.canonical(raw)
            package = await uow.packages.by_barcode(session_id, code)
            if package is None:
                raise _not_in_session(code)
            ids.append(package.id)
    else:
        # None left is the domain's refusal (NOTHING_TO_ASSIGN), like any empty list.
        ids = [p.id for p in await uow.packages.not_final(session_id) if p.deliverer_id is None]
    return AssignPackages(session_id, tuple(ids), deliverer.id)


async def assigned_reply(uow: UnitOfWork, actor: User, done: Done) -> Reply:
    session = await _session(uow, done)
    count = len(done.ref["packages"])
    first = await _package(uow, done, done.ref["packages"][0])
    if first.deliverer_id is None:  # unassigned since the update this replays
        raise NotFound("deliverer not found in this session", code="DELIVERER_NOT_IN_SESSION")
    deliverer = await _deliverer(uow, first.deliverer_id)
    person = deliverer.user
    text = (
        f"📦 {texts.plural(count, 'pacote atribuído', 'pacotes atribuídos')} a "
        f"{person.name} (agora com {deliverer.packages_assigned} na sessão {session.name})."
    )
    notify = []
    chat = chat_of(person)
    if chat is not None and person.id != actor.id:
        notify.append(
            (
                chat,
                f"📦 Você recebeu {texts.plural(count, 'pacote', 'pacotes')} na sessão "
                f"{session.name}. Quando a sessão começar, envie a foto do código de cada "
                "pacote entregue.",
            )
        )
    return Reply(text, notify=notify)


# --- packages ----------------------------------------------------------------------------------


def add_package_command(
    session_id: uuid.UUID, code: str, symbology: str | None, scan_report: dict[str, Any] | None
) -> AddPackages:
    item = packages.PackageData(code, symbology=symbology, scan_report=scan_report)
    return AddPackages(session_id, (item,))


async def status_command(
    uow: UnitOfWork,
    session_id: uuid.UUID,
    code: str,
    status: DeliveryStatus,
    reason: str | None,
    scan_report: dict[str, Any] | None,
) -> UpdatePackageStatus:
    code = barcodes.canonical(code)
    package = await uow.packages.by_barcode(session_id, code)
    if package is None:
        raise _not_in_session(code)
    return UpdatePackageStatus(package.id, status, reason, scan_report=scan_report)


async def package_reply(uow: UnitOfWork, actor: User, done: Done) -> Reply:
    """The answer to a scan, a typed code or /falha: an added package or a new status."""
    if "added" in done.ref:
        return await _added_reply(uow, done)
    return await _status_reply(uow, actor, done)


async def _added_reply(uow: UnitOfWork, done: Done) -> Reply:
    rejected = done.ref["rejected"]
    if rejected:
        # A refusal to the person, worded by its code like every other (bot/errors.py).
        first = rejected[0]
        raise ValidationFailed(
            f"{first['barcode']}: {first['reason']}",
            field="barcode",
            code=first["code"],
            params={"barcode": first["barcode"], **first.get("params", {})},
        )
    session = await _session(uow, done)
    total = await uow.packages.count(session.id)
    if done.ref["duplicates"]:
        return Reply(
            f"🔁 O pacote {done.ref['duplicates'][0]} já estava na sessão "
            f"({texts.plural(total, 'pacote', 'pacotes')})."
        )
    added = await _package(uow, done, done.ref["added"][0])
    kind = f" ({added.symbology})" if added.symbology else ""
    carrier = f" · {texts.carrier_name(added.carrier)}" if added.carrier else ""
    text = (
        f"📦 Pacote {added.barcode}{kind}{carrier} adicionado. A sessão {session.name} tem "
        f"{texts.plural(total, 'pacote', 'pacotes')}."
    )
    if added.recipient_from_label:
        text += "\n" + await _label_lines(uow, added)
    return Reply(text)


async def _label_lines(uow: UnitOfWork, package: SessionPackage) -> str:
    """What was read from the label, said as such so the manager checks it."""
    parts = [f"👤 {package.recipient_name}"] if package.recipient_name else []
    if package.address_id is not None:
        address = (await uow.addresses.get_many([package.address_id]))[0]
        where = ", ".join(p for p in (address.line, address.city, address.postal_code) if p)
        parts.append(f"📍 {where}")
    return "Lido da etiqueta (confira): " + " · ".join(parts)


async def identify(uow: UnitOfWork, user: User, session: DeliverySession, code: str) -> Reply:
    """A manager's scan once the session is under way: what is this package's situation?"""
    code = barcodes.canonical(code)
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


def _done_label(status: DeliveryStatus) -> str:
    return "✅ Entregue" if status is DeliveryStatus.DELIVERED else "❌ Falha registrada"


async def _status_reply(uow: UnitOfWork, actor: User, done: Done) -> Reply:
    session = await _session(uow, done)
    package = await _package(uow, done, done.ref["package"])
    if session.status is SessionStatus.COMPLETED:
        return await _completed(uow, actor, session, package)
    left = await uow.packages.count_not_final(session.id)
    return Reply(
        f"{_done_label(package.status)}: {package.barcode}. Faltam "
        f"{texts.plural(left, 'pacote', 'pacotes')} na sessão {session.name}.",
        current=session.id,
    )


async def _completed(
    uow: UnitOfWork, actor: User, session: DeliverySession, package: SessionPackage
) -> Reply:
    """The change that made the last package final completed the session: everyone hears."""
    summary = texts.completion(session.name, session.financial_snapshot or {})
    team = await uow.deliverers.for_session(session.id)
    people = await uow.users.get_many([session.owner_id, *(d.user_id for d in team)])
    notify = [
        (chat, summary)
        for person in people
        if person.id != actor.id and (chat := chat_of(person)) is not None
    ]
    return Reply(
        f"{_done_label(package.status)}: {package.barcode}.\n\n{summary}",
        notify=notify,
        current=session.id,
    )


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
        snapshot = visible_pay(viewer, session.financial_snapshot)
        lines += ["Ganhos:" if manager else "Seus ganhos:", *texts.earnings_lines(snapshot)]
        if manager:
            lines.append(f"Custo total: {texts.brl(snapshot.get('totalCost'))}")
        return "\n".join(lines)
    team = [
        d
        for d in await uow.deliverers.for_sessions_with_users([session.id])
        if can_see_pay(viewer, d.user_id)
    ]
    if not manager:
        lines += ["Você:", *(_deliverer_line(d) for d in team)]
        return "\n".join(lines)
    lines.append("Entregadores:")
    lines += [_deliverer_line(d) for d in team] or ["• nenhum ainda (use /entregadores)"]
    cost = sum((d.total_earned for d in team), start=Decimal("0"))
    lines.append(f"Custo até agora: {texts.brl(cost)}")
    return "\n".join(lines)


async def next_stop(uow: UnitOfWork, session: DeliverySession, viewer: User) -> str:
    """The first stop of the deliverer's route with a parcel of theirs still open."""
    found = await routes.my_next_stop(uow, viewer, session.id)
    if found is None:
        mine = await uow.deliverers.by_user(session.id, viewer.id)
        if mine is None:
            return texts.NEXT_STOP_NOT_DELIVERER
        return texts.NEXT_STOP_DONE if (mine.route or {}).get("stops") else texts.NEXT_STOP_NO_ROUTE
    stop, address = found.stop, found.address
    eta = datetime.fromisoformat(stop["eta"])
    lines = [
        f"📍 Próxima parada: {stop['sequence']}ª da rota ({found.remaining} em aberto)",
        address.line if address is not None else "Endereço removido",
    ]
    if address is not None:
        extra = [p for p in (address.neighbourhood, address.city) if p and p not in address.line]
        if extra:
            lines.append(" - ".join(extra))
    lines.append(f"Previsão de chegada: {texts.clock(eta)}")
    noun = "pacote" if len(found.packages) == 1 else "pacotes"
    lines.append(f"Entregar {len(found.packages)} {noun}:")
    lines += [
        f"• {p.barcode}" + (f" ({p.recipient_name})" if p.recipient_name else "")
        for p in found.packages
    ]
    if address is not None and address.latitude is not None and address.longitude is not None:
        lines.append(
            f"Mapa: https://www.openstreetmap.org/?mlat={address.latitude:.6f}"
            f"&mlon={address.longitude:.6f}#map=18/{address.latitude:.6f}/{address.longitude:.6f}"
        )
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
        if is_manager(user):
            line += f" | custo {texts.brl(snap.get('totalCost'))}"
        elif mine := visible_pay(user, snap).get("deliverers"):
            line += f" | seus ganhos: {texts.brl(mine[0]['totalEarned'])}"
        lines.append(line)
    return "\n".join(lines)
