"""The fallback chain: exact address, then street + CEP, then the CEP's centroid.

Every step's failure to answer (timeout, down, 429, 5xx) is "try the next step": `locate`
never raises for a provider, and its outcome says whether a better step may answer later.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from geo.address import spelled_number, spelled_street
from geo.http import Http
from geo.providers import BrasilApiCep, Nominatim, Photon
from geo.types import (
    AddressProvider,
    Attempt,
    CepProvider,
    Match,
    Outcome,
    Query,
    Unavailable,
)

EARTH_RADIUS_M = 6_371_008.8
# A match farther than this from its own CEP's centroid is another street of the same name
# (a missing house number gives a far-away match): refused. A CEP is a street in big cities
# and a whole town in small ones, hence generous.
MAX_KM_FROM_CEP = 15.0


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


@dataclass
class Geocoder:
    address: AddressProvider | None = None
    cep: CepProvider | None = None
    max_km_from_cep: float = MAX_KM_FROM_CEP

    @property
    def enabled(self) -> bool:
        return self.address is not None or self.cep is not None

    @property
    def name(self) -> str:
        return "+".join(p.name for p in (self.address, self.cep) if p is not None) or "none"

    async def locate(self, query: Query) -> Outcome:
        query = _spelled(query)
        attempts: list[Attempt] = []
        later = False
        centroid: Match | None = None
        if query.cep and self.cep is not None:
            try:
                centroid = await self.cep.centroid(query.cep)
                attempts.append(Attempt("cep", self.cep.name, "found" if centroid else "none"))
            except Unavailable:
                attempts.append(Attempt("cep", self.cep.name, "unavailable"))
                later = True
        if self.address is not None:
            for step in self._steps(query):
                try:
                    if step == "exact":
                        found = await self.address.exact(query)
                    else:
                        found = await self.address.street(query)
                except Unavailable:
                    attempts.append(Attempt(step, self.address.name, "unavailable"))
                    later = True
                    continue
                if found is None:
                    attempts.append(Attempt(step, self.address.name, "none"))
                    continue
                if centroid is not None and self._far(found, centroid):
                    attempts.append(Attempt(step, self.address.name, "rejected"))
                    continue
                attempts.append(Attempt(step, self.address.name, "found"))
                return Outcome(found, tuple(attempts), final=not later)
        return Outcome(centroid, tuple(attempts), final=not later)

    @staticmethod
    def _steps(query: Query) -> list[str]:
        if not query.street:
            return ["exact"] if query.line else []
        return ["exact", "street"] if query.number else ["street"]

    def _far(self, match: Match, centroid: Match) -> bool:
        distance = haversine_m(
            match.latitude, match.longitude, centroid.latitude, centroid.longitude
        )
        return distance > self.max_km_from_cep * 1000

    async def aclose(self) -> None:
        for provider in (self.address, self.cep):
            if provider is not None:
                await provider.aclose()


def _spelled(query: Query) -> Query:
    """What the providers are asked: "R." as "Rua", the number without "nº", no "s/n"."""
    if not query.street:
        return query
    return replace(query, street=spelled_street(query.street), number=spelled_number(query.number))


def build(
    kind: str,
    *,
    url: str | None,
    cep_url: str | None,
    user_agent: str,
    timeout_s: float = 10.0,
    interval_s: float = 0.0,
) -> Geocoder:
    """The chain the settings describe. `kind`: nominatim, photon or none."""
    address: AddressProvider | None = None
    if kind == "nominatim":
        base = url or "https://nominatim.openstreetmap.org"
        address = Nominatim(Http("nominatim", base, user_agent, timeout_s, interval_s))
    elif kind == "photon":
        base = url or "https://photon.komoot.io"
        address = Photon(Http("photon", base, user_agent, timeout_s, interval_s))
    elif kind != "none":
        raise ValueError(f"unknown geocoder {kind!r}")
    cep: CepProvider | None = None
    if cep_url:
        cep = BrasilApiCep(Http("brasilapi", cep_url, user_agent, timeout_s, 0.0), cep_url)
    return Geocoder(address, cep)
