"""Header names -> fields: Portuguese and English synonyms, compared without case, accents,
punctuation or spacing ("Código de Rastreio", "codigo_de_rastreio", "CÓDIGO DE RASTREIO")."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

_NOT_ALNUM = re.compile(r"[^0-9a-z]+")

_SYNONYMS: dict[str, tuple[str, ...]] = {
    "tracking_code": (
        "codigo de rastreio",
        "codigo de rastreamento",
        "codigo rastreio",
        "cod rastreio",
        "rastreio",
        "rastreamento",
        "codigo do objeto",
        "objeto",
        "codigo",
        "tracking",
        "tracking code",
        "tracking number",
        "tracking id",
        "code",
        "barcode",
        "codigo de barras",
    ),
    "recipient_name": (
        "destinatario",
        "nome do destinatario",
        "nome destinatario",
        "recebedor",
        "cliente",
        "nome",
        "recipient",
        "recipient name",
        "name",
    ),
    "phone": (
        "telefone",
        "telefone do destinatario",
        "fone",
        "tel",
        "celular",
        "whatsapp",
        "phone",
        "phone number",
        "mobile",
    ),
    "street": ("rua", "logradouro", "endereco", "avenida", "street", "address", "street address"),
    "number": ("numero", "no", "n", "num", "nro", "number", "street number"),
    "complement": ("complemento", "compl", "complement", "apartamento", "apto"),
    "neighbourhood": ("bairro", "neighbourhood", "neighborhood", "district"),
    "city": ("cidade", "municipio", "localidade", "city", "town"),
    "uf": ("uf", "estado", "state"),
    "cep": ("cep", "postal code", "postcode", "zip", "zip code", "zipcode"),
    "deliverer": ("entregador", "entregadora", "deliverer", "motorista", "driver", "courier"),
}

_BY_NAME = {name: field for field, names in _SYNONYMS.items() for name in names}


def fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
    return " ".join(_NOT_ALNUM.sub(" ", plain).split())


def field_of(header: str) -> str | None:
    return _BY_NAME.get(fold(header))


def map_headers(headers: Sequence[str]) -> dict[str, int]:
    """field -> column index; the first column of a field wins, unknown headers are ignored."""
    found: dict[str, int] = {}
    for index, header in enumerate(headers):
        field = field_of(header)
        if field is not None and field not in found:
            found[field] = index
    return found
