"""The providers: Nominatim- and Photon-compatible geocoders, a BrasilAPI-compatible CEP
service. Each speaks its server's real request and response formats."""

from __future__ import annotations

import math
from typing import Any

from geo.address import format_cep
from geo.http import Http
from geo.types import BRAZIL_LAT, BRAZIL_LON, Match, Precision, Query, in_brazil

# Nominatim's place_rank: 30 a house or building, 26-27 a street; coarser is a district, a
# city: worse than the CEP's centroid.
_HOUSE_RANK = 30
_STREET_RANK = 26


def _float(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _placed(lat: float | None, lon: float | None, country: str | None) -> bool:
    """In Brazil, by the answer's own country code when it gives one, and by the box."""
    if lat is None or lon is None:
        return False
    if country is not None and country.lower() != "br":
        return False
    return in_brazil(lat, lon)


class Nominatim:
    """A Nominatim server (/search, format=jsonv2): structured queries, countrycodes=br."""

    def __init__(self, http: Http, name: str = "nominatim") -> None:
        self.http = http
        self.name = name

    def _params(self, query: Query, *, with_number: bool) -> dict[str, str]:
        params = {
            "format": "jsonv2",
            "addressdetails": "1",
            "limit": "1",
            "countrycodes": "br",
            "accept-language": "pt-BR",
        }
        if query.street:
            street = query.street
            if with_number and query.number:
                street = f"{query.number} {street}"
            params["street"] = street
            if query.city:
                params["city"] = query.city
            if query.state:
                params["state"] = query.state
            if query.cep and not with_number:
                params["postalcode"] = format_cep(query.cep) or query.cep
        else:
            parts = [query.line, query.city, query.state, format_cep(query.cep)]
            params["q"] = ", ".join(p for p in parts if p)
        return params

    async def _search(self, params: dict[str, str], least: Precision) -> Match | None:
        data = await self.http.get_json(f"{self.http.base_url.rstrip('/')}/search", params)
        if not isinstance(data, list) or not data or not isinstance(data[0], dict):
            return None
        hit = data[0]
        address = _obj(hit.get("address"))
        lat, lon = _float(hit.get("lat")), _float(hit.get("lon"))
        if not _placed(lat, lon, address.get("country_code")) or lat is None or lon is None:
            return None
        rank = hit.get("place_rank")
        rank = rank if isinstance(rank, int) else 0
        if address.get("house_number") or rank >= _HOUSE_RANK:
            precision = Precision.ROOFTOP
        elif rank >= _STREET_RANK or hit.get("category") == "highway":
            precision = Precision.STREET
        else:
            return None
        if least is Precision.STREET:
            precision = Precision.STREET
        label = hit.get("display_name") if isinstance(hit.get("display_name"), str) else None
        return Match(lat, lon, precision, self.name, label)

    async def exact(self, query: Query) -> Match | None:
        return await self._search(self._params(query, with_number=True), Precision.ROOFTOP)

    async def street(self, query: Query) -> Match | None:
        return await self._search(self._params(query, with_number=False), Precision.STREET)

    async def aclose(self) -> None:
        await self.http.aclose()


class Photon:
    """A Photon server (/api, GeoJSON), limited to Brazil's box."""

    def __init__(self, http: Http, name: str = "photon") -> None:
        self.http = http
        self.name = name

    async def _search(self, text: str, least: Precision) -> Match | None:
        params = {
            "q": text,
            "limit": "1",
            "bbox": f"{BRAZIL_LON[0]},{BRAZIL_LAT[0]},{BRAZIL_LON[1]},{BRAZIL_LAT[1]}",
        }
        data = await self.http.get_json(f"{self.http.base_url.rstrip('/')}/api", params)
        features = data.get("features") if isinstance(data, dict) else None
        if not isinstance(features, list) or not features or not isinstance(features[0], dict):
            return None
        feature = features[0]
        props = _obj(feature.get("properties"))
        geometry = _obj(feature.get("geometry"))
        coords = geometry.get("coordinates")
        if not isinstance(coords, list) or len(coords) < 2:
            return None
        lon, lat = _float(coords[0]), _float(coords[1])
        if not _placed(lat, lon, props.get("countrycode")) or lat is None or lon is None:
            return None
        kind = props.get("type")
        if props.get("housenumber") or kind in ("house", "building"):
            precision = Precision.ROOFTOP
        elif kind == "street" or props.get("osm_key") == "highway":
            precision = Precision.STREET
        else:
            return None
        if least is Precision.STREET:
            precision = Precision.STREET
        label = props.get("name") if isinstance(props.get("name"), str) else None
        return Match(lat, lon, precision, self.name, label)

    @staticmethod
    def _text(query: Query, *, with_number: bool) -> str:
        if query.street:
            street = query.street
            if with_number and query.number:
                street = f"{street} {query.number}"
            parts = [street, query.neighbourhood, query.city, query.state]
            if not with_number:
                parts.append(format_cep(query.cep))
        else:
            parts = [query.line, query.city, query.state, format_cep(query.cep)]
        return ", ".join(p for p in parts if p)

    async def exact(self, query: Query) -> Match | None:
        return await self._search(self._text(query, with_number=True), Precision.ROOFTOP)

    async def street(self, query: Query) -> Match | None:
        return await self._search(self._text(query, with_number=False), Precision.STREET)

    async def aclose(self) -> None:
        await self.http.aclose()


class BrasilApiCep:
    """A BrasilAPI-compatible CEP service: GET <url with {cep}> ->
    {"cep", "state", "city", "street", "location": {"coordinates": {"latitude", ...}}}."""

    def __init__(self, http: Http, url_template: str, name: str = "brasilapi") -> None:
        self.http = http
        self.url_template = url_template
        self.name = name

    async def centroid(self, cep: str) -> Match | None:
        data = await self.http.get_json(self.url_template.replace("{cep}", cep))
        if not isinstance(data, dict):
            return None
        location = _obj(data.get("location"))
        coords = _obj(location.get("coordinates"))
        lat, lon = _float(coords.get("latitude")), _float(coords.get("longitude"))
        if not _placed(lat, lon, None) or lat is None or lon is None:
            return None
        city = data.get("city") if isinstance(data.get("city"), str) else None
        return Match(lat, lon, Precision.CEP, self.name, city)

    async def aclose(self) -> None:
        await self.http.aclose()
