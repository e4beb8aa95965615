"""Brazilian addresses: structured parts or a line, the CEP as 8 digits, and the normalised
form under which equal addresses of a session share one row (geo.key)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import geo
from domain.errors import ValidationFailed

PART_MAX = 200
NUMBER_MAX = 20
LINE_MAX = 500
# The provider of coordinates sent with the address itself.
INPUT_PROVIDER = "input"


@dataclass(frozen=True)
class AddressData:
    """An address as given: a `line`, or the structured parts (street, number, complement,
    neighbourhood, city, state (UF), CEP), or both. `postal_code` is the CEP."""

    line: str | None = None
    city: str | None = None
    postal_code: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    street: str | None = None
    number: str | None = None
    complement: str | None = None
    neighbourhood: str | None = None
    state: str | None = None

    @property
    def structured(self) -> bool:
        return self.street is not None


@dataclass(frozen=True)
class CleanAddress(AddressData):
    """What `clean` answers, with its normalised key: cleaning it again returns it as it is
    (a manifest's rows are checked, then added by the same rules, once)."""

    key: str = ""


def normalized_key(address: AddressData) -> str:
    """Case, accents, punctuation, spacing, "R."/"Rua", "nº" and the CEP's dash do not make
    two addresses different."""
    if isinstance(address, CleanAddress):
        return address.key
    return geo.key(
        line=address.line,
        street=address.street,
        number=address.number,
        complement=address.complement,
        city=address.city,
        state=address.state,
        cep=geo.cep_digits(address.postal_code) or address.postal_code,
    )


def geocode_key(address: AddressData) -> str:
    return geo.geocode_key(
        line=address.line,
        street=address.street,
        number=address.number,
        city=address.city,
        state=address.state,
        cep=address.postal_code,
    )


def built_line(a: AddressData) -> str:
    """The line of a structured address: "Rua X, 10, Apto 2 - Bairro" (the city, UF and CEP
    have their own fields)."""
    line = f"{a.street}, {a.number or 's/n'}"
    if a.complement:
        line += f", {a.complement}"
    if a.neighbourhood:
        line += f" - {a.neighbourhood}"
    return line


def _text(value: str | None, field: str, bound: int) -> str | None:
    text = " ".join((value or "").split()) or None
    if text is not None and len(text) > bound:
        raise ValidationFailed(
            f"{field.rsplit('.', 1)[-1]} is longer than {bound} characters",
            field=field,
            code="ADDRESS_TOO_LONG",
            params={"max": str(bound)},
        )
    return text


def clean(address: AddressData, field: str) -> CleanAddress:
    """Spacing collapsed, the CEP as 8 digits, the UF in capitals, the line built from the
    parts when only they were given; refuses what cannot be an address."""
    if isinstance(address, CleanAddress):
        return address
    street = _text(address.street, f"{field}.street", PART_MAX)
    number = _text(address.number, f"{field}.number", NUMBER_MAX)
    complement = _text(address.complement, f"{field}.complement", PART_MAX)
    neighbourhood = _text(address.neighbourhood, f"{field}.neighbourhood", PART_MAX)
    if street is None and (number or complement or neighbourhood):
        raise ValidationFailed(
            "a structured address needs its street",
            field=f"{field}.street",
            code="ADDRESS_STREET_REQUIRED",
        )
    line = " ".join((address.line or "").split())
    if len(line) > LINE_MAX:
        raise ValidationFailed(
            f"address line is longer than {LINE_MAX} characters",
            field=f"{field}.line",
            code="ADDRESS_TOO_LONG",
            params={"max": str(LINE_MAX)},
        )
    if not line and street is None:
        raise ValidationFailed(
            "address line must not be empty", field=f"{field}.line", code="ADDRESS_EMPTY"
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
    city = _text(address.city, f"{field}.city", PART_MAX)
    state = _text(address.state, f"{field}.state", 2)
    if state is not None:
        state = state.upper()
        if state not in geo.UFS:
            raise ValidationFailed(
                "state must be a Brazilian UF (SP, RJ, ...)",
                field=f"{field}.state",
                code="UF_INVALID",
            )
    cep = None
    if address.postal_code is not None and address.postal_code.strip():
        cep = geo.cep_digits(address.postal_code)
        if cep is None:
            raise ValidationFailed(
                "the CEP must have 8 digits (00000-000)",
                field=f"{field}.postalCode",
                code="CEP_INVALID",
            )
    parts = AddressData(
        line=line,
        city=city,
        postal_code=cep,
        street=street,
        number=number,
        complement=complement,
        neighbourhood=neighbourhood,
        state=state,
    )
    if not line:
        line = built_line(parts)[:LINE_MAX]
    return CleanAddress(
        line=line,
        city=city,
        postal_code=cep,
        latitude=address.latitude,
        longitude=address.longitude,
        street=street,
        number=number,
        complement=complement,
        neighbourhood=neighbourhood,
        state=state,
        # A built line never keys: a structured address keys on its parts.
        key=normalized_key(parts),
    )
