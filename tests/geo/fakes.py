"""Local stand-ins for Nominatim, Photon, BrasilAPI's CEP v2 and OSRM's /table, on loopback.

Real HTTP (a threaded http.server), answering in each service's own response format. A
test sets `mode` to make the server slow, fail with 500, rate-limit with 429 + Retry-After,
or answer a match in another country; `requests` records every request (path and query).
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from geo import address as geo_address

# Lisbon: what a bare Brazilian CEP or street name finds in a world-wide geocoder.
LISBON = (38.7223, -9.1393)


@dataclass
class Place:
    latitude: float
    longitude: float
    house: bool = True
    country: str = "br"


@dataclass
class FakeProviders:
    """`places`: normalised street (with or without number, geo.normalize_street) -> Place;
    `ceps`: 8 digits -> (latitude, longitude) or None (a CEP BrasilAPI knows without place)."""

    places: dict[str, Place] = field(default_factory=dict)
    ceps: dict[str, tuple[float, float] | None] = field(default_factory=dict)
    mode: str = "ok"  # ok | slow | 500 | 429 | wrong_country
    slow_s: float = 2.0
    latency_s: float = 0.0
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""

    def count(self, prefix: str) -> int:
        with self.lock:
            return sum(1 for path, _ in self.requests if path.startswith(prefix))

    # -- answers ---------------------------------------------------------------------------

    def answer(self, path: str, params: dict[str, str]) -> tuple[int, dict[str, str], Any]:
        with self.lock:
            self.requests.append((path, params))
        if self.latency_s:
            time.sleep(self.latency_s)
        if self.mode == "slow":
            time.sleep(self.slow_s)
        if self.mode == "500":
            return 500, {}, {"error": "internal"}
        if self.mode == "429":
            return 429, {"Retry-After": "7"}, {"error": "Too Many Requests"}
        if path == "/search":
            return 200, {}, self._nominatim(params)
        if path == "/api":
            return 200, {}, self._photon(params)
        if path.startswith("/api/cep/v2/"):
            return self._cep(path.rsplit("/", 1)[-1])
        if path.startswith("/table/v1/"):
            return 200, {}, self._osrm(path)
        return 404, {}, {"error": "not found"}

    def _find(self, text: str) -> Place | None:
        if self.mode == "wrong_country":
            return Place(*LISBON, house=True, country="pt")
        words = text.split()
        if words and words[0].isdigit():  # Nominatim's "<number> <street>"
            words = [*words[1:], words[0]]
        return self.places.get(geo_address.normalize_street(" ".join(words)))

    def _nominatim(self, params: dict[str, str]) -> list[dict[str, Any]]:
        text = params.get("street") or _free_text(params.get("q", ""))
        place = self._find(text)
        if place is None:
            return []
        address: dict[str, Any] = {
            "road": text,
            "city": params.get("city", "São Paulo"),
            "state": "São Paulo",
            "country": "Brasil" if place.country == "br" else "Portugal",
            "country_code": place.country,
        }
        if place.house:
            address["house_number"] = text.split(" ", 1)[0]
        return [
            {
                "place_id": 123456,
                "licence": "Data © OpenStreetMap contributors, ODbL 1.0.",
                "osm_type": "node" if place.house else "way",
                "osm_id": 987654,
                "lat": f"{place.latitude:.7f}",
                "lon": f"{place.longitude:.7f}",
                "category": "place" if place.house else "highway",
                "type": "house" if place.house else "residential",
                "place_rank": 30 if place.house else 26,
                "importance": 0.00001,
                "addresstype": "place" if place.house else "road",
                "name": "",
                "display_name": f"{text}, {address['city']}, {address['country']}",
                "address": address,
                "boundingbox": [
                    str(place.latitude),
                    str(place.latitude),
                    str(place.longitude),
                    str(place.longitude),
                ],
            }
        ]

    def _photon(self, params: dict[str, str]) -> dict[str, Any]:
        text = _free_text(params.get("q", ""))
        place = self._find(text)
        features = []
        if place is not None:
            props: dict[str, Any] = {
                "osm_type": "N" if place.house else "W",
                "osm_id": 987654,
                "country": "Brasil" if place.country == "br" else "Portugal",
                "countrycode": place.country.upper(),
                "city": "São Paulo",
                "street": text,
                "type": "house" if place.house else "street",
                "osm_key": "place" if place.house else "highway",
                "osm_value": "house" if place.house else "residential",
            }
            if place.house:
                props["housenumber"] = text.rsplit(" ", 1)[-1]
            features.append(
                {
                    "type": "Feature",
                    "geometry": {"type": "Point", "coordinates": [place.longitude, place.latitude]},
                    "properties": props,
                }
            )
        return {"type": "FeatureCollection", "features": features}

    def _cep(self, cep: str) -> tuple[int, dict[str, str], Any]:
        if cep not in self.ceps:
            return (
                404,
                {},
                {
                    "name": "CepPromiseError",
                    "message": "Todos os serviços de CEP retornaram erro.",
                    "type": "service_error",
                    "errors": [],
                },
            )
        point = self.ceps[cep]
        location: dict[str, Any] = {"type": "Point", "coordinates": {}}
        if point is not None:
            location["coordinates"] = {"longitude": str(point[1]), "latitude": str(point[0])}
        return (
            200,
            {},
            {
                "cep": cep,
                "state": "SP",
                "city": "São Paulo",
                "neighborhood": "Bela Vista",
                "street": "Avenida Paulista",
                "service": "open-cep",
                "location": location,
            },
        )

    @staticmethod
    def _osrm(path: str) -> dict[str, Any]:
        from routing.matrix import straight
        from routing.types import Point

        coords = unquote(path.split("/", 4)[4]).split(";")
        points = [Point(float(c.split(",")[1]), float(c.split(",")[0])) for c in coords]
        m = straight(points, 1.4, 20.0)
        return {
            "code": "Ok",
            "durations": [[float(v) for v in row] for row in m.durations],
            "distances": [[float(v) for v in row] for row in m.distances],
            "sources": [{"location": [p.longitude, p.latitude]} for p in points],
            "destinations": [{"location": [p.longitude, p.latitude]} for p in points],
        }


def _free_text(q: str) -> str:
    """The street and number of a free-text query (the city, UF and CEP after them)."""
    parts = [p.strip() for p in q.split(",")]
    kept = [p for p in parts if p not in ("São Paulo", "SP") and geo_address.cep_digits(p) is None]
    return " ".join(kept)


def _handler(fake: FakeProviders) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            params = dict(parse_qsl(parts.query))
            params["__user_agent"] = self.headers.get("User-Agent", "")
            status, headers, body = fake.answer(parts.path, params)
            data = json.dumps(body).encode()
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    return Handler


@contextlib.contextmanager
def serve(fake: FakeProviders) -> Iterator[FakeProviders]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    server.daemon_threads = True
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()


def dead_url() -> str:
    """A loopback port with nothing listening: connection refused."""
    from tests.conftest import free_port

    return f"http://127.0.0.1:{free_port()}"
