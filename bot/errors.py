"""Domain errors as friendly Portuguese messages.

The domain speaks English (its messages also reach API clients and logs); the bot translates
the expected failures it can meet. An unknown message still gets a sensible sentence chosen
by the error's type, never a stack trace.
"""

from __future__ import annotations

import re

from bot import texts
from db.enums import Role
from db.models import User
from domain.errors import (
    DomainError,
    IdempotencyConflict,
    InvalidImage,
    InvalidTransition,
    NotFound,
    PermissionDenied,
    ReadOnlySession,
    ValidationFailed,
)
from domain.scanning import Overloaded


class NoSession(DomainError):
    """The chat has no session to act on; the message is already the Portuguese answer."""

    def __init__(self, user: User) -> None:
        manager = user.role in (Role.ADMIN, Role.MANAGER)
        super().__init__(texts.NO_SESSION_MANAGER if manager else texts.NO_SESSION_DELIVERER)


FIELDS = {
    "baseSalary": "o salário",
    "commissionPerDelivery": "a comissão",
    "name": "o nome",
    "reason": "o motivo",
    "telegramId": "o id do Telegram",
}

# (pattern of the domain's English message, Portuguese message; {0}.. are the groups)
KNOWN: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"only managers and admins can do this"), texts.MANAGERS_ONLY),
    (
        re.compile(r"you cannot change this session"),
        "Só quem criou a sessão (ou um administrador) pode alterá-la.",
    ),
    (re.compile(r"you cannot see this session"), "Você não tem acesso a esta sessão."),
    (
        re.compile(r"only the session's managers can add packages"),
        "Só o gerente da sessão pode adicionar pacotes.",
    ),
    (
        re.compile(r"package (\S+) is not in this session"),
        "Não encontrei o pacote {0} nesta sessão.",
    ),
    (re.compile(r"package not found"), "Não encontrei este pacote nesta sessão."),
    (
        re.compile(r"deliverer not found in this session"),
        "Esta pessoa não é entregadora desta sessão. Adicione antes com /entregadores.",
    ),
    (
        re.compile(r"no user has this Telegram id"),
        "Ninguém usa este Telegram no Bipa ainda. Para cadastrar, informe também o NOME: "
        + texts.USAGE_ENTREGADORES.split("\n")[1],
    ),
    (re.compile(r"session not found"), "Não encontrei esta sessão."),
    (re.compile(r"user not found"), "Não encontrei este usuário no Bipa."),
    (
        re.compile(r"(\d+) packages are not delivered or failed yet"),
        "Ainda há {0} pacotes sem entrega ou falha.",
    ),
    (
        re.compile(r"a session needs at least one package to start"),
        "A sessão precisa de pelo menos um pacote para começar. Envie as fotos dos códigos.",
    ),
    (re.compile(r"session name must not be empty"), "O nome da sessão não pode ficar vazio."),
    (
        re.compile(r"session name must be at most (\d+) characters"),
        "O nome da sessão pode ter no máximo {0} caracteres.",
    ),
    (
        re.compile(r"a failed delivery needs a reason"),
        "Informe o motivo da falha. " + texts.USAGE_FALHA,
    ),
    (
        re.compile(r"reason is longer than (\d+) characters"),
        "O motivo pode ter no máximo {0} caracteres.",
    ),
    (
        re.compile(r"only DELIVERER users can deliver packages"),
        "Essa pessoa não é entregadora no Bipa: só usuários entregadores podem receber pacotes.",
    ),
    (re.compile(r"this deliverer is already in the session"), "Este entregador já está na sessão."),
    (
        re.compile(r"deliverers can only change their own packages"),
        "Este pacote não está atribuído a você. Confira o código ou fale com o gerente.",
    ),
    (re.compile(r"package (\S+) is already (\w+)"), "O pacote {0} já está {1}."),
    (re.compile(r"packageIds must not be empty"), "Nenhum pacote para atribuir."),
    (
        re.compile(r"this Telegram account is (already )?linked"),
        "Este Telegram já está vinculado a outro usuário do Bipa.",
    ),
    (
        re.compile(r"telegramId must be a numeric Telegram user id"),
        "O id do Telegram deve ser numérico (ex.: 123456789).",
    ),
    (re.compile(r"(\w+) must be a decimal number like"), "{0} deve ser um valor como 12,50."),
    (re.compile(r"(\w+) must not be negative"), "{0} não pode ser negativo."),
    (
        re.compile(r"(\w+) must have at most two decimal places"),
        "{0} pode ter no máximo dois decimais (centavos).",
    ),
    (re.compile(r"(\w+) must be at most"), "{0} é grande demais."),
    (re.compile(r"(\w+) must be a finite number"), "{0} deve ser um valor como 12,50."),
    (
        re.compile(r"invalid GTIN-(\d+) check digit"),
        "O dígito verificador deste código (GTIN-{0}) não confere: confira os números.",
    ),
    (
        re.compile(r"only printable ASCII characters are allowed"),
        "Este código tem caracteres que não existem em códigos de barras.",
    ),
    (re.compile(r"longer than (\d+) characters"), "O código pode ter no máximo {0} caracteres."),
]


def _field(word: str) -> str:
    return FIELDS.get(word, word).capitalize()


def _status(value: str) -> str:
    for mapping in (texts.SESSION_STATUS, texts.PACKAGE_STATUS):
        for key, label in mapping.items():
            if key.value == value:
                return label.lower()
    return value


def translate(exc: DomainError) -> str:
    if isinstance(exc, NoSession):
        return exc.message
    for pattern, template in KNOWN:
        match = pattern.search(exc.message)
        if match is not None:
            groups = [_field(g) if g in FIELDS else _status(g) for g in match.groups() if g]
            return "⚠️ " + template.format(*groups)
    return "⚠️ " + _by_type(exc)


def _by_type(exc: DomainError) -> str:
    if isinstance(exc, ReadOnlySession):
        return "Esta sessão já foi concluída e agora é somente leitura."
    if isinstance(exc, InvalidTransition):
        # The message starts with the entity ("session ..." / "package ..."), see domain.errors.
        if exc.to == "package status change" and exc.from_ == "OPEN":
            return "A sessão ainda não começou: aguarde o gerente iniciar as entregas."
        if exc.to == "package status change" and exc.from_ == "PAUSED":
            return "A sessão está pausada: aguarde o gerente retomar as entregas."
        if exc.message.startswith("package"):
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
        return "Esta mensagem já foi processada com outro conteúdo; envie de novo."
    if isinstance(exc, ValidationFailed):
        return "Algum dado não está certo. Confira e tente de novo (veja /help)."
    return "Não foi possível fazer isso agora."
