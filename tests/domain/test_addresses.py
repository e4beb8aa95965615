"""Address normalization: one row per address of a session, however it was typed."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from db.enums import Role
from domain import packages, sessions, users
from domain.addresses import AddressData, CleanAddress, clean, normalized_key
from domain.errors import ValidationFailed
from domain.uow import UnitOfWork

SAME = [
    (
        AddressData("Rua das Flores, 10", "São Paulo", "01310-100"),
        AddressData("  rua das  flores 10 ", "sao paulo", "01310100"),
    ),
    (AddressData("Avenida Paulista 1000"), AddressData("AVENIDA PAULISTA, 1000.")),
    (AddressData("Praça da Sé, s/n", "São Paulo"), AddressData("praca da se s n", "SÃO PAULO")),
    (AddressData("Rua Ângelo Çaró"), AddressData("rua angelo caro")),
    (AddressData("Rua\tA\n5", None, " 01310 100 "), AddressData("rua a 5", "", "01310100")),
    (
        AddressData("Rua A, 5", postal_code="01.310-100"),
        AddressData("rua a 5", postal_code="01310 100"),
    ),
    # Abbreviations of street types and titles, number words, "s/n".
    (AddressData("R. das Flores, nº 10", "SP"), AddressData("Rua das Flores 10", "sp")),
    (AddressData("Av. Paulista, 1000"), AddressData("AVENIDA PAULISTA N. 1000")),
    (AddressData("Trav. do Comércio, 5"), AddressData("travessa do comercio 5")),
    (AddressData("Al. Santos, 22"), AddressData("Alameda Santos, número 22")),
    (AddressData("Pç. da Sé, s/n"), AddressData("Praça da Sé, S/N")),
    (AddressData("Rod. Anhanguera km 20"), AddressData("Rodovia Anhanguera km 20")),
    (AddressData("Est. do Campo Limpo, 10"), AddressData("Estrada do Campo Limpo, 010")),
    (AddressData("Av. Dr. Arnaldo, 455"), AddressData("Avenida Doutor Arnaldo 455")),
    # Structured and line forms of one address are one address.
    (
        AddressData(street="R. das Flores", number="10", city="São Paulo", state="SP"),
        AddressData("Rua das Flores, 10", "São Paulo/SP"),
    ),
    (
        AddressData(street="Rua A", number="10", neighbourhood="Centro", postal_code="01310100"),
        AddressData(
            street="rua a", number="nº 10", neighbourhood="CENTRO", postal_code="01310-100"
        ),
    ),
    # The neighbourhood is not part of the key: labels spell it in many ways.
    (
        AddressData(street="Rua A", number="10", neighbourhood="Centro", postal_code="01310100"),
        AddressData(street="Rua A", number="10", postal_code="01310100"),
    ),
]

DIFFERENT = [
    (AddressData("Rua A, 10"), AddressData("Rua A, 100")),
    (AddressData("Rua A, 10", "Campinas"), AddressData("Rua A, 10", "Santos")),
    (
        AddressData("Rua A, 10", postal_code="01310-100"),
        AddressData("Rua A, 10", None, "01310-200"),
    ),
    (AddressData("Rua B, 10"), AddressData("Rua A, 10")),
    (AddressData("Rua A, 10", "Santos"), AddressData("Rua A, 10")),
    (AddressData(street="Rua A", number="10"), AddressData(street="Rua A", number="12")),
    (
        AddressData(street="Rua A", number="10", complement="Apto 1"),
        AddressData(street="Rua A", number="10", complement="Apto 2"),
    ),
    (AddressData("Rua A, 10"), AddressData("Avenida A, 10")),
    (
        AddressData(street="Rua A", number="10", city="X", state="SP"),
        AddressData(street="Rua A", number="10", city="X", state="RJ"),
    ),
]


@pytest.mark.parametrize(("a", "b"), SAME)
def test_equal_addresses_share_a_key(a: AddressData, b: AddressData) -> None:
    assert normalized_key(a) == normalized_key(b)


@pytest.mark.parametrize(("a", "b"), DIFFERENT)
def test_different_addresses_have_different_keys(a: AddressData, b: AddressData) -> None:
    assert normalized_key(a) != normalized_key(b)


def test_line_city_and_postal_code_cannot_bleed_into_each_other() -> None:
    assert normalized_key(AddressData("Rua A", "B")) != normalized_key(AddressData("Rua A B"))
    assert normalized_key(AddressData("Rua A", None, "1")) != normalized_key(AddressData("Rua A 1"))


def test_the_key_ignores_coordinates() -> None:
    assert normalized_key(AddressData("Rua A", latitude=1.0, longitude=2.0)) == normalized_key(
        AddressData("rua a")
    )


def test_clean_collapses_whitespace_and_keeps_the_text() -> None:
    cleaned = clean(
        AddressData("  Rua   das Flores,\t10 ", "  São   Paulo ", " 01310-100 ", -23.5, -46.6),
        "packages[0].address",
    )
    assert cleaned == CleanAddress(
        "Rua das Flores, 10",
        "São Paulo",
        "01310100",
        -23.5,
        -46.6,
        key="rua das flores 10|sao paulo|01310100",
    )
    # Clean is clean: a second pass (a manifest's row checked, then added) returns it as is.
    assert clean(cleaned, "again") is cleaned
    assert (
        normalized_key(cleaned)
        == cleaned.key
        == normalized_key(AddressData("Rua das Flores 10", "Sao Paulo", "01310-100"))
    )


def test_blank_city_and_postal_code_become_none() -> None:
    cleaned = clean(AddressData("Rua A", "   ", "\t"), "a")
    assert cleaned.city is None and cleaned.postal_code is None


@pytest.mark.parametrize("line", ["", "   ", "\t\n"])
def test_an_empty_line_is_refused(line: str) -> None:
    with pytest.raises(ValidationFailed) as err:
        clean(AddressData(line), "packages[3].address")
    assert err.value.field == "packages[3].address.line"


def test_line_length_limit() -> None:
    assert clean(AddressData("x" * 500), "a").line == "x" * 500
    assert clean(AddressData(" " + "x" * 500 + " "), "a").line == "x" * 500
    with pytest.raises(ValidationFailed) as err:
        clean(AddressData("x" * 501), "a")
    assert err.value.field == "a.line"


@pytest.mark.parametrize("cep", ["01310-100", "01310100", " 01.310-100 ", "01310 100"])
def test_a_cep_is_stored_as_8_digits(cep: str) -> None:
    assert clean(AddressData("Rua A", postal_code=cep), "a").postal_code == "01310100"


@pytest.mark.parametrize("cep", ["0131010", "013101000", "ab-12", "01310-10x", "9" * 33])
def test_a_cep_without_8_digits_is_refused(cep: str) -> None:
    with pytest.raises(ValidationFailed) as err:
        clean(AddressData("Rua A", postal_code=cep), "a")
    assert err.value.field == "a.postalCode" and err.value.code == "CEP_INVALID"


def test_a_structured_address_gets_its_line_built() -> None:
    cleaned = clean(
        AddressData(
            street=" Rua  das Flores ",
            number="10",
            complement="Apto 2",
            neighbourhood="Centro",
            city="São Paulo",
            state="sp",
            postal_code="01310-100",
        ),
        "a",
    )
    assert cleaned.line == "Rua das Flores, 10, Apto 2 - Centro"
    assert (cleaned.street, cleaned.state, cleaned.postal_code) == (
        "Rua das Flores",
        "SP",
        "01310100",
    )
    assert clean(AddressData(street="Rua A"), "a").line == "Rua A, s/n"


def test_a_given_line_is_kept_next_to_the_parts() -> None:
    cleaned = clean(AddressData("Rua A 10 fundos", street="Rua A", number="10"), "a")
    assert cleaned.line == "Rua A 10 fundos" and cleaned.number == "10"


def test_a_line_only_address_has_no_parts() -> None:
    cleaned = clean(AddressData("Rua A, 10", "Santos"), "a")
    assert cleaned.street is None and cleaned.number is None and cleaned.state is None


@pytest.mark.parametrize(
    ("address", "field", "code"),
    [
        (AddressData(state="XX", street="Rua A"), "a.state", "UF_INVALID"),
        (AddressData(state="São Paulo", street="Rua A"), "a.state", "ADDRESS_TOO_LONG"),
        (AddressData(number="10"), "a.street", "ADDRESS_STREET_REQUIRED"),
        (AddressData(street="x" * 201), "a.street", "ADDRESS_TOO_LONG"),
        (AddressData(street="Rua A", number="1" * 21), "a.number", "ADDRESS_TOO_LONG"),
    ],
)
def test_bad_parts_are_refused(address: AddressData, field: str, code: str) -> None:
    with pytest.raises(ValidationFailed) as err:
        clean(address, "a")
    assert (err.value.field, err.value.code) == (field, code)


@pytest.mark.parametrize(
    ("latitude", "longitude", "field"),
    [
        (90.0001, None, "latitude"),
        (-90.0001, None, "latitude"),
        (math.nan, None, "latitude"),
        (math.inf, None, "latitude"),
        (None, 180.0001, "longitude"),
        (None, -180.5, "longitude"),
        (None, -math.inf, "longitude"),
        (None, math.nan, "longitude"),
    ],
)
def test_coordinates_out_of_range(
    latitude: float | None, longitude: float | None, field: str
) -> None:
    with pytest.raises(ValidationFailed) as err:
        clean(AddressData("Rua A", latitude=latitude, longitude=longitude), "p")
    assert err.value.field == f"p.{field}"


@pytest.mark.parametrize(("latitude", "longitude"), [(90, 180), (-90, -180), (0, 0), (None, 1)])
def test_coordinates_in_range(latitude: float | None, longitude: float | None) -> None:
    cleaned = clean(AddressData("Rua A", latitude=latitude, longitude=longitude), "p")
    assert (cleaned.latitude, cleaned.longitude) == (latitude, longitude)


words = st.text(alphabet="abcdefghijklmnopqrstuvwxyzçãéíóú0123456789", min_size=1, max_size=8)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(
    st.lists(words, min_size=1, max_size=6),
    st.lists(st.sampled_from([" ", "  ", ", ", ". ", " - ", "\t"]), min_size=6, max_size=6),
    st.lists(st.booleans(), min_size=48, max_size=48),
)
def test_spelling_variants_share_a_key(
    parts: list[str], separators: list[str], upper: list[bool]
) -> None:
    plain = " ".join(parts)
    variant = "".join(
        word + separators[i] for i, word in enumerate(parts)
    )  # other separators, trailing junk
    variant = "".join(c.upper() if upper[i % 48] else c for i, c in enumerate(variant))
    assert normalized_key(AddressData(plain)) == normalized_key(AddressData(variant))


# ---- through the service: equal addresses of a session share one row -------------------


async def test_add_packages_shares_normalized_addresses(
    uow_factory: Callable[[], UnitOfWork],
) -> None:
    async with uow_factory() as uow:
        owner = (await users.create_user(uow, None, "Gerente", Role.MANAGER)).user
        session = await sessions.create_session(uow, owner, "Endereços")
        await uow.commit()
    items = [
        packages.PackageData("7891000315507", address=AddressData("Rua das Flores, 10", "SP")),
        packages.PackageData("96385074", address=AddressData("RUA DAS FLORES 10", "sp")),
        packages.PackageData("036000291452", address=AddressData("Rua das Flores, 12", "SP")),
        packages.PackageData("LBR-1"),
    ]
    async with uow_factory() as uow:
        result = await packages.add_packages(uow, owner, session.id, items)
        await uow.commit()
    ids = [p.address_id for p in result.added]
    assert ids[0] == ids[1] and ids[0] != ids[2] and ids[3] is None
    async with uow_factory() as uow:
        rows = {a.id: a for a in await uow.addresses.for_sessions([session.id])}
    assert len(rows) == 2
    first = rows[ids[0]]  # type: ignore[index]
    assert first.package_count == 2 and first.line == "Rua das Flores, 10", "first spelling kept"
    assert rows[ids[2]].package_count == 1  # type: ignore[index]

    # A later call reuses the stored row instead of creating a second one.
    later = [packages.PackageData("4006381333931", address=AddressData("rua das flores, 10", "SP"))]
    async with uow_factory() as uow:
        again = await packages.add_packages(uow, owner, session.id, later)
        await uow.commit()
    assert again.added[0].address_id == ids[0]
    async with uow_factory() as uow:
        rows = {a.id: a for a in await uow.addresses.for_sessions([session.id])}
    assert len(rows) == 2 and rows[ids[0]].package_count == 3  # type: ignore[index]


async def test_a_bad_address_refuses_the_whole_call(uow_factory: Callable[[], UnitOfWork]) -> None:
    async with uow_factory() as uow:
        owner = (await users.create_user(uow, None, "Gerente", Role.MANAGER)).user
        session = await sessions.create_session(uow, owner, "Endereços ruins")
        await uow.commit()
    items = [
        packages.PackageData("7891000315507", address=AddressData("Rua A, 1")),
        packages.PackageData("96385074", address=AddressData("Rua B", latitude=91.0)),
    ]
    with pytest.raises(ValidationFailed) as err:
        async with uow_factory() as uow:
            await packages.add_packages(uow, owner, session.id, items)
            await uow.commit()
    assert err.value.field == "packages[1].address.latitude"
    async with uow_factory() as uow:
        assert await uow.packages.count(session.id) == 0
        assert await uow.addresses.for_sessions([session.id]) == []
        fresh = await uow.sessions.get(session.id)
        assert fresh is not None and fresh.last_sequence == 1
