"""Domain errors as friendly Portuguese messages, chosen by the error's stable code.

The domain speaks English (its messages reach API clients and logs) and gives every refusal a
`code` and the `params` its text needs; the bot words each code it can meet here, so a change
to an English message never changes what people read. A code without a text here (one added
to the domain later) still gets a sensible sentence chosen by the error's type, never a stack
trace.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

from bot import texts
from db.enums import DeliveryStatus, SessionStatus
from db.models import User
from domain.errors import (
    DomainError,
    IdempotencyConflict,
    InvalidImage,
    InvalidTransition,
    NotFound,
    Overloaded,
    PermissionDenied,
    ReadOnlySession,
    ValidationFailed,
)
from domain.permissions import is_manager

log = logging.getLogger("bipa.bot")


class NoSession(DomainError):
    """The chat has no session to act on; the message is already the Portuguese answer."""

    default_code = "NO_SESSION"

    def __init__(self, user: User) -> None:
        super().__init__(
            texts.NO_SESSION_MANAGER if is_manager(user) else texts.NO_SESSION_DELIVERER
        )


# The bot's own words for the domain's input fields (ValidationFailed.field).
FIELDS = {
    "baseSalary": "o salário",
    "commissionPerDelivery": "a comissão",
    "name": "o nome",
    "reason": "o motivo",
    "telegramId": "o id do Telegram",
}

Values = Mapping[str, str]
READ_ONLY = "Esta sessão já foi concluída e agora é somente leitura."
CONFLICT = "Esta mensagem já foi processada com outro conteúdo; envie de novo."


def _session_not_active(values: Values) -> str:
    if values.get("raw_from") == SessionStatus.OPEN.value:
        return "A sessão ainda não começou: aguarde o gerente iniciar as entregas."
    if values.get("raw_from") == SessionStatus.PAUSED.value:
        return "A sessão está pausada: aguarde o gerente retomar as entregas."
    return f"Não dá para fazer isso com a sessão {values['from']}."


def _packages_still_open(values: Values) -> str:
    count = int(values["count"])
    return f"Ainda há {texts.plural(count, 'pacote', 'pacotes')} sem entrega ou falha."


# Code -> text: a template over the error's params (statuses already in Portuguese, `field`
# the field's name), or a function of them where the wording depends on a value.
TEXTS: dict[str, str | Callable[[Values], str]] = {
    # who may do what
    "MANAGERS_ONLY": texts.MANAGERS_ONLY,
    "NOT_SESSION_MANAGER": "Só quem criou a sessão (ou um administrador) pode alterá-la.",
    "SESSION_HIDDEN": "Você não tem acesso a esta sessão.",
    "NOT_YOUR_PACKAGE": (
        "Este pacote não está atribuído a você. Confira o código ou fale com o gerente."
    ),
    # what is not there
    "SESSION_NOT_FOUND": "Não encontrei esta sessão.",
    "PACKAGE_NOT_FOUND": "Não encontrei este pacote nesta sessão.",
    "PACKAGE_NOT_IN_SESSION": "Não encontrei o pacote {barcode} nesta sessão.",
    "USER_NOT_FOUND": "Não encontrei este usuário no Bipa.",
    "DELIVERER_NOT_IN_SESSION": (
        "Esta pessoa não é entregadora desta sessão. Adicione antes com /entregadores."
    ),
    # deliverers and users
    "TELEGRAM_ID_UNKNOWN": (
        "Ninguém usa este Telegram no Bipa ainda. Para cadastrar, informe também o NOME: "
        + texts.USAGE_ENTREGADORES.split("\n")[1]
    ),
    "TELEGRAM_ID_INVALID": "O id do Telegram deve ser numérico (ex.: 123456789).",
    "TELEGRAM_ID_TAKEN": "Este Telegram já está vinculado a outro usuário do Bipa.",
    "NOT_A_DELIVERER": (
        "Essa pessoa não é entregadora no Bipa: só usuários entregadores podem receber pacotes."
    ),
    "DELIVERER_EXISTS": "Este entregador já está na sessão.",
    # The same codes serve a session's name and a new deliverer's name.
    "NAME_EMPTY": "O nome não pode ficar vazio.",
    "NAME_TOO_LONG": "O nome pode ter no máximo {max} caracteres.",
    "AMOUNT_INVALID": "{field} deve ser um valor como 12,50.",
    "AMOUNT_NEGATIVE": "{field} não pode ser negativo.",
    "AMOUNT_CENTS": "{field} pode ter no máximo dois decimais (centavos).",
    "AMOUNT_TOO_LARGE": "{field} é grande demais.",
    # sessions
    "SESSION_EMPTY": (
        "A sessão precisa de pelo menos um pacote para começar. Envie as fotos dos códigos."
    ),
    "SESSION_READ_ONLY": READ_ONLY,
    "SESSION_TRANSITION": "Não dá para fazer isso com a sessão {from}.",
    "SESSION_NOT_ADDABLE": "Não dá para adicionar pacotes com a sessão {from}.",
    "SESSION_NOT_ACTIVE": _session_not_active,
    "PACKAGES_STILL_OPEN": _packages_still_open,
    # packages
    "NOTHING_TO_ASSIGN": "Nenhum pacote para atribuir.",
    "TOO_MANY_PACKAGES": "No máximo {max} pacotes de uma vez.",
    "PACKAGE_ALREADY_FINAL": "O pacote {barcode} já está {status}.",
    "PACKAGE_TRANSITION": "Este pacote já está {from}.",
    "REASON_REQUIRED": "Informe o motivo da falha. " + texts.USAGE_FALHA,
    "REASON_TOO_LONG": "O motivo pode ter no máximo {max} caracteres.",
    # proof of delivery
    "PROOF_PHOTO_REQUIRED": ("Esta sessão exige foto da entrega: envie a foto do pacote entregue."),
    "PROOF_SIGNATURE_REQUIRED": (
        "Esta sessão exige a assinatura de quem recebeu: use o scanner na web para colher a "
        "assinatura."
    ),
    "PROOF_NOT_ALLOWED": "A comprovação vai junto com a entrega ou com a falha.",
    "PROOF_TOO_MANY_PHOTOS": "No máximo {max} fotos por entrega.",
    "PROOF_TEXT_TOO_LONG": "Texto longo demais: no máximo {max} caracteres.",
    "PROOF_BAD_LOCATION": "A localização recebida não é válida: compartilhe-a de novo.",
    "PROOF_RESEND": "Não encontrei a foto enviada antes: envie a foto de novo.",
    # barcodes (domain.barcodes.Rejected codes)
    "BARCODE_CHECK_DIGIT": (
        "O dígito verificador deste código (GTIN-{length}) não confere: confira os números."
    ),
    "TRACKING_CHECK_DIGIT": (
        "O dígito verificador deste código de rastreio não confere: confira as letras e os números."
    ),
    "BARCODE_NOT_ASCII": "Este código tem caracteres que não existem em códigos de barras.",
    "BARCODE_TOO_LONG": "O código pode ter no máximo {max} caracteres.",
    "BARCODE_EMPTY": "Este código está vazio: envie a foto ou digite os números.",
    # places and routes
    "ADDRESS_NOT_FOUND": "Não encontrei este endereço nesta sessão.",
    "NO_DELIVERERS": "A sessão ainda não tem entregadores: adicione com /entregadores.",
    "DEPOT_NOT_SET": "O ponto de saída (depósito) não foi configurado: fale com o administrador.",
    "NO_GEOCODED_PACKAGES": (
        "Nenhum pacote em aberto tem endereço localizado no mapa: localize os endereços antes."
    ),
    "ROUTE_CAPACITY_EXCEEDED": (
        "São {parcels} pacotes e os entregadores levam no máximo {capacity}: adicione "
        "entregadores ou aumente a capacidade."
    ),
    "ROUTE_CAPACITY_INVALID": "A capacidade de cada entregador deve ser de pelo menos 1 pacote.",
    "ROUTE_BALANCE_INVALID": "O equilíbrio entre entregadores deve ficar entre 0 e 10.",
    "ROUTE_TIMEOUT_INVALID": "O tempo de cálculo deve ficar entre 0,1 e 60 segundos.",
    "ROUTE_SOLVER_TIMEOUT": (
        "O cálculo das rotas demorou demais: tente de novo com mais tempo ou menos pacotes."
    ),
    "ROUTE_SOLVER_FAILED": "Não foi possível calcular as rotas agora. Tente de novo.",
    "ROUTE_TIME_NAIVE": "Informe os horários com o fuso (ex.: 08:00-03:00).",
    # the scanner and the runner
    "OVERLOADED": texts.SCANNER_BUSY,
    "INVALID_IMAGE": texts.INVALID_IMAGE,
    "IDEMPOTENCY_CONFLICT": CONFLICT,
}

# Codes of the domain the bot never meets, and why: the unit test holds every code of the
# domain to either a text above or a line here.
UNREACHABLE: dict[str, str] = {
    "ADDRESS_EMPTY": "the bot adds packages by barcode only, without addresses",
    "ADDRESS_TOO_LONG": "the bot adds packages by barcode only, without addresses",
    "COORDINATE_OUT_OF_RANGE": "the bot adds packages by barcode only, without addresses",
    "CEP_INVALID": "the bot adds packages by barcode only; a label's CEP is kept only when valid",
    "UF_INVALID": "the bot adds packages by barcode only; a label's UF is kept only when valid",
    "ADDRESS_STREET_REQUIRED": "the bot adds packages by barcode only; a label needs its street",
    "RECIPIENT_TOO_LONG": "the bot adds packages by barcode only, without recipients",
    "SESSION_NOT_OPEN": "the bot never removes packages",
    "CANNOT_CREATE_ROLE": "the bot creates DELIVERERs only, and only for managers",
    "UNAUTHENTICATED": "the bot runs every command as the Bipa user of the account",
    "IDEMPOTENCY_KEY_INVALID": "the bot's keys (tg-update:<id>) are short and never empty",
    "IDEMPOTENCY_UNAVAILABLE": "the bot never creates users (a keyed createUser is GraphQL's)",
    "IDEMPOTENCY_ANSWER_LOST": "the bot never creates users (a keyed createUser is GraphQL's)",
    "WEBHOOKS_DISABLED": "the bot has no webhook commands",
    "JOB_NOT_FOUND": "the bot has no job commands (imports and exports are GraphQL and CLI)",
    "JOB_TRANSITION": "the bot has no job commands (imports and exports are GraphQL and CLI)",
    "JOB_NOT_RUNNING": "the bot has no job commands (imports and exports are GraphQL and CLI)",
    "MANIFEST_TOO_LARGE": "the bot has no job commands (imports and exports are GraphQL and CLI)",
    "WEBHOOK_NOT_FOUND": "the bot has no webhook commands",
    "DELIVERY_NOT_FOUND": "the bot has no webhook commands",
    "NO_EVENTS": "the bot has no webhook commands",
    "TOO_MANY_EVENTS": "the bot has no webhook commands",
    "UNKNOWN_EVENT": "the bot has no webhook commands",
    "URL_REFUSED": "the bot has no webhook commands",
    "FORGET_WHICH": "forgetting a recipient is a manager's API and web action",
    "RECIPIENT_NOT_FOUND": "forgetting a recipient is a manager's API and web action",
}


# A package's status after "já está" ("Falhou" would read "já está falhou").
PACKAGE_STATE = {
    DeliveryStatus.PENDING: "pendente",
    DeliveryStatus.PICKED_UP: "em rota",
    DeliveryStatus.DELIVERED: "entregue",
    DeliveryStatus.FAILED: "com falha registrada",
}


def _status(value: str) -> str:
    """A session's or a package's status (their values differ) as the texts say it."""
    for status, label in texts.SESSION_STATUS.items():
        if status.value == value:
            return label.lower()
    for package_status, state in PACKAGE_STATE.items():
        if package_status.value == value:
            return state
    return value


def _values(exc: DomainError) -> dict[str, str]:
    """The error's params as its text uses them: statuses in Portuguese, the field named."""
    values = dict(exc.params)
    for name in ("status", "from"):
        if name in values:
            values["raw_" + name] = values[name]
            values[name] = _status(values[name])
    field = exc.field if isinstance(exc, ValidationFailed) else None
    values["field"] = FIELDS.get(field, "o valor").capitalize() if field else "O valor"
    return values


def translate(exc: DomainError) -> str:
    if isinstance(exc, NoSession):
        return exc.message
    text = TEXTS.get(exc.code)
    if text is not None:
        values = _values(exc)
        try:
            return "⚠️ " + (text.format_map(values) if isinstance(text, str) else text(values))
        except (KeyError, ValueError):
            # A param the text needs went missing: say something true rather than fail.
            log.warning("error text without its params", extra={"code": exc.code})
    return "⚠️ " + _by_type(exc)


def _by_type(exc: DomainError) -> str:
    if isinstance(exc, ReadOnlySession):
        return READ_ONLY
    if isinstance(exc, InvalidTransition):
        if exc.entity == "package":
            return f"Este pacote já está {_status(exc.from_)}."
        return f"Não dá para fazer isso com a sessão {_status(exc.from_)}."
    if isinstance(exc, PermissionDenied):
        return "Você não tem permissão para isso."
    if isinstance(exc, NotFound):
        return "Não encontrei o que você pediu. Confira e tente de novo."
    if isinstance(exc, Overloaded):
        return texts.SCANNER_BUSY
    if isinstance(exc, InvalidImage):
        return texts.INVALID_IMAGE
    if isinstance(exc, IdempotencyConflict):
        return CONFLICT
    if isinstance(exc, ValidationFailed):
        return "Algum dado não está certo. Confira e tente de novo (veja /help)."
    return "Não foi possível fazer isso agora."
