"""The geocoding chain against local servers speaking Nominatim's, Photon's and BrasilAPI's
formats: each step's precision and provider, the cache-worthiness of an answer, and every
way a provider fails (slow, down, 429, 500, another country) as "next step / later"."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest

import geo
from geo import http as geo_http
from geo.address import normalize_street
from tests.geo.fakes import FakeProviders, Place, dead_url, serve

UA = "Bipa-tests/1.0 (tests@example.com)"
PAULISTA = Place(-23.5613, -46.6565)
PAULISTA_STREET = Place(-23.5630, -46.6543, house=False)
CEP = "01310100"
CEP_POINT = (-23.5614, -46.6559)

FULL = geo.Query(street="Av. Paulista", number="1000", city="São Paulo", state="SP", cep=CEP)


@pytest.fixture
def fake() -> Iterator[FakeProviders]:
    providers = FakeProviders(
        places={
            normalize_street("Avenida Paulista 1000"): PAULISTA,
            normalize_street("Avenida Paulista"): PAULISTA_STREET,
        },
        ceps={CEP: CEP_POINT, "01000000": None},
    )
    with serve(providers) as running:
        yield running


def chain(fake: FakeProviders, kind: str = "nominatim", **kw: object) -> geo.Geocoder:
    return geo.build(
        kind,
        url=fake.url,
        cep_url=f"{fake.url}/api/cep/v2/{{cep}}",
        user_agent=UA,
        timeout_s=float(kw.get("timeout_s", 1.0)),  # type: ignore[arg-type]
    )


@pytest.mark.parametrize("kind", ["nominatim", "photon"])
async def test_an_exact_address_is_rooftop(fake: FakeProviders, kind: str) -> None:
    g = chain(fake, kind)
    outcome = await g.locate(FULL)
    await g.aclose()
    assert outcome.match is not None and outcome.final
    assert outcome.match.precision is geo.Precision.ROOFTOP and outcome.match.provider == kind
    assert (outcome.match.latitude, outcome.match.longitude) == (
        PAULISTA.latitude,
        PAULISTA.longitude,
    )


async def test_nominatim_is_asked_a_structured_query_in_brazil(fake: FakeProviders) -> None:
    g = chain(fake)
    await g.locate(FULL)
    await g.aclose()
    search = next(params for path, params in fake.requests if path == "/search")
    assert search["countrycodes"] == "br" and search["format"] == "jsonv2"
    assert search["street"] == "1000 Avenida Paulista", (
        "the street type in full" and search["state"] == "SP"
    )
    assert search["__user_agent"] == UA


async def test_photon_is_limited_to_brazils_box(fake: FakeProviders) -> None:
    g = chain(fake, "photon")
    await g.locate(FULL)
    await g.aclose()
    api = next(params for path, params in fake.requests if path == "/api")
    west, south, east, north = (float(v) for v in api["bbox"].split(","))
    assert west < -73 and east > -35 and south < -33 and north > 5


@pytest.mark.parametrize("kind", ["nominatim", "photon"])
async def test_an_unknown_number_falls_back_to_the_street(fake: FakeProviders, kind: str) -> None:
    g = chain(fake, kind)
    outcome = await g.locate(
        geo.Query(street="Avenida Paulista", number="99999", city="São Paulo", cep=CEP)
    )
    await g.aclose()
    assert outcome.match is not None and outcome.match.precision is geo.Precision.STREET
    assert [a.step for a in outcome.attempts] == ["cep", "exact", "street"]


async def test_s_n_asks_the_street_only(fake: FakeProviders) -> None:
    g = chain(fake)
    outcome = await g.locate(geo.Query(street="Avenida Paulista", number="s/n", cep=CEP))
    await g.aclose()
    assert outcome.match is not None and outcome.match.precision is geo.Precision.STREET
    assert [a.step for a in outcome.attempts] == ["cep", "street"]


async def test_an_unknown_street_falls_back_to_the_ceps_centroid(fake: FakeProviders) -> None:
    g = chain(fake)
    outcome = await g.locate(geo.Query(street="Rua Inexistente", number="5", cep=CEP))
    await g.aclose()
    assert outcome.match is not None and outcome.final
    assert outcome.match.precision is geo.Precision.CEP and outcome.match.provider == "brasilapi"
    assert (outcome.match.latitude, outcome.match.longitude) == CEP_POINT


async def test_nothing_found_is_a_final_none(fake: FakeProviders) -> None:
    g = chain(fake)
    unknown_cep = await g.locate(geo.Query(street="Rua Inexistente", number="5", cep="99999999"))
    cep_without_place = await g.locate(geo.Query(street="Rua Inexistente", cep="01000000"))
    await g.aclose()
    assert unknown_cep.match is None and unknown_cep.final
    assert cep_without_place.match is None and cep_without_place.final


async def test_a_line_only_address_is_asked_as_free_text(fake: FakeProviders) -> None:
    g = chain(fake)
    outcome = await g.locate(geo.Query(line="Av. Paulista, 1000", city="São Paulo"))
    await g.aclose()
    assert outcome.match is not None and outcome.match.precision is geo.Precision.ROOFTOP
    assert next(p for path, p in fake.requests if path == "/search")["q"].startswith("Av. Paulista")


@pytest.mark.parametrize("kind", ["nominatim", "photon"])
async def test_a_match_in_another_country_is_refused(fake: FakeProviders, kind: str) -> None:
    fake.mode = "wrong_country"
    g = geo.build(kind, url=fake.url, cep_url=None, user_agent=UA, timeout_s=1.0)
    outcome = await g.locate(FULL)
    await g.aclose()
    assert outcome.match is None and outcome.final
    assert [a.outcome for a in outcome.attempts] == ["none", "none"]


async def test_a_match_far_from_its_own_cep_is_refused(fake: FakeProviders) -> None:
    # Another "Avenida Paulista", 300 km away (Ribeirão Preto): the CEP says where it is.
    fake.places[normalize_street("Avenida Paulista 1000")] = Place(-21.17, -47.81)
    g = chain(fake)
    outcome = await g.locate(FULL)
    await g.aclose()
    assert outcome.match is not None and outcome.match.precision is geo.Precision.STREET
    assert ("exact", "nominatim", "rejected") in [
        (a.step, a.provider, a.outcome) for a in outcome.attempts
    ]


@pytest.mark.parametrize("mode", ["slow", "500", "429"])
async def test_a_failing_geocoder_leaves_the_cep_and_says_later(
    fake: FakeProviders, mode: str
) -> None:
    fake.mode = mode
    g = geo.build("nominatim", url=fake.url, cep_url=None, user_agent=UA, timeout_s=0.3)
    started = time.monotonic()
    outcome = await g.locate(FULL)
    await g.aclose()
    assert outcome.match is None and not outcome.final
    assert {a.outcome for a in outcome.attempts} == {"unavailable"}
    assert time.monotonic() - started < 5


async def test_a_geocoder_that_is_down_falls_back_to_the_cep(fake: FakeProviders) -> None:
    g = geo.build(
        "photon",
        url=dead_url(),
        cep_url=f"{fake.url}/api/cep/v2/{{cep}}",
        user_agent=UA,
        timeout_s=0.5,
    )
    outcome = await g.locate(FULL)
    await g.aclose()
    assert outcome.match is not None and outcome.match.precision is geo.Precision.CEP
    assert not outcome.final, "a better step may answer later: not for the cache"


async def test_a_cep_service_that_is_down_still_lets_the_geocoder_answer(
    fake: FakeProviders,
) -> None:
    g = geo.build(
        "nominatim", url=fake.url, cep_url=f"{dead_url()}/{{cep}}", user_agent=UA, timeout_s=0.5
    )
    outcome = await g.locate(FULL)
    await g.aclose()
    assert outcome.match is not None and outcome.match.precision is geo.Precision.ROOFTOP
    assert outcome.attempts[0].outcome == "unavailable"


async def test_429_blocks_the_host_for_retry_after(fake: FakeProviders) -> None:
    fake.mode = "429"
    g = geo.build("nominatim", url=fake.url, cep_url=None, user_agent=UA, timeout_s=0.5)
    await g.locate(FULL)
    asked = fake.count("/search")
    fake.mode = "ok"
    again = await g.locate(FULL)  # Retry-After: 7 s > the longest wait: not asked at all
    await g.aclose()
    assert fake.count("/search") == asked and again.match is None and not again.final


def test_retry_after_as_seconds_or_date() -> None:
    assert geo_http.retry_after("7") == 7.0
    assert geo_http.retry_after(None) is None
    assert geo_http.retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
    assert geo_http.retry_after("soon") is None


async def test_the_public_nominatim_is_paced_once_a_second_for_the_whole_process() -> None:
    a = geo_http.pace_for("https://nominatim.openstreetmap.org", 0.0)
    b = geo_http.pace_for("https://nominatim.openstreetmap.org/search", 0.2)
    assert a is b and a.interval == 1.0
    local = geo_http.Pace(0.2)
    started = time.monotonic()
    await asyncio.gather(*(local.wait("x") for _ in range(4)))
    assert time.monotonic() - started >= 0.6 - 0.02


def test_no_geocoder_is_disabled() -> None:
    assert not geo.build("none", url=None, cep_url=None, user_agent=UA).enabled
    with pytest.raises(ValueError):
        geo.build("google", url=None, cep_url=None, user_agent=UA)


@pytest.mark.parametrize(
    ("text", "digits"),
    [
        ("01310-100", "01310100"),
        ("01.310-100", "01310100"),
        ("0131010", None),
        ("AB-12", None),
        (None, None),
    ],
)
def test_cep_digits(text: str | None, digits: str | None) -> None:
    assert geo.cep_digits(text) == digits
    assert geo.format_cep("01310100") == "01310-100"


def test_in_brazil() -> None:
    assert geo.in_brazil(-23.56, -46.65)  # São Paulo
    assert geo.in_brazil(3.84, -32.41)  # Fernando de Noronha
    assert not geo.in_brazil(*(38.72, -9.14))  # Lisbon
    assert not geo.in_brazil(40.71, -74.0)  # New York


def test_what_the_providers_are_asked() -> None:
    from geo.address import spelled_number, spelled_street

    assert spelled_street("R. das Palmeiras") == "Rua das Palmeiras"
    assert spelled_street("Pç. da Sé") == "Praça da Sé"
    assert spelled_street("Rua") == "Rua"
    assert [spelled_number(n) for n in ("nº 100", "N. 12A", "s/n", "número 5", None)] == [
        "100",
        "12A",
        None,
        "5",
        None,
    ]
