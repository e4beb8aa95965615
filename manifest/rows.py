"""One row's cells -> a ManifestRow or its problems: structural checks only (the domain applies
the package rules: the tracking-code model, deliverers, duplicates in the session)."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time

from manifest.headers import fold
from manifest.model import ManifestRow, RowProblem


@dataclass(frozen=True)
class Formula:
    """A cell holding a formula, kept as text and never evaluated."""

    text: str


Cell = str | int | float | bool | datetime | date | time | Formula | None

MAX_LENGTH = {
    "tracking_code": 64,
    "recipient_name": 200,
    "phone": 30,
    "street": 200,
    "number": 20,
    "complement": 120,
    "neighbourhood": 120,
    "city": 120,
    "uf": 40,
    "cep": 16,
    "deliverer": 200,
}
# Fields holding codes: a number Excel made of them is turned back into its digits.
_CODES = frozenset({"tracking_code", "phone", "cep", "number"})
LABELS = {
    "tracking_code": "Código de rastreio",
    "recipient_name": "Destinatário",
    "phone": "Telefone",
    "street": "Rua",
    "number": "Número",
    "complement": "Complemento",
    "neighbourhood": "Bairro",
    "city": "Cidade",
    "uf": "UF",
    "cep": "CEP",
    "deliverer": "Entregador",
}
UF_NAMES = {
    "AC": "Acre",
    "AL": "Alagoas",
    "AP": "Amapá",
    "AM": "Amazonas",
    "BA": "Bahia",
    "CE": "Ceará",
    "DF": "Distrito Federal",
    "ES": "Espírito Santo",
    "GO": "Goiás",
    "MA": "Maranhão",
    "MT": "Mato Grosso",
    "MS": "Mato Grosso do Sul",
    "MG": "Minas Gerais",
    "PA": "Pará",
    "PB": "Paraíba",
    "PR": "Paraná",
    "PE": "Pernambuco",
    "PI": "Piauí",
    "RJ": "Rio de Janeiro",
    "RN": "Rio Grande do Norte",
    "RS": "Rio Grande do Sul",
    "RO": "Rondônia",
    "RR": "Roraima",
    "SC": "Santa Catarina",
    "SP": "São Paulo",
    "SE": "Sergipe",
    "TO": "Tocantins",
}
_UF_BY_NAME = {fold(name): uf for uf, name in UF_NAMES.items()}
_SCIENTIFIC = re.compile(r"\d+(?:[.,]\d+)?[eE]\+?\d+")
_WHOLE_WITH_ZEROS = re.compile(r"(\d+)[.,]0+")
# Beyond 2**53 a float no longer holds every integer: digits were lost when Excel stored it.
_EXACT_FLOAT = 2**53


class CellProblem(Exception):
    def __init__(self, code: str, reason: str) -> None:
        super().__init__(code)
        self.code = code
        self.reason = reason


def _number_text(value: float, field: str) -> str:
    if not math.isfinite(value):
        raise CellProblem("INVALID_NUMBER", "número inválido na célula")
    if value.is_integer():
        if field in _CODES and abs(value) >= _EXACT_FLOAT:
            raise CellProblem(
                "NUMBER_PRECISION_LOST",
                "o Excel guardou o valor como número e perdeu dígitos; "
                "formate a coluna como Texto e digite de novo",
            )
        return str(int(value))
    if field in _CODES:
        raise CellProblem(
            "NUMBER_NOT_A_CODE",
            "a célula tem um número com casas decimais onde se espera um código; "
            "formate a coluna como Texto",
        )
    return repr(value)


def cell_text(value: Cell, field: str) -> str | None:
    """The cell as trimmed text (None when empty); raises CellProblem."""
    if value is None:
        return None
    # Text first: every CSV cell and most XLSX cells are text.
    if isinstance(value, str):
        text = " ".join(value.split())
        if text.startswith("="):
            raise CellProblem(
                "FORMULA_NOT_ALLOWED",
                "a célula começa com '=' (uma fórmula para a planilha); cole só o valor",
            )
        if field in _CODES:
            if _SCIENTIFIC.fullmatch(text):
                raise CellProblem(
                    "SCIENTIFIC_NOTATION",
                    "o Excel converteu o valor em notação científica e perdeu dígitos; "
                    "formate a coluna como Texto",
                )
            whole = _WHOLE_WITH_ZEROS.fullmatch(text)
            if whole:
                text = whole.group(1)
    elif isinstance(value, Formula):
        raise CellProblem(
            "FORMULA_NOT_ALLOWED",
            "a célula tem uma fórmula, que não é calculada; cole só o valor",
        )
    elif isinstance(value, bool):
        text = "VERDADEIRO" if value else "FALSO"
    elif isinstance(value, int):
        text = str(value)
    elif isinstance(value, float):
        text = _number_text(value, field)
    else:
        text = value.isoformat()
    return text or None


def _cep(text: str) -> str:
    digits = text.replace("-", "").replace(".", "").replace(" ", "")
    # A CEP stored as a number loses its leading zero (01310-100 -> 1310100): most of São
    # Paulo's CEPs start with 0, so a 7-digit one is that zero lost.
    if digits.isdigit() and len(digits) == 7:
        digits = "0" + digits
    if not (digits.isdigit() and len(digits) == 8):
        raise CellProblem("INVALID_CEP", "o CEP deve ter 8 dígitos (ex.: 01310-100)")
    return f"{digits[:5]}-{digits[5:]}"


def _uf(text: str) -> str:
    upper = text.upper()
    if upper in UF_NAMES:
        return upper
    by_name = _UF_BY_NAME.get(fold(text))
    if by_name is None:
        raise CellProblem("INVALID_UF", "a UF deve ser a sigla de um dos 27 estados (ex.: SP)")
    return by_name


def _field_value(cells: Sequence[Cell], index: int | None, field: str) -> str | None:
    if index is None or index >= len(cells):
        return None
    text = cell_text(cells[index], field)
    if text is None:
        return None
    if len(text) > MAX_LENGTH[field]:
        raise CellProblem("VALUE_TOO_LONG", f"o valor passa de {MAX_LENGTH[field]} caracteres")
    if field == "cep":
        return _cep(text)
    if field == "uf":
        return _uf(text)
    return text


def parse_row(
    number: int, cells: Sequence[Cell], columns: Mapping[str, int]
) -> tuple[ManifestRow | None, list[RowProblem], str | None]:
    """(row, problems, tracking code as read): a row with any problem is not returned, it is
    reported instead; its code still counts for duplicates in the file."""
    values: dict[str, str | None] = {}
    problems: list[RowProblem] = []
    for field in MAX_LENGTH:
        try:
            values[field] = _field_value(cells, columns.get(field), field)
        except CellProblem as problem:
            problems.append(RowProblem(number, field, problem.code, problem.reason))
            values[field] = None
    tracking = values.pop("tracking_code")
    if tracking is None and not any(p.column == "tracking_code" for p in problems):
        problems.append(
            RowProblem(
                number, "tracking_code", "MISSING_TRACKING_CODE", "falta o código de rastreio"
            )
        )
    if problems or tracking is None:
        return None, problems, tracking
    return ManifestRow(number, tracking, **values), [], tracking


def is_blank(cells: Sequence[Cell]) -> bool:
    return all(c is None or (isinstance(c, str) and not c.strip()) for c in cells)
