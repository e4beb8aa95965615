"""What people read in a report: Portuguese words, local times, money as Brazilians write it."""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from reports.model import PackageLine, RouteLine, RouteStopLine, SessionReport

LOCAL = ZoneInfo("America/Sao_Paulo")
CENT = Decimal("0.01")
SESSION_STATUS = {
    "OPEN": "Aberta",
    "ACTIVE": "Em andamento",
    "PAUSED": "Pausada",
    "COMPLETED": "Concluída",
    "ARCHIVED": "Arquivada",
}
PACKAGE_STATUS = {
    "PENDING": "Pendente",
    "PICKED_UP": "Em rota",
    "DELIVERED": "Entregue",
    "FAILED": "Não entregue",
}
# Completed history: ARCHIVED comes after COMPLETED and keeps its snapshot.
FINISHED = frozenset({"COMPLETED", "ARCHIVED"})
PACKAGE_HEADINGS = (
    "Código",
    "Transportadora",
    "Status",
    "Entregador",
    "Destinatário",
    "Endereço",
    "Coletado em",
    "Entregue em",
    "Falhou em",
    "Motivo da falha",
    "Comprovante",
)
ROUTE_HEADINGS = (
    "Entregador",
    "Parada",
    "Endereço",
    "Pacotes",
    "Códigos",
    "Previsão",
    "Distância (km)",
    "Situação",
)
PAY_HEADINGS = (
    "Entregador",
    "Salário base",
    "Comissão por entrega",
    "Entregas",
    "Comissão",
    "Total",
)


def title(report: SessionReport) -> str:
    return f"Relatório da sessão {report.session_name}"


def first_line(report: SessionReport) -> str:
    """The notice of a report on a session not finished, else the title."""
    if report.status in FINISHED:
        return title(report)
    status = SESSION_STATUS.get(report.status, report.status)
    return (
        f"RELATÓRIO PARCIAL: a sessão {report.session_name} não está concluída "
        f"(status: {status}); sem folha de pagamento."
    )


def local(when: datetime | None) -> datetime | None:
    return when.astimezone(LOCAL) if when is not None else None


def when_text(when: datetime | None) -> str:
    shown = local(when)
    return shown.strftime("%d/%m/%Y %H:%M") if shown is not None else ""


def cents(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def money_plain(amount: Decimal) -> str:
    """For CSV: "1234.50", what any program parses."""
    return f"{cents(amount):f}"


def money_brl(amount: Decimal) -> str:
    """For print: "R$ 1.234,50"."""
    plain = f"{cents(amount):,.2f}"  # 1,234.50: Decimal formats exactly
    return "R$ " + plain.replace(",", "_").replace(".", ",").replace("_", ".")


def status_text(line: PackageLine) -> str:
    return PACKAGE_STATUS.get(line.status, line.status)


def proof_text(line: PackageLine) -> str:
    return "Sim" if line.has_proof else "Não"


def meta(report: SessionReport) -> list[tuple[str, str]]:
    return [
        ("Sessão", report.session_name),
        ("Identificador", report.session_id),
        ("Status", SESSION_STATUS.get(report.status, report.status)),
        ("Criada em", when_text(report.created_at)),
        ("Iniciada em", when_text(report.started_at)),
        ("Concluída em", when_text(report.completed_at)),
        ("Gerado em", when_text(report.generated_at)),
        ("Pacotes", str(len(report.packages))),
        ("Horários", "America/Sao_Paulo"),
    ]


def payroll_of(report: SessionReport) -> tuple[tuple[object, ...], Decimal] | None:
    """The payroll only for a finished session with its snapshot: never a partial one."""
    if report.status not in FINISHED or report.payroll is None:
        return None
    total = report.payroll_total
    if total is None:
        total = sum((p.total for p in report.payroll), Decimal("0"))
    return tuple(report.payroll), total


def km(meters: int) -> str:
    """For print: "12,3"."""
    return f"{km_plain(meters):f}".replace(".", ",")


def km_plain(meters: int) -> Decimal:
    return (Decimal(meters) / 1000).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def duration_text(seconds: int) -> str:
    hours, minutes = divmod(round(seconds / 60), 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min"


def stop_state(stop: RouteStopLine) -> str:
    return "Concluída" if stop.done else "Aberta"


def route_summary(route: RouteLine) -> str:
    """ "Ana: 5 paradas, 12,3 km, 1 h 20 min" """
    stops = len(route.stops)
    noun = "parada" if stops == 1 else "paradas"
    return (
        f"{route.deliverer}: {stops} {noun}, {km(route.distance_m)} km, "
        f"{duration_text(route.duration_s)}"
    )
