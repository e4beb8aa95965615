"""What a geocoder is asked and what it answers."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Protocol

# Brazil's bounding box, with a margin: a match outside it is in the wrong country (a bare
# CEP sent to a world-wide geocoder lands in Portugal or the USA).
BRAZIL_LAT = (-34.0, 5.5)
BRAZIL_LON = (-74.2, -28.6)


class Precision(enum.StrEnum):
    """How exactly a coordinate places an address, best first."""

    ROOFTOP = "ROOFTOP"  # the house number itself
    STREET = "STREET"  # somewhere on the street (no or unknown number)
    CEP = "CEP"  # the CEP's centroid
    MANUAL = "MANUAL"  # pinned by a person


@dataclass(frozen=True)
class Query:
    """A Brazilian address to place. Structured when `street` is set, else a free line."""

    street: str | None = None
    number: str | None = None
    neighbourhood: str | None = None
    city: str | None = None
    state: str | None = None
    cep: str | None = None  # 8 digits
    line: str | None = None


@dataclass(frozen=True)
class Match:
    latitude: float
    longitude: float
    precision: Precision
    provider: str
    label: str | None = None


class Unavailable(Exception):
    """The provider cannot answer now (timeout, refused, 429, 5xx): try the next step, or
    again later. `retry_after` is the provider's own hint, in seconds."""

    def __init__(self, provider: str, reason: str, retry_after: float | None = None) -> None:
        super().__init__(f"{provider}: {reason}")
        self.provider = provider
        self.reason = reason
        self.retry_after = retry_after


class AddressProvider(Protocol):
    """A geocoder of addresses (Nominatim, Photon). Answers None for "no such place"."""

    name: str

    async def exact(self, query: Query) -> Match | None:
        """The address with its number (precision ROOFTOP, or STREET if only the street)."""
        ...

    async def street(self, query: Query) -> Match | None:
        """The street in its CEP/city, without the number (precision STREET)."""
        ...

    async def aclose(self) -> None: ...


class CepProvider(Protocol):
    """A CEP service: the CEP's centroid (precision CEP)."""

    name: str

    async def centroid(self, cep: str) -> Match | None: ...

    async def aclose(self) -> None: ...


@dataclass(frozen=True)
class Attempt:
    step: str  # exact | street | cep
    provider: str
    outcome: str  # found | none | rejected | unavailable | skipped


@dataclass(frozen=True)
class Outcome:
    """The best match of the chain, and what each step did. `final` is False when a better
    step could not answer (unavailable): the result may improve later, so it is not cached."""

    match: Match | None
    attempts: tuple[Attempt, ...] = field(default_factory=tuple)
    final: bool = True


def in_brazil(latitude: float, longitude: float) -> bool:
    return (
        BRAZIL_LAT[0] <= latitude <= BRAZIL_LAT[1] and BRAZIL_LON[0] <= longitude <= BRAZIL_LON[1]
    )
