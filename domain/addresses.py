"""Address normalization: equal addresses of a session share one row."""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass

from domain.errors import ValidationFailed

_PUNCT = re.compile(r"[^\w\s]")


@dataclass(frozen=True)
class AddressData:
    line: str
    city: str | None = None
    postal_code: str | None = None
    latitude: float | None = None
    longitude: float | None = None


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(_PUNCT.sub(" ", stripped.casefold()).split())


def normalized_key(address: AddressData) -> str:
    """Case, accents, punctuation and spacing do not make two addresses different."""
    postal = "".join(ch for ch in (address.postal_code or "") if ch.isalnum()).upper()
    return "|".join((_fold(address.line), _fold(address.city or ""), postal))


def clean(address: AddressData, field: str) -> AddressData:
    line = " ".join(address.line.split())
    if not line:
        raise ValidationFailed(
            "address line must not be empty", field=f"{field}.line", code="ADDRESS_EMPTY"
        )
    if len(line) > 500:
        raise ValidationFailed(
            "address line is longer than 500 characters",
            field=f"{field}.line",
            code="ADDRESS_TOO_LONG",
        )
    for name, value, bound in (
        ("latitude", address.latitude, 90),
        ("longitude", address.longitude, 180),
    ):
        if value is not None and (not math.isfinite(value) or abs(value) > bound):
            raise ValidationFailed(
                f"{name} must be between -{bound} and {bound}",
                field=f"{field}.{name}",
                code="COORDINATE_OUT_OF_RANGE",
            )
    city = " ".join((address.city or "").split()) or None
    postal = " ".join((address.postal_code or "").split()) or None
    if postal is not None and len(postal) > 32:
        raise ValidationFailed(
            "postal code is too long", field=f"{field}.postalCode", code="POSTAL_CODE_TOO_LONG"
        )
    return AddressData(line, city, postal, address.latitude, address.longitude)
